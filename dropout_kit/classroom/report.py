"""The instructor's report on a graded class: an HTML page with PNG plots, and CSV files.

Sources: nbgrader's gradebook (points per cell), the autograded notebooks (the verdicts
the checker wrote into every autograder cell as data, CHECKS_MIME) and the record of the
kit's grading runs (failures, timeouts, grading times).
"""
from __future__ import annotations

import csv
import html
import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dropout_kit.assignment import Assignment
from dropout_kit.checks.runner import CHECKS_MIME, ModuleResult
from dropout_kit.classroom import gradebook
from dropout_kit.classroom.changes import GradingState
from dropout_kit.classroom.course_paths import CoursePaths

PLOT_DPI = 100


@dataclass
class CheckVerdict:
    cell: str
    title: str
    points: float
    passed: bool
    message: str = ""


@dataclass
class CellReport:
    cell: str
    verdicts: list[CheckVerdict] = field(default_factory=list)
    warning: str = ""  # the checks could not run (e.g. the time limit)
    error: str = ""  # the cell itself raised (e.g. CellTimeoutError, KernelDied)


def cell_report(cell: str, outputs: list[dict]) -> CellReport:
    """The verdicts of one autograder cell, from the data output the checker wrote
    (CHECKS_MIME), never from the printed text."""
    report = CellReport(cell)
    for output in outputs:
        data = output.get("data", {}).get(CHECKS_MIME) if output.get("output_type") == "display_data" else None
        if isinstance(data, dict):
            result = ModuleResult.from_data(data)
            report.verdicts = [CheckVerdict(cell, c.title, c.points, c.passed, c.message) for c in result.checks]
            report.warning = result.error
    errors = [out for out in outputs if out.get("output_type") == "error"]
    if errors:
        report.error = f"{errors[-1].get('ename', 'Error')}: {errors[-1].get('evalue', '')}".strip(": ")
    return report


def autograder_reports(notebook: Path) -> dict[str, CellReport]:
    """grade_id → the verdicts of its autograder cell, for one autograded notebook."""
    reports = {}
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell.get("cell_type") == "code":
            reports[meta["grade_id"]] = cell_report(meta["grade_id"], cell.get("outputs", []))
    return reports


# -- the class ---------------------------------------------------------------------------------

@dataclass
class StudentRow:
    student: str
    status: str  # graded, timeout, failed, not graded
    parts: dict[str, float]
    part_max: dict[str, float]
    manual: dict[str, float | None]  # None: waiting for the grader
    manual_max: dict[str, float]
    cells: dict[str, CellReport]
    seconds: float | None = None
    note: str = ""

    @property
    def has_grades(self) -> bool:
        """Autograded scores to show (a timed-out cell scored 0, the rest as graded)."""
        return self.status in ("graded", "timeout")

    @property
    def auto_total(self) -> float:
        return sum(self.parts.values())

    @property
    def auto_max(self) -> float:
        return sum(self.part_max.values())

    @property
    def manual_pending(self) -> list[str]:
        return [cell for cell, score in self.manual.items() if score is None]


@dataclass
class CheckStats:
    key: str  # short label used in the plot
    cell: str
    title: str
    points: float
    passed: int = 0
    failed: int = 0
    messages: Counter = field(default_factory=Counter)

    @property
    def runs(self) -> int:
        return self.passed + self.failed

    @property
    def pass_rate(self) -> float:
        return self.passed / self.runs if self.runs else 0.0


@dataclass
class ClassReport:
    assignment: Assignment
    rows: list[StudentRow]
    checks: list[CheckStats]
    cell_errors: Counter  # (cell, error name) → submissions

    def mistakes(self) -> list[tuple[str, str, int, str]]:
        """(cell, what went wrong, submissions, example message), most common first."""
        found = [(c.cell, c.title, c.failed, c.messages.most_common(1)[0][0] if c.messages else "")
                 for c in self.checks if c.failed]
        found += [(cell, f"the cell raised {error}", n, "") for (cell, error), n in self.cell_errors.items()]
        return sorted(found, key=lambda m: (-m[2], m[0], m[1]))


