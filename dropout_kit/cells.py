"""nbgrader's metadata of a notebook cell, read one way everywhere: from a NotebookNode
or from a notebook's plain JSON, and never tripped by malformed metadata (submissions
are untrusted)."""
from __future__ import annotations


def grade_id(cell: dict) -> str | None:
    """The cell's nbgrader grade_id; None when it has none or its metadata is malformed."""
    metadata = cell.get("metadata")
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
