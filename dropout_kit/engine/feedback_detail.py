"""What the feedback shows under an autograder cell, at the level the instructor chose.

`FeedbackDetail.level` (nbgrader config, or `nbgrader generate_feedback … --FeedbackDetail.level=parts`):
  * "checks" (default): a kit cell shows its Korean report, check by check. The report's
    first line already gives the part's score ("[test_split] 2 / 2점"), so the bare score
    that nbgrader reads when autograding (the cell's execute_result, kept in the autograded
    notebook) is left out; if a person changed the score since, a line says so.
  * "parts": every autograder cell shows one line, ✅ (full points) or ❌, and its recorded
    score; the checks, their messages and any error are left out (e.g. for feedback on
    submissions before the deadline).
A part held for review keeps what PendingReviewFeedback shows, at both levels.

Runs before ClearHiddenTests: a kit cell is known by its hidden `grade("…")` call.
"""
from __future__ import annotations

import math

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader import utils
from traitlets import Enum

from dropout_kit.engine.broker import kit_test_id
from dropout_kit.engine.review import review_of

# Under a kit cell whose score a person changed: the report above it is the automatic one.
PERSON_SCORE = "강사가 위 자동 채점 대신 이 부분의 점수를 {score:g} / {points:g}점으로 정했습니다."


class FeedbackDetail(Preprocessor):
    enabled = True  # nbconvert preprocessors are off unless enabled

    level = Enum(["checks", "parts"], default_value="checks", help=(
        "What the feedback shows under each autograder cell: 'checks', every check with its "
        "points and message; 'parts', only ✅/❌ and the cell's score.")).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if not is_autograder_cell(cell) or review_of(cell) is not None:
            return cell, resources
        if self.level == "parts":
            cell.outputs = [stdout(part_line(cell))]
        elif kit_test_id(cell) is not None:
            cell.outputs = without_score_result(cell)
        return cell, resources


def is_autograder_cell(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def recorded_score(cell: NotebookNode) -> tuple[float, float]:
    """(score, points) from the gradebook, as GetGrades put them in the cell's metadata."""
    nbgrader = cell.metadata.nbgrader
    return float(nbgrader.get("score") or 0), float(nbgrader.get("points") or 0)


def part_line(cell: NotebookNode) -> str:
    score, points = recorded_score(cell)
    mark = "✅" if score >= points else "❌"
    return f"{mark} [{cell.metadata.nbgrader['grade_id']}] {score:g} / {points:g}점"


def without_score_result(cell: NotebookNode) -> list[NotebookNode]:
    """The kit cell's outputs without its execute_result; a line of the recorded score
    instead when it differs from the automatic one (a person graded the cell)."""
    kept, automatic = [], 0.0  # without a result (an error), nbgrader scored the cell 0
    for output in cell.get("outputs", []):
        if output.get("output_type") == "execute_result":
            automatic = as_number(output.get("data", {}).get("text/plain"))
        else:
            kept.append(output)
    score, points = recorded_score(cell)
    if automatic is None or not math.isclose(automatic, score):
        kept.append(stdout(PERSON_SCORE.format(score=score, points=points)))
    return kept


def as_number(text) -> float | None:
    try:
        return float("".join(text) if isinstance(text, list) else text)
    except (TypeError, ValueError):
        return None


def stdout(line: str) -> NotebookNode:
    return new_output("stream", name="stdout", text=line + "\n")
