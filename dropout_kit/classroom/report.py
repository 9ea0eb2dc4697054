"""The instructor's report on a graded class: an HTML page with PNG plots, and CSV files.

Sources: nbgrader's gradebook (points per cell), the autograded notebooks (the verdicts
the checker wrote into every autograder cell as data, CHECKS_MIME) and the record of the
kit's grading runs (failures, timeouts, grading times).

The verdicts are checked before they count: only the assignment's own notebook is read,
and a payload with unknown, missing or mistyped fields, numbers that are not points, a
score its checks do not give, or another cell's test_id makes its notebook "damaged"
(listed with the reason, left out of the pass rates); the class report is built anyway.
Parts held for a person's review (GuardGradeCells: "held" in the payload, the evidence in
an output of REVIEW_MIME) are listed with their automatic score and evidence, and counted
apart from passes and fails. The time and memory limits a submission hit are listed with
the part and the time: a check's request over its budget (the payload's "budgets") and a
cell stopped at its time limit (an error output named in TIME_LIMIT_ENAMES, timed by the
cell's metadata["execution"]).
"""
from __future__ import annotations

import csv
import datetime
import html
import json
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dropout_kit.assignment import Assignment
from dropout_kit.cells import grade_call, nbgrader_metadata
from dropout_kit.checks.runner import CHECKS_MIME, CheckResult, ModuleResult
from dropout_kit.classroom import gradebook
from dropout_kit.classroom.changes import GradingState
from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.engine.review import REVIEW_MIME
from dropout_kit.exchange.refusal_record import RecordedRefusal, read_refusals, record_path

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
    score: float | None = None  # the checks' automatic score (the verdicts' "score")
    max_points: float | None = None
    held: bool = False  # held for a person's review: recorded as 0 until graded by hand
    evidence: list[str] = field(default_factory=list)  # why it was flagged (construct, cell, line)
    budgets: list[LimitHit] = field(default_factory=list)  # checks' requests over their budget

    @property
    def flagged(self) -> bool:
        return self.held or bool(self.evidence)


# Error outputs of a cell stopped at its time limit: CellTimeoutError (the kernel obeyed the
# interrupt; also a kit autograder cell whose checks were stopped), KernelUnresponsive (it did
# not: the kernel was restarted).
TIME_LIMIT_ENAMES = ("CellTimeoutError", "KernelUnresponsive")
LIMIT_KINDS = ("time", "memory")


@dataclass
class LimitHit:
    """A time or memory limit hit in one cell: a check's request over its budget (the
    verdicts' "budgets"), or the cell itself stopped at its time limit."""
    cell: str  # the autograder cell's grade_id (a check's budget), the stopped cell's, or "cell N"
    kind: str  # "time" or "memory"
    seconds: float | None  # how long it ran; None: unknown
    limit: float | None = None  # seconds (time) or MB (memory) of a check's budget; None for a cell
    check: str = ""  # the check function whose request hit its budget; "" for a whole cell
    ename: str = ""  # a stopped cell's error (TIME_LIMIT_ENAMES)
    message: str = ""  # what the student read

    @property
    def what(self) -> str:
        if self.check:
            unit = "s" if self.kind == "time" else "MB"
            return f"{self.kind} budget of {self.limit:g} {unit}"
        if self.ename == "CellTimeoutError":
            return "cell time limit (stopped)"
        if self.ename == "KernelUnresponsive":
            return "cell time limit (did not stop: kernel restarted)"
        return f"cell time limit ({self.ename})"


class Damaged(ValueError):
    """An autograded notebook whose verdicts the report cannot trust (a reason, for the page)."""


# -- the verdicts as the checker wrote them (CHECKS_MIME, runner.ModuleResult.as_data) --------
# Bounds on what an honest payload holds: numbers are points, texts are short sentences.
MAX_POINTS = 10_000.0
MAX_TEXT = 10_000
MAX_ITEMS = 1_000
TOLERANCE = 1e-6
PAYLOAD_FIELDS = {"test_id": str, "score": float, "max_points": float, "error": str, "checks": list}
PAYLOAD_OPTIONAL = {"flags": list, "held": bool, "budgets": list}
CHECK_FIELDS = {"name": str, "title": str, "points": float, "passed": bool}
CHECK_OPTIONAL = {"message": str, "gate": bool}
REVIEW_FIELDS = {"evidence": list, "suggested": (float, type(None)), "points": float}


