"""The audit written up for the instructor: a console summary, an HTML page with a chart, and
the survivors exported as corpus entries.

summary_text: one line per part (candidates, graded, each status, the score against GOAL),
the survivors to review with the check modules to strengthen, and the time it took.
write_report: out/audit.html and out/audit-scores.png, in the style of the class report
(dropout_kit.classroom.report): every survivor with its diff, the observable differences the
differential run found and the check modules to strengthen; the mutants killed only in other
parts (a double-penalty risk); the likely equivalent and accepted ones listed apart; those
that broke the notebook or timed out with their error; every killed mutant with the checks
that killed it, by their titles.
export_survivors: the survivors as corpus entries (tests/corpus.py), to add to the corpus
once a check is strengthened.

Everything shown comes from code (mutant sources, check titles, error texts): it is escaped.
"""
from __future__ import annotations

import html
import json
import re
import statistics
import textwrap
import unicodedata
from pathlib import Path

from dropout_kit.audit.results import (ACCEPTED, BROKE, EQUIVALENT, KILLED, KILLED_ELSEWHERE,
                                       SCORED, STATUSES, SURVIVED, TIMEOUT, AuditResult, Mutant, MutantResult)
from dropout_kit.classroom.report import PLOT_DPI, STYLE, _heading, _save, _table

GOAL = 0.95  # the mutation score a part's checks should reach
WIDTH = 100  # columns of the console summary
PAGE = "audit.html"
CHART = "audit-scores.png"

# Short column headers of the console summary, per status.
SHORT = {KILLED: "killed", KILLED_ELSEWHERE: "elsewhere", SURVIVED: "survived", EQUIVALENT: "equiv.",
         ACCEPTED: "accepted", BROKE: "broke", TIMEOUT: "timeout"}

# Column headers of the page's table of statuses (MEANING, shorter).
HEADERS = {KILLED: "killed", KILLED_ELSEWHERE: "killed elsewhere", SURVIVED: "survived", EQUIVALENT: "equivalent",
           ACCEPTED: "accepted", BROKE: "broke", TIMEOUT: "timeout"}


# -- shared ------------------------------------------------------------------------------------

def _parts(result: AuditResult) -> list[str]:
    """The audited parts, in the assignment's order (then any other part a mutant names)."""
    parts = list(result.parts)
    for part in [*result.candidates, *(r.mutant.part for r in result.results)]:
        if part not in parts:
            parts.append(part)
    return parts


def _of_status(result: AuditResult, status: str) -> list[MutantResult]:
    """The mutants of `status`, part by part (the assignment's order), each part as graded."""
    order = {part: index for index, part in enumerate(_parts(result))}
    return sorted((r for r in result.results if r.status == status), key=lambda r: order[r.mutant.part])


def _module(result: AuditResult, cell: str) -> str:
    """The check module an autograder cell runs (its grade_id is the module's name)."""
    return f"grader_tests/{result.assignment}/{cell}.py"


def _percent(score: float | None) -> str:
    return "-" if score is None else f"{100 * score:.0f}%"


def _mark(score: float | None) -> str:
    return "" if score is None else ("✓" if score >= GOAL else "✗")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _per_mutant(result: AuditResult) -> str:
    """Grading seconds per mutant (their mean) against the reference's, as one sentence."""
    timed = [r.seconds for r in result.results if r.seconds > 0]
    if not timed:
        return "not recorded"
    mean = statistics.fmean(timed)
    text = f"{mean:.1f} s per mutant"
    if result.reference_seconds > 0:
        text += (f" (reference answer: {result.reference_seconds:.1f} s, "
                 f"×{mean / result.reference_seconds:.2f})")
    return text


