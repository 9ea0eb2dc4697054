"""Reading submissions robustly, before any of their code runs.

Three hooks of `nbgrader autograde`, wired in nbgrader_config.py:
  * `SubmissionExporter` (c.Autograde.exporter_class) reads the submitted file. A file
    that is not JSON, not UTF-8, a future or broken nbformat, a symbolic link or too big
    becomes a notebook that keeps what can be salvaged (or nothing) with a note on top;
    the log says why. Older nbformat versions are converted.
  * `RestoreInstructorCells` (first sanitize preprocessor) makes the notebook's nbgrader
    structure the instructor's again: unknown or malformed nbgrader metadata is dropped,
    duplicated cells keep one graded copy (the last, as nbgrader does), every cell's
    metadata, type and (when locked) source come from the gradebook, and cells the
    student deleted are put back where they were. The test cells that run are therefore
    always the instructor's. In a notebook without the kit's autograder cells, a grade_id
    the gradebook does not know fails the notebook, as in stock nbgrader.
  * `skip_unsafe_files` (c.Autograde.pre_convert_hook) keeps oversized files and
    symbolic links in the submission folder from being copied next to the notebook.
"""
from __future__ import annotations

import glob
import inspect
import json
import os
from pathlib import Path

import nbformat
import nbformat.reader
from nbconvert.exporters import NotebookExporter
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer
from traitlets.config import LoggingConfigurable

from dropout_kit.cells import grade_call, grade_id

NOTE_PREFIX = "⚠ **채점 안내**: "
CELL_MAKERS = {"code": new_code_cell, "markdown": new_markdown_cell, "raw": new_raw_cell}


def _student(resources) -> str:
    return (resources or {}).get("nbgrader", {}).get("student", "?")


def note_cell(text: str) -> NotebookNode:
    return new_markdown_cell(NOTE_PREFIX + text)


# -- reading ---------------------------------------------------------------------------
def salvage(data: dict) -> NotebookNode:
    """A valid v4 notebook with whatever cells of `data` still make sense."""
    nb = new_notebook()
    cells = data.get("cells")
    if not isinstance(cells, list):
        worksheets = data.get("worksheets")
        cells = worksheets[0].get("cells") if isinstance(worksheets, list) and worksheets \
            and isinstance(worksheets[0], dict) else []
    for raw in cells if isinstance(cells, list) else []:
        if not isinstance(raw, dict):
            continue
        source = raw.get("source", raw.get("input", ""))
        if isinstance(source, list):
            source = "".join(part for part in source if isinstance(part, str))
        if not isinstance(source, str):
            source = ""
        kind = raw.get("cell_type")
        cell = CELL_MAKERS.get(kind if kind in CELL_MAKERS else "raw")(source)
        metadata = raw.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("nbgrader"), dict):
            try:
                cell.metadata["nbgrader"] = nbformat.from_dict(json.loads(json.dumps(metadata["nbgrader"])))
            except (TypeError, ValueError):
                pass
        nb.cells.append(cell)
    return nb


def parse_notebook(text: str) -> tuple[NotebookNode, str | None]:
    """The notebook in `text` as nbformat v4, with a note for the student if it was damaged."""
    try:
        data = json.loads(text)
    except ValueError as error:
        return new_notebook(), f"제출한 노트북이 올바른 JSON 파일이 아닙니다 ({error}). 빈 답안으로 채점했습니다."
    if not isinstance(data, dict):
        return new_notebook(), "제출한 노트북의 형식을 알아볼 수 없습니다. 빈 답안으로 채점했습니다."
    try:
        nb = nbformat.convert(nbformat.reader.reads(text), 4)
        nbformat.validate(nb)
        return nb, None
    except Exception:  # noqa: BLE001 - any damage: fall back to salvaging cells
        nb = salvage(data)
    try:
        nbformat.validate(nb)
    except Exception:  # noqa: BLE001
        return new_notebook(), "제출한 노트북의 형식이 손상되어 읽을 수 없습니다. 빈 답안으로 채점했습니다."
    return nb, ("제출한 노트북의 형식에 오류가 있어 읽을 수 있는 셀만 채점했습니다 "
                f"(셀 {len(nb.cells)}개).")