class Measure(float):
    """A field's kind: a finite number of seconds or megabytes, 0 to MAX_MEASURE (not points)."""
    label = "a number of seconds or MB"


MAX_MEASURE = 1e7
BUDGET_FIELDS = {"check": str, "kind": str, "limit": Measure, "seconds": Measure, "message": str}


def _value(where: str, name: str, value, kind):
    """`value` if it is of `kind` (float: a finite number within bounds; str: a bounded text)."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if value is None and type(None) in kinds:
        return None
    if Measure in kinds and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or not 0 <= value <= MAX_MEASURE:
            raise Damaged(f"{where}: {name!r} is {value!r}, not {Measure.label}")
        return float(value)
    if float in kinds and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or not 0 <= value <= MAX_POINTS:
            raise Damaged(f"{where}: {name!r} is {value!r}, not a number of points")
        return float(value)
    if str in kinds and isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise Damaged(f"{where}: {name!r} is {len(value):,} characters long")
        return value
    if bool in kinds and isinstance(value, bool):
        return value
    if list in kinds and isinstance(value, list):
        if len(value) > MAX_ITEMS:
            raise Damaged(f"{where}: {name!r} holds {len(value):,} items")
        return value
    names = " or ".join("null" if k is type(None) else getattr(k, "label", k.__name__) for k in kinds)
    raise Damaged(f"{where}: {name!r} is {type(value).__name__}, not {names}")


def _fields(where: str, data, required: dict, optional: dict) -> dict:
    """The fields of `data` (a JSON object), checked: none missing, none unknown, each of its kind."""
    if not isinstance(data, dict):
        raise Damaged(f"{where}: {type(data).__name__}, not an object")
    unknown = sorted(str(k) for k in data if k not in required and k not in optional)
    if unknown:
        raise Damaged(f"{where}: unknown field {unknown[0]!r}" + (f" (and {len(unknown) - 1} more)"
                                                                     if len(unknown) > 1 else ""))
    missing = [k for k in required if k not in data]
    if missing:
        raise Damaged(f"{where}: missing field {missing[0]!r}")
    return {k: _value(where, k, data[k], {**required, **optional}[k]) for k in data}


def _texts(where: str, name: str, items: list) -> list[str]:
    return [_value(f"{where}, {name}[{n}]", "item", item, str) for n, item in enumerate(items)]


def _budgets(where: str, items: list, cell: str) -> list[LimitHit]:
    """The payload's "budgets": each a check's request that hit its time or memory budget."""
    hits = []
    for number, item in enumerate(items, 1):
        budget = _fields(f"{where}, budget {number}", item, BUDGET_FIELDS, {})
        if budget["kind"] not in LIMIT_KINDS:
            raise Damaged(f"{where}, budget {number}: 'kind' is {budget['kind'][:40]!r}, not 'time' or 'memory'")
        hits.append(LimitHit(cell, budget["kind"], budget["seconds"], budget["limit"], budget["check"],
                             message=budget["message"]))
    return hits


def parse_verdicts(data, test_id: str) -> ModuleResult:
    """The verdicts of the checks of `test_id`, from an autograder cell's CHECKS_MIME output;
    Damaged when they are not what the checker writes (fields, kinds, bounds, consistency)."""
    return _verdicts(data, test_id, test_id)[0]


def _verdicts(data, test_id: str, cell: str) -> tuple[ModuleResult, list[LimitHit]]:
    """parse_verdicts, and the budgets its checks hit (in `cell`)."""
    where = "verdicts"
    fields = _fields(where, data, PAYLOAD_FIELDS, PAYLOAD_OPTIONAL)
    if fields["test_id"] != test_id:
        raise Damaged(f"{where}: for {fields['test_id'][:100]!r}, in the cell of {test_id!r}")
    checks = []
    for number, check in enumerate(fields["checks"], 1):
        checks.append(CheckResult(**_fields(f"{where}, check {number}", check, CHECK_FIELDS, CHECK_OPTIONAL)))
    result = ModuleResult(fields["test_id"], checks, fields["error"],
                          _texts(where, "flags", fields.get("flags", [])))
    if abs(result.max_points - fields["max_points"]) > TOLERANCE:
        raise Damaged(f"{where}: max_points {fields['max_points']:g} is not the sum of its checks' "
                      f"points ({result.max_points:g})")
    if abs(result.score - fields["score"]) > TOLERANCE:
        raise Damaged(f"{where}: score {fields['score']:g} is not what its checks give ({result.score:g})")
    return result, _budgets(where, fields.get("budgets", []), cell)


def _outputs_of(where: str, outputs) -> list[dict]:
    if not isinstance(outputs, list) or len(outputs) > MAX_ITEMS:
        raise Damaged(f"{where}: its outputs are not a list of outputs")
    for output in outputs:
        if not isinstance(output, dict) or not isinstance(output.get("data", {}), dict):
            raise Damaged(f"{where}: an output is not an output")
    return outputs


def cell_report(cell: str, outputs: list[dict], test_id: str | None = None) -> CellReport:
    """The verdicts of one autograder cell, from the data output the checker wrote
    (CHECKS_MIME), never from the printed text; `test_id`: the checks the cell runs (its
    grade_id unless given). Damaged if the outputs hold anything but one valid payload."""
    where = f"cell {cell}"
    outputs = _outputs_of(where, outputs)
    report = CellReport(cell)
    payloads = [o for o in outputs if CHECKS_MIME in o.get("data", {})]
    reviews = [o for o in outputs if REVIEW_MIME in o.get("data", {})]
    if len(payloads) > 1 or len(reviews) > 1:
        raise Damaged(f"{where}: {len(payloads)} verdicts and {len(reviews)} reviews (one of each at most)")
    if payloads:
        if payloads[0].get("output_type") != "display_data":
            raise Damaged(f"{where}: verdicts in an output of type {str(payloads[0].get('output_type'))[:40]!r}")
        try:
            result, report.budgets = _verdicts(payloads[0]["data"][CHECKS_MIME], test_id or cell, cell)
        except Damaged as damage:
            raise Damaged(f"{where}: {damage}") from None
        report.verdicts = [CheckVerdict(cell, c.title, c.points, c.passed, c.message) for c in result.checks]
        report.warning = result.error
        report.score, report.max_points = result.score, result.max_points
        report.evidence = list(result.flags)
        report.held = payloads[0]["data"][CHECKS_MIME].get("held", False)
    if reviews:  # held by GuardGradeCells: its evidence (the integrity scan's and the checks')
        review = _fields(f"{where}, review", reviews[0]["data"][REVIEW_MIME], REVIEW_FIELDS, {})
        report.held = True
        report.evidence = _texts(f"{where}, review", "evidence", review["evidence"])
        if report.score is None:
            report.score, report.max_points = review["suggested"], review["points"]
    errors = [out for out in outputs if out.get("output_type") == "error"]
    if errors:
        report.error = f"{errors[-1].get('ename', 'Error')}: {errors[-1].get('evalue', '')}".strip(": ")[:MAX_TEXT]
    return report


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) and all(isinstance(s, str) for s in source) \
        else source if isinstance(source, str) else ""


def _timestamp(value) -> datetime.datetime | None:
    if not isinstance(value, str) or len(value) > 100:
        return None
    try:
        stamp = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.timezone.utc)


def _ran_for(cell: dict) -> float | None:
    """Seconds the cell ran (its metadata["execution"]: from the input to the reply), or None."""
    metadata = cell.get("metadata")
    timing = metadata.get("execution") if isinstance(metadata, dict) else None
    if not isinstance(timing, dict):
        return None
    start, end = _timestamp(timing.get("iopub.execute_input")), _timestamp(timing.get("shell.execute_reply"))
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds()


def stopped_cell(name: str, cell: dict) -> LimitHit | None:
    """The time limit that stopped the cell (its last error output named in TIME_LIMIT_ENAMES), or None."""
    outputs = cell.get("outputs")
    stops = [o for o in outputs if isinstance(o, dict) and o.get("output_type") == "error"
             and o.get("ename") in TIME_LIMIT_ENAMES] if isinstance(outputs, list) else []
    if not stops:
        return None
    message = stops[-1].get("evalue")
    return LimitHit(name, "time", _ran_for(cell), ename=stops[-1]["ename"],
                    message=message[:MAX_TEXT] if isinstance(message, str) else "")


def autograder_reports(notebook: Path, auto_cells: tuple[str, ...] | None = None) -> dict[str, CellReport]:
    """grade_id → the verdicts of its autograder cell, for one autograded notebook
    (`auto_cells`: the assignment's autograder cells; a verdict elsewhere is damage).
    Damaged when the notebook or a cell's verdicts cannot be trusted."""
    return graded_notebook(notebook, auto_cells)[0]


def graded_notebook(notebook: Path, auto_cells: tuple[str, ...] | None = None
                    ) -> tuple[dict[str, CellReport], list[LimitHit]]:
    """autograder_reports, and the time and memory limits hit, in notebook order: the checks'
    budgets and the cells stopped at their time limit (student cells and autograder cells)."""
    try:
        data = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise Damaged(f"not a readable notebook ({type(error).__name__})") from None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        raise Damaged("not a notebook (no list of cells)")
    reports: dict[str, CellReport] = {}
    limits: list[LimitHit] = []
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict):
            raise Damaged(f"cell {number} is not a cell")
        meta = nbgrader_metadata(cell)
        gid = meta.get("grade_id")
        is_auto = meta.get("grade") and not meta.get("solution") and cell.get("cell_type") == "code"
        if not is_auto:
            if any(isinstance(o, dict) and isinstance(o.get("data"), dict) and CHECKS_MIME in o["data"]
                   for o in (cell.get("outputs") if isinstance(cell.get("outputs"), list) else [])):
                raise Damaged(f"cell {number}: verdicts in a cell that is not an autograder cell")
            stopped = stopped_cell(gid if isinstance(gid, str) and 0 < len(gid) <= 200 else f"cell {number}", cell)
            limits += [stopped] if stopped else []
            continue
        if not isinstance(gid, str) or not gid or len(gid) > 200:
            raise Damaged(f"cell {number}: an autograder cell without a valid grade_id")
        if gid in reports:
            raise Damaged(f"cell {gid} appears twice")
        if auto_cells is not None and gid not in auto_cells:
            raise Damaged(f"cell {gid} is not an autograder cell of the assignment")
        reports[gid] = cell_report(gid, cell.get("outputs", []), grade_call(_source(cell)) or gid)
        stopped = stopped_cell(gid, cell)
        limits += reports[gid].budgets + ([stopped] if stopped else [])
    return reports, limits


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
    review_pending: list[str] = field(default_factory=list)  # autograder cells held, not yet graded by hand
    limits: list[LimitHit] = field(default_factory=list)  # time and memory limits hit, in notebook order

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
    held: int = 0  # in parts held for review: neither passed nor failed until a person decides
    messages: Counter = field(default_factory=Counter)

    @property
    def runs(self) -> int:
        return self.passed + self.failed

    @property
    def pass_rate(self) -> float:
        return self.passed / self.runs if self.runs else 0.0


