"""The feedback students read.

ScrubTestTracebacks: a test cell's traceback is cut when the cell had a hidden test
region (it could quote hidden lines), and kept, as nbgrader keeps it, when the test was
visible to the student.

Then `nbgrader generate_feedback`, twice, on a copy of the class graded by
tests/grading_fixtures.py (no grading round of its own), in which a person graded one
hand-graded answer and changed one kit cell's score, and one part is held for review:
  * hand-graded parts nobody graded yet say 채점 대기, in their heading and in the total,
    while an answer nbgrader scored 0 by itself (left as released) shows its 0;
  * under a kit cell the score shows once, in its report, never as a bare execute_result;
  * `--FeedbackDetail.level=parts` leaves one ✅/❌ line with the score per part, no checks;
  * at both levels no hidden code, and a held part says only that it awaits review.
"""
from __future__ import annotations

import html
import os
import shutil
import sys
from pathlib import Path

import dropout_assignment as dropout
import nbformat
import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_notebook, new_output
from nbgrader.api import Gradebook
from nbgrader.preprocessors import ClearHiddenTests

from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.engine.feedback_detail import PERSON_SCORE
from dropout_kit.engine.review import PENDING, review_output
from dropout_kit.engine.scrub_test_tracebacks import ScrubTestTracebacks
from dropout_kit.harness.commands import nbgrader

pytest_plugins = ["grading_fixtures"]

HIDDEN = "assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS"
VISIBLE = "assert f(1) == 2"
TRACEBACK = ["Traceback (most recent call last):", "  assert f(2) == 4", "AssertionError: "]


def graded_cell(name: str, source: str) -> dict:
    cell = new_code_cell(source, outputs=[new_output("error", ename="AssertionError", evalue="",
                                                     traceback=list(TRACEBACK))])
    cell.metadata.nbgrader = {"grade": True, "solution": False, "locked": True, "points": 1,
                              "grade_id": name, "schema_version": 3}
    return cell


def gradebook_with(db_url: str, sources: dict[str, str]) -> None:
    """The instructor's cells as `nbgrader generate_assignment` records them."""
    with Gradebook(db_url) as gb:
        gb.add_assignment("ps1")
        gb.add_notebook("p1", "ps1")
        for name, source in sources.items():
            gb.add_grade_cell(name, "p1", "ps1", max_score=1, cell_type="code")
            gb.add_source_cell(name, "p1", "ps1", source=source, cell_type="code", locked=True)


def feedback_tracebacks(db_url: str | None, sources: dict[str, str]) -> dict[str, list[str]]:
    """Each test cell's traceback after the feedback's ClearHiddenTests and ScrubTestTracebacks."""
    nb = new_notebook(cells=[graded_cell(name, source) for name, source in sources.items()])
    resources = {"nbgrader": {"db_url": db_url, "notebook": "p1", "assignment": "ps1"}} if db_url else {}
    nb, resources = ClearHiddenTests().preprocess(nb, resources)
    nb, resources = ScrubTestTracebacks().preprocess(nb, resources)
    return {cell.metadata.nbgrader["grade_id"]: cell.outputs[0]["traceback"] for cell in nb.cells}


@pytest.fixture(autouse=True)
def alembic_on_path(monkeypatch):
    """nbgrader runs `alembic` from PATH when it creates a gradebook."""
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))