class SubmissionExporter(NotebookExporter):
    """NotebookExporter that never fails on what a student handed in."""

    max_notebook_mb = Integer(50, help="submitted notebooks larger than this are not read").tag(config=True)

    def from_file(self, file_stream, resources=None, **kw):
        path = getattr(file_stream, "name", "")
        problem = None
        if path and os.path.islink(path):
            nb, problem = new_notebook(), "제출한 노트북이 심볼릭 링크라서 읽지 않았습니다. 빈 답안으로 채점했습니다."
        elif path and os.path.getsize(path) > self.max_notebook_mb * 1024 * 1024:
            size = os.path.getsize(path) / 1024 / 1024
            nb, problem = new_notebook(), (f"제출한 노트북이 너무 큽니다({size:.0f}MB, 최대 "
                                           f"{self.max_notebook_mb}MB). 빈 답안으로 채점했습니다.")
        else:
            try:
                text = file_stream.read()
            except UnicodeDecodeError:
                nb, problem = new_notebook(), "제출한 노트북이 UTF-8 텍스트가 아닙니다. 빈 답안으로 채점했습니다."
            else:
                nb, problem = parse_notebook(text)
        if problem:
            self.log.error("Student %s: %s: %s", _student(resources), path, problem)
            nb.cells.insert(0, note_cell(problem))
        return self.from_notebook_node(nb, resources=resources, **kw)


# -- the instructor's cells ------------------------------------------------------------
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
            self.log.warning("Student %s: %s", _student(resources), change)
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


# -- files next to the notebook ----------------------------------------------------------
class SubmissionFiles(LoggingConfigurable):
    """Limits on the files a submission folder may bring into autograded/."""

    max_file_mb = Integer(20, help="larger submitted files are not copied").tag(config=True)
    max_total_mb = Integer(100, help="files beyond this total are not copied").tag(config=True)

    def unsafe(self, folder: Path, student: str) -> list[Path]:
        """Files of `folder` not to copy: symbolic links, oversized files, overflow."""
        skipped, total = [], 0
        for dirname, dirnames, filenames in os.walk(folder):
            for name in sorted(dirnames):
                if os.path.islink(os.path.join(dirname, name)):
                    self.log.error("Student %s: %s is a symbolic link; not copied", student,
                                   os.path.join(dirname, name))
            for name in sorted(filenames):
                path = Path(dirname) / name
                if path.suffix == ".ipynb":  # nbgrader never copies notebooks
                    continue
                if path.is_symlink():
                    reason = "a symbolic link"
                else:
                    size = path.stat().st_size
                    if size > self.max_file_mb * 1024 * 1024:
                        reason = f"{size / 1024 / 1024:.0f} MB > {self.max_file_mb} MB"
                    elif total + size > self.max_total_mb * 1024 * 1024:
                        reason = f"the folder's files exceed {self.max_total_mb} MB"
                    else:
                        total += size
                        continue
                self.log.error("Student %s: submitted file %s not copied (%s)", student, path, reason)
                skipped.append(path)
        return skipped


def _running_converter():
    """The nbgrader converter calling the hook (nbgrader passes the hook no handle to it)."""
    from nbgrader.converters import BaseConverter

    frame = inspect.currentframe()
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, BaseConverter):
            return candidate
        frame = frame.f_back
    return None


def skip_unsafe_files(assignment=None, student=None, notebooks=(), **_):
    """pre_convert_hook: keeps unsafe submitted files out of autograded/.

    nbgrader copies every non-notebook file of the submission folder, following links,
    and offers no size limit there; its CourseDirectory.ignore globs are matched against
    full paths, so the exact paths of the unsafe files are added to them for this run.
    """
    converter = _running_converter()
    checker = SubmissionFiles(parent=converter)
    for folder in sorted({Path(nb).parent for nb in notebooks}):
        who = folder.parent.name
        unsafe = checker.unsafe(folder, who)
        if unsafe and converter is None:
            checker.log.error("Student %s: cannot keep unsafe files out (no nbgrader converter found)", who)
        elif unsafe:
            coursedir = converter.coursedir
            coursedir.ignore = [*coursedir.ignore, *(glob.escape(str(p)) for p in unsafe)]
