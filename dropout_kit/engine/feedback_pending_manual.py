"""Hand-graded parts that no person graded yet: the feedback says 채점 대기, not 0 points.

nbgrader records 0 points for a hand-graded cell until a person grades it, and its feedback
shows that 0 like any score. For each hand-graded cell still waiting (in the gradebook: no
manual score and needs manual grading), this step sets the cell's score to None and adds
its points to resources["nbgrader"][PENDING_POINTS]; the kit's feedback template
(dropout_kit/pages/templates/kit_feedback.html.j2) shows both. An answer left as released,
which nbgrader scores 0 by itself with no person needed, keeps its 0. Held autograder parts
are PendingReviewFeedback's.
"""
from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry

# resources["nbgrader"] key: the points of the hand-graded parts waiting for a person
PENDING_POINTS = "pending_points"


class PendingManualFeedback(Preprocessor):
    enabled = True  # nbconvert preprocessors are off unless enabled

    def preprocess(self, nb, resources):
        info = (resources or {}).get("nbgrader", {})
        if not {"db_url", "notebook", "assignment", "student"} <= set(info):
            return nb, resources  # no gradebook to tell: nbgrader's scores stand
        info[PENDING_POINTS] = 0.0
        with Gradebook(info["db_url"]) as gb:
            for cell in nb.cells:
                if not is_hand_graded(cell):
                    continue
                try:
                    grade = gb.find_grade(cell.metadata.nbgrader["grade_id"], info["notebook"],
                                          info["assignment"], info["student"])
                except MissingEntry:
                    continue
                if grade.manual_score is None and grade.needs_manual_grade:
                    cell.metadata.nbgrader["score"] = None
                    info[PENDING_POINTS] += grade.max_score
        return nb, resources


def is_hand_graded(cell: NotebookNode) -> bool:
    """A manually graded answer (graded solution cell) or task."""
    return (utils.is_grade(cell) and utils.is_solution(cell)) or utils.is_task(cell)