@dataclass
class DamagedNotebook:
    student: str
    notebook: str
    reason: str


@dataclass
class FlaggedPart:
    """An autograder cell held for (or flagged to) a person: its automatic score, the
    evidence, and what the gradebook records."""
    student: str
    part: str  # the assignment's part (its solution cell)
    cell: str  # the autograder cell (its checks' module)
    score: float | None  # what the checks gave, recorded only if a person agrees
    max_points: float | None
    evidence: list[str]
    recorded: str  # "0 until reviewed" or the reviewer's points


@dataclass
class LimitedPart:
    """A time or memory limit one submission hit."""
    student: str
    hit: LimitHit


@dataclass
class ClassReport:
    assignment: Assignment
    rows: list[StudentRow]
    checks: list[CheckStats]
    cell_errors: Counter  # (cell, error name) → submissions
    damaged: list[DamagedNotebook] = field(default_factory=list)
    flagged: list[FlaggedPart] = field(default_factory=list)
    limits: list[LimitedPart] = field(default_factory=list)
    refused: list[RecordedRefusal] = field(default_factory=list)  # inbound folders collect refused

    def mistakes(self) -> list[tuple[str, str, int, str]]:
        """(cell, what went wrong, submissions, example message), most common first."""
        found = [(c.cell, c.title, c.failed, c.messages.most_common(1)[0][0] if c.messages else "")
                 for c in self.checks if c.failed]
        found += [(cell, f"the cell raised {error}", n, "") for (cell, error), n in self.cell_errors.items()]
        return sorted(found, key=lambda m: (-m[2], m[0], m[1]))


