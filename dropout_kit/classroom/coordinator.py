"""The coordinating process of a grading run: nbgrader's own Autograde converter for each
submission, as `nbgrader autograde` runs it, except that the execute step (the student's
cells and the hidden checks) runs on a Dask worker (dropout_kit.engine.remote_execute,
dropout_kit.cluster.task). Converters run in threads here and take turns through one lock,
released while their notebook is away, so that only this process writes the gradebook and
one submission is recorded at a time: no database lock between processes is needed.

A notebook is sent to Dask only when a worker slot is free. Dask would otherwise queue it
on a busy worker (each submission is its own task group, which the scheduler does not
hold back), where it waits behind another student while a worker that finished idles.
"""
from __future__ import annotations

import contextlib
import datetime
import io
import logging
import os
import threading
import time
import traceback
import uuid

from nbconvert.preprocessors import ExecutePreprocessor
from traitlets.utils.importstring import import_item

from dropout_kit.classroom.changes import submission_checksum
from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.classroom.gradebook import auto_totals, cell_grades
from dropout_kit.classroom.outcome import Outcome, inspect_autograded
from dropout_kit.cluster import task
from dropout_kit.cluster.payload import Payload, WorkerMismatch
from dropout_kit.engine.remote_execute import Executed, Job, RemoteExecute


class RunStopped(Exception):
    """The run is stopping (Ctrl-C or a worker that refuses): this submission is not recorded."""


class _ThisThread(logging.Filter):
    def __init__(self):
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record) -> bool:
        return record.thread == self.thread


def execute_step(preprocessors: list) -> tuple[int, str]:
    """Where the course's execute preprocessor stands in its autograde pipeline, and its import path."""
    for index, preprocessor in enumerate(preprocessors):
        cls = import_item(preprocessor) if isinstance(preprocessor, str) else preprocessor
        if isinstance(cls, type) and issubclass(cls, ExecutePreprocessor):
            return index, f"{cls.__module__}.{cls.__qualname__}"
    raise ValueError("the course's Autograde.autograde_preprocessors has no execute step")


