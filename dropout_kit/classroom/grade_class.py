"""`dropout-kit grade`: every collected submission of an assignment, in parallel on a Dask
cluster (a local one by default), resumable, with progress.

- The instructor's solutions are graded first (the canary, dropout_kit.engine.canary); a
  point lost there stops the run before any student is graded.
- Only what changed since the last run is graded (dropout_kit.classroom.changes).
- A submission in which a cell was stopped (the cell time limit, a kernel that stopped
  answering, the notebook's time limit, a dead kernel, a failed checker: see
  outcome.STOPPED_CELL_ERRORS) or that nbgrader failed to grade is graded again at the end,
  alone on the cluster; if it happens again it is reported as such ("timeout", "failed"),
  never passed off as a plain grade.
- The kernels that may run at once must fit in each machine's memory (dropout_kit.cluster.memory).
- Folders that ended grading processes left in the temporary folder are removed when the
  run starts and when it ends (dropout_kit.tempfolders.sweep).
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from dropout_kit.classroom.changes import (
    GradingState,
    Plan,
    checks_fingerprint,
    database_key,
    plan,
)
from dropout_kit.classroom.console import print_plan, print_summary
from dropout_kit.classroom.coordinator import Coordinator, RunStopped
from dropout_kit.classroom.course_paths import (
    CoursePaths,
    environment_kept,
    load_autograde_app,
    working_directory,
)
from dropout_kit.classroom.outcome import Outcome
from dropout_kit.classroom.progress import Progress
from dropout_kit import tempfolders
from dropout_kit.cluster import memory
from dropout_kit.cluster.connect import cluster_client, slots
from dropout_kit.cluster.payload import Payload


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass
class ClassRun:
    outcomes: dict[str, Outcome]
    plan: Plan
    workers: int
    seconds: float

    @property
    def failed(self) -> list[str]:
        return sorted(s for s, o in self.outcomes.items() if o.status == "failed")

    @property
    def timed_out(self) -> list[str]:
        return sorted(s for s, o in self.outcomes.items() if o.status == "timeout")


def grade_class(course_root: Path, assignment: str, workers: int | None = None, force: bool = False,
                out=None, scheduler: str | None = None, second_try: bool = True) -> ClassRun:
    """Autogrades every collected submission of `assignment` that needs it, on a local Dask
    cluster of `workers` processes or on the cluster of `scheduler` (an address).
    `second_try`: a submission that timed out or failed is graded once more, alone (the
    audit turns it off: there a timeout is a finding, not bad luck)."""
    out = out or sys.stdout
    started = time.perf_counter()
    paths = CoursePaths.load(Path(course_root).resolve(), assignment)
    state = GradingState(paths)
    work = plan(paths, state, force)
    outcomes: dict[str, Outcome] = {}
    tempfolders.sweep()
    try:
        if not work.to_grade:
            print_plan(work, paths, 0, out)
        else:
            with GradingSession(paths, workers, scheduler, out, at_most=len(work.to_grade)) as session:
                print_plan(work, paths, session.workers, out)
                session.check()
                outcomes = session.grade(list(work.to_grade), state, second_try=second_try)
    finally:
        tempfolders.sweep()  # the cluster is closed: what its worker processes left, if they were killed
    run = ClassRun(outcomes, work, session.workers if work.to_grade else (workers or 0),
                   time.perf_counter() - started)
    print_summary(outcomes, work, run.seconds, paths, out)
    return run


class GradingSession:
    """What a grading run keeps open: the course's autograde application, the Dask cluster and
    the payload of checks sent with every notebook. `dropout-kit grade` opens one per run;
    grading on submission (dropout_kit.on_submission) keeps one open and grades each new
    submission with it, running the canary again only when the checks' fingerprint changes."""

    def __init__(self, paths: CoursePaths, workers: int | None, scheduler: str | None, out,
                 at_most: int | None = None):
        self.paths, self.scheduler, self.out = paths, scheduler, out
        self.requested, self.at_most = workers, at_most
        self.workers = 0
        self.fingerprint: str | None = None  # of the checks the canary passed
        self.payload: Payload | None = None
        self._open = contextlib.ExitStack()

    def __enter__(self) -> "GradingSession":
        try:
            self._open.enter_context(environment_kept())
            self._open.enter_context(working_directory(self.paths.root))
            self.app = load_autograde_app(self.paths.root, self.paths.assignment)
            kernel_mb = memory.kernel_memory_mb(self.app.config)
            workers = self.requested
            if not self.scheduler:
                workers, note = memory.local_workers(workers, default_workers(), kernel_mb)
                if note:
                    print(note, file=self.out)
            wanted = min(workers or 1, self.at_most) if self.at_most else (workers or 1)
            self.client = self._open.enter_context(cluster_client(self.scheduler, wanted))
            if self.scheduler:
                memory.check_cluster(self.client, kernel_mb)
            self.workers = slots(self.client)
        except BaseException:
            self._open.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._open.close()

    def check(self) -> None:
        """The canary (the instructor's solutions must get full marks: raises CanaryFailed) and
        the payload, for the checks as they are now; again only after they changed."""
        fingerprint = checks_fingerprint(self.paths)
        if fingerprint == self.fingerprint:
            return
        _canary(self.app, self.paths, self.out)
        self.payload = Payload.build(self.app.config, self.paths.root,
                                     Path(self.app.config.SafeExecute.grader_tests), self.paths.assignment)
        self.fingerprint = fingerprint

    def grade(self, students: list[str], state: GradingState, on_graded=None,
              second_try: bool = True) -> dict[str, Outcome]:
        """Grades `students`' collected submissions (a second try for each that timed out or
        failed), recording each in `state` as it finishes, then calling `on_graded(outcome)`."""
        outcomes: dict[str, Outcome] = {}
        record = _Recorder(outcomes, state, self.fingerprint, database_key(self.paths.db_url),
                           Progress(len(students), self.out), on_graded, second_try)
        with Coordinator(self.app, self.paths, self.client, self.payload, self.workers).recording() as coordinator:
            _grade_all(coordinator, students, self.workers, record)
        return outcomes


