"""nbgrader's metadata of a notebook cell, read one way everywhere: from a NotebookNode
or from a notebook's plain JSON, and never tripped by malformed metadata (submissions
are untrusted)."""
from __future__ import annotations

import re

# An autograder cell of the kit: comments, the hidden-test markers, the import and one call.
GRADE_CALL = re.compile(r"""^grade\(\s*["']([A-Za-z_][\w]*)["']\s*\)$""")
IGNORED_LINES = re.compile(r"^(#.*|from dropout_kit\.grading import grade)?$")


def nbgrader_metadata(cell: dict) -> dict:
    """The cell's nbgrader metadata; empty when it has none or it is malformed."""
    metadata = cell.get("metadata")
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return nbgrader if isinstance(nbgrader, dict) else {}


def grade_id(cell: dict) -> str | None:
    """The cell's nbgrader grade_id; None when it has none or its metadata is malformed."""
    return nbgrader_metadata(cell).get("grade_id")


def cell_index(cells: list, wanted: str) -> int | None:
    """The position of the cell whose grade_id is `wanted`, or None."""
    return next((index for index, cell in enumerate(cells) if grade_id(cell) == wanted), None)


def grade_call(source: str) -> str | None:
    """The module of the one `grade("<module>")` call that is all of `source`, or None."""
    calls = []
    for line in source.splitlines():
        line = line.strip()
        if IGNORED_LINES.match(line):
            continue
        match = GRADE_CALL.match(line)
        if match is None:
            return None
        calls.append(match.group(1))
    return calls[0] if len(calls) == 1 else None


def source_text(cell: dict) -> str:
    """A cell's source as one string (plain notebook JSON may hold a list of lines)."""
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def code_sources_before(cells: list, wanted: str) -> list[str] | None:
    """The sources of the code cells up to and including the cell `wanted` (by grade_id),
    in order; None if there is no such code cell."""
    sources = []
    for cell in cells:
        if cell.get("cell_type") == "code":
            sources.append(source_text(cell))
        if grade_id(cell) == wanted:
            return sources if cell.get("cell_type") == "code" else None
    return None
