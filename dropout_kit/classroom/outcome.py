"""What grading one submission produced, and what its executed notebook tells about it
(cells stopped by a time limit, time spent in the cells)."""
from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path

from dropout_kit.cells import grade_id

STOPPED_CELL_ERRORS = {
    "CellTimeoutError": "",
    "KernelUnresponsive": "unresponsive, kernel restarted",
    "NotExecuted": "notebook time limit",
    "CheckerFailed": "the checker process failed",
    "KernelDied": "kernel died",
}


@dataclass
class Outcome:
    student: str
    status: str  # "graded", "timeout" (a cell hit the time limit) or "failed" (nbgrader gave up)
    seconds: float = 0.0  # wall time of this student's autograde, sanitizing to recording
    cells_seconds: float = 0.0  # time the kernel spent executing the notebook's cells
    auto_score: float = 0.0
    auto_max: float = 0.0
    manual_pending: bool = False
    timed_out_cells: list[str] = field(default_factory=list)
    error: str = ""
    attempts: int = 1
    worker: str = ""  # the Dask worker that ran the notebook
    checksum: str = ""
    graded_at: str = ""


def _cell_seconds(cell) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    try:
        start = datetime.datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return 0.0
    return max((end - start).total_seconds(), 0.0)


def _cell_name(cell, index: int) -> str:
    return grade_id(cell) or f"cell {index}"


def notebook_timing(path: Path) -> tuple[list[str], float]:
    """(cells stopped by a time limit or a dead kernel, seconds spent executing cells) of one executed
    notebook, from its outputs and nbclient's timing metadata."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return [], 0.0
    timed_out, seconds = [], 0.0
    for index, cell in enumerate(cells):
        seconds += _cell_seconds(cell)
        stopped = [STOPPED_CELL_ERRORS[out["ename"]] for out in cell.get("outputs", [])
                   if out.get("output_type") == "error" and out.get("ename") in STOPPED_CELL_ERRORS]
        if stopped:
            name = _cell_name(cell, index)
            timed_out.append(f"{name} ({stopped[-1]})" if stopped[-1] else name)
    return timed_out, seconds


def inspect_autograded(folder: Path) -> tuple[list[str], float]:
    """notebook_timing over the autograded notebooks in `folder`."""
    timed_out, seconds = [], 0.0
    for path in sorted(folder.glob("*.ipynb")):
        cells_timed_out, cells_seconds = notebook_timing(path)
        timed_out += cells_timed_out
        seconds += cells_seconds
    return timed_out, seconds
