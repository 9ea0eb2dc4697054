"""Grading survives broken and hostile notebooks (issue 4).

The hostile corpus (tests/hostile/corpus.py) and two correct submissions are graded in
ONE `nbgrader autograde` run of a scratch copy of the course (started beside the
tampering round: tests/stock_rounds.py), through the repository's
nbgrader_config.py (sandboxed kernels, SafeExecute, robust intake), with short limits
on the command line (tests/hostile/grading_run.py). Then:
  * the run exits 0 within the time its cases can legitimately cost, and every
    submission's notebook within its own budget (tests/hostile/grading_run.py),
  * the correct students (one graded before the hostile ones, one after) have full marks,
  * every submission has a score in every autograder cell (none blank), or the cell is
    held for a person's review (the integrity scan) with 0 points recorded,
  * each case ends as it states (for a held part, its automatic score, the grader's
    suggestion): the parts it breaks score 0, the others are graded,
    its attack left no trace in its outputs, the failures are recorded,
  * grader_tests/, source/, release/ and the gradebook's structure are unchanged.
A DROPOUT_KIT_GRADER_TESTS left in nbgrader's environment (another course's checks) does
not change any grade.
A second, small run without namespaces (the documented fallback) shows that the limits
still hold, that the log warns, and that the isolation checks above do detect a
successful attack (there, they succeed).
"""
from __future__ import annotations

import dropout_assignment as dropout
import nbformat
import pytest
from hostile import corpus, grading_run
from sandboxed_kernel import printed_by

from dropout_kit.cells import grade_id
from dropout_kit.harness import samples

pytest_plugins = ["stock_rounds"]
pytestmark = pytest.mark.slow

STUDENTS = [*corpus.CORRECT, *(corpus.student_id(case) for case in corpus.CASES)]


@pytest.fixture(scope="module")
def graded(stock_rounds) -> grading_run.Run:
    return stock_rounds["test_hostile.py"].wait()


def test_the_run_exits_cleanly_within_its_bound(graded):
    assert graded.returncode == 0, graded.log[-5000:]
    assert graded.wall < grading_run.wall_bound(graded.students)


@pytest.mark.parametrize("student", STUDENTS)
def test_each_submission_within_its_budget(graded, student):
    """A case's notebook takes what an ordinary one takes, plus its time-outs and restarts."""
    seconds = graded.kernel_seconds()  # none for a notebook that was never executed
    assert seconds.get(student, 0.0) <= grading_run.budget(graded.students[student]), seconds


@pytest.mark.parametrize("student", list(corpus.CORRECT))
def test_correct_students_get_full_marks(graded, student):
    cells = graded.grades[student]
    assert {c: cells[c].score for c in dropout.AUTO_CELLS} == \
        {c: cells[c].max_score for c in dropout.AUTO_CELLS}


@pytest.mark.parametrize("student", STUDENTS)
def test_every_submission_is_graded(graded, student):
    cells = graded.grades.get(student, {})
    held = graded.held(student)
    blank = [c for c in dropout.AUTO_CELLS
             if c not in cells or (cells[c].score is None or cells[c].needs_manual_grade) and c not in held]
    assert not blank, f"{student}: no score in {blank}"
    assert graded.notebook(student).cells


@pytest.mark.parametrize("student", STUDENTS)
def test_held_parts_are_recorded_as_zero_for_a_person(graded, student):
    """A part the integrity scan holds scores 0 until a person grades it; its automatic
    score (checked below against the case) is the grader's suggestion."""
    held = graded.recorded_while_held(student)
    assert held == {c: (0.0, True) for c in held}
    assert graded.flagged(student) == bool(held)


@pytest.mark.parametrize("case", corpus.CASES, ids=lambda case: case.name)
def test_each_case_ends_as_stated(graded, case):
    student = corpus.student_id(case)
    cells, automatic = graded.grades[student], graded.automatic(student)
    outputs = graded.outputs_text(student)
    assert {c: automatic[c] for c in case.full} == {c: cells[c].max_score for c in case.full}
    assert {c: automatic[c] for c in case.zero} == {c: 0 for c in case.zero}
    for cell in case.partial:
        assert 0 < automatic[cell] < cells[cell].max_score, cell
    assert {c: automatic[c] for c in case.scores} == case.scores
    assert set(case.over_budget) <= set(graded.over_budget(student))
    for word in case.shown:
        assert word in outputs
    for word in case.blocked:
        assert word not in outputs
    assert set(case.errors) <= graded.error_names(student)
    assert case.noted in graded.markdown(student)
    if case.logged:
        assert f"Student {student}" in graded.log


@pytest.mark.parametrize("student", STUDENTS)
def test_graded_notebooks_stay_small(graded, student):
    """Output kept per cell is capped (100 kB here), whatever the notebook printed."""
    path = graded.course / "autograded" / student / "dropout" / "dropout.ipynb"
    assert path.stat().st_size < 3_000_000