def _width(text: str) -> int:
    """Columns `text` takes in a terminal (Hangul and other wide characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


# -- the console -------------------------------------------------------------------------------

def summary_text(result: AuditResult) -> str:
    """The console summary: one line per part, the survivors to review, the time it took."""
    parts = _parts(result)
    name_width = max([_width(p) for p in parts] + [4])
    columns = [("cand.", 5), ("graded", 6), *((SHORT[s], max(5, len(SHORT[s]))) for s in STATUSES),
               ("score", 6)]
    header = _pad("part", name_width) + " " + " ".join(title.rjust(width) for title, width in columns) \
        + f"  goal {100 * GOAL:.0f}%"
    lines = [f"Mutation audit of {result.assignment} (seed {result.seed}) · 변이 검사", header]
    for part in parts:
        counts = result.counts(part)
        score = result.score(part)
        values = [sum(result.candidates.get(part, {}).values()), len(result.of_part(part)),
                  *(counts[s] for s in STATUSES), _percent(score)]
        lines.append(_pad(part, name_width) + " "
                     + " ".join(str(v).rjust(width) for v, (_, width) in zip(values, columns))
                     + f"  {_mark(score)}".rstrip())
    lines.append("score = killed ÷ (killed + elsewhere + survived); the other statuses count neither way.")

    survivors = _of_status(result, SURVIVED)
    lines.append("")
    if survivors:
        lines.append(f"Survivors to review · 검토할 생존 변이: {len(survivors)}")
        for survivor in survivors:
            mutant = survivor.mutant
            lines += textwrap.wrap(f"{mutant.id}: {mutant.description}", WIDTH,
                                   initial_indent="  ", subsequent_indent="      ")
            cells = result.parts.get(mutant.part, [])
            modules = (f"strengthen grader_tests/{result.assignment}/: " + ", ".join(f"{c}.py" for c in cells)
                       if cells else "strengthen: (no autograder cell known for this part)")
            lines += textwrap.wrap(modules, WIDTH, initial_indent="      ", subsequent_indent="        ",
                                   break_on_hyphens=False)
    else:
        lines.append("No survivors to review · 검토할 생존 변이 없음")
    elsewhere = len(_of_status(result, KILLED_ELSEWHERE))
    if elsewhere:
        lines.append(f"Killed only in other parts (a double-penalty risk): {elsewhere}; see the report.")

    lines.append("")
    lines.append(f"{len(result.results)} mutants graded in {_duration(result.seconds)} with "
                 f"{result.workers} worker{'s' if result.workers != 1 else ''}: {_per_mutant(result)}.")
    return "\n".join(lines)


# -- the chart ---------------------------------------------------------------------------------

def write_chart(result: AuditResult, path: Path) -> Path:
    """A horizontal bar per part: its score, the number of scored mutants, the goal line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = _parts(result)[::-1]  # the first part on top
    figure, axis = plt.subplots(figsize=(7, max(2.4, 0.55 * len(parts) + 1.3)), dpi=PLOT_DPI)
    scores = [result.score(p) for p in parts]
    shown = [100 * s if s is not None else 0.0 for s in scores]
    colors = ["#55a868" if s is not None and s >= GOAL else "#c44e52" for s in scores]
    axis.barh(parts, shown, color=colors, height=0.6)
    for row, (part, score, value) in enumerate(zip(parts, scores, shown)):
        scored = sum(result.counts(part)[s] for s in SCORED)
        if score is None:
            axis.text(1, row, "nothing to score (0 scored mutants)", va="center", ha="left",
                      color="#666", fontstyle="italic", fontsize=9)
        elif value >= 30:
            axis.text(value - 1.5, row, f"{value:.0f}%  ({scored} scored)", va="center", ha="right",
                      color="white", fontsize=9, fontweight="bold")
        else:
            axis.text(value + 1.5, row, f"{value:.0f}%  ({scored} scored)", va="center", ha="left",
                      color="#222", fontsize=9)
    axis.axvline(100 * GOAL, color="#333", linestyle="--", linewidth=1)
    axis.text(100 * GOAL, len(parts) - 0.45, f"goal {100 * GOAL:.0f}%", ha="right", va="bottom",
              fontsize=8, color="#333")
    axis.set_xlim(0, 100)
    axis.set_ylim(-0.6, len(parts) - 0.1)
    axis.set_xlabel("mutation score: killed in its own part (% of scored mutants)")
    axis.set_title(f"Mutation score of each part: {result.assignment}")
    saved = _save(figure, path)
    plt.close(figure)
    return saved


# -- the page ----------------------------------------------------------------------------------

