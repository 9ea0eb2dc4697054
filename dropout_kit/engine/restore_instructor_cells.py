"""`RestoreInstructorCells` (the first sanitize preprocessor): makes a submission's nbgrader
structure the instructor's again. Unknown or malformed nbgrader metadata is dropped,
duplicated cells keep one graded copy (the last, as nbgrader does), every cell's metadata,
type and (when locked) source come from the gradebook, and cells the student deleted are put
back where they were. The test cells that run are therefore always the instructor's. In a
notebook without the kit's autograder cells, a grade_id the gradebook does not know fails
the notebook, as in stock nbgrader.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

from dropout_kit.cells import grade_call, grade_id
from dropout_kit.engine.submission_exporter import CELL_MAKERS, note_cell, student_of


def instructor_cells(config, step: str, assignment_id: str, notebook_id: str) -> dict[str, str]:
    """grade_id → source of the instructor's nbgrader cells, in notebook order, from the
    course's `step` folder ("source" or "release"); empty if it cannot be read."""
    coursedir = CourseDirectory(config=config)
    folder = {"source": coursedir.source_directory, "release": coursedir.release_directory}[step]
    path = Path(coursedir.format_path(folder, ".", assignment_id)) / f"{notebook_id}.ipynb"
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001
        return {}
    return {grade_id(c): c.source for c in nb.cells if grade_id(c)}


# The nbgrader metadata that decides how a cell is graded (the checksum is recomputed).
SEMANTIC_KEYS = ("grade", "grade_id", "locked", "solution", "task")


def grading_semantics(meta: dict) -> tuple:
    points = meta.get("points")
    try:
        points = float(points) if meta.get("grade") else None
    except (TypeError, ValueError):
        pass
    return (*(meta.get(key, False) for key in SEMANTIC_KEYS), points)


def has_kit_cells(sources: dict[str, tuple], test_cells: set[str]) -> bool:
    """Whether the gradebook's notebook has an autograder cell of the kit (`grade(...)`):
    the kit's assignment. In other notebooks a grade_id the gradebook does not know fails
    the notebook, as in stock nbgrader; in the kit's, that cell is graded as an ordinary
    cell so that a student's edit cannot stop their own grading."""
    return any(sources[name][0] == "code" and grade_call(sources[name][2]) for name in test_cells)


class RestoreInstructorCells(NbGraderPreprocessor):
    """Puts the instructor's nbgrader cells back exactly as the gradebook knows them."""

    def preprocess(self, nb: NotebookNode, resources):
        notebook_id = resources["nbgrader"]["notebook"]
        assignment_id = resources["nbgrader"]["assignment"]
        with Gradebook(resources["nbgrader"]["db_url"]) as gb:
            notebook = gb.find_notebook(notebook_id, assignment_id)
            sources = {c.name: (c.cell_type, c.locked, c.source, c.checksum) for c in notebook.source_cells}
            points = {c.name: c.max_score for c in notebook.grade_cells}
            solutions = {c.name for c in notebook.solution_cells}
            tasks = {c.name for c in notebook.task_cells}
        kit_notebook = has_kit_cells(sources, set(points) - solutions)
        released = instructor_cells(self.config, "release", assignment_id, notebook_id)
        changes: list[str] = []

        def canonical(name: str) -> dict:
            cell_type, locked, _, checksum = sources[name]
            meta = {"grade": name in points, "grade_id": name, "locked": locked, "schema_version": 3,
                    "solution": name in solutions, "task": name in tasks, "checksum": checksum,
                    "cell_type": cell_type}
            if name in points:
                meta["points"] = points[name]
            return meta

        kept: set[str] = set()
        for position in range(len(nb.cells) - 1, -1, -1):
            cell = nb.cells[position]
            meta = cell.metadata.get("nbgrader")
            if meta is None:
                continue
            name = meta.get("grade_id") if isinstance(meta, dict) else None
            if isinstance(name, str) and name not in sources and not kit_notebook:
                continue  # as stock: nbgrader's OverwriteCells and CheckCellMetadata fail it
            if not isinstance(name, str) or name not in sources or name in kept:
                del cell.metadata["nbgrader"]
                why = ("malformed nbgrader metadata" if not isinstance(name, str) else
                       f"a second copy of {name!r}" if name in kept else f"unknown grade_id {name!r}")
                changes.append(f"cell with {why} graded as an ordinary cell")
                continue
            kept.add(name)
            cell_type, locked, source, _ = sources[name]
            if cell.cell_type != cell_type or not isinstance(cell.source, str):
                changes.append(f"cell {name!r} changed type: restored")
                cell = self._rebuilt(cell, cell_type)
                nb.cells[position] = cell
            wanted = canonical(name)
            if grading_semantics(meta) != grading_semantics(wanted):
                changes.append(f"cell {name!r} had edited nbgrader metadata: restored")
            cell.metadata["nbgrader"] = wanted
            if locked and cell.source != source:
                if name in released and cell.source != released[name]:
                    changes.append(f"locked cell {name!r} was edited: restored")
                cell.source = source

        order = list(instructor_cells(self.config, "source", assignment_id, notebook_id) or released)
        order += sorted(set(sources) - set(order))
        for index, name in enumerate(order):
            if name in kept or name not in sources:
                continue
            cell_type, _, source, _ = sources[name]
            restored = CELL_MAKERS[cell_type if cell_type in CELL_MAKERS else "raw"](source)
            restored.metadata["nbgrader"] = canonical(name)
            at = self._insert_position(nb, order[:index], kept)
            nb.cells[at:at] = [note_cell(f"이 자리에 있던 셀 `{name}` 이(가) 제출물에 없어서 강사의 원래 "
                                         "셀로 되돌려 놓았습니다."), restored]
            kept.add(name)
            changes.append(f"missing cell {name!r} put back")
        for change in changes:
            self.log.warning("Student %s: %s", student_of(resources), change)
        return nb, resources

    @staticmethod
    def _rebuilt(cell: NotebookNode, cell_type: str) -> NotebookNode:
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        new = CELL_MAKERS[cell_type if cell_type in CELL_MAKERS else "raw"](source)
        if "id" in cell:
            new["id"] = cell["id"]
        return new

    @staticmethod
    def _insert_position(nb: NotebookNode, earlier: list[str], present: set[str]) -> int:
        """Just after the last cell, among those the instructor put before it, still there."""
        for name in reversed(earlier):
            if name not in present:
                continue
            for position, cell in enumerate(nb.cells):
                if grade_id(cell) == name:
                    return position + 1
        return 0