class _Recorder:
    """Takes each finished submission: its state, the progress line, a second try if needed."""

    def __init__(self, outcomes, state, checks, database, progress: Progress, on_graded=None,
                 second_try: bool = True):
        self.outcomes, self.state, self.checks, self.database = outcomes, state, checks, database
        self.progress = progress
        self.on_graded = on_graded
        self.second_try = second_try
        self.retry: list[str] = []

    def take(self, outcome: Outcome) -> None:
        if self.second_try and outcome.status != "graded" and outcome.attempts == 1:
            self.retry.append(outcome.student)
            self.progress.deferred(outcome)
            return
        self.outcomes[outcome.student] = outcome
        self.state.record(outcome, self.checks, self.database)
        self.progress.done(outcome)
        if self.on_graded is not None:
            self.on_graded(outcome)


def _grade_all(coordinator: Coordinator, students: list[str], workers: int, record: _Recorder) -> None:
    """A first try of every submission, `workers` at a time (one more waits its turn, so a
    worker never idles while the next notebook is prepared); then each that timed out or
    failed once more, alone on the cluster."""
    try:
        _grade_round(coordinator, students, workers + 1, 1, record)
        if record.retry:
            record.progress.note(f"grading {len(record.retry)} again, one at a time: {', '.join(record.retry)}")
            _grade_round(coordinator, record.retry, 1, 2, record)
    finally:
        record.progress.close()
    if isinstance(coordinator.stopping, Exception):
        raise coordinator.stopping


def _grade_round(coordinator: Coordinator, students: list[str], at_once: int, attempt: int,
                 record: _Recorder) -> None:
    coordinator.expect(len(students))
    threads = ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="grade")
    running = {threads.submit(coordinator.grade, student, attempt) for student in students}
    try:
        while running:
            done, running = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            for finished in done:
                _take(finished, record)
            record.progress.refresh()
    except BaseException as stop:  # Ctrl-C: keep what finished, cancel the rest
        coordinator.stop(stop)
        threads.shutdown(wait=True, cancel_futures=True)
        for finished in running:
            if finished.done() and not finished.cancelled():
                _take(finished, record)
        raise
    threads.shutdown(wait=True)


def _take(finished, record: _Recorder) -> None:
    try:
        outcome = finished.result()
    except RunStopped:
        return
    record.take(outcome)


def _canary(app, paths: CoursePaths, out) -> None:
    """The instructor's solutions through the same pipeline first (dropout_kit.engine.canary);
    raises CanaryFailed, and no student is graded, if they lose any point."""
    from dropout_kit.engine import canary
    grader_tests = app.config.SafeExecute.get("grader_tests")
    if not grader_tests:
        return
    source = paths.root / app.coursedir.source_directory / paths.assignment
    for notebook in sorted(source.glob("*.ipynb")):
        result = canary.ensure(app.config, Path(grader_tests), notebook, app.log, cached=False)
    print(f"canary: the instructor's solutions get full marks ({result.seconds:.1f} s)", file=out)
