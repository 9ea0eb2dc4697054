"""`dropout-kit report`: the instructor's HTML page (opened in headless Chromium), its
CSV files, and nbgrader's own export next to it; the verdicts it reads are checked first
(a damaged notebook is listed, never a crash), and parts held for review are listed with
their evidence and counted apart from the pass rates (issue 22, items 3 and 4); the time and
memory limits a submission hit are listed with the part and the time (issue 24, item 6)."""
from __future__ import annotations

import copy
import csv
import functools
import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import dropout_assignment as dropout
import nbformat
import pytest
from class_builder import unavailable

from dropout_kit.checks.runner import CHECKS_MIME, CheckResult, ModuleResult
from dropout_kit.classroom import gradebook, report
from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.engine import broker
from dropout_kit.engine.review import review_output
from dropout_kit.engine.cell_outputs import error_output
from dropout_kit.harness.commands import nbgrader

pytest_plugins = ["grading_fixtures"]

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run")
# Appended to a copy of the page: once everything has loaded, writes what the browser
# made of the images and tables into the DOM, which --dump-dom then prints.
RENDER_PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.from(document.images).map(function (img) {
    return {src: img.getAttribute("src"), complete: img.complete, width: img.naturalWidth,
            shownHeight: img.getBoundingClientRect().height};
  });
  var tables = {};
  document.querySelectorAll("table").forEach(function (table) {
    tables[table.id] = {rows: table.tBodies[0].rows.length, shownHeight: table.getBoundingClientRect().height,
                        text: table.innerText};
  });
  var probe = document.createElement("pre");
  probe.id = "render-probe";
  probe.textContent = JSON.stringify({images: images, tables: tables});
  document.body.appendChild(probe);
});
</script>"""


@pytest.fixture(scope="module")
def report_dir(parallel_class, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    page = report.write_report(dropout.in_course(parallel_class.root), out)
    assert page == out / "index.html"
    return out


def render(page: Path) -> dict:
    """What headless Chromium renders of `page`: its images and tables."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        unavailable("chromium not found: install Debian's chromium package")
    probe = page.with_name("render-probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", RENDER_PROBE + "</body>"),
                     encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="dk-chromium-") as profile:
        done = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                               "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
                              capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="render-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no probe output from chromium (exit {done.returncode}):\n{done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def test_page_renders_plots_and_tables_in_chromium(report_dir, class_notebooks):
    rendered = render(report_dir / "index.html")
    images = {img["src"]: img for img in rendered["images"]}
    assert set(images) == {"score_distribution.png", "check_pass_rates.png", "part_means.png"}
    for img in images.values():
        assert img["complete"] and img["width"] > 0 and img["shownHeight"] > 0, img
    tables = rendered["tables"]
    assert set(tables) >= {"summary", "checks", "mistakes", "manual", "problems", "students"}
    for table in tables.values():
        assert table["shownHeight"] > 0
    assert tables["students"]["rows"] == len(class_notebooks)
    for student in class_notebooks:
        assert student in tables["students"]["text"]


def test_scores_csv_has_one_row_per_student_with_part_points(report_dir, parallel_class):
    with (report_dir / "scores.csv").open(encoding="utf-8") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    assert set(rows) == set(parallel_class.grades)
    for student, cells in parallel_class.grades.items():
        for part, points in gradebook.part_scores(cells, dropout.DROPOUT).items():
            assert float(rows[student][part]) == points, (student, part)
        assert rows[student]["status"] == "graded"
        pending = {c for c in dropout.MANUAL_CELLS if cells[c].needs_manual_grade}
        assert set(rows[student]["manual_pending"].split()) == pending
        assert rows[student]["limits_hit"] == "0"  # no budget or time limit hit in this class


def test_check_pass_rates_count_every_graded_notebook(report_dir, parallel_class):
    with (report_dir / "checks.csv").open(encoding="utf-8") as fh:
        checks = list(csv.DictReader(fh))
    assert checks
    cells = {c["cell"] for c in checks}
    assert cells == set(dropout.AUTO_CELLS)
    for check in checks:
        assert int(check["passed"]) + int(check["failed"]) == len(parallel_class.grades), check
    # The reference and the thread probe pass everything, the blank hand-in nothing.
    assert all(int(c["passed"]) >= 2 and int(c["failed"]) >= 1 for c in checks if float(c["points"]) > 0)