AUDIT_STYLE = STYLE + """
.ko, [lang="ko"] { word-break: keep-all; }
.note { max-width: 60em; }
.parts { display: flex; flex-wrap: wrap; gap: 0 2em; align-items: flex-start; }
.parts h3 { margin: 0.3em 0 0; font-size: 1em; }
.parts table { margin-top: 0.3em; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; }
#statuses td:nth-child(n+3) { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #2e7d32; font-weight: bold; }
.low { color: #c62828; font-weight: bold; }
.mutant { border-left: 4px solid #c44e52; padding: 0.1em 0 0.1em 1em; margin: 0 0 1.6em; }
.mutant.elsewhere { border-color: #dd8452; }
.mutant.apart { border-color: #999; }
.mutant h3 { margin: 0.2em 0 0.4em; font-size: 1.05em; }
.mutant h3 .op { color: #666; font-weight: normal; font-size: 0.9em; }
.mutant p { margin: 0.3em 0; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 0.5em 0.7em; margin: 0.4em 0 0.8em;
      font-size: 0.85em; line-height: 1.35; white-space: pre-wrap; overflow-wrap: anywhere; }
pre.diff span { display: block; padding-left: 2ch; text-indent: -2ch; }
pre.diff .add { background: #e6ffec; }
pre.diff .del { background: #ffebe9; }
pre.diff .hunk { color: #6f42c1; }
pre.diff .file { color: #666; }
pre.error { background: #fff5f5; }
table.differences { width: 100%; }
table.differences td { font-family: monospace; font-size: 0.85em; overflow-wrap: anywhere; }
table.differences td:first-child { white-space: normal; width: 40%; }
#killed, #broke, #timeout { width: 100%; }
#statuses td:last-child { white-space: nowrap; }
#broke td:last-child, #timeout td:last-child { white-space: pre-wrap; font-family: monospace;
      font-size: 0.85em; overflow-wrap: anywhere; }
code { font-size: 0.95em; }
"""

HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")


def _text(value) -> str:
    """`value` escaped; marked lang="ko" when it holds Hangul."""
    text = html.escape(str(value))
    return f'<span lang="ko">{text}</span>' if HANGUL.search(text) else text


def _code(value) -> str:
    return f"<code>{html.escape(str(value))}</code>"


def diff_lines(mutant: Mutant) -> list[str]:
    """The unified diff of the cell, reference → mutant, one line each."""
    return mutant.diff().splitlines()


def _diff(result: MutantResult) -> str:
    """The mutant's diff from the reference, its lines marked (+ added, − removed, @@ hunk)."""
    lines = []
    for line in diff_lines(result.mutant):
        kind = ("file" if line.startswith(("+++", "---")) else "add" if line.startswith("+")
                else "del" if line.startswith("-") else "hunk" if line.startswith("@@") else "")
        attribute = f' class="{kind}"' if kind else ""
        lines.append(f"<span{attribute}>{html.escape(line) or ' '}</span>")
    return '<pre class="diff">' + "".join(lines) + "</pre>"


def _described(text: str) -> str:
    """A mutant's description, escaped, its `quoted code` shown as code."""
    return _text(text) if text.count("`") % 2 else re.sub(r"`([^`]+)`", r"<code>\1</code>", _text(text))


def _check(entry: str) -> str:
    """A failed check "<cell>: <title>": the cell as code, the title as written."""
    cell, colon, title = entry.partition(": ")
    return f"{_code(cell)}: {_text(title)}" if colon and re.fullmatch(r"\w+", cell) else _text(entry)


def _rows_table(header: list[str], rows: list[list[str]], table_id: str = "", css: str = "",
                numeric: tuple[int, ...] = (), total: list[str] | None = None) -> str:
    """A table of already escaped cells (the class report's _table escapes its cells)."""
    def cell(tag: str, index: int, text: str) -> str:
        return f'<{tag} class="n">{text}</{tag}>' if index in numeric else f"<{tag}>{text}</{tag}>"
    head = "".join(cell("th", i, html.escape(h)) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows)
    if total:
        body += '<tr class="total">' + "".join(cell("td", i, c) for i, c in enumerate(total)) + "</tr>"
    if not rows:
        body = f'<tr><td colspan="{len(header)}">none</td></tr>'
    attributes = (f' id="{html.escape(table_id)}"' if table_id else "") + (f' class="{css}"' if css else "")
    return f"<table{attributes}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _modules(result: AuditResult, part: str, checks_titles: dict[str, str]) -> str:
    cells = result.parts.get(part, [])
    if not cells:
        return "<p>Strengthen: (no autograder cell known for this part)</p>"
    items = "".join(f"<li>{_code(_module(result, cell))}"
                    + (f" — {_text(checks_titles[cell])}" if checks_titles.get(cell) else "") + "</li>"
                    for cell in cells)
    return f"<p>Check module{'s' if len(cells) > 1 else ''} to strengthen:</p><ul>{items}</ul>"


def _mutant_heading(result: MutantResult) -> str:
    mutant = result.mutant
    return (f"<h3>{_code(mutant.id)} <span class=\"op\">{html.escape(mutant.operator)}, line {mutant.line} "
            f"of {html.escape(mutant.part)}</span><br>{_described(mutant.description)}</h3>")