def read_verdicts(folder: Path, assignment: Assignment) -> tuple[dict[str, CellReport], list[tuple[str, str]]]:
    """The verdicts of a student's autograded folder: those of the assignment's notebook,
    and (notebook, reason) for what cannot be trusted. Any other notebook there was not
    written by nbgrader: it is listed, never read."""
    reports, _, damaged = read_graded(folder, assignment)
    return reports, damaged


def read_graded(folder: Path, assignment: Assignment
                ) -> tuple[dict[str, CellReport], list[LimitHit], list[tuple[str, str]]]:
    """read_verdicts, and the time and memory limits its notebook hit (none from a damaged one)."""
    reports: dict[str, CellReport] = {}
    limits: list[LimitHit] = []
    damaged: list[tuple[str, str]] = []
    for notebook in sorted(folder.glob("*.ipynb")):
        if notebook.name != assignment.notebook_name:
            damaged.append((notebook.name, "not a notebook of the assignment (not read)"))
            continue
        try:
            reports, limits = graded_notebook(notebook, assignment.auto_cells)
        except Damaged as damage:
            damaged.append((notebook.name, str(damage)))
        except Exception as error:  # noqa: BLE001 - one notebook never stops the class report
            damaged.append((notebook.name, f"could not be read: {type(error).__name__}: {str(error)[:200]}"))
    return reports, limits, damaged