def test_only_cells_with_a_hidden_region_lose_their_traceback(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    sources = {"hidden": HIDDEN, "visible": VISIBLE}
    gradebook_with(db_url, sources)
    tracebacks = feedback_tracebacks(db_url, sources)
    assert tracebacks["hidden"] == ["AssertionError: "]
    assert tracebacks["visible"] == TRACEBACK


def test_without_the_gradebook_every_test_cell_is_scrubbed():
    tracebacks = feedback_tracebacks(None, {"hidden": HIDDEN, "visible": VISIBLE})
    assert tracebacks == {"hidden": ["AssertionError: "], "visible": ["AssertionError: "]}


# -- feedback pages of a graded class -------------------------------------------------------
STUDENTS = ("reference", "blank", "no-scaling", "threads-probe")
HELD = ("threads-probe", "test_split")  # held for review, not reviewed yet
EVIDENCE = "cell 5 (split), line 3: builtins (Python's own functions): import builtins"
GRADED_ANSWER = ("no-scaling", "why_dropout", 2.0)  # a person graded the written answer
CHANGED_SCORE = ("threads-probe", "test_eval_predict", 1.5)  # a person changed a kit cell's score
PARTS = "feedback-parts"  # the feedback folder of the second round, at level "parts"


def hold_for_review(notebook: Path, grade_id: str) -> None:
    """What GuardGradeCells leaves in a kit cell it holds: the evidence, and 0 for nbgrader."""
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    points = cell.metadata.nbgrader["points"]
    cell.outputs = [o for o in cell.outputs if o.output_type != "execute_result"]
    cell.outputs += [review_output([EVIDENCE], points, points),
                     new_output("execute_result", data={"text/plain": "0.0"}, execution_count=None)]
    nbformat.write(nb, notebook)


@pytest.fixture(scope="module")
def feedback_course(parallel_class, tmp_path_factory) -> Path:
    """A copy of the graded class, changed as a person and the engine would, then its
    feedback at both levels."""
    root = tmp_path_factory.mktemp("feedback") / "course"
    shutil.copytree(parallel_class.root, root)
    paths = CoursePaths.load(root, dropout.ASSIGNMENT)
    hold_for_review(paths.autograded_dir(HELD[0]) / dropout.NOTEBOOK, HELD[1])
    with Gradebook(paths.db_url) as gb:
        def grade(student, cell):
            return gb.find_grade(cell, dropout.ASSIGNMENT, dropout.ASSIGNMENT, student)
        held = grade(*HELD)
        held.auto_score, held.needs_manual_grade = 0.0, True
        answer = grade(*GRADED_ANSWER[:2])
        answer.manual_score, answer.needs_manual_grade = GRADED_ANSWER[2], False
        grade(*CHANGED_SCORE[:2]).manual_score = CHANGED_SCORE[2]
        gb.db.commit()
    nbgrader("generate_feedback", dropout.ASSIGNMENT, "--force", cwd=root)
    nbgrader("generate_feedback", dropout.ASSIGNMENT, "--force", "--FeedbackDetail.level=parts",
             f"--CourseDirectory.feedback_directory={PARTS}", cwd=root)
    return root


@pytest.fixture(scope="module")
def recorded(feedback_course):
    """student → grade_id → the gradebook's grade, as the feedback was made."""
    return dropout.cell_grades(CoursePaths.load(feedback_course, dropout.ASSIGNMENT).db_url)


def page_file(root: Path, student: str, folder: str = "feedback") -> Path:
    return root / folder / student / dropout.ASSIGNMENT / dropout.NOTEBOOK.replace(".ipynb", ".html")


def page(root: Path, student: str, folder: str = "feedback") -> BeautifulSoup:
    return BeautifulSoup(page_file(root, student, folder).read_text(encoding="utf-8"), "html.parser")


def text(node) -> str:
    """What a reader sees of a node, whitespace collapsed."""
    return " ".join(node.get_text(" ").split())


def total(feedback: BeautifulSoup) -> str:
    return text(feedback.find("h4"))


def heading(feedback: BeautifulSoup, grade_id: str) -> str:
    anchor = feedback.find("a", attrs={"name": grade_id})
    return text(anchor.find_next_sibling("div", class_="panel-heading"))


def outputs(feedback: BeautifulSoup, grade_id: str) -> list[str]:
    """The text of each output (prompt included) of the cell `grade_id`."""
    cell = feedback.find("a", attrs={"name": grade_id}).find_parent("div", class_="cell")
    return [text(area) for area in cell.select("div.output_area")]


def score_text(score: float, points: float) -> str:
    return f"{score:g} / {points:g}점"


def test_hand_graded_parts_nobody_graded_wait_for_the_instructor(feedback_course):
    feedback = page(feedback_course, "reference")
    assert total(feedback) == "dropout (Score: 15.0 / 15.0 + 채점 대기 5.0점)"
    assert "채점 대기: 강사가 아직 채점하지 않은 부분입니다." in text(feedback.find("div", class_="panel-heading"))
    assert heading(feedback, "plot_modes") == "Student's answer 채점 대기, 배점 2.0 (Top)"
    assert heading(feedback, "why_dropout") == "Student's answer 채점 대기, 배점 3.0 (Top)"
    contents = [text(item) for item in feedback.select("#toc li")]
    assert contents[-2:] == ["Coding free-response (채점 대기, 배점 2.0)", "Written response (채점 대기, 배점 3.0)"]


def test_an_answer_nbgrader_scored_zero_by_itself_shows_zero(feedback_course):
    feedback = page(feedback_course, "blank")
    assert total(feedback) == "dropout (Score: 0.0 / 20.0)"
    assert heading(feedback, "plot_modes") == "Student's answer Score: 0.0 / 2.0 (Top)"
    assert heading(feedback, "why_dropout") == "Student's answer Score: 0.0 / 3.0 (Top)"
    assert "채점 대기" not in feedback.get_text()


def test_a_graded_answer_shows_its_score_and_the_other_still_waits(feedback_course):
    feedback = page(feedback_course, "no-scaling")
    assert heading(feedback, "why_dropout") == "Student's answer Score: 2.0 / 3.0 (Top)"
    assert heading(feedback, "plot_modes") == "Student's answer 채점 대기, 배점 2.0 (Top)"
    assert total(feedback) == "dropout (Score: 15.0 / 18.0 + 채점 대기 2.0점)"


@pytest.mark.parametrize("student", STUDENTS)
def test_kit_cells_show_their_score_once_and_no_bare_result(feedback_course, recorded, student):
    feedback = page(feedback_course, student)
    for grade_id in dropout.AUTO_CELLS:
        if (student, grade_id) == HELD:
            continue
        shown, grade = outputs(feedback, grade_id), recorded[student][grade_id]
        assert shown and not [line for line in shown if "Out[" in line], (grade_id, shown)
        assert shown[0].startswith(f"[{grade_id}] "), (grade_id, shown)
        if (student, grade_id) == CHANGED_SCORE[:2]:  # the report's score, then the person's
            assert shown[-1] == PERSON_SCORE.format(score=CHANGED_SCORE[2], points=grade.max_score)
        else:
            assert shown[0].startswith(f"[{grade_id}] {score_text(grade.score, grade.max_score)} ")
            assert " ".join(shown).count(score_text(grade.score, grade.max_score)) == 1, (grade_id, shown)


@pytest.mark.parametrize("student", STUDENTS)
def test_parts_level_shows_one_line_per_part(feedback_course, recorded, student):
    checks, parts = page(feedback_course, student), page(feedback_course, student, PARTS)
    for grade_id in dropout.AUTO_CELLS:
        if (student, grade_id) == HELD:
            continue
        grade = recorded[student][grade_id]
        mark = "✅" if grade.score == grade.max_score else "❌"
        assert outputs(parts, grade_id) == [f"{mark} [{grade_id}] {score_text(grade.score, grade.max_score)}"]
        assert len(outputs(checks, grade_id)[0]) > len(outputs(parts, grade_id)[0])  # the checks, at "checks"
    # The rest of the page is the same: what changes is under the autograder cells only.
    assert total(parts) == total(checks)


def test_a_held_part_says_only_that_it_awaits_review_at_both_levels(feedback_course):
    student, grade_id = HELD
    for folder in ("feedback", PARTS):
        feedback = page(feedback_course, student, folder)
        assert outputs(feedback, grade_id) == [" ".join(PENDING.split())], folder
        assert EVIDENCE not in feedback.get_text()


@pytest.mark.parametrize("folder", ["feedback", PARTS])
def test_no_hidden_code_at_either_level(feedback_course, repo_root, folder):
    autograded = CoursePaths.load(feedback_course, dropout.ASSIGNMENT).autograded_dir("reference")
    assert 'grade(\\"test_split\\")' in (autograded / dropout.NOTEBOOK).read_text(encoding="utf-8")
    hidden = dropout.hidden_code_lines(repo_root)
    for student in STUDENTS:
        shown = html.unescape(page_file(feedback_course, student, folder).read_text(encoding="utf-8"))
        assert not [line for line in hidden if line in shown], student