def _failed(result: AuditResult, mutant: MutantResult) -> str:
    """The checks the mutant failed, by their titles, one a line; those of other parts marked."""
    own = set(result.parts.get(mutant.mutant.part, []))
    lines = []
    for check in mutant.failed_checks:
        cell = check.split(":", 1)[0]
        lines.append(_check(check) + ("" if cell in own or not own else " (another part)"))
    return "<br>".join(lines) or "(no check title recorded)"


def _survivor(result: AuditResult, survivor: MutantResult, checks_titles: dict[str, str]) -> str:
    differences = (_rows_table(["observable", "reference", "mutant"],
                               [[_text(d.observable), _text(d.reference), _text(d.mutant)]
                                for d in survivor.differences], css="differences")
                   if survivor.differences else
                   "<p>No observable difference recorded by the differential run.</p>")
    return ('<section class="mutant survivor">' + _mutant_heading(survivor) + _diff(survivor)
            + "<p>Observable differences from the reference (differential run):</p>" + differences
            + _modules(result, survivor.mutant.part, checks_titles) + "</section>")


def _elsewhere(result: AuditResult, mutant: MutantResult, checks_titles: dict[str, str]) -> str:
    lost = ", ".join(_code(cell) for cell in mutant.lost_in) or "(not recorded)"
    failed = "".join(f"<li>{_check(check)}</li>" for check in mutant.failed_checks)
    return ('<section class="mutant elsewhere">' + _mutant_heading(mutant) + _diff(mutant)
            + f"<p>Lost points in: {lost}</p>"
            + (f"<p>Failed checks:</p><ul>{failed}</ul>" if failed else "")
            + _modules(result, mutant.mutant.part, checks_titles) + "</section>")


def _apart(mutant: MutantResult) -> str:
    precedent = (f"<p>Precedent (an accepted answer that differs the same way): {_code(mutant.precedent)}</p>"
                 if mutant.status == ACCEPTED else "")
    differences = (_rows_table(["observable", "reference", "mutant"],
                               [[_text(d.observable), _text(d.reference), _text(d.mutant)]
                                for d in mutant.differences], css="differences")
                   if mutant.status == ACCEPTED and mutant.differences else "")
    return ('<section class="mutant apart">' + _mutant_heading(mutant) + precedent + _diff(mutant)
            + differences + "</section>")


def _list(mutants: list[str]) -> list[str]:
    return mutants if mutants else ["<p>None.</p>"]


