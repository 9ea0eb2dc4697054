"""An assignment of the course, as its files and its source notebook's nbgrader metadata
describe it: nothing about an assignment is written in the kit's code.

An assignment NAME is exactly
  source/NAME/NAME.ipynb   the instructor's notebook (solutions, autograder cells whose
                           hidden region calls `grade("<module>")`, hand-graded cells)
  grader_tests/NAME/       its hidden check modules and their data (never released)
Its parts are its solution cells; an autograder cell scores the part of the nearest
solution cell above it. Points are the cells' nbgrader points.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import nbformat

from dropout_kit.cells import grade_id, nbgrader_metadata

SOURCE = "source"
RELEASE = "release"
GRADER_TESTS = "grader_tests"


class AssignmentNotFound(LookupError):
    pass


@dataclass(frozen=True)
class GradedCell:
    grade_id: str
    points: float
    auto: bool  # an autograder cell; otherwise graded by hand in the formgrader
    part: str  # the solution cell whose answer it scores


def graded_cells(notebook: nbformat.NotebookNode) -> tuple[GradedCell, ...]:
    """The cells that carry points, in notebook order."""
    found, part = [], ""
    for cell in notebook.cells:
        meta = nbgrader_metadata(cell)
        if meta.get("solution"):
            part = grade_id(cell)
        if meta.get("grade"):
            auto = not meta.get("solution") and not meta.get("task")
            found.append(GradedCell(grade_id(cell), float(meta.get("points") or 0),
                                    auto, part if auto else grade_id(cell)))
    return tuple(found)


@dataclass(frozen=True)
class Assignment:
    name: str
    course_root: Path

    @property
    def source_notebook(self) -> Path:
        return self.course_root / SOURCE / self.name / f"{self.name}.ipynb"

    @property
    def release_notebook(self) -> Path:
        return self.course_root / RELEASE / self.name / f"{self.name}.ipynb"

    @property
    def notebook_name(self) -> str:
        return self.source_notebook.name

    @property
    def grader_tests(self) -> Path:
        return self.course_root / GRADER_TESTS / self.name

    @functools.cached_property
    def cells(self) -> tuple[GradedCell, ...]:
        return graded_cells(nbformat.read(self.source_notebook, as_version=4))

    @property
    def auto_cells(self) -> tuple[str, ...]:
        return tuple(c.grade_id for c in self.cells if c.auto)

    @property
    def manual_cells(self) -> tuple[str, ...]:
        return tuple(c.grade_id for c in self.cells if not c.auto)

    @property
    def parts(self) -> dict[str, tuple[str, ...]]:
        """Each autograded part → its autograder cells, in notebook order."""
        parts: dict[str, tuple[str, ...]] = {}
        for cell in self.cells:
            if cell.auto:
                parts[cell.part] = (*parts.get(cell.part, ()), cell.grade_id)
        return parts


def assignment_names(course_root: Path) -> list[str]:
    """The course's assignments: folders of source/ holding a notebook of their own name."""
    source = Path(course_root) / SOURCE
    return sorted(folder.name for folder in source.iterdir()
                  if (folder / f"{folder.name}.ipynb").is_file()) if source.is_dir() else []


def find_assignment(course_root: Path, name: str | None = None) -> Assignment:
    """`name`, or the course's only assignment when no name is given."""
    course_root = Path(course_root).resolve()
    names = assignment_names(course_root)
    if name is None:
        if len(names) != 1:
            raise AssignmentNotFound(
                f"{course_root / SOURCE} holds {len(names)} assignments ({', '.join(names) or 'none'}); "
                "name one with --assignment")
        name = names[0]
    if name not in names:
        raise AssignmentNotFound(f"no assignment {name!r}: expected {SOURCE}/{name}/{name}.ipynb "
                                 f"in {course_root} (assignments: {', '.join(names) or 'none'})")
    return Assignment(name, course_root)