def test_mistakes_name_the_broken_part(parallel_class):
    collected = report.collect(CoursePaths.load(parallel_class.root, dropout.ASSIGNMENT), dropout.in_course(parallel_class.root))
    mistakes = collected.mistakes()
    counts = [m[2] for m in mistakes]
    assert counts == sorted(counts, reverse=True)
    scale = [m for m in mistakes if m[0] == "test_my_dropout_scale"]
    # no-scaling and the blank hand-in fail the scaling checks; the others pass them.
    assert scale and max(m[2] for m in scale) == 2


def test_report_reads_the_verdicts_the_cell_holds():
    result = ModuleResult("test_split", checks=[
        CheckResult("a", "xtr 정의 (x, y)", 0.5, True),
        CheckResult("b", "처음 80개 행", 1.0, False, "순서가 다릅니다 → 앞의 80개"),
        CheckResult("c", "필수 조건", 0.0, False, "torch 드랍아웃 사용", gate=True),
    ])
    outputs = json.loads(nbformat.writes(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(outputs=broker.cell_outputs(result))])))["cells"][0]["outputs"]
    parsed = report.cell_report("test_split", outputs)
    assert [(v.title, v.points, v.passed, v.message) for v in parsed.verdicts] == [
        (c.title, c.points, c.passed, c.message) for c in result.checks]


def test_report_lists_timeouts_and_failures(troubled_course, tmp_path):
    page = report.write_report(dropout.in_course(troubled_course), tmp_path)
    rendered = render(page)
    problems = rendered["tables"]["problems"]["text"]
    assert re.search(r"sleeper\s+timeout\s+time limit hit in split", problems), problems
    assert re.search(r"renamed\s+(failed|not graded)", problems), problems
    limits = rendered["tables"]["limits"]["text"]  # the sleeper's cell, from its graded notebook
    assert re.search(r"sleeper\s+split\s+\(whole cell\)\s+cell time limit \((stopped|did not stop: "
                     r"kernel restarted)\)\s+(\d+\.\d|—)", limits), limits


@pytest.fixture(scope="module")
def troubled_course(troubled_run):
    return troubled_run[0]


def test_nbgrader_export_still_works(parallel_class, tmp_path):
    exported = tmp_path / "grades.csv"
    nbgrader("export", f"--to={exported}", cwd=parallel_class.root)
    with exported.open(encoding="utf-8") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh) if row["assignment"] == dropout.ASSIGNMENT}
    assert set(rows) == set(parallel_class.grades)
    for student, cells in parallel_class.grades.items():
        assert float(rows[student]["raw_score"]) == pytest.approx(sum(g.score or 0 for g in cells.values()))


# -- the verdicts are checked before they count ----------------------------------------------
def graded_notebook() -> dict:
    """The instructor's notebook as an autograded one: every kit cell holds verdicts as the
    checker writes them (one check passed, one failed)."""
    nb = nbformat.read(dropout.source_notebook(dropout.REPO), as_version=4)
    for cell in nb.cells:
        test_id = broker.kit_test_id(cell)
        if test_id:
            cell.outputs = broker.cell_outputs(ModuleResult(test_id, checks=[
                CheckResult("a", "첫 검사", 1.0, True), CheckResult("b", "둘째 검사", 0.5, False, "틀렸습니다")]))
    return json.loads(nbformat.writes(nb))


def payload(data: dict, cell: str = "test_split") -> dict:
    for nb_cell in data["cells"]:
        if nb_cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == cell:
            return next(o["data"][CHECKS_MIME] for o in nb_cell["outputs"] if CHECKS_MIME in o.get("data", {}))
    raise KeyError(cell)


