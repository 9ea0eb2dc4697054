"""Scratch courses holding a small collected class, graded with the kit's `grade` command."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dropout_assignment as dropout
import nbformat
import pytest

from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.classroom.grade_class import ClassRun, grade_class
from dropout_kit.engine.check_key import KEY_FILE
from dropout_kit.harness import samples
from dropout_kit.harness.commands import nbgrader
from dropout_kit.harness.course import copy_course, place_submission

REPO = Path(__file__).resolve().parent.parent
THREADS_PROBE = ("\nprint('torch threads:', torch.get_num_threads())"
                 "\nimport os; print('first process of its namespace:', os.getpid() == 1)")  # forked from the template
# my_dropout records torch's initial seed at every call; the dropout_net cell prints them.
SEEDS_RECORDED = "_check_seeds = []\n"
SEED_RECORDER = "    _check_seeds.append(torch.initial_seed())\n"
SEEDS_PRINTED = "print('check seeds:', sorted(set(_check_seeds)))\n"
# Every class course's secret for the checks' seeds: classes graded apart draw the same
# numbers (tests/test_batch.py compares their outputs to the last digit).
CLASS_CHECK_KEY = "5eed" * 16


def seed_probe(reference: dict[str, str]) -> dict[str, str]:
    """The reference answers with my_dropout recording the seeds it is called under."""
    definition = "def my_dropout(x, p, training=True):\n"
    assert definition in reference["my_dropout"]
    return {"my_dropout": SEEDS_RECORDED + reference["my_dropout"].replace(definition, definition + SEED_RECORDER),
            "dropout_net": SEEDS_PRINTED + reference["dropout_net"]}


def class_answers(reference: dict[str, str]) -> dict[str, dict[str, str] | None]:
    """student → answers (None: the blank release)."""
    return {
        "reference": reference,
        "blank": None,
        "no-scaling": {**reference, **samples.mistakes(dropout.in_course(REPO))["no-scaling"]},
        "threads-probe": {**reference, "split": reference["split"] + THREADS_PROBE, **seed_probe(reference)},
    }


def new_class_course(dest: Path, notebooks: dict[str, nbformat.NotebookNode],
                     config_lines: str = "", renamed: dict[str, nbformat.NotebookNode] | None = None) -> Path:
    """A scratch course with the assignment generated into its gradebook and `notebooks`
    collected (`renamed`: handed in under another file name); `config_lines` are appended
    to its nbgrader_config.py."""
    root = copy_course(REPO, dest)
    (root / KEY_FILE).parent.mkdir(mode=0o700)
    (root / KEY_FILE).write_text(CLASS_CHECK_KEY + "\n")
    if config_lines:
        with (root / "nbgrader_config.py").open("a", encoding="utf-8") as fh:
            fh.write("\n" + config_lines + "\n")
    nbgrader("generate_assignment", dropout.ASSIGNMENT, "--force", cwd=root)
    for student, notebook in notebooks.items():
        place_submission(root, student, notebook, assignment=dropout.ASSIGNMENT)
    for student, notebook in (renamed or {}).items():
        place_submission(root, student, notebook, assignment=dropout.ASSIGNMENT, filename="dropout (1).ipynb")
    return root


@dataclass
class GradedClass:
    root: Path
    run: ClassRun
    output: str
    db_url: str
    grades: dict  # student → grade_id → CellGrade, read right after grading


def grade(root: Path, workers: int) -> GradedClass:
    out = io.StringIO()
    run = grade_class(root, dropout.ASSIGNMENT, workers=workers, out=out)
    db_url = CoursePaths.load(root, dropout.ASSIGNMENT).db_url
    return GradedClass(root, run, out.getvalue(), db_url, dropout.cell_grades(db_url))


def start_cli(*args: str) -> subprocess.Popen:
    """`dropout-kit ARGS` as the instructor types it, started."""
    return subprocess.Popen([sys.executable, "-m", "dropout_kit.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """`dropout-kit ARGS` as the instructor types it, run to the end."""
    process = start_cli(*args)
    try:
        stdout, stderr = process.communicate(timeout=900)
    finally:
        process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def unavailable(reason: str):
    """Missing system software fails the run in CI (it must be installed there) and skips
    elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)
