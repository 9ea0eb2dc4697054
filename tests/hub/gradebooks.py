"""The hub course's gradebook against `nbgrader autograde` run from the command line on
the same submitted notebooks (a second course folder of the instructor's)."""
from __future__ import annotations

import shutil
from pathlib import Path

import dropout_assignment as dropout
from nbgrader.api import Gradebook

from .server import HUB_PREFIX, Login, run_as

ASSIGNMENT = "dropout"
COURSE_ID = "dl-dropout"


def cell_scores(db: Path, student: str) -> dict[str, float]:
    """{grade_id: score} of the student's notebook in an SQLite gradebook."""
    with Gradebook(f"sqlite:///{db}", course_id=COURSE_ID) as gb:
        nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return {g.name: float(g.score) for g in nb.grades}


def auto_total(scores: dict[str, float]) -> float:
    return sum(scores[cell] for cell in dropout.AUTO_CELLS)


def autograde_on_command_line(instructor: Login, course: Path, students: list[str]) -> Path:
    """Copy the collected notebooks into ~/course-cli (the same course files) and grade
    them there with `nbgrader autograde`, as the instructor; that course's folder."""
    cli = instructor.home / "course-cli"
    shutil.rmtree(cli, ignore_errors=True)
    script = "; ".join([
        f"mkdir {cli}",
        f"cp -r {course}/nbgrader_config.py {course}/source {course}/grader_tests {cli}/",
        f"mkdir -p {cli}/submitted",
        *[f"cp -r {course}/submitted/{s} {cli}/submitted/" for s in students],
    ])
    done = run_as(instructor, ["bash", "-c", script])
    assert done.returncode == 0, done.stderr
    nbgrader = str(HUB_PREFIX / "bin" / "nbgrader")
    for step in (["generate_assignment", ASSIGNMENT, "--force"], ["autograde", ASSIGNMENT]):
        done = run_as(instructor, [nbgrader, *step], cwd=cli, timeout=600)
        assert done.returncode == 0, f"nbgrader {step[0]}:\n{done.stdout}\n{done.stderr}"
    return cli