def write_html(result: AuditResult, chart: Path, out: Path, checks_titles: dict[str, str] | None = None) -> Path:
    titles = checks_titles or {}
    parts = _parts(result)
    name = html.escape(result.assignment)
    candidates = sum(sum(ops.values()) for ops in result.candidates.values())
    summary = [
        ["assignment", result.assignment],
        ["seed", result.seed],
        ["mutants graded", f"{len(result.results)} of {candidates} candidates"],
        ["survivors to review", len(_of_status(result, SURVIVED))],
        ["wall time", _duration(result.seconds)],
        ["workers", result.workers],
        ["grading time", _per_mutant(result)],
        ["goal", f"a mutation score of {100 * GOAL:.0f}% in every part"],
    ]

    candidate_tables = []
    for part in parts:
        found = result.candidates.get(part, {})
        graded: dict[str, int] = {}
        for mutant in result.of_part(part):
            graded[mutant.mutant.operator] = graded.get(mutant.mutant.operator, 0) + 1
        operators = [*found, *(op for op in graded if op not in found)]
        rows = [[_code(op), str(found.get(op, 0)), str(graded.get(op, 0))] for op in operators]
        candidate_tables.append(
            f"<div><h3>{_code(part)}</h3>"
            + _rows_table(["operator", "candidates", "graded"], rows, f"candidates-{part}", numeric=(1, 2),
                          total=["total", str(sum(found.values())), str(sum(graded.values()))] if rows else None)
            + "</div>")

    statuses = []
    for part in parts:
        counts, score = result.counts(part), result.score(part)
        mark = _mark(score)
        shown = (f'<span class="{"ok" if mark == "✓" else "low"}">{_percent(score)} {mark}</span>'
                 if score is not None else "-")
        statuses.append([_code(part), ", ".join(_code(c) for c in result.parts.get(part, [])) or "-",
                         *(str(counts[s]) for s in STATUSES), str(sum(counts[s] for s in SCORED)), shown])

    killed = [[_code(k.mutant.id), _described(k.mutant.description), _failed(result, k)]
              for k in _of_status(result, KILLED)]
    failures = {status: [[_code(m.mutant.id), html.escape(m.mutant.operator), _described(m.mutant.description),
                          _text(m.error or "(no error text)")] for m in _of_status(result, status)]
                for status in (BROKE, TIMEOUT)}

    sections = [
        f'<h1>Mutation audit: {name} <span class="ko" lang="ko">· 변이 검사 보고서</span></h1>',
        '<p class="note">Small faults (mutants) were seeded into the reference solution of each '
        "automatically graded part, and each mutant was graded like a submission. A good check "
        "takes points from a mutant in its own part. "
        '<span lang="ko">각 부분의 모범 답안에 작은 오류(변이)를 하나씩 넣어 제출물처럼 채점했습니다. '
        "좋은 검사는 자기 부분에서 변이의 점수를 깎습니다.</span></p>",
        _table(["figure", "value"], summary, "summary").replace("<table", '<table class="summary"', 1),
        _heading("Mutation score", "변이 점수"),
        f'<img src="{html.escape(chart.name)}" alt="Mutation score of each part, goal {100 * GOAL:.0f}%">',
        f'<p class="note">Score of a part = killed ÷ (killed + killed only elsewhere + survived). Equivalent, '
        "accepted, broke and timeout mutants count neither way; “-”: nothing to score.</p>",
        _rows_table(["part", "check modules", *(HEADERS[s] for s in STATUSES), "scored", "score"],
                    statuses, "statuses"),
        _heading("Candidates and sample graded", "후보와 채점한 표본"),
        '<p class="note">Mutants each operator could make in each part, and how many of them were graded '
        f"(seed {result.seed}).</p>",
        '<div class="parts">' + "".join(candidate_tables) + "</div>",
        _heading("Survivors to review", "검토할 생존 변이"),
        '<p class="note">Full marks everywhere, and the differential run found a value that differs from the '
        "reference's: a check to add or strengthen in the module named (then add the exported entry to "
        "the corpus), unless the assignment should accept this answer.</p>",
        *_list([_survivor(result, m, titles) for m in _of_status(result, SURVIVED)]),
        _heading("Killed only in other parts", "다른 부분에서만 감점"),
        '<p class="note">Full marks in its own part, points lost in a later part: a check missing in its own '
        "part, and a student with this mistake is penalised twice (double-penalty risk).</p>",
        *_list([_elsewhere(result, m, titles) for m in _of_status(result, KILLED_ELSEWHERE)]),
        _heading("Likely equivalent", "동등할 가능성이 높은 변이"),
        '<p class="note">Survived, and every observable value is the reference\'s: probably the same '
        "program. Not counted in the score.</p>",
        *_list([_apart(m) for m in _of_status(result, EQUIVALENT)]),
        _heading("Accepted by the contract", "계약상 허용된 답"),
        '<p class="note">Survived, and differs from the reference only where an answer the assignment '
        f"accepts differs too (grader_tests/{name}/audit.py, ACCEPTED). Not counted in the score.</p>",
        *_list([_apart(m) for m in _of_status(result, ACCEPTED)]),
        _heading("Broke the notebook", "노트북 실행 오류"),
        '<p class="note">The mutated cell raised an error: never counted as killed.</p>',
        _rows_table(["mutant", "operator", "description", "error"], failures[BROKE], "broke"),
        _heading("Timeout", "시간 초과"),
        _rows_table(["mutant", "operator", "description", "cells stopped"], failures[TIMEOUT], "timeout"),
        _heading("Killed", "검출된 변이"),
        '<p class="note">Each mutant a check of its own part caught, with the checks it failed.</p>',
        _rows_table(["mutant", "description", "failed checks"], killed, "killed"),
    ]
    page = out / PAGE
    page.write_text("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    f"<title>Mutation audit: {name}</title>"
                    f"<style>{AUDIT_STYLE}</style></head><body>\n" + "\n".join(sections) + "\n</body></html>\n",
                    encoding="utf-8")
    return page


def write_report(result: AuditResult, out: Path, checks_titles: dict[str, str] | None = None) -> Path:
    """Writes out/audit.html and out/audit-scores.png; returns the page. `checks_titles`:
    autograder cell → a title for its check module (shown where a module is to strengthen)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return write_html(result, write_chart(result, out / CHART), out, checks_titles)


# -- the corpus --------------------------------------------------------------------------------

def export_survivors(result: AuditResult, path: Path) -> Path:
    """The survivors to review as corpus entries (JSON): once a check catches one, it joins the corpus."""
    entries = [{"name": s.mutant.id, "part": s.mutant.part, "answers": {s.mutant.part: s.mutant.source},
                "description": s.mutant.description, "operator": s.mutant.operator,
                "diff": s.mutant.diff()}
               for s in _of_status(result, SURVIVED)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path
