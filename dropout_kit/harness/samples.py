"""Submissions assembled on the released notebook: the reference solution, a blank one and
realistic mistakes. The demo grades a small class of them; the tests build their corpora
the same way (an answer is the full source of one solution cell, by grade_id).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat

from dropout_kit import cells
from dropout_kit.assignment import Assignment

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
MISTAKES_MODULE = "sample_mistakes.py"  # in the assignment's grader_tests/<name>/


def solution_ids(notebook: Path) -> list[str]:
    """The grade_ids of the cells students answer, in the notebook's order."""
    return [cells.grade_id(cell) for cell in nbformat.read(notebook, as_version=4).cells
            if cell.metadata.get("nbgrader", {}).get("solution")]


def reference_answers(source_notebook: Path) -> dict[str, str]:
    """The instructor's solution cells with the solution markers taken out."""
    answers = {}
    wanted = set(solution_ids(source_notebook))
    for cell in nbformat.read(source_notebook, as_version=4).cells:
        grade_id = cells.grade_id(cell)
        if grade_id in wanted:
            lines = [line for line in cell.source.splitlines() if line.strip() not in (BEGIN, END)]
            answers[grade_id] = "\n".join(lines).strip("\n")
    return answers


def assemble(release_notebook: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The released notebook with the given solution cells filled in."""
    nb = nbformat.read(release_notebook, as_version=4)
    unknown = set(answers) - set(solution_ids(release_notebook))
    if unknown:
        raise KeyError(f"not solution cells: {sorted(unknown)}")
    for cell in nb.cells:
        grade_id = cells.grade_id(cell)
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def mistakes(assignment: Assignment) -> dict[str, dict[str, str]]:
    """The assignment's sample mistakes (grader_tests/<name>/sample_mistakes.py, optional):
    name → wrong answers."""
    path = assignment.grader_tests / MISTAKES_MODULE
    if not path.is_file():
        return {}
    spec = importlib.util.spec_from_file_location(f"sample_mistakes_{assignment.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MISTAKES


def sample_class(assignment: Assignment) -> dict[str, dict[str, str] | None]:
    """The demo's class: student id → answers (None: hands in the blank release)."""
    reference = reference_answers(assignment.source_notebook)
    students: dict[str, dict[str, str] | None] = {"reference": reference, "blank": None}
    for name, wrong in mistakes(assignment).items():
        students[name] = {**reference, **wrong}
    return students


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
