"""A second assignment served by the same engine with no change to it: the fixture course of
tests/second_assignment/ (`activation`: two autograder cells, one hand-graded cell) is added
to a copy of the course beside `dropout`, released, graded by `nbgrader autograde` and by
`dropout-kit grade --assignment activation`, and reported by `dropout-kit report`."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from class_builder import run_cli

from dropout_kit.assignment import find_assignment
from dropout_kit.classroom import gradebook
from dropout_kit.harness import samples
from dropout_kit.harness.commands import nbgrader
from dropout_kit.harness.course import copy_course, place_submission

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parent / "second_assignment"
NAME = "activation"
STUDENTS = ("reference", "blank", "abs-relu")


@pytest.fixture(scope="module")
def course(tmp_path_factory, repo_root) -> Path:
    """The course with both assignments, `activation` released and its class collected."""
    root = copy_course(repo_root, tmp_path_factory.mktemp("two-assignments") / "course")
    for folder in ("source", "grader_tests"):
        shutil.copytree(FIXTURE / folder / NAME, root / folder / NAME)
    done = run_cli("release", "--course", str(root), "--assignment", NAME)
    assert done.returncode == 0, done.stderr
    assignment = find_assignment(root, NAME)
    for student, answers in samples.sample_class(assignment).items():
        notebook = samples.assemble(assignment.release_notebook, answers or {})  # None: the blank release
        place_submission(root, student, notebook, assignment=NAME)
    return root


def grades_of(root: Path) -> dict[str, dict[str, float | None]]:
    found = gradebook.cell_grades(f"sqlite:///{root / 'gradebook.db'}", NAME)
    return {student: {cell: grade.score for cell, grade in cells.items()} for student, cells in found.items()}


@pytest.fixture(scope="module")
def stock_grades(course) -> dict:
    nbgrader("autograde", NAME, "--force", cwd=course)
    return grades_of(course)


@pytest.fixture(scope="module")
def kit_run(course, stock_grades):
    return run_cli("grade", "--course", str(course), "--assignment", NAME, "--force", "--workers", "2")


def test_parts_and_points_come_from_the_notebook(course):
    assignment = find_assignment(course, NAME)
    assert assignment.parts == {"relu": ("test_relu",), "leaky_relu": ("test_leaky_relu",)}
    assert assignment.manual_cells == ("why_leaky",)
    assert {c.grade_id: c.points for c in assignment.cells} == {"test_relu": 2, "test_leaky_relu": 2, "why_leaky": 1}


def test_nbgrader_autograde_grades_it(stock_grades):
    assert stock_grades["reference"] == {"test_relu": 2, "test_leaky_relu": 2, "why_leaky": None}
    assert stock_grades["blank"] == {"test_relu": 0, "test_leaky_relu": 0, "why_leaky": 0}
    assert stock_grades["abs-relu"] == {"test_relu": 1, "test_leaky_relu": 2, "why_leaky": None}


def test_the_kit_grades_it_as_nbgrader_does(kit_run, stock_grades, course):
    assert kit_run.returncode == 0, kit_run.stdout + kit_run.stderr
    assert "canary: the instructor's solutions get full marks" in kit_run.stdout
    assert grades_of(course) == stock_grades


def test_the_report_has_its_parts_and_its_manual_cell(kit_run, course):
    done = run_cli("report", "--course", str(course), "--assignment", NAME)
    assert done.returncode == 0, done.stderr
    with (course / "reports" / NAME / "scores.csv").open(encoding="utf-8") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    assert set(rows) == set(STUDENTS)
    assert {k: rows["abs-relu"][k] for k in ("relu", "leaky_relu", "auto_total", "auto_max")} == \
        {"relu": "1", "leaky_relu": "2", "auto_total": "3", "auto_max": "4"}
    assert (rows["reference"]["why_leaky"], rows["reference"]["manual_pending"]) == ("", "why_leaky")
    assert (rows["blank"]["why_leaky"], rows["blank"]["manual_pending"]) == ("0", "")


@pytest.mark.parametrize("command", ["grade", "report", "release"])
def test_a_course_of_two_assignments_needs_a_name(course, command):
    done = run_cli(command, "--course", str(course))
    assert done.returncode != 0
    assert "holds 2 assignments (activation, dropout); name one with --assignment" in done.stderr
