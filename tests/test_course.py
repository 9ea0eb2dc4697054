"""The assignment end to end on real nbgrader: release, hand-in through the exchange,
collect, autograde, feedback, feedback returned to the student."""
from __future__ import annotations

import html
import json

import dropout_assignment as dropout
import nbformat
import pytest

from dropout_kit import grading
from dropout_kit.engine.review import review_of
from dropout_kit.harness import demo, samples
from dropout_kit.harness.course import Course, copy_course

AUTOGRADER_CELLS = ("test_split", "test_my_dropout_mask", "test_my_dropout_scale",
                    "test_dropout_net", "test_eval_predict")
# A student whose code breaks the import of the in-kernel check runner: the checks run
# outside the kernel, so their verdicts do not change (it broke every later test cell when
# they ran inside it, and their tracebacks quoted the hidden lines); the integrity scan
# holds the later parts for a person (a write to sys.modules).
BREAKS_IMPORT = """\
import sys
sys.modules["dropout_kit.grading"] = None

def my_dropout(x, p, training=True):
    if not training:
        return x.clone()
    return x * (torch.rand_like(x) >= p) / (1 - p)"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory, repo_root, reference_answers, release_notebook):
    """One grading round through the exchange; returns the course and the students' homes."""
    work = tmp_path_factory.mktemp("round")
    course = Course(copy_course(repo_root, work / "course"), work / "exchange", dropout.ASSIGNMENT)
    course.release()
    students = {
        "reference": samples.assemble(release_notebook, reference_answers),
        "blank": None,
        "breaks-import": samples.assemble(release_notebook, {**reference_answers, "my_dropout": BREAKS_IMPORT}),
    }
    homes = {sid: work / "home" / sid for sid in students}
    for sid, notebook in students.items():
        course.hand_in(sid, homes[sid], notebook)
    course.grade()
    course.return_feedback()
    return course, homes


@pytest.fixture(scope="module")
def grades(graded):
    course, _ = graded
    return dropout.cell_grades(course.db_url)


@pytest.mark.parametrize("cell", AUTOGRADER_CELLS)
def test_reference_solution_gets_full_points(grades, cell):
    grade = grades["reference"][cell]
    assert grade.max_score > 0
    assert grade.score == grade.max_score


@pytest.mark.parametrize("cell", AUTOGRADER_CELLS)
def test_blank_release_gets_zero(grades, cell):
    assert grades["blank"][cell].score == 0


def test_blank_release_total_is_zero(grades):
    assert sum(g.score or 0 for g in grades["blank"].values()) == 0


def test_hand_graded_cells_wait_for_the_grader(grades):
    for cell in dropout.MANUAL_CELLS:
        assert grades["reference"][cell].needs_manual_grade


def test_autograder_cell_points_match_their_checks(release_notebook, repo_root):
    """A cell's points must equal the sum of its checks' points: more would abort grading
    (nbgrader rejects a score above the cell's points), less would cap a correct answer."""
    cells = {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader.get("points")
             for c in nbformat.read(release_notebook, as_version=4).cells if "nbgrader" in c.metadata}
    for test_id in AUTOGRADER_CELLS:
        result = grading.check_here(test_id, {}, sources=lambda grade_id: None,
                                    folder=repo_root / "grader_tests" / dropout.ASSIGNMENT)
        assert not result.error, result.error
        assert result.max_points == cells[test_id], test_id


def test_feedback_shows_no_hidden_test_code(graded, repo_root):
    course, _ = graded
    autograded = (course.root / "autograded" / "breaks-import" / "dropout" / dropout.NOTEBOOK).read_text()
    assert 'grade(\\"test_split\\")' in autograded  # the hidden code did run
    hidden = dropout.hidden_code_lines(repo_root)
    for student_id in ("reference", "blank", "breaks-import"):
        page = html.unescape(course.feedback_file(student_id).read_text(encoding="utf-8"))
        leaked = [line for line in hidden if line in page]
        assert not leaked, (student_id, leaked[:5])


def test_feedback_reports_checks_to_the_student(graded):
    course, _ = graded
    page = html.unescape(course.feedback_file("blank").read_text(encoding="utf-8"))
    assert "❌" in page and "아직 답을 작성하지 않았습니다" in page
    broken = html.unescape(course.feedback_file("breaks-import").read_text(encoding="utf-8"))
    assert "[test_split] 2 / 2점" in broken and "ModuleNotFoundError" not in broken
    assert "<test_split:" not in broken  # the verdicts as data stay in the autograded notebook


@pytest.mark.parametrize("cell", AUTOGRADER_CELLS)
def test_student_code_cannot_break_the_checks(graded, grades, cell):
    """The checks still give full points; since `sys.modules` is written in the my_dropout cell,
    the parts from there on are held for a person, with those points as the suggestion."""
    course, _ = graded
    autograded = course.root / "autograded" / "breaks-import" / "dropout" / dropout.NOTEBOOK
    held = {c.metadata.nbgrader["grade_id"]: record for c in nbformat.read(autograded, as_version=4).cells
            if (record := review_of(c)) is not None}
    grade = grades["breaks-import"][cell]
    if cell == "test_split":
        assert cell not in held and grade.score == grade.max_score
    else:
        assert held[cell]["suggested"] == grade.max_score and grade.needs_manual_grade
        assert any("sys.modules" in line for line in held[cell]["evidence"])


def _cells_by_id(path):
    return {c.metadata.nbgrader["grade_id"]: c for c in nbformat.read(path, as_version=4).cells
            if "grade_id" in c.metadata.get("nbgrader", {})}


def _solution_region_lines(source: str) -> set[str]:
    inside, region, outside = False, set(), set()
    for line in source.splitlines():
        marker = line.strip()
        if marker in (samples.BEGIN, samples.END):
            inside = marker == samples.BEGIN
        elif len(marker) > 3:
            (region if inside else outside).add(marker)
    return region - outside


def test_release_holds_no_solution_or_hidden_code(repo_root):
    release = repo_root / "release" / dropout.ASSIGNMENT
    assert sorted(p.name for p in release.iterdir()) == [dropout.NOTEBOOK]
    released = _cells_by_id(release / dropout.NOTEBOOK)
    source = _cells_by_id(dropout.source_notebook(repo_root))
    for grade_id in samples.solution_ids(dropout.source_notebook(repo_root)):
        leaked = [line for line in _solution_region_lines(source[grade_id].source)
                  if line in released[grade_id].source]
        assert not leaked, (grade_id, leaked)
    text = "\n".join(c.source for c in released.values())
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "dropout_kit", "grade("):
        assert marker not in text


def _comparable(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        cell.pop("id", None)
    return nb


def test_committed_release_equals_a_fresh_generate_assignment(new_course, repo_root):
    course = new_course()
    course.instructor("generate_assignment", dropout.ASSIGNMENT, "--force")
    assert _comparable(dropout.release_notebook(course.root)) == _comparable(dropout.release_notebook(repo_root))


def test_exchange_round_trip_returns_feedback_to_the_student(graded):
    course, homes = graded
    fetched = course.fetch_feedback("reference", homes["reference"])
    assert len(fetched) == 1
    page = html.unescape(fetched[0].read_text(encoding="utf-8"))
    assert "[test_eval_predict] 3 / 3점" in page


def test_demo_score_table_lists_every_student(graded):
    course, _ = graded
    table = demo.score_table(course, dropout.in_course(course.root))
    for student_id in ("reference", "blank", "breaks-import"):
        assert student_id in table
    assert "15/15" in table
