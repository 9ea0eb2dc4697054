"""The corpus (tests/corpus.py) graded end to end: every submission is assembled on the
released notebook and graded in one `dropout-kit grade` run (nbgrader's Autograde, the
notebooks executed on a local Dask cluster of two workers; test_dask shows that such a run
gives stock `nbgrader autograde`'s grades), with nbgrader's feedback; each
autograder cell's score must be exactly the expected one, a wrong submission loses
points in the part it breaks only, and its feedback names the mistake."""
from __future__ import annotations

import html
import subprocess
from pathlib import Path

import corpus
import dropout_assignment as dropout
import honest_corpus
import pytest

from dropout_kit.engine.sandbox_kernel_manager import SINGLE_THREAD_ENV
from dropout_kit.harness import samples
from dropout_kit.harness.commands import BIN, nbgrader
from dropout_kit.harness.course import copy_course

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
# Honest notebooks with students' habits (tests/honest_corpus.py) graded in this round too:
# those whose habits reach what the checks compute or re-run (classes, helpers, loaders,
# checkpoints, shell lines, all of Colab at once). The scan holds none of the whole corpus
# (test_integrity_scan); every one of them got full marks when graded whole (issue 32).
HONEST_GRADED = ["colab-everything", "my-dropout-module-class", "dropout-net-class-with-my-dropout-layer",
                 "helper-train-function", "dataloader-shuffled-all-rows", "checkpoint-pt-best-model",
                 "pip-magics-and-shell-listing", "test-loss-watched-during-training"]
HONEST = [corpus.Entry(f"honest-{e.name}", e.answers) for e in honest_corpus.ENTRIES if e.name in HONEST_GRADED]
ENTRIES = [*corpus.ENTRIES, *HONEST]
BY_NAME = {entry.name: entry for entry in ENTRIES}
CORRECT = [e.name for e in [*corpus.CORRECT, *HONEST]]
WRONG = [e.name for e in corpus.WRONG]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The whole corpus submitted to a scratch course, autograded, with feedback."""
    root = copy_course(REPO, tmp_path_factory.mktemp("corpus") / "course")
    # One torch thread per process: on a busy 2-core machine more threads only contend.
    env = dict(SINGLE_THREAD_ENV)
    nbgrader("generate_assignment", dropout.ASSIGNMENT, "--force", cwd=root, env=env)
    reference = samples.reference_answers(dropout.source_notebook(root))
    release = dropout.release_notebook(root)
    for entry in ENTRIES:
        notebook = samples.assemble(release, corpus.answers(entry, reference))
        samples.write_notebook(notebook, root / "submitted" / entry.name / dropout.ASSIGNMENT / dropout.NOTEBOOK)
    grading = subprocess.run([str(BIN / "dropout-kit"), "grade", "--course", str(root), "--workers", "2"],
                             capture_output=True, text=True)
    assert grading.returncode == 0, grading.stdout + grading.stderr
    nbgrader("generate_feedback", dropout.ASSIGNMENT, "--force", cwd=root, env=env)
    return root, dropout.cell_grades(f"sqlite:///{root / 'gradebook.db'}")


@pytest.fixture(scope="module")
def grades(graded):
    return graded[1]


def feedback_text(root: Path, student: str) -> str:
    page = root / "feedback" / student / dropout.ASSIGNMENT / dropout.NOTEBOOK.replace(".ipynb", ".html")
    return html.unescape(page.read_text(encoding="utf-8"))


def scores_of(grades, name: str) -> dict[str, float]:
    assert name in grades, f"{name} was not graded"
    return {cell: grades[name][cell].score for cell in dropout.AUTO_CELLS}


def max_scores(grades, name: str) -> dict[str, float]:
    return {cell: grades[name][cell].max_score for cell in dropout.AUTO_CELLS}


@pytest.mark.parametrize("name", [e.name for e in ENTRIES])
def test_every_cell_gets_its_exact_score(grades, name):
    assert scores_of(grades, name) == BY_NAME[name].expected(max_scores(grades, name))


@pytest.mark.parametrize("name", CORRECT)
def test_correct_variant_gets_full_marks(grades, name):
    assert scores_of(grades, name) == max_scores(grades, name)


@pytest.mark.parametrize("name", WRONG)
def test_points_lost_only_in_the_broken_part(grades, name):
    entry = BY_NAME[name]
    top = max_scores(grades, name)
    lost = {cell for cell, score in scores_of(grades, name).items() if score < top[cell]}
    assert lost, f"{name}: the mistake cost no points"
    assert lost <= set(dropout.AUTO_PARTS[entry.part]), f"{name}: points lost outside {entry.part}: {lost}"


@pytest.mark.parametrize("name", WRONG)
def test_feedback_names_the_mistake(graded, name):
    root, _ = graded
    mistake = BY_NAME[name].mistake
    assert mistake in feedback_text(root, name)
    # The phrase is the mistake's own: the reference solution's feedback does not carry it.
    assert mistake not in feedback_text(root, "reference")