def cell_of(data: dict, grade_id: str) -> dict:
    return next(c for c in data["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def _duplicate_payload(data):
    outputs = cell_of(data, "test_split")["outputs"]
    outputs.append(copy.deepcopy(next(o for o in outputs if CHECKS_MIME in o.get("data", {}))))


def _verdicts_in_a_solution_cell(data):
    cell_of(data, "split")["outputs"] = copy.deepcopy(cell_of(data, "test_split")["outputs"])


# Each way a notebook's verdicts can be damaged, and what the report says about it.
DAMAGE = {
    "unknown key": (lambda d: payload(d).update(forged=True), "unknown field 'forged'"),
    "unknown key in a check": (lambda d: payload(d)["checks"][0].update(bonus=1), "check 1: unknown field 'bonus'"),
    "missing field": (lambda d: payload(d).pop("checks"), "missing field 'checks'"),
    "missing field in a check": (lambda d: payload(d)["checks"][1].pop("passed"), "check 2: missing field 'passed'"),
    "score as text": (lambda d: payload(d).update(score="1"), "'score' is str, not float"),
    "passed as text": (lambda d: payload(d)["checks"][0].update(passed="yes"), "'passed' is str, not bool"),
    "checks not a list": (lambda d: payload(d).update(checks={"a": 1}), "'checks' is dict, not list"),
    "payload not an object": (lambda d: cell_of(d, "test_split")["outputs"][1]["data"].update(
        {CHECKS_MIME: [1, 2]}), "list, not an object"),
    "NaN score": (lambda d: payload(d).update(score=float("nan")), "'score' is nan, not a number of points"),
    "huge points": (lambda d: payload(d)["checks"][0].update(points=1e300), "'points' is 1e+300"),
    "negative points": (lambda d: payload(d)["checks"][1].update(points=-5), "'points' is -5"),
    "score its checks do not give": (lambda d: payload(d).update(score=1.5), "score 1.5 is not what its checks give"),
    "max_points not the checks' sum": (lambda d: payload(d).update(max_points=15), "max_points 15 is not the sum"),
    "wrong test_id": (lambda d: payload(d).update(test_id="test_eval_predict"),
                      "for 'test_eval_predict', in the cell of 'test_split'"),
    "flags not texts": (lambda d: payload(d).update(flags=[{"x": 1}]), "'item' is dict, not str"),
    "held not a boolean": (lambda d: payload(d).update(held="yes"), "'held' is str, not bool"),
    "huge message": (lambda d: payload(d)["checks"][1].update(message="x" * 50_000), "50,000 characters"),
    "budgets not a list": (lambda d: payload(d).update(budgets={"check": "a"}), "'budgets' is dict, not list"),
    "budget not an object": (lambda d: payload(d).update(budgets=["2 s"]), "budget 1: str, not an object"),
    "budget of an unknown kind": (lambda d: payload(d).update(budgets=[{**BUDGETS[0], "kind": "gpu"}]),
                                  "budget 1: 'kind' is 'gpu', not 'time' or 'memory'"),
    "budget missing a field": (lambda d: payload(d).update(budgets=[BUDGETS[0], {
        k: v for k, v in BUDGETS[1].items() if k != "seconds"}]), "budget 2: missing field 'seconds'"),
    "budget with an unknown field": (lambda d: payload(d).update(budgets=[{**BUDGETS[0], "bonus": 1}]),
                                     "budget 1: unknown field 'bonus'"),
    "budget limit as text": (lambda d: payload(d).update(budgets=[{**BUDGETS[0], "limit": "2"}]),
                             "'limit' is str, not a number of seconds or MB"),
    "negative budget time": (lambda d: payload(d).update(budgets=[{**BUDGETS[0], "seconds": -1}]),
                             "'seconds' is -1, not a number of seconds or MB"),
    "two verdicts in a cell": (_duplicate_payload, "2 verdicts"),
    "verdicts in a solution cell": (_verdicts_in_a_solution_cell, "not an autograder cell"),
    "cells not a list": (lambda d: d.update(cells={}), "no list of cells"),
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_each_kind_of_damaged_verdicts_is_named(kind, tmp_path):
    damage, reason = DAMAGE[kind]
    data = graded_notebook()
    damage(data)
    path = tmp_path / dropout.NOTEBOOK
    path.write_text(json.dumps(data), encoding="utf-8")  # NaN as JSON's NaN, as json writes it
    with pytest.raises(report.Damaged) as caught:
        report.autograder_reports(path, dropout.AUTO_CELLS)
    assert reason in str(caught.value)
    reports, damaged = report.read_verdicts(tmp_path, dropout.DROPOUT)
    assert reports == {} and damaged == [(dropout.NOTEBOOK, str(caught.value))]


def test_sound_verdicts_are_read_and_only_the_assignments_notebook(tmp_path):
    data = graded_notebook()
    (tmp_path / dropout.NOTEBOOK).write_text(json.dumps(data), encoding="utf-8")
    forged = graded_notebook()
    for cell in forged["cells"]:
        for output in cell.get("outputs", []):
            if CHECKS_MIME in output.get("data", {}):
                output["data"][CHECKS_MIME]["checks"][1]["passed"] = True
    (tmp_path / "forged.ipynb").write_text(json.dumps(forged), encoding="utf-8")
    (tmp_path / "garbage.ipynb").write_text("{", encoding="utf-8")
    reports, damaged = report.read_verdicts(tmp_path, dropout.DROPOUT)
    assert set(reports) == set(dropout.AUTO_CELLS)
    assert all([v.passed for v in r.verdicts] == [True, False] for r in reports.values())
    assert damaged == [("forged.ipynb", "not a notebook of the assignment (not read)"),
                       ("garbage.ipynb", "not a notebook of the assignment (not read)")]
    (tmp_path / dropout.NOTEBOOK).write_text("{", encoding="utf-8")
    assert report.read_verdicts(tmp_path, dropout.DROPOUT)[1][0] == (
        dropout.NOTEBOOK, "not a readable notebook (JSONDecodeError)")


def hold(data: dict, cell: str, evidence: list[str]) -> None:
    """What GuardGradeCells does to a kit cell it holds for review."""
    nb_cell = cell_of(data, cell)
    verdicts = payload(data, cell)
    verdicts["held"], verdicts["flags"] = True, evidence[-1:]
    nb_cell["outputs"] = [o for o in nb_cell["outputs"] if o["output_type"] != "execute_result"]
    nb_cell["outputs"] += json.loads(json.dumps([review_output(evidence, verdicts["score"], verdicts["max_points"]),
                                                 nbformat.v4.new_output("execute_result", data={"text/plain": "0.0"},
                                                                        execution_count=None)]))


EVIDENCE = ["cell 5 (split), line 3: builtins (Python's own functions): import builtins",
            "my_dropout: 직접 구현했는지 코드만으로 판단하지 못했습니다: return F.dropout(x, p)"]


def test_a_held_part_shows_its_evidence_and_automatic_score(tmp_path):
    data = graded_notebook()
    hold(data, "test_my_dropout_mask", EVIDENCE)
    (tmp_path / dropout.NOTEBOOK).write_text(json.dumps(data), encoding="utf-8")
    reports, damaged = report.read_verdicts(tmp_path, dropout.DROPOUT)
    assert damaged == []
    held = reports["test_my_dropout_mask"]
    assert held.held and held.evidence == EVIDENCE and (held.score, held.max_points) == (1.0, 1.5)
    assert not any(r.flagged for cell, r in reports.items() if cell != "test_my_dropout_mask")


# -- time and memory limits hit ------------------------------------------------------------------
# A check's requests over their budgets, as the checker records them in the verdicts.
BUDGETS = [
    {"check": "test_mask_rate", "kind": "time", "limit": 2, "seconds": 2.4,
     "message": "검사 요청이 제한 시간(2초) 안에 끝나지 않았습니다."},
    {"check": "test_mask_shape", "kind": "memory", "limit": 512, "seconds": 0.75,
     "message": "검사 요청이 메모리 제한(512 MB)을 넘었습니다."},
]
RAN = {"iopub.execute_input": "2026-11-27T09:00:01.123456Z", "shell.execute_reply": "2026-11-27T09:00:04.623456Z"}


def stop(cell: dict, ename: str, timing: dict | None = None, checks: bool = False) -> None:
    """What SafeExecute leaves in a cell stopped at its time limit: the error output (in an
    autograder cell, instead of the verdicts: its checks were stopped) and, if the notebook
    recorded them, the cell's timestamps (else none: its time is unknown)."""
    stopped = json.loads(json.dumps(error_output(ename, "셀이 제한 시간 안에 끝나지 않아 중단했습니다.")))
    cell["outputs"] = [stopped] if checks else [*cell["outputs"], stopped]
    cell["metadata"].pop("execution", None)
    if timing:
        cell["metadata"]["execution"] = dict(timing)


def student_cell(data: dict, after: str) -> dict:
    """A code cell the student added (no grade_id) after the cell `after`."""
    cell = json.loads(nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "while True: pass")])))["cells"][0]
    data["cells"].insert(data["cells"].index(cell_of(data, after)) + 1, cell)
    return cell