def collect(paths: CoursePaths, assignment: Assignment) -> ClassReport:
    cells = gradebook.cell_grades(paths.db_url, paths.assignment)
    state = GradingState(paths).students
    students = sorted(set(cells) | set(paths.students()))
    checks: dict[tuple[str, str], CheckStats] = {}
    cell_errors: Counter = Counter()
    rows = []
    for student in students:
        grades = cells.get(student, {})
        record = state.get(student, {})
        reports = {}
        for notebook in sorted(paths.autograded_dir(student).glob("*.ipynb")):
            reports.update(autograder_reports(notebook))
        for cell, cell_report in reports.items():
            for verdict in cell_report.verdicts:
                stats = checks.get((cell, verdict.title))
                if stats is None:
                    stats = checks[(cell, verdict.title)] = CheckStats("", cell, verdict.title, verdict.points)
                if verdict.passed:
                    stats.passed += 1
                else:
                    stats.failed += 1
                    stats.messages[verdict.message] += 1
            if cell_report.error and not cell_report.verdicts:
                cell_errors[(cell, cell_report.error.split(":")[0])] += 1
        auto_cells = [c for c in assignment.auto_cells if c in grades]
        if record.get("status") == "failed":
            status = "failed"
        elif not auto_cells or all(grades[c].score is None for c in auto_cells):
            status = "not graded"
        else:  # graded by the kit (its record says graded or timeout) or by nbgrader itself
            status = record.get("status", "graded")
        note = ""
        if status == "timeout":
            note = "time limit hit in " + ", ".join(record.get("timed_out_cells", []))
        elif status in ("failed", "not graded"):
            note = record.get("error", "") or "no grades in the gradebook"
        rows.append(StudentRow(
            student, status,
            parts=gradebook.part_scores(grades, assignment),
            part_max=gradebook.part_maxima(grades, assignment),
            manual={c: (None if grades[c].needs_manual_grade else grades[c].score)
                    for c in assignment.manual_cells if c in grades},
            manual_max={c: grades[c].max_score for c in assignment.manual_cells if c in grades},
            cells=reports, seconds=record.get("seconds"), note=note))
    order = {cell: index for index, cell in enumerate(assignment.auto_cells)}
    ordered = sorted(checks.values(), key=lambda c: (order.get(c.cell, len(order)), c.cell))
    per_cell: Counter = Counter()
    for stats in ordered:
        per_cell[stats.cell] += 1
        stats.key = f"{stats.cell.removeprefix('test_')} #{per_cell[stats.cell]}"
    return ClassReport(assignment, rows, ordered, cell_errors)


# -- output ------------------------------------------------------------------------------------

def write_csv(report: ClassReport, out: Path) -> tuple[Path, Path]:
    scores = out / "scores.csv"
    parts = list(report.assignment.parts)
    with scores.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "status", *parts, "auto_total", "auto_max",
                         *report.assignment.manual_cells, "manual_pending", "seconds"])
        for row in report.rows:
            graded = row.has_grades
            writer.writerow([row.student, row.status,
                             *(f"{row.parts[p]:g}" if graded else "" for p in parts),
                             f"{row.auto_total:g}" if graded else "", f"{row.auto_max:g}" if graded else "",
                             *("" if row.manual.get(c) is None else f"{row.manual[c]:g}" for c in report.assignment.manual_cells),
                             " ".join(row.manual_pending),
                             "" if row.seconds is None else f"{row.seconds:.1f}"])
    checks = out / "checks.csv"
    with checks.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["key", "cell", "check", "points", "passed", "failed", "pass_rate"])
        for c in report.checks:
            writer.writerow([c.key, c.cell, c.title, f"{c.points:g}", c.passed, c.failed, f"{c.pass_rate:.3f}"])
    return scores, checks


def write_plots(report: ClassReport, out: Path) -> dict[str, Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graded = [r for r in report.rows if r.has_grades]
    plots = {}

    figure, axis = plt.subplots(figsize=(7, 3.6), dpi=PLOT_DPI)
    totals = [r.auto_total for r in graded]
    top = max([r.auto_max for r in graded] or [1.0])
    axis.hist(totals, bins=[x / 2 for x in range(0, int(top * 2) + 2)], color="#4c72b0", edgecolor="white")
    axis.set_xlabel(f"autograded points (of {top:g})")
    axis.set_ylabel("submissions")
    axis.set_title(f"Score distribution ({len(graded)} submissions)")
    plots["score_distribution"] = _save(figure, out / "score_distribution.png")

    figure, axis = plt.subplots(figsize=(7, max(2.5, 0.28 * len(report.checks) + 1)), dpi=PLOT_DPI)
    labels = [c.key for c in report.checks][::-1]
    rates = [100 * c.pass_rate for c in report.checks][::-1]
    axis.barh(labels, rates, color=["#55a868" if r >= 50 else "#c44e52" for r in rates])
    axis.set_xlim(0, 100)
    axis.set_xlabel("passed (% of submissions)")
    axis.set_title("Pass rate of each hidden check")
    axis.tick_params(axis="y", labelsize=8)
    plots["check_pass_rates"] = _save(figure, out / "check_pass_rates.png")

    figure, axis = plt.subplots(figsize=(7, 3), dpi=PLOT_DPI)
    parts = list(report.assignment.parts)
    means = [100 * statistics.fmean([r.parts[p] / r.part_max[p] for r in graded if r.part_max.get(p)] or [0.0])
             for p in parts]
    axis.bar(parts, means, color="#8172b3")
    axis.set_ylim(0, 100)
    axis.set_ylabel("mean (% of points)")
    axis.set_title("Mean score of each part")
    plots["part_means"] = _save(figure, out / "part_means.png")
    plt.close("all")
    return plots


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path)
    return path


