"""`dropout-kit report`: the instructor's HTML page (opened in headless Chromium), its
CSV files, and nbgrader's own export next to it."""
from __future__ import annotations

import csv
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

from dropout_kit.checks.runner import CheckResult, ModuleResult
from dropout_kit.classroom import gradebook, report
from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.engine import broker
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
