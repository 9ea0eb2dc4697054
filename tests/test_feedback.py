"""ScrubTestTracebacks: a test cell's traceback is cut when the cell had a hidden test
region (it could quote hidden lines), and kept, as nbgrader keeps it, when the test was
visible to the student."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from nbgrader.api import Gradebook
from nbgrader.preprocessors import ClearHiddenTests

from dropout_kit.engine.scrub_test_tracebacks import ScrubTestTracebacks

HIDDEN = "assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS"
VISIBLE = "assert f(1) == 2"
TRACEBACK = ["Traceback (most recent call last):", "  assert f(2) == 4", "AssertionError: "]


def graded_cell(name: str, source: str) -> dict:
    cell = new_code_cell(source, outputs=[new_output("error", ename="AssertionError", evalue="",
                                                     traceback=list(TRACEBACK))])
    cell.metadata.nbgrader = {"grade": True, "solution": False, "locked": True, "points": 1,
                              "grade_id": name, "schema_version": 3}
    return cell


def gradebook_with(db_url: str, sources: dict[str, str]) -> None:
    """The instructor's cells as `nbgrader generate_assignment` records them."""
    with Gradebook(db_url) as gb:
        gb.add_assignment("ps1")
        gb.add_notebook("p1", "ps1")
        for name, source in sources.items():
            gb.add_grade_cell(name, "p1", "ps1", max_score=1, cell_type="code")
            gb.add_source_cell(name, "p1", "ps1", source=source, cell_type="code", locked=True)


def feedback_tracebacks(db_url: str | None, sources: dict[str, str]) -> dict[str, list[str]]:
    """Each test cell's traceback after the feedback's ClearHiddenTests and ScrubTestTracebacks."""
    nb = new_notebook(cells=[graded_cell(name, source) for name, source in sources.items()])
    resources = {"nbgrader": {"db_url": db_url, "notebook": "p1", "assignment": "ps1"}} if db_url else {}
    nb, resources = ClearHiddenTests().preprocess(nb, resources)
    nb, resources = ScrubTestTracebacks().preprocess(nb, resources)
    return {cell.metadata.nbgrader["grade_id"]: cell.outputs[0]["traceback"] for cell in nb.cells}


@pytest.fixture(autouse=True)
def alembic_on_path(monkeypatch):
    """nbgrader runs `alembic` from PATH when it creates a gradebook."""
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))


def test_only_cells_with_a_hidden_region_lose_their_traceback(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    sources = {"hidden": HIDDEN, "visible": VISIBLE}
    gradebook_with(db_url, sources)
    tracebacks = feedback_tracebacks(db_url, sources)
    assert tracebacks["hidden"] == ["AssertionError: "]
    assert tracebacks["visible"] == TRACEBACK


def test_without_the_gradebook_every_test_cell_is_scrubbed():
    tracebacks = feedback_tracebacks(None, {"hidden": HIDDEN, "visible": VISIBLE})
    assert tracebacks == {"hidden": ["AssertionError: "], "visible": ["AssertionError: "]}
