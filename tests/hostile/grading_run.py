"""One `nbgrader autograde` run of the hostile corpus in a scratch course, and what it left.

Shared by tests/test_hostile.py and benchmarks/sandbox.py. The course is a copy of the
repository's (its nbgrader_config.py included); the run only adds short limits on the
command line so that a corpus full of hangs stays quick.
"""
from __future__ import annotations

import datetime
import hashlib
import socket
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from dropout_kit import gradebook, samples, settings
from dropout_kit.commands import nbgrader
from dropout_kit.course import copy_course

from . import corpus

REPO = Path(__file__).resolve().parents[2]

# Cells that legitimately take long (torch import, trainings, checks that retrain).
HEAVY_CELLS = ("imports", "data_plot", "nodrop_net", "nodrop_plot", "dropout_net",
               "test_dropout_net", "test_eval_predict", "plot_modes")
CELL_TIMEOUT = 10
HEAVY_CELL_TIMEOUT = 300
NOTEBOOK_TIMEOUT = 420
MAX_RESTARTS = 3


def limit_flags(cell_timeout: int = CELL_TIMEOUT, notebook_timeout: int = NOTEBOOK_TIMEOUT) -> list[str]:
    return [
        f"--Execute.timeout={cell_timeout}",
        *(f"--SafeExecute.cell_timeouts={cell}={HEAVY_CELL_TIMEOUT}" for cell in HEAVY_CELLS),
        f"--SafeExecute.notebook_timeout={notebook_timeout}",
        f"--SafeExecute.max_kernel_restarts={MAX_RESTARTS}",
        "--SafeExecute.max_output_bytes=100000",
        "--SandboxKernelManager.memory_limit_mb=2560",
        "--SandboxKernelManager.max_processes=192",
    ]


def wall_bound(submissions: int, notebook_timeout: int = NOTEBOOK_TIMEOUT) -> float:
    """What the design guarantees: each submission within its notebook budget, plus
    reading, a final kernel kill and writing (60 s), plus nbgrader's start (120 s)."""
    return submissions * (notebook_timeout + 60) + 120


@dataclass
class Run:
    course: Path
    students: dict[str, corpus.Case | None]
    returncode: int
    log: str
    wall: float
    grades: dict[str, dict[str, gradebook.CellGrade]]
    before: dict[str, object]
    after: dict[str, object]

    def notebook(self, student: str) -> nbformat.NotebookNode:
        path = self.course / "autograded" / student / settings.ASSIGNMENT / settings.NOTEBOOK
        return nbformat.read(path, as_version=4)

    def outputs_text(self, student: str) -> str:
        parts = []
        for cell in self.notebook(student).cells:
            for output in cell.get("outputs", []):
                parts.append(output.get("text", "") if isinstance(output.get("text", ""), str) else "")
                parts.append(str(output.get("data", {}).get("text/plain", "")))
                parts.append(output.get("evalue", ""))
        return "\n".join(parts)

    def error_names(self, student: str) -> set[str]:
        return {o.get("ename") for c in self.notebook(student).cells
                for o in c.get("outputs", []) if o.get("output_type") == "error"}

    def markdown(self, student: str) -> str:
        return "\n".join(c.source for c in self.notebook(student).cells if c.cell_type == "markdown")


def prepare(dest: Path, cases: tuple[corpus.Case, ...] = corpus.CASES,
            correct: tuple[str, ...] = tuple(corpus.CORRECT)) -> tuple[Path, dict, socket.socket]:
    """A scratch course with the assignment generated and the class in submitted/."""
    course = copy_course(REPO, dest)
    nbgrader("generate_assignment", settings.ASSIGNMENT, "--force", cwd=course)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    reference = samples.reference_answers(samples.source_notebook(course))
    stamp = datetime.datetime(2026, 11, 27, 9, 0, tzinfo=datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S.%f %Z")
    students = corpus.build_class(course, reference, listener.getsockname()[1], stamp,
                                  cases=cases, correct=correct)
    return course, students, listener


def snapshot(course: Path) -> dict[str, object]:
    """What grading must not change: the instructor's files and the gradebook's structure."""
    files = {}
    for folder in ("grader_tests", "source", "release"):
        for path in sorted((course / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[str(path.relative_to(course))] = hashlib.sha256(path.read_bytes()).hexdigest()
    tables = {}
    db = course / "gradebook.db"
    if db.exists():
        with sqlite3.connect(db) as connection:
            for table in ("course", "assignment", "notebook", "base_cell", "grade_cells",
                          "solution_cells", "source_cell", "task_cells"):
                tables[table] = sorted(map(tuple, connection.execute(f"SELECT * FROM {table}")))
    return {"files": files, "tables": tables}


def autograde(course: Path, students: dict, mode: str = "namespaces",
              flags: list[str] | None = None) -> Run:
    before = snapshot(course)
    started = time.monotonic()
    done = nbgrader("autograde", settings.ASSIGNMENT, "--force", *(limit_flags() if flags is None else flags),
                    cwd=course, env={"DROPOUT_KIT_SANDBOX": mode}, check=False)
    wall = time.monotonic() - started
    db = course / "gradebook.db"
    grades = gradebook.cell_grades(f"sqlite:///{db}") if db.exists() else {}
    return Run(course, students, done.returncode, done.stdout + done.stderr, wall, grades,
               before, snapshot(course))