def _table(header: list[str], rows: list[list], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
                   for row in rows)
    if not rows:
        body = f'<tr><td colspan="{len(header)}">none</td></tr>'
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
img { display: block; margin: 0.5em 0 1.5em; max-width: 100%; }
.summary td:first-child { font-weight: bold; }
"""


def write_html(report: ClassReport, plots: dict[str, Path], out: Path) -> Path:
    graded = [r for r in report.rows if r.has_grades]
    totals = [r.auto_total for r in graded]
    top = max([r.auto_max for r in graded] or [0.0])
    summary = [
        ["submissions", len(report.rows)],
        ["with grades (timed out included)", len(graded)],
        ["mean autograded points", f"{statistics.fmean(totals):.2f} / {top:g}" if totals else "-"],
        ["median autograded points", f"{statistics.median(totals):g} / {top:g}" if totals else "-"],
        ["full autograded points", sum(t == top for t in totals)],
        ["waiting for manual grading", sum(bool(r.manual_pending) for r in report.rows)],
        ["timed out", sum(r.status == "timeout" for r in report.rows)],
        ["not graded (failed)", sum(r.status in ("failed", "not graded") for r in report.rows)],
    ]
    parts = list(report.assignment.parts)
    part_max = {p: max([r.part_max[p] for r in graded] or [0.0]) for p in parts}
    students = [[r.student, r.status, *(f"{r.parts[p]:g}" for p in parts), f"{r.auto_total:g} / {r.auto_max:g}",
                 ", ".join(r.manual_pending) or "done", "" if r.seconds is None else f"{r.seconds:.1f}"]
                for r in report.rows]
    sections = [
        f"<h1>Grading report: {html.escape(report.assignment.name)}</h1>",
        _table(["figure", "value"], summary, "summary").replace("<table", '<table class="summary"', 1),
        "<h2>Score distribution</h2>",
        _img(plots["score_distribution"], "Histogram of autograded points"),
        _img(plots["part_means"], "Mean score of each part"),
        "<h2>Hidden checks</h2>",
        _img(plots["check_pass_rates"], "Pass rate of each hidden check"),
        _table(["key", "cell", "check", "points", "passed", "pass rate"],
               [[c.key, c.cell, c.title, f"{c.points:g}", f"{c.passed}/{c.runs}", f"{100 * c.pass_rate:.0f}%"]
                for c in report.checks], "checks"),
        "<h2>Most common mistakes</h2>",
        _table(["cell", "mistake (failed check)", "submissions", "example of what students were told"],
               [list(m) for m in report.mistakes()], "mistakes"),
        "<h2>Waiting for manual grading</h2>",
        "<p>Grade these in the formgrader (Manual Grading).</p>",
        _table(["student", "cells"], [[r.student, ", ".join(r.manual_pending)]
                                      for r in report.rows if r.manual_pending], "manual"),
        "<h2>Failures and timeouts</h2>",
        "<p>Timed out: a cell hit the time limit twice, the second time with the machine to itself; "
        "the timed-out cells scored 0. Not graded: nbgrader could not grade the submission "
        "(see autograded/.dropout-kit/logs/).</p>",
        _table(["student", "status", "details"], [[r.student, r.status, r.note] for r in report.rows
                                                  if r.status != "graded"], "problems"),
        "<h2>Students</h2>",
        _table(["student", "status", *(f"{p} ({part_max[p]:g})" for p in parts), "auto total",
                "manual grading", "grading time (s)"], students, "students"),
        '<p>CSV: <a href="scores.csv">scores.csv</a> (one row per student), '
        '<a href="checks.csv">checks.csv</a> (pass rate of each check).</p>',
    ]
    page = out / "index.html"
    page.write_text("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    f"<title>Grading report: {html.escape(report.assignment.name)}</title>"
                    f"<style>{STYLE}</style></head><body>\n" + "\n".join(sections) + "\n</body></html>\n",
                    encoding="utf-8")
    return page


def _img(path: Path, alt: str) -> str:
    return f'<img src="{html.escape(path.name)}" alt="{html.escape(alt)}">'


def write_report(assignment: Assignment, out: Path | None = None) -> Path:
    """Writes index.html, its PNG plots, scores.csv and checks.csv; returns the page."""
    paths = CoursePaths.load(assignment.course_root, assignment.name)
    out = Path(out) if out else paths.root / "reports" / assignment.name
    out.mkdir(parents=True, exist_ok=True)
    report = collect(paths, assignment)
    write_csv(report, out)
    return write_html(report, write_plots(report, out), out)
