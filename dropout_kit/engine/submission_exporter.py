"""`SubmissionExporter` (c.Autograde.exporter_class): reads what a student handed in without
ever failing. A file that is not JSON, not UTF-8, a future or broken nbformat, a symbolic
link or too big becomes a notebook that keeps what can be salvaged (or nothing) with a note
on top; the log says why. Older nbformat versions are converted.

It is also the first of the kit's code that nbgrader's Autograde runs, before it removes any
autograded folder (`--force`, and always from the formgrader): `before_autograde` may refuse
the whole run there (grading on submission, which owns the gradebook meanwhile).
"""
from __future__ import annotations

import json
import os

import nbformat
import nbformat.reader
from nbconvert.exporters import NotebookExporter
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell
from nbgrader.converters.base import NbGraderException
from traitlets import Integer, Unicode
from traitlets.utils.importstring import import_item

NOTE_PREFIX = "⚠ **채점 안내**: "
CELL_MAKERS = {"code": new_code_cell, "markdown": new_markdown_cell, "raw": new_raw_cell}


def student_of(resources) -> str:
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
    before_autograde = Unicode("", help=(
        "Import name of a callable(converter) -> str | None, called when nbgrader's Autograde "
        "builds this exporter, before it removes anything: a text refuses the run with that "
        "message.")).tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.before_autograde and type(self.parent).__name__ == "Autograde":
            reason = import_item(self.before_autograde)(self.parent)
            if reason:
                self.log.error("%s", reason)
                raise NbGraderException(reason)

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
            self.log.error("Student %s: %s: %s", student_of(resources), path, problem)
            nb.cells.insert(0, note_cell(problem))
        return self.from_notebook_node(nb, resources=resources, **kw)