def limits_of(data: dict, folder: Path) -> list[tuple]:
    (folder / dropout.NOTEBOOK).write_text(json.dumps(data), encoding="utf-8")
    reports, limits = report.graded_notebook(folder / dropout.NOTEBOOK, dropout.AUTO_CELLS)
    assert set(reports) == set(dropout.AUTO_CELLS)
    return [(h.cell, h.kind, h.check, h.limit, h.seconds, h.ename, h.what) for h in limits]


def test_limits_hit_are_read_with_the_part_and_the_time(tmp_path):
    data = graded_notebook()
    assert limits_of(data, tmp_path) == []  # an older notebook: no budgets, no stopped cell
    payload(data, "test_my_dropout_mask")["budgets"] = copy.deepcopy(BUDGETS)
    stop(cell_of(data, "split"), "CellTimeoutError", RAN)
    stop(student_cell(data, "data_plot"), "KernelUnresponsive")  # the 6th cell, without timestamps
    stop(cell_of(data, "test_eval_predict"), "CellTimeoutError", checks=True)
    assert limits_of(data, tmp_path) == [
        ("cell 6", "time", "", None, None, "KernelUnresponsive", "cell time limit (did not stop: kernel restarted)"),
        ("split", "time", "", None, 3.5, "CellTimeoutError", "cell time limit (stopped)"),
        ("test_my_dropout_mask", "time", "test_mask_rate", 2.0, 2.4, "", "time budget of 2 s"),
        ("test_my_dropout_mask", "memory", "test_mask_shape", 512.0, 0.75, "", "memory budget of 512 MB"),
        ("test_eval_predict", "time", "", None, None, "CellTimeoutError", "cell time limit (stopped)"),
    ]
    reports, damaged = report.read_verdicts(tmp_path, dropout.DROPOUT)
    assert damaged == [] and [v.passed for v in reports["test_my_dropout_mask"].verdicts] == [True, False]
    # A cell that raised something else was not stopped by a limit.
    data = graded_notebook()
    stop(cell_of(data, "split"), "KeyboardInterrupt", RAN)
    assert limits_of(data, tmp_path) == []


