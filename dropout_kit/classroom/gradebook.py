"""Scores read back from nbgrader's gradebook: one reader, by student and by cell."""
from __future__ import annotations

from dataclasses import dataclass

from nbgrader.api import Gradebook, MissingEntry

from dropout_kit.assignment import Assignment


@dataclass
class CellGrade:
    score: float | None  # None: not graded yet (manual cells)
    max_score: float
    needs_manual_grade: bool
    auto: bool  # scored by the autograder


def cell_grades(db_url: str, assignment: str, course_id: str | None = None,
                student: str | None = None) -> dict[str, dict[str, CellGrade]]:
    """student id → grade_id → grade, for every submission of `assignment` (or `student`'s)."""
    grades: dict[str, dict[str, CellGrade]] = {}
    with Gradebook(db_url, course_id) if course_id else Gradebook(db_url) as gb:
        try:
            submissions = ([gb.find_submission(assignment, student)] if student is not None
                           else gb.assignment_submissions(assignment))
        except MissingEntry:
            return grades
        for submission in submissions:
            cells = grades.setdefault(submission.student.id, {})
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    cells[grade.name] = CellGrade(grade.score if not grade.needs_manual_grade else None,
                                                  grade.max_score, grade.needs_manual_grade,
                                                  grade.auto_score is not None)
    return grades


def auto_totals(cells: dict[str, CellGrade]) -> tuple[float, float, bool]:
    """(auto points, auto maximum, manual grading pending) of one submission."""
    auto = [g for g in cells.values() if g.auto]
    return (float(sum(g.score or 0.0 for g in auto)), float(sum(g.max_score for g in auto)),
            any(g.needs_manual_grade for g in cells.values()))


def part_scores(cells: dict[str, CellGrade], assignment: Assignment) -> dict[str, float]:
    """Points per autograded part for one student (manual cells left out)."""
    return {part: sum(cells[c].score or 0.0 for c in ids if c in cells)
            for part, ids in assignment.parts.items()}


def part_maxima(cells: dict[str, CellGrade], assignment: Assignment) -> dict[str, float]:
    return {part: sum(cells[c].max_score for c in ids if c in cells)
            for part, ids in assignment.parts.items()}


def review_pending(cells: dict[str, CellGrade], assignment: Assignment) -> list[str]:
    """Autograder cells held for a person's review (dropout_kit.engine.review) and not graded
    by hand yet: recorded with 0 points, listed by the formgrader as needing manual grading."""
    return [c for c in assignment.auto_cells if c in cells and cells[c].needs_manual_grade]