class Coordinator:
    def __init__(self, app, paths: CoursePaths, client, payload: Payload, slots: int):
        self.app = app
        self.paths = paths
        self.client = client
        # Sent with every task (tens of kB): data scattered once would be lost with the worker
        # that holds it, and with it every task that needs it.
        self.payload = payload
        self.turn = threading.Lock()  # nbgrader's steps, one converter at a time
        self.in_flight: set = set()  # Dask futures of notebooks away on workers
        self.free_slots = threading.Semaphore(slots)
        self.unsent = 0  # submissions of this round whose notebook has not reached its execute step
        self.stopping: BaseException | None = None

    @contextlib.contextmanager
    def recording(self):
        """While grading, nbgrader's messages and warnings go to each student's log, not the console."""
        console = list(self.app.log.handlers)
        warnings_log = logging.getLogger("py.warnings")
        for handler in console:
            self.app.log.removeHandler(handler)
        logging.captureWarnings(True)
        warnings_log.propagate = False
        try:
            yield self
        finally:
            logging.captureWarnings(False)
            warnings_log.propagate = True
            for handler in console:
                self.app.log.addHandler(handler)

    def stop(self, reason: BaseException) -> None:
        """No more submissions are recorded; notebooks away on workers are cancelled."""
        self.stopping = reason
        if self.in_flight:
            self.client.cancel(list(self.in_flight))

    def expect(self, submissions: int) -> None:
        """A round of `submissions` begins: workers start kernels ahead while more are to come."""
        self.unsent = submissions

    # -- one submission (in a thread of the run) -------------------------------------------
    def grade(self, student: str, attempt: int) -> Outcome:
        if self.stopping:
            raise RunStopped()
        outcome = Outcome(student, "graded", attempts=attempt, checksum=submission_checksum(self.paths, student))
        captured = io.StringIO()
        handler = logging.StreamHandler(captured)
        handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
        handler.addFilter(_ThisThread())
        self.app.log.addHandler(handler)
        logging.getLogger("py.warnings").addHandler(handler)
        remote = None
        started = None
        try:
            with self.turn:
                started = time.perf_counter()  # not counting the wait for the turn
                converter, remote = self._converter(student)
                try:
                    converter.start()
                    outcome.auto_score, outcome.auto_max, outcome.manual_pending = self._recorded(student)
                except BaseException as error:  # nbgrader exits through SystemExit too
                    if self.stopping or isinstance(error, KeyboardInterrupt):
                        raise RunStopped() from error
                    outcome.status = "failed"
                    handed_in = sorted(p.name for p in self.paths.submission_dir(student).iterdir())
                    outcome.error = (f"{_last_error_line(captured.getvalue(), error)} "
                                     f"[handed in: {', '.join(handed_in) or 'nothing'}]")
                    captured.write(traceback.format_exc())
        finally:
            outcome.seconds = time.perf_counter() - (started or time.perf_counter())  # here and on the worker
            self.app.log.removeHandler(handler)
            logging.getLogger("py.warnings").removeHandler(handler)
            executed = remote.executed if remote is not None else None
            if executed is not None:
                outcome.seconds += executed.seconds - remote.waited
                outcome.worker = executed.worker
                captured.write(f"--- on worker {executed.worker} ({executed.seconds:.1f} s) ---\n{executed.log}")
            self.paths.log_dir.mkdir(parents=True, exist_ok=True)
            with (self.paths.log_dir / f"{student}.log").open("w" if attempt == 1 else "a", encoding="utf-8") as log:
                log.write(f"=== attempt {attempt} ===\n{captured.getvalue()}")
        timed_out, outcome.cells_seconds = inspect_autograded(self.paths.autograded_dir(student))
        if outcome.status == "graded" and timed_out:
            outcome.status = "timeout"
            outcome.timed_out_cells = timed_out
        outcome.graded_at = datetime.datetime.now().isoformat(timespec="seconds")
        return outcome

    def _converter(self, student: str):
        from nbgrader.converters import Autograde
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(parent=self.app)  # one per converter: they run side by side
        coursedir.assignment_id = self.paths.assignment
        coursedir.student_id = student
        converter = Autograde(coursedir=coursedir, parent=self.app)
        converter.force = True
        converter.create_student = True
        steps = list(converter.autograde_preprocessors)
        index, executor = execute_step(steps)
        remote = RemoteExecute(executor, self._run_remotely, parent=converter)
        steps[index] = remote
        converter.autograde_preprocessors = steps
        return converter, remote

    def _run_remotely(self, job: Job) -> Executed:
        self.unsent -= 1  # the turn is held here
        job.more_to_come = self.unsent > 0
        self.turn.release()
        try:
            while not self.free_slots.acquire(timeout=0.5):
                if self.stopping:
                    raise RunStopped()
            try:
                return self._execute_on_a_worker(job)
            finally:
                self.free_slots.release()
        finally:
            self.turn.acquire()
            # nbgrader sets this around the execute step and deletes it after; a converter
            # that ran meanwhile has deleted it already (nbgrader.utils.setenv).
            os.environ["NBGRADER_EXECUTION"] = "autograde"

    def _execute_on_a_worker(self, job: Job) -> Executed:
        if self.stopping:
            raise RunStopped()
        future = self.client.submit(task.execute, self.payload, job, pure=False,
                                    key=f"grade-{job.student}-{uuid.uuid4().hex[:8]}")
        self.in_flight.add(future)
        try:
            return future.result()
        except WorkerMismatch as refused:
            self.stop(refused)
            raise
        finally:
            self.in_flight.discard(future)

    def _recorded(self, student: str) -> tuple[float, float, bool]:
        """What the gradebook holds for the submission; raises if nbgrader's grades did not reach it."""
        paths = self.paths
        cells = cell_grades(paths.db_url, paths.assignment, paths.course_id, student).get(student, {})
        if not any(grade.auto for grade in cells.values()):
            raise RuntimeError(f"no autograded cells recorded in the gradebook for {student}")
        return auto_totals(cells)


def _last_error_line(log: str, error: BaseException) -> str:
    errors = [line for line in log.splitlines() if line.startswith("[ERROR]")]
    interesting = [line for line in errors if "There was an error" not in line and "Please see" not in line]
    text = (interesting or errors or [f"{type(error).__name__}: {error}"])[0]
    return text.removeprefix("[ERROR] ").strip()[:300]