def rewrite_notebook(paths: CoursePaths, student: str, change) -> None:
    """Applies `change` to the JSON of `student`'s graded notebook, in place."""
    path = paths.autograded_dir(student) / dropout.NOTEBOOK
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture(scope="module")
def limited_class(parallel_class, tmp_path_factory) -> Path:
    """A copy of the graded class in which
      * reference's test_my_dropout_mask checks hit a time and a memory budget,
      * no-scaling's split cell was stopped at its time limit (3.5 s) and its
        test_eval_predict checks were stopped too (no timestamps),
      * blank's verdicts hold a budget of an unknown kind (damaged),
      * threads-probe hit nothing."""
    root = tmp_path_factory.mktemp("limited") / "course"
    shutil.copytree(parallel_class.root, root)
    rewrite = functools.partial(rewrite_notebook, CoursePaths.load(root, dropout.ASSIGNMENT))
    rewrite("reference", lambda data: payload(data, "test_my_dropout_mask").update(budgets=BUDGETS))
    rewrite("no-scaling", lambda data: (stop(cell_of(data, "split"), "CellTimeoutError", RAN),
                                        stop(cell_of(data, "test_eval_predict"), "CellTimeoutError", checks=True)))
    rewrite("blank", lambda data: payload(data).update(budgets=[{**BUDGETS[0], "kind": "gpu"}]))
    return root


def test_limits_hit_are_listed_with_student_part_and_time(limited_class, tmp_path):
    rendered = render(report.write_report(dropout.in_course(limited_class), tmp_path))
    limits = rendered["tables"]["limits"]
    assert limits["rows"] == 4 and limits["shownHeight"] > 0
    rows = limits["text"].splitlines()[1:]
    assert [re.split(r"\t", row)[:5] for row in rows] == [
        ["no-scaling", "split", "(whole cell)", "cell time limit (stopped)", "3.5"],
        ["no-scaling", "test_eval_predict", "(whole cell)", "cell time limit (stopped)", "—"],
        ["reference", "test_my_dropout_mask", "test_mask_rate", "time budget of 2 s", "2.4"],
        ["reference", "test_my_dropout_mask", "test_mask_shape", "memory budget of 512 MB", "0.8"],
    ], limits["text"]
    assert BUDGETS[0]["message"] in limits["text"] and "셀이 제한 시간 안에 끝나지 않아" in limits["text"]
    # blank's verdicts are damaged: listed as such, nothing of them read; the report still builds.
    damaged = rendered["tables"]["damaged"]["text"]
    assert re.search(r"blank\s+dropout\.ipynb\s+cell test_split: verdicts, budget 1: 'kind' is 'gpu'", damaged)
    assert rendered["tables"]["students"]["rows"] == 4
    assert re.search(r"submissions that hit a time or memory limit\s+2", rendered["tables"]["summary"]["text"])
    with (tmp_path / "scores.csv").open(encoding="utf-8") as fh:
        hits = {row["student"]: row["limits_hit"] for row in csv.DictReader(fh)}
    assert hits == {"reference": "2", "no-scaling": "2", "blank": "0", "threads-probe": "0"}


