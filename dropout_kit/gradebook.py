"""Scores read back from nbgrader's gradebook, by student and by part."""
from __future__ import annotations

from dataclasses import dataclass

from nbgrader.api import Gradebook

from dropout_kit import settings

# The assignment's parts, as the autograder cells that score them.
AUTO_PARTS = {
    "split": ("test_split",),
    "my_dropout": ("test_my_dropout_mask", "test_my_dropout_scale"),
    "dropout_net": ("test_dropout_net",),
    "eval_predict": ("test_eval_predict",),
}
# Every autograder cell, in notebook order.
AUTO_CELLS = tuple(cell for cells in AUTO_PARTS.values() for cell in cells)
MANUAL_PARTS = ("plot_modes", "why_dropout")


@dataclass
class CellGrade:
    score: float | None  # None: not graded yet (manual cells)
    max_score: float
    needs_manual_grade: bool


def cell_grades(db_url: str, assignment: str = settings.ASSIGNMENT) -> dict[str, dict[str, CellGrade]]:
    """student id → grade_id → grade, for every submission of `assignment`."""
    grades: dict[str, dict[str, CellGrade]] = {}
    with Gradebook(db_url) as gb:
        for submission in gb.assignment_submissions(assignment):
            cells = grades.setdefault(submission.student.id, {})
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    cells[grade.name] = CellGrade(grade.score if not grade.needs_manual_grade else None,
                                                  grade.max_score, grade.needs_manual_grade)
    return grades


def part_scores(cells: dict[str, CellGrade]) -> dict[str, float]:
    """Points per autograded part for one student (manual cells left out)."""
    return {part: sum(cells[c].score or 0.0 for c in ids if c in cells)
            for part, ids in AUTO_PARTS.items()}
