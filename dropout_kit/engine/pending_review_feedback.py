"""Feedback of a held part (dropout_kit.engine.review): the student reads that the part
awaits the instructor's review, or that a person graded it, and nothing else of that cell:
neither the evidence nor the automatic score (the per-check report is that score)."""
from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from nbformat.v4 import new_output
from nbgrader.api import Gradebook, MissingEntry

from dropout_kit.engine.review import PENDING, REVIEWED, review_of


class PendingReviewFeedback(Preprocessor):
    enabled = True  # nbconvert preprocessors are off unless enabled

    def preprocess(self, nb, resources):
        self._info = (resources or {}).get("nbgrader", {})
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or review_of(cell) is None:
            return cell, resources
        text = REVIEWED if self._reviewed(cell.metadata.nbgrader["grade_id"]) else PENDING
        cell.outputs = [new_output("stream", name="stdout", text=text + "\n")]
        return cell, resources

    def _reviewed(self, grade_id: str) -> bool:
        """Whether a person has graded the part (from the gradebook; without one: not yet)."""
        info = self._info
        if not {"db_url", "notebook", "assignment", "student"} <= set(info):
            return False
        try:
            with Gradebook(info["db_url"]) as gb:
                grade = gb.find_grade(grade_id, info["notebook"], info["assignment"], info["student"])
                return grade.manual_score is not None and not grade.needs_manual_grade
        except MissingEntry:
            return False