# -- a class with damaged, forged and held notebooks ---------------------------------------------
@pytest.fixture(scope="module")
def tampered_class(parallel_class, tmp_path_factory) -> Path:
    """A copy of the graded class in which
      * blank's notebook holds verdicts with an unknown key (once a TypeError for the whole class),
      * no-scaling's folder holds forged.ipynb: the reference's notebook (full marks),
      * threads-probe's test_split is held for review (the gradebook waits for a person)."""
    root = tmp_path_factory.mktemp("tampered") / "course"
    shutil.copytree(parallel_class.root, root)
    paths = CoursePaths.load(root, dropout.ASSIGNMENT)
    rewrite = functools.partial(rewrite_notebook, paths)
    rewrite("blank", lambda data: payload(data).update(forged=True))
    shutil.copy(paths.autograded_dir("reference") / dropout.NOTEBOOK, paths.autograded_dir("no-scaling") / "forged.ipynb")
    rewrite("threads-probe", lambda data: hold(data, "test_split", EVIDENCE))
    from nbgrader.api import Gradebook
    with Gradebook(paths.db_url) as gb:
        gb.find_grade("test_split", dropout.ASSIGNMENT, dropout.ASSIGNMENT, "threads-probe").needs_manual_grade = True
        gb.db.commit()
    return root


