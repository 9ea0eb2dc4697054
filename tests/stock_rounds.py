"""The suite's two big stock `nbgrader autograde` rounds, started together: the hostile
corpus (test_hostile) and the tampering corpus (test_tampering), each in its own scratch
course.

Stock nbgrader grades one submission after another and each kernel is single-threaded,
so one round keeps about one core busy; started side by side they take little more than
the longer of the two (`python -m benchmarks.dask --parts b` measures the same for two
courses). A round starts only when its module is part of the session.
"""
from __future__ import annotations

from pathlib import Path

import dropout_assignment as dropout
import pytest
from hostile import grading_run
from tampering import corpus as tampering
from tampering import tampering_class

from dropout_kit.harness import samples

REPO = Path(__file__).resolve().parent.parent


def own_tempdir(dest: Path) -> dict[str, str]:
    """The environment that gives a round a temporary folder of its own, beside its course
    (tests judge what grading leaves there, never the machine's /tmp)."""
    folder = dest.parent / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return {"TMPDIR": str(folder)}


def hostile_round(dest: Path) -> grading_run.Started:
    """The hostile corpus and two correct submissions, with the short limits."""
    course, students, listener = grading_run.prepare(dest)
    return grading_run.Started(course, students, keep_open=listener, env=own_tempdir(dest))


def tampering_round(dest: Path) -> grading_run.Started:
    """The tampering class (its cases and their honest twins) and two correct submissions,
    with the same limits."""
    course = grading_run.scratch_course(dest)
    reference = samples.reference_answers(dropout.source_notebook(course))
    students = tampering.build_class(course, reference, tampering.Context(course=course, repo=REPO),
                                     grading_run.STAMP, cases=tampering_class.CASES,
                                     honest=tampering_class.HONEST)
    return grading_run.Started(course, students, env=own_tempdir(dest))


ROUNDS = {"test_hostile.py": hostile_round, "test_tampering.py": tampering_round}


@pytest.fixture(scope="session")
def stock_rounds(request, tmp_path_factory) -> dict[str, grading_run.Started]:
    """Test module's file name → its round, started with the first test that needs one."""
    selected = {item.path.name for item in request.session.items}
    started: dict[str, grading_run.Started] = {}
    try:
        for module, start in ROUNDS.items():
            if module in selected:
                started[module] = start(tmp_path_factory.mktemp(module.removesuffix(".py")) / "course")
        yield started
    finally:
        for round_ in started.values():
            round_.stop()