def test_max_scores_stay_the_instructors(graded):
    instructor = graded.grades["aa-reference"]
    for student in STUDENTS:
        assert {c: graded.grades[student][c].max_score for c in dropout.AUTO_CELLS} == \
            {c: instructor[c].max_score for c in dropout.AUTO_CELLS}, student


def test_instructor_files_and_gradebook_structure_unchanged(graded):
    assert graded.after == graded.before
    assert set(graded.grades) == set(STUDENTS)


def test_unsafe_submitted_files_stay_out_of_autograded(graded):
    case = corpus.by_name("extra-files")[0]
    folder = graded.course / "autograded" / corpus.student_id(case) / "dropout"
    assert folder.is_dir()
    assert not [name for name in case.files if (folder / name).exists() or (folder / name).is_symlink()]


@pytest.fixture(scope="module")
def graded_without_namespaces(tmp_path_factory) -> grading_run.Run:
    cases = corpus.by_name("read-others", "network", "memory-hog")
    course, students, listener = grading_run.prepare(tmp_path_factory.mktemp("fallback") / "course",
                                                     cases=cases, correct=())
    with listener:
        return grading_run.autograde(course, students, mode="rlimits")


def test_without_namespaces_limits_hold_isolation_is_lost_and_the_log_says_so(graded_without_namespaces):
    run = graded_without_namespaces
    assert run.returncode == 0, run.log[-5000:]
    assert "SANDBOX DEGRADED" in run.log
    assert "MEMORY REFUSED" in run.outputs_text("h-memory-hog")
    assert "LEAKED" in run.outputs_text("h-read-others")
    assert "NETWORK OPEN" in run.outputs_text("h-network")


def test_kernel_sees_none_of_the_graders_extra_import_paths(tmp_path, monkeypatch):
    """Tools that grade in-process put course folders on sys.path; the sandbox binds only
    what a fresh python of this environment imports from."""
    other_course = tmp_path / "other-course"
    (other_course / "submitted").mkdir(parents=True)
    (other_course / "gradebook.db").write_text("secret")
    workdir = tmp_path / "autograded" / "s" / "dropout"
    workdir.mkdir(parents=True)
    monkeypatch.syspath_prepend(str(other_course))

    printed = printed_by(f"import os; print(os.path.exists({str(other_course)!r}), os.getcwd())", workdir)
    assert printed.split() == ["False", str(workdir)]


# Checks every submission passes, in another course's folder.
FAKE_CHECK = '''import pytest


@pytest.mark.points({points})
def test_anything():
    """모두 통과"""
'''


# The variable through which grading kernels once found the checks: a value left in an
# instructor's environment must never choose them.
STALE_CHECKS_VARIABLE = "DROPOUT_KIT_GRADER_TESTS"


@pytest.fixture(scope="module")
def graded_with_a_stale_checks_variable(tmp_path_factory) -> grading_run.Run:
    """A reference and a blank submission graded while nbgrader's environment still names
    another course's checks (DROPOUT_KIT_GRADER_TESTS left over from elsewhere)."""
    work = tmp_path_factory.mktemp("stale")
    course = grading_run.scratch_course(work / "course")
    stale = work / "other-course" / "grader_tests" / dropout.ASSIGNMENT
    stale.mkdir(parents=True)
    (stale / "pytest.ini").write_text((course / "grader_tests" / dropout.ASSIGNMENT / "pytest.ini").read_text())
    release = dropout.release_notebook(course)
    for cell in nbformat.read(release, as_version=4).cells:
        if grade_id(cell) in dropout.AUTO_CELLS:
            (stale / f"{grade_id(cell)}.py").write_text(
                FAKE_CHECK.format(points=cell.metadata.nbgrader["points"]))
    reference = samples.reference_answers(dropout.source_notebook(course))
    students = {"reference": samples.assemble(release, reference), "blank": nbformat.read(release, as_version=4)}
    for student, nb in students.items():
        corpus.write_submission(course / "submitted" / student / dropout.ASSIGNMENT, nb, None, course,
                                grading_run.STAMP)
    return grading_run.autograde(course, dict.fromkeys(students), env={STALE_CHECKS_VARIABLE: str(stale.parent)})


def test_a_stale_checks_variable_does_not_change_grades(graded_with_a_stale_checks_variable):
    run = graded_with_a_stale_checks_variable
    assert run.returncode == 0, run.log[-5000:]
    scores = {student: {c: run.grades[student][c].score for c in dropout.AUTO_CELLS}
              for student in ("reference", "blank")}
    assert scores == {"reference": {c: run.grades["reference"][c].max_score for c in dropout.AUTO_CELLS},
                      "blank": dict.fromkeys(dropout.AUTO_CELLS, 0)}