@pytest.fixture(scope="module")
def tampered_report(tampered_class, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tampered-report")
    page = report.write_report(dropout.in_course(tampered_class), out)
    assert page == out / "index.html"
    return out


def test_damaged_notebooks_are_listed_and_the_report_still_builds(tampered_report):
    rendered = render(tampered_report / "index.html")
    damaged = rendered["tables"]["damaged"]
    assert damaged["rows"] == 2 and damaged["shownHeight"] > 0
    assert re.search(r"blank\s+dropout\.ipynb\s+cell test_split: verdicts: unknown field 'forged'", damaged["text"])
    assert re.search(r"no-scaling\s+forged\.ipynb\s+not a notebook of the assignment", damaged["text"])
    assert rendered["tables"]["students"]["rows"] == 4  # every student is still in the report


def test_held_parts_are_counted_apart_and_forged_verdicts_not_at_all(tampered_report, report_dir, parallel_class):
    def checks(folder):
        with (folder / "checks.csv").open(encoding="utf-8") as fh:
            return {(c["cell"], c["check"]): c for c in csv.DictReader(fh)}
    before, after = checks(report_dir), checks(tampered_report)
    assert set(before) == set(after)
    graded = report.collect(CoursePaths.load(parallel_class.root, dropout.ASSIGNMENT),
                            dropout.in_course(parallel_class.root))
    verdicts = {row.student: row.cells for row in graded.rows}
    for (cell, title), check in after.items():
        was = before[(cell, title)]
        # Not counted: blank's verdicts (its notebook is damaged), no-scaling's forged notebook
        # (never read), threads-probe's test_split (held: neither passed nor failed).
        gone = [v for student, only in (("blank", None), ("threads-probe", "test_split")) if only in (None, cell)
                for v in verdicts[student][cell].verdicts if v.title == title]
        held = int(cell == "test_split")
        assert int(check["held"]) == int(was["held"]) + held, (cell, title)
        assert int(check["passed"]) == int(was["passed"]) - sum(v.passed for v in gone), (cell, title)
        assert int(check["failed"]) == int(was["failed"]) - sum(not v.passed for v in gone), (cell, title)


def test_flagged_parts_show_student_part_score_and_evidence(tampered_report):
    rendered = render(tampered_report / "index.html")
    flagged = rendered["tables"]["flagged"]
    assert flagged["rows"] == 1 and flagged["shownHeight"] > 0
    text = flagged["text"]
    assert re.search(r"threads-probe\s+split\s+test_split\s+2 / 2\s+0 until reviewed", text), text
    assert all(line in text for line in EVIDENCE), text
    manual = rendered["tables"]["manual"]["text"]
    assert "test_split (held for review)" in manual
    with (tampered_report / "scores.csv").open(encoding="utf-8") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    assert rows["threads-probe"]["review_pending"] == "test_split"
    assert float(rows["threads-probe"]["split"]) == 0  # recorded as 0 until a person grades it


# -- refused submissions (issue 23, item 2) ------------------------------------------------------
def refusal(folder: str, student: str, owner: str, claimed: str, reason: str):
    """A refusal as dropout_kit.exchange.check_submission gives it (future times: 40 min ahead)."""
    from dropout_kit.exchange.refusal import REASONS, Refusal
    english, korean = REASONS[reason]
    fields = {"student": student, "owner": owner, "claimed": claimed, "extra": "40 min", "extra_ko": "40분"}
    return Refusal(folder, student, owner, claimed, reason, english.format(**fields), korean.format(**fields))


FORGED = refusal("kit-stu-b+dropout+2026-12-03 10:40:00.123456 UTC+aB3x", "kit-stu-b", "kit-stu-a",
                 "2026-12-03 10:40:00.123456 UTC", "owner_mismatch")
AHEAD = refusal("kit-stu-c+dropout+2026-12-09 09:00:00.000000 UTC+Qz9<b>x</b>", "kit-stu-c", "kit-stu-c",
                "2026-12-09 09:00:00.000000 UTC", "future_time")


@pytest.fixture
def ungraded_course(tmp_path, monkeypatch) -> Path:
    """A course with nothing collected nor graded (the report creates its gradebook: alembic on PATH)."""
    import os

    from dropout_kit.engine.config import path_with_environment_bin
    from dropout_kit.harness.course import copy_course
    monkeypatch.setenv("PATH", path_with_environment_bin(os.environ.get("PATH", "")))
    return copy_course(dropout.REPO, tmp_path / "course")


def test_refused_submissions_are_listed_with_owner_time_and_reason(ungraded_course, tmp_path):
    from dropout_kit.exchange.refusal_record import append_refusals
    append_refusals(ungraded_course, [FORGED, AHEAD], course_id="dl-dropout", assignment=dropout.ASSIGNMENT)
    append_refusals(ungraded_course, [refusal("x+week2+t", "x", "y", "t", "owner_mismatch")],
                    course_id="dl-dropout", assignment="week2")  # another assignment's: not listed
    page = report.write_report(dropout.in_course(ungraded_course), tmp_path / "report")
    rendered = render(page)
    refused = rendered["tables"]["refused"]
    assert refused["rows"] == 2 and refused["shownHeight"] > 0
    assert re.search(r"kit-stu-b\tkit-stu-a\t2026-12-03\s+10:40:00 UTC\tit names kit-stu-b but is owned by "
                     r"kit-stu-a", refused["text"]), refused["text"]
    assert "kit-stu-b 학생의 이름으로 되어 있지만 폴더 소유자는 kit-stu-a입니다" in refused["text"]
    assert "its time is 40 min ahead of the clock" in refused["text"] and "40분 미래" in refused["text"]
    assert "+Qz9<b>x</b>" in refused["text"]  # a student's folder name shown as text, never markup
    assert "x+week2+t" not in refused["text"]
    assert re.search(r"refused submissions \(not collected\)\s+2", rendered["tables"]["summary"]["text"])
    assert "Refused submissions <span class=\"ko\" lang=\"ko\">· 거부된 제출</span>" in page.read_text(encoding="utf-8")
    notice = report.refused_submissions_notice(dropout.in_course(ungraded_course))
    assert notice.splitlines()[0].startswith("Refused submissions · 거부된 제출: 2")
    assert "'kit-stu-b' owned by 'kit-stu-a'" in notice


def test_no_refused_section_when_nothing_was_refused(ungraded_course, tmp_path):
    page = report.write_report(dropout.in_course(ungraded_course), tmp_path / "report").read_text(encoding="utf-8")
    assert 'id="refused"' not in page and "Refused submissions" not in page and "refused submissions" not in page
    assert report.refused_submissions_notice(dropout.in_course(ungraded_course)) == ""
