"""One `nbgrader autograde` run of the hostile corpus in a scratch course, and what it left.

Shared by tests/test_hostile.py and benchmarks/sandbox.py. The course is a copy of the
repository's (its nbgrader_config.py included); the run only adds short limits on the
command line so that a corpus full of hangs stays quick.
"""
from __future__ import annotations

import datetime
import hashlib
import html
import re
import socket
import sqlite3
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import dropout_assignment as dropout
import nbformat
from nbgrader.api import Gradebook

from dropout_kit.cells import grade_id
from dropout_kit.checks.runner import CHECKS_MIME
from dropout_kit.classroom import gradebook
from dropout_kit.engine.review import review_of
from dropout_kit.engine.sandbox_kernel_manager import SINGLE_THREAD_ENV
from dropout_kit.harness import samples
from dropout_kit.harness.commands import BIN, environment, nbgrader
from dropout_kit.harness.course import copy_course

from . import corpus

REPO = Path(__file__).resolve().parents[2]

# Cells that legitimately take long (torch import, trainings, checks that retrain).
HEAVY_CELLS = ("imports", "data_plot", "nodrop_net", "nodrop_plot",
               "test_dropout_net", "test_eval_predict", "plot_modes")
CELL_TIMEOUT = 10
HEAVY_CELL_TIMEOUT = 300
# The student's training cell: about 2 s on one core, 9 times that on a loaded machine; a
# case trains far too long there (broadcast-mask), so its limit is kept short.
TRAINING_CELL = "dropout_net"
TRAINING_CELL_TIMEOUT = 30
NOTEBOOK_TIMEOUT = 420
MAX_RESTARTS = 3


def limit_flags(cell_timeout: int = CELL_TIMEOUT, notebook_timeout: int = NOTEBOOK_TIMEOUT) -> list[str]:
    return [
        f"--Execute.timeout={cell_timeout}",
        *(f"--SafeExecute.cell_timeouts={cell}={HEAVY_CELL_TIMEOUT}" for cell in HEAVY_CELLS),
        f"--SafeExecute.cell_timeouts={TRAINING_CELL}={TRAINING_CELL_TIMEOUT}",
        f"--SafeExecute.notebook_timeout={notebook_timeout}",
        f"--SafeExecute.max_kernel_restarts={MAX_RESTARTS}",
        "--SafeExecute.max_output_bytes=100000",
        "--SandboxKernelManager.memory_limit_mb=2560",
        "--SandboxKernelManager.max_processes=192",
    ]


# What grading can legitimately cost, from times measured with these limits on 2 cores
# (sandbox on, one torch thread per kernel; `python -m benchmarks.sandbox`, table b): a
# case's notebook takes 4-8 s of kernel time, a correct one (two trainings and every
# check) 10 s, a kernel restart with the replay of the cells that had run 3-8 s, and
# nbgrader spends about 1 s per submission outside the kernel. On a machine shared with
# other work these grew up to 9 times (a correct notebook 90 s with torch's default
# threads), so the budgets are generous; they still fail a cell that is not stopped at its
# limit or a notebook that runs into NOTEBOOK_TIMEOUT.
CASE_SECONDS = 45  # one hostile case's notebook, kernel start to kill
CORRECT_SECONDS = 150  # one correct notebook
RESTART_SECONDS = 30  # a kernel restart and its replay
OUTSIDE_KERNEL_SECONDS = 5  # per submission: reading, sanitizing, saving grades
START_SECONDS = 60  # nbgrader's start, the gradebook


def budget(case: corpus.Case | None) -> float:
    """Kernel time one submission may take: an ordinary notebook (a correct one does the
    most work), plus the limit of each cell the case makes time out, plus each kernel
    restart it causes, plus the requests' budgets it runs past."""
    if case is None:
        return CORRECT_SECONDS
    return ((CORRECT_SECONDS if case.complete else CASE_SECONDS) + case.timeouts * CELL_TIMEOUT
            + case.restarts * RESTART_SECONDS + case.budget_seconds)


