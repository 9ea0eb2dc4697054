"""Two clones of the kit: a clear error and no grade, never silent zeros (issue 12).

The environment's kit is installed in editable mode from one clone (this repository);
an instructor runs `nbgrader autograde` in a second clone of the course, which has its
own dropout_kit/ folder. nbgrader puts its working directory first on sys.path, the
grading kernel (`python -I`) does not: nbgrader and the course config use the second
copy, the kernel the first. Grading must refuse, naming both copies, and write no grade
(today it grades every student 0 without a word).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import dropout_assignment as dropout
import pytest
from hostile import corpus as hostile_corpus
from hostile import grading_run

import dropout_kit
from dropout_kit.harness import samples
from dropout_kit.harness.commands import nbgrader
from dropout_kit.harness.course import copy_course

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
INSTALLED_KIT = Path(dropout_kit.__file__).resolve().parent
STUDENT = "reference"


@pytest.fixture(scope="module")
def second_clone(tmp_path_factory) -> Path:
    """A second clone of the course: its config, source, checks and its own, edited, kit."""
    clone = copy_course(REPO, tmp_path_factory.mktemp("clone-2") / "course")
    kit = clone / "dropout_kit"
    shutil.copytree(INSTALLED_KIT, kit, ignore=shutil.ignore_patterns("__pycache__"))
    init = kit / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + '\nCLONE = "second"  # this copy differs\n',
                    encoding="utf-8")
    nbgrader("generate_assignment", dropout.ASSIGNMENT, "--force", cwd=clone)
    answers = samples.reference_answers(dropout.source_notebook(clone))
    hostile_corpus.write_submission(clone / "submitted" / STUDENT / dropout.ASSIGNMENT,
                                    samples.assemble(dropout.release_notebook(clone), answers),
                                    None, clone, grading_run.STAMP)
    return clone


@pytest.fixture(scope="module")
def autograded(second_clone):
    return nbgrader("autograde", dropout.ASSIGNMENT, "--force", cwd=second_clone, check=False)


def test_the_setting_is_what_the_test_means():
    """The kit in use is the editable install of this repository (the first clone)."""
    assert INSTALLED_KIT == REPO / "dropout_kit"


def test_autograde_stops_and_names_both_copies(autograded, second_clone):
    log = autograded.stdout + autograded.stderr
    assert autograded.returncode != 0, log[-3000:]
    assert str(INSTALLED_KIT) in log and str(second_clone / "dropout_kit") in log, log[-3000:]
    assert "pip install -e" in log


def test_no_grade_is_written(autograded, second_clone):
    db = second_clone / "gradebook.db"
    grades = dropout.cell_grades(f"sqlite:///{db}") if db.exists() else {}
    written = {cell: grade.score for cell, grade in grades.get(STUDENT, {}).items()
               if grade.score is not None and not grade.needs_manual_grade}
    assert written == {}