def _recorded(grade: gradebook.CellGrade | None) -> str:
    if grade is None:
        return "not in the gradebook"
    if grade.needs_manual_grade or grade.score is None:
        return "0 until reviewed"
    return f"reviewed: {grade.score:g} / {grade.max_score:g}"


def collect(paths: CoursePaths, assignment: Assignment) -> ClassReport:
    cells = gradebook.cell_grades(paths.db_url, paths.assignment)
    state = GradingState(paths).students
    students = sorted(set(cells) | set(paths.students()))
    checks: dict[tuple[str, str], CheckStats] = {}
    cell_errors: Counter = Counter()
    part_of = {c.grade_id: c.part for c in assignment.cells}
    order = {cell: index for index, cell in enumerate(assignment.auto_cells)}
    rows, damaged, flagged, limited = [], [], [], []
    for student in students:
        grades = cells.get(student, {})
        record = state.get(student, {})
        reports, limits, bad = read_graded(paths.autograded_dir(student), assignment)
        damaged += [DamagedNotebook(student, notebook, reason) for notebook, reason in bad]
        limited += [LimitedPart(student, hit) for hit in limits]
        for cell, cell_report in reports.items():
            if cell_report.flagged:
                flagged.append(FlaggedPart(student, part_of.get(cell, ""), cell, cell_report.score,
                                           cell_report.max_points, cell_report.evidence,
                                           _recorded(grades.get(cell)) if cell_report.held else "as graded"))
            for verdict in cell_report.verdicts:
                stats = checks.get((cell, verdict.title))
                if stats is None:
                    stats = checks[(cell, verdict.title)] = CheckStats("", cell, verdict.title, verdict.points)
                if cell_report.held:  # a person decides: not a pass nor a fail of the checks
                    stats.held += 1
                elif verdict.passed:
                    stats.passed += 1
                else:
                    stats.failed += 1
                    stats.messages[verdict.message] += 1
            if cell_report.error and not cell_report.verdicts and not cell_report.held:
                cell_errors[(cell, cell_report.error.split(":")[0])] += 1
        auto_cells = [c for c in assignment.auto_cells if c in grades]
        if record.get("status") == "failed":
            status = "failed"
        elif not auto_cells or all(grades[c].score is None and not grades[c].auto for c in auto_cells):
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
            cells=reports, seconds=record.get("seconds"), note=note,
            review_pending=gradebook.review_pending(grades, assignment), limits=limits))
    ordered = sorted(checks.values(), key=lambda c: (order.get(c.cell, len(order)), c.cell))
    per_cell: Counter = Counter()
    for stats in ordered:
        per_cell[stats.cell] += 1
        stats.key = f"{stats.cell.removeprefix('test_')} #{per_cell[stats.cell]}"
    flagged.sort(key=lambda f: (f.student, order.get(f.cell, len(order)), f.cell))
    return ClassReport(assignment, rows, ordered, cell_errors, damaged, flagged, limited,
                       read_refusals(paths.root, paths.assignment))


