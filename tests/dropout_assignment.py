"""The course's assignment as the tests name it. The engine names no assignment
(dropout_kit.assignment reads parts and points from the notebook); the tests grade this one."""
from __future__ import annotations

import re
from pathlib import Path

from dropout_kit.assignment import Assignment
from dropout_kit.classroom import gradebook

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = "dropout"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
DROPOUT = Assignment(ASSIGNMENT, REPO)
AUTO_CELLS = DROPOUT.auto_cells
AUTO_PARTS = DROPOUT.parts
MANUAL_CELLS = DROPOUT.manual_cells


def in_course(course_root: Path) -> Assignment:
    return Assignment(ASSIGNMENT, Path(course_root))


def source_notebook(course_root: Path) -> Path:
    return in_course(course_root).source_notebook


def release_notebook(course_root: Path) -> Path:
    return in_course(course_root).release_notebook


def cell_grades(db_url: str) -> dict[str, dict[str, gradebook.CellGrade]]:
    return gradebook.cell_grades(db_url, ASSIGNMENT)


# Modules of grader_tests/ that hold answers (wrong ones for the demo, accepted ones for the
# audit): their lines are students' code as much as the checks', so they betray nothing.
ANSWER_MODULES = {"sample_mistakes.py", "audit.py"}


def hidden_code_lines(repo_root: Path) -> set[str]:
    """Lines of the hidden checks' code that would betray it in anything shown to students."""
    lines = {'grade("test_', "from dropout_kit.grading import grade", "BEGIN HIDDEN TESTS"}
    for module in (Path(repo_root) / "grader_tests" / ASSIGNMENT).glob("*.py"):
        if module.name in ANSWER_MODULES:
            continue
        for line in module.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if re.match(r"(def |fail\(|assert |if |for |return |@pytest)", line) and len(line) > 12:
                lines.add(line)
    return lines