def wall_bound(students: dict[str, corpus.Case | None]) -> float:
    """The whole run: nbgrader's start plus, per submission, its budget and the work outside
    the kernel."""
    return START_SECONDS + sum(budget(case) + OUTSIDE_KERNEL_SECONDS for case in students.values())


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

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.course / 'gradebook.db'}"

    def notebook(self, student: str) -> nbformat.NotebookNode:
        path = self.course / "autograded" / student / dropout.ASSIGNMENT / dropout.NOTEBOOK
        return nbformat.read(path, as_version=4)

    def outputs_text(self, student: str) -> str:
        parts = []
        for cell in self.notebook(student).cells:
            for output in cell.get("outputs", []):
                parts.append(output.get("text", "") if isinstance(output.get("text", ""), str) else "")
                parts.append(str(output.get("data", {}).get("text/plain", "")))
                parts.append(output.get("evalue", ""))
        return "\n".join(parts)

    def every_output_text(self, student: str) -> str:
        """All that the graded notebook's outputs hold: streams, every data type, errors."""
        parts = []
        for cell in self.notebook(student).cells:
            for output in cell.get("outputs", []):
                parts += [str(output.get("text", "")), str(output.get("evalue", ""))]
                parts += [str(line) for line in output.get("traceback", [])]
                parts += [str(value) for value in output.get("data", {}).values()]
        return "\n".join(parts)

    def feedback_text(self, student: str) -> str:
        """The feedback page nbgrader generated for the student, HTML entities decoded."""
        page = (self.course / "feedback" / student / dropout.ASSIGNMENT
                / dropout.NOTEBOOK.replace(".ipynb", ".html"))
        return html.unescape(page.read_text(encoding="utf-8"))

    def kernel_seconds(self) -> dict[str, float]:
        """Per student: SafeExecute's time for the notebook (kernel start to kill)."""
        return {m.group(1): float(m.group(2))
                for m in re.finditer(r"SafeExecute: student (\S+): ([0-9.]+) s, ", self.log)}

    def over_budget(self, student: str) -> dict[str, list[dict]]:
        """Autograder cell → the budgets its checks' requests ran past (from its verdicts)."""
        found = {}
        for cell in self.notebook(student).cells:
            for output in cell.get("outputs", []):
                verdicts = output.get("data", {}).get(CHECKS_MIME)
                if isinstance(verdicts, dict) and verdicts.get("budgets"):
                    found[grade_id(cell)] = verdicts["budgets"]
        return found

    def error_names(self, student: str) -> set[str]:
        return {o.get("ename") for c in self.notebook(student).cells
                for o in c.get("outputs", []) if o.get("output_type") == "error"}

    def markdown(self, student: str) -> str:
        return "\n".join(c.source for c in self.notebook(student).cells if c.cell_type == "markdown")

    def held(self, student: str) -> dict[str, dict]:
        """Autograder cells held for a person's review: grade_id → the grader's review record
        (evidence, the automatic score as a suggestion), from the graded notebook."""
        return {grade_id(cell): record for cell in self.notebook(student).cells
                if (record := review_of(cell)) is not None}

    def recorded_while_held(self, student: str) -> dict[str, tuple[float | None, bool]]:
        """Held cell → (its automatic score in the gradebook, needs manual grading)."""
        with Gradebook(self.db_url) as gb:
            return {c: (grade.auto_score, grade.needs_manual_grade) for c in self.held(student)
                    for grade in [gb.find_grade(c, dropout.ASSIGNMENT, dropout.ASSIGNMENT, student)]}

    def flagged(self, student: str) -> bool:
        """nbgrader's flag on the submitted notebook (the formgrader's "Flagged?")."""
        with Gradebook(self.db_url) as gb:
            return gb.find_submission_notebook(dropout.ASSIGNMENT, dropout.ASSIGNMENT, student).flagged

    def automatic(self, student: str) -> dict[str, float | None]:
        """What the autograder made of each autograder cell: the recorded score, or for a held
        cell the score it suggests to the grader."""
        held = self.held(student)
        return {c: held[c]["suggested"] if c in held else self.grades[student][c].score
                for c in dropout.AUTO_CELLS}


# The submission time written beside every submission (before any due date).
STAMP = datetime.datetime(2026, 11, 27, 9, 0, tzinfo=datetime.timezone.utc).strftime(
    "%Y-%m-%d %H:%M:%S.%f %Z")


def scratch_course(dest: Path) -> Path:
    """A copy of the repository's course at `dest` with the assignment generated."""
    course = copy_course(REPO, dest)
    nbgrader("generate_assignment", dropout.ASSIGNMENT, "--force", cwd=course)
    return course


def prepare(dest: Path, cases: tuple[corpus.Case, ...] = corpus.CASES,
            correct: tuple[str, ...] = tuple(corpus.CORRECT)) -> tuple[Path, dict, socket.socket]:
    """A scratch course with the assignment generated and the class in submitted/."""
    course = scratch_course(dest)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    reference = samples.reference_answers(dropout.source_notebook(course))
    students = corpus.build_class(course, reference, listener.getsockname()[1], STAMP,
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


class Started:
    """An `nbgrader autograde` run going on in the background; `wait()` gives its Run.
    `keep_open` (a listener the corpus connects to) is closed once the run has ended."""

    def __init__(self, course: Path, students: dict, mode: str = "namespaces", flags: list[str] | None = None,
                 env: dict[str, str] | None = None, keep_open: socket.socket | None = None):
        self.course, self.students, self.keep_open = course, students, keep_open
        self.before = snapshot(course)
        self.log_path = course.parent / f"{course.name}-autograde.log"
        with self.log_path.open("w", encoding="utf-8") as log:
            self.started = time.monotonic()
            self.process = subprocess.Popen(
                [str(BIN / "nbgrader"), "autograde", dropout.ASSIGNMENT, "--force",
                 *(limit_flags() if flags is None else flags)],
                cwd=course, stdout=log, stderr=subprocess.STDOUT,
                env=environment({"DROPOUT_KIT_SANDBOX": mode, **SINGLE_THREAD_ENV, **(env or {})}))
        self.ended: float | None = None
        self._watch = threading.Thread(target=self._wait_for_exit, daemon=True)
        self._watch.start()
        self._run: Run | None = None

    def _wait_for_exit(self) -> None:
        self.process.wait()
        self.ended = time.monotonic()

    def wait(self) -> Run:
        if self._run is None:
            self._watch.join()
            if self.keep_open is not None:
                self.keep_open.close()
            db = self.course / "gradebook.db"
            grades = dropout.cell_grades(f"sqlite:///{db}") if db.exists() else {}
            self._run = Run(self.course, self.students, self.process.returncode,
                            self.log_path.read_text(encoding="utf-8", errors="replace"),
                            self.ended - self.started, grades, self.before, snapshot(self.course))
        return self._run

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.wait()


def autograde(course: Path, students: dict, mode: str = "namespaces",
              flags: list[str] | None = None, env: dict[str, str] | None = None) -> Run:
    return Started(course, students, mode, flags, env).wait()