# -- output ------------------------------------------------------------------------------------

def write_csv(report: ClassReport, out: Path) -> tuple[Path, Path]:
    scores = out / "scores.csv"
    parts = list(report.assignment.parts)
    with scores.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "status", *parts, "auto_total", "auto_max",
                         *report.assignment.manual_cells, "manual_pending", "review_pending", "seconds",
                         "limits_hit"])
        for row in report.rows:
            graded = row.has_grades
            writer.writerow([row.student, row.status,
                             *(f"{row.parts[p]:g}" if graded else "" for p in parts),
                             f"{row.auto_total:g}" if graded else "", f"{row.auto_max:g}" if graded else "",
                             *("" if row.manual.get(c) is None else f"{row.manual[c]:g}" for c in report.assignment.manual_cells),
                             " ".join(row.manual_pending), " ".join(row.review_pending),
                             "" if row.seconds is None else f"{row.seconds:.1f}", len(row.limits)])
    checks = out / "checks.csv"
    with checks.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["key", "cell", "check", "points", "passed", "failed", "held", "pass_rate"])
        for c in report.checks:
            writer.writerow([c.key, c.cell, c.title, f"{c.points:g}", c.passed, c.failed, c.held,
                             f"{c.pass_rate:.3f}"])
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
h1 .ko, h2 .ko { color: #666; font-weight: normal; }
#flagged td:last-child:not([colspan]) { white-space: pre-wrap; font-family: monospace; font-size: 0.9em; }
td:first-child, #limits td:nth-child(-n+5), #limits th:nth-child(5) { white-space: nowrap; }
#limits td:nth-child(5) { text-align: right; }
#limits td:last-child { word-break: keep-all; }
#refused-note, #refused { word-break: keep-all; }
#refused { width: 100%; }
#refused td:nth-child(2), #refused td:nth-child(3), #refused td:nth-child(5) { white-space: pre; }
#refused td:nth-child(4) { white-space: pre-wrap; min-width: 18em; }
#refused td:nth-child(6) { font-family: monospace; font-size: 0.85em; word-break: break-all; }
"""


def _heading(english: str, korean: str, level: int = 2) -> str:
    return f'<h{level}>{html.escape(english)} <span class="ko" lang="ko">· {html.escape(korean)}</span></h{level}>'


def _points(score: float | None, points: float | None) -> str:
    if score is None:
        return "none"
    return f"{score:g} / {points:g}" if points is not None else f"{score:g}"


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
        ["waiting for manual grading", sum(bool(r.manual_pending or r.review_pending) for r in report.rows)],
        ["parts flagged for review", len(report.flagged)],
        ["timed out", sum(r.status == "timeout" for r in report.rows)],
        ["submissions that hit a time or memory limit", sum(bool(r.limits) for r in report.rows)],
        ["not graded (failed)", sum(r.status in ("failed", "not graded") for r in report.rows)],
        ["damaged notebooks (verdicts not read)", len(report.damaged)],
    ]
    if report.refused:
        summary.append(["refused submissions (not collected)", len(report.refused)])
    parts = list(report.assignment.parts)
    part_max = {p: max([r.part_max[p] for r in graded] or [0.0]) for p in parts}

    def waiting(row: StudentRow) -> list[str]:
        return [*row.manual_pending, *(f"{c} (held for review)" for c in row.review_pending)]

    students = [[r.student, r.status, *(f"{r.parts[p]:g}" for p in parts), f"{r.auto_total:g} / {r.auto_max:g}",
                 ", ".join(waiting(r)) or "done", "" if r.seconds is None else f"{r.seconds:.1f}"]
                for r in report.rows]
    name = html.escape(report.assignment.name)
    sections = [
        f'<h1>Grading report: {name} <span class="ko" lang="ko">· 채점 보고서</span></h1>',
        _table(["figure", "value"], summary, "summary").replace("<table", '<table class="summary"', 1),
        *_refused_section(report.refused),
        _heading("Score distribution", "점수 분포"),
        _img(plots["score_distribution"], "Histogram of autograded points"),
        _img(plots["part_means"], "Mean score of each part"),
        _heading("Hidden checks", "숨겨진 검사"),
        _img(plots["check_pass_rates"], "Pass rate of each hidden check"),
        "<p>Pass rates count the graded parts; parts held for review are counted apart (held).</p>",
        _table(["key", "cell", "check", "points", "passed", "held", "pass rate"],
               [[c.key, c.cell, c.title, f"{c.points:g}", f"{c.passed}/{c.runs}", c.held,
                 f"{100 * c.pass_rate:.0f}%"] for c in report.checks], "checks"),
        _heading("Most common mistakes", "자주 나온 실수"),
        _table(["cell", "mistake (failed check)", "submissions", "example of what students were told"],
               [list(m) for m in report.mistakes()], "mistakes"),
        _heading("Flagged for review", "검토 대상"),
        "<p>Parts the checks could not judge from data alone, with the evidence (construct, cell, "
        "line). A held part is recorded with 0 points until a person grades it in the formgrader "
        "(Manual Grading); the automatic score is the checks' suggestion.</p>",
        _table(["student", "part", "cell", "automatic score", "recorded", "evidence"],
               [[f.student, f.part, f.cell, _points(f.score, f.max_points), f.recorded,
                 "\n".join(f"• {line}" for line in f.evidence) or "(none given)"] for f in report.flagged],
               "flagged"),
        _heading("Waiting for manual grading", "수동 채점 대기"),
        "<p>Grade these in the formgrader (Manual Grading).</p>",
        _table(["student", "cells"], [[r.student, ", ".join(waiting(r))]
                                      for r in report.rows if waiting(r)], "manual"),
        _heading("Failures and timeouts", "실패와 시간 초과"),
        "<p>Timed out: a cell hit the time limit twice, the second time with the machine to itself; "
        "the timed-out cells scored 0. Not graded: nbgrader could not grade the submission "
        "(see autograded/.dropout-kit/logs/).</p>",
        _table(["student", "status", "details"], [[r.student, r.status, r.note] for r in report.rows
                                                  if r.status != "graded"], "problems"),
        _heading("Time and memory limits", "시간·메모리 제한 초과"),
        "<p>The limits each submission hit, read from its graded notebook: a check's request over "
        "its time or memory budget (time: how long the request ran), or a cell stopped at its time "
        "limit (time: how long the cell ran, or “—” when the notebook does not record it; a "
        "stopped autograder cell scores 0). Part: the autograder cell, or the student's cell.</p>",
        _table(["student", "part", "check", "limit hit", "time (s)", "what the student was told"],
               [[limited.student, limited.hit.cell, limited.hit.check or "(whole cell)", limited.hit.what,
                 "—" if limited.hit.seconds is None else f"{limited.hit.seconds:.1f}", limited.hit.message]
                for limited in report.limits], "limits"),
        _heading("Damaged notebooks", "손상된 채점 기록"),
        "<p>Autograded notebooks whose verdicts cannot be trusted (not what the checker writes, or a "
        "notebook nbgrader did not write): left out of the pass rates and mistakes above. Scores "
        "come from the gradebook as always; grading the submission again rewrites its notebook.</p>",
        _table(["student", "notebook", "reason"], [[d.student, d.notebook, d.reason] for d in report.damaged],
               "damaged"),
        _heading("Students", "학생별 점수"),
        _table(["student", "status", *(f"{p} ({part_max[p]:g})" for p in parts), "auto total",
                "manual grading", "grading time (s)"], students, "students"),
        '<p>CSV: <a href="scores.csv">scores.csv</a> (one row per student), '
        '<a href="checks.csv">checks.csv</a> (pass rate of each check).</p>',
    ]
    page = out / "index.html"
    page.write_text("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    f"<title>Grading report: {name}</title>"
                    f"<style>{STYLE}</style></head><body>\n" + "\n".join(sections) + "\n</body></html>\n",
                    encoding="utf-8")
    return page


def _refused_section(refused: list[RecordedRefusal]) -> list[str]:
    """The inbound folders `nbgrader collect` refused (dropout_kit.exchange); none: no section."""
    if not refused:
        return []
    return [
        _heading("Refused submissions", "거부된 제출"),
        '<p id="refused-note">Folders in the exchange\'s inbound/ that <code>nbgrader collect</code> '
        "did not collect: handed in under another student's name, dated in the future, or not what "
        "<code>nbgrader submit</code> makes. Each student's own latest valid submission was collected "
        "instead. The folders are left in inbound/ as evidence. "
        '<span lang="ko">다른 학생 명의로 되어 있거나 제출 시각이 미래인 폴더는 수집하지 않았고, 각 학생의 '
        "유효한 최신 제출을 수집했습니다. 폴더는 증거로 inbound/에 남겨 두었습니다.</span></p>",
        _table(["student named", "owner", "claimed time", "reason", "refused at", "folder in inbound/"],
               [[r.refusal.student or "(unreadable)", r.refusal.owner, _claimed(r.refusal.claimed_time),
                 f"{r.refusal.detail}\n{r.refusal.detail_ko}", _refused_at(r.refused_at), r.refusal.folder]
                for r in refused], "refused"),
    ]


def _claimed(text: str) -> str:
    """The time a folder's name claims: the date over the time, without nbgrader's microseconds."""
    if not text:
        return "—"
    parts = text.split(" ")
    if len(parts) >= 2 and "." in parts[1]:
        parts[1] = parts[1].split(".")[0]
    return parts[0] + "\n" + " ".join(parts[1:]) if len(parts) > 1 else text


def _refused_at(stamp: str) -> str:
    moment = _timestamp(stamp)
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d\n%H:%M:%S UTC") if moment else stamp


def refused_submissions_notice(assignment: Assignment) -> str:
    """For the console after `dropout-kit report`: the refused submissions of `assignment`
    (what the page's section lists), or "" when there are none."""
    refused = read_refusals(assignment.course_root, assignment.name)
    if not refused:
        return ""
    lines = [f"Refused submissions · 거부된 제출: {len(refused)} (not collected · 수집하지 않음; "
             f"record: {record_path(assignment.course_root)})"]
    for r in refused:  # names are the students' choice: shown with repr
        lines.append(f"  {r.refusal.student!r} owned by {r.refusal.owner!r}, claimed "
                     f"{r.refusal.claimed_time or '—'}: {r.refusal.detail}")
    return "\n".join(lines)


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
