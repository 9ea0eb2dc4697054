"""`grade("<module>")`, the hidden region of every autograder cell of the kit:

    from dropout_kit.grading import grade
    grade("test_split")

During `nbgrader autograde` this line never runs in the student's kernel: SafeExecute
recognises the cell and runs `grader_tests/<assignment>/test_split.py` in the checker process instead
(dropout_kit.engine.broker), so the student's code can neither read the checks nor forge their
verdict. Anywhere else (the instructor trying the source notebook in Jupyter, `nbgrader
validate` on it) it grades in this process, against the kernel's own namespace, and prints
the same Korean report; the checks are then found in the course above the working
directory (grader_tests/<the working directory's name>/, the assignment's name). That is a
convenience for instructors, not a way to grade students: a student's kernel cannot read
grader_tests/.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from dropout_kit.cells import code_sources_before, grade_id, source_text
from dropout_kit.checks.remote import LocalKernel, Notebook
from dropout_kit.checks.runner import ModuleResult, cell_score, report, run_checks


def grader_tests_dir(start: Path | None = None) -> Path:
    """The hidden checks of the assignment whose notebook runs in `start` (the working
    directory, named after the assignment as nbgrader names every assignment folder)."""
    start = Path.cwd() if start is None else start
    for folder in start.parents:
        if (folder / "nbgrader_config.py").is_file() and (folder / "grader_tests" / start.name).is_dir():
            return folder / "grader_tests" / start.name
    raise FileNotFoundError(f"grader_tests/{start.name}/ not found above the working directory")


def _notebook_cells(folder: Path):
    """The cells of each notebook in `folder`, in name order (unreadable ones skipped)."""
    for path in sorted(folder.glob("*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(cells, list):
            yield [cell for cell in cells if isinstance(cell, dict)]


def notebook_sources(folder: Path):
    """Cell sources by grade_id, read from the notebooks in `folder` (first match)."""
    def source(wanted: str) -> str | None:
        for cells in _notebook_cells(folder):
            for cell in cells:
                if grade_id(cell) == wanted:
                    return source_text(cell)
        return None
    return source


def notebook_cells_before(folder: Path):
    """The code cells' sources up to a cell (by grade_id), from the notebooks in `folder`."""
    def before(wanted: str) -> list[str] | None:
        for cells in _notebook_cells(folder):
            found = code_sources_before(cells, wanted)
            if found is not None:
                return found
        return None
    return before


def check_here(test_id: str, namespace: dict, sources=None, folder: Path | None = None) -> ModuleResult:
    """Runs one module of checks in this process against `namespace`."""
    try:
        folder = grader_tests_dir() if folder is None else folder
    except FileNotFoundError:
        return ModuleResult(test_id, error="채점 모듈을 찾지 못했습니다 (grader_tests/).")
    if sources is None:
        sources, cells_before = notebook_sources(Path.cwd()), notebook_cells_before(Path.cwd())
    else:
        cells_before = None
    return run_checks(test_id, Notebook(LocalKernel(namespace, sources, cells_before)), folder)


def grade(test_id: str, namespace: dict | None = None) -> float:
    """Grades one autograder cell here; prints its report, returns its score."""
    result = check_here(test_id, _notebook_namespace() if namespace is None else namespace)
    print(report(result))
    return cell_score(result)


def _notebook_namespace() -> dict:
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        return shell.user_ns
    return sys._getframe(2).f_globals
