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
                out=None, scheduler: str | None = None) -> ClassRun:
    """Autogrades every collected submission of `assignment` that needs it, on a local Dask
    cluster of `workers` processes or on the cluster of `scheduler` (an address)."""
    out = out or sys.stdout
    started = time.perf_counter()
    paths = CoursePaths.load(Path(course_root).resolve(), assignment)
    state = GradingState(paths)
    work = plan(paths, state, force)
    checks, database = checks_fingerprint(paths), database_key(paths.db_url)
    outcomes: dict[str, Outcome] = {}
    tempfolders.sweep()
    try:
        if not work.to_grade:
            print_plan(work, paths, 0, out)
        else:
            with environment_kept(), working_directory(paths.root):
                app = load_autograde_app(paths.root, assignment)
                kernel_mb = memory.kernel_memory_mb(app.config)
                if not scheduler:
                    workers, note = memory.local_workers(workers, default_workers(), kernel_mb)
                    if note:
                        print(note, file=out)
                with cluster_client(scheduler, min(workers or 1, len(work.to_grade))) as client:
                    if scheduler:
                        memory.check_cluster(client, kernel_mb)
                    workers = slots(client)
                    print_plan(work, paths, workers, out)
                    _canary(app, paths, out)
                    payload = Payload.build(app.config, paths.root, Path(app.config.SafeExecute.grader_tests),
                                            assignment)
                    record = _Recorder(outcomes, state, checks, database, Progress(len(work.to_grade), out))
                    with Coordinator(app, paths, client, payload, workers).recording() as coordinator:
                        _grade_all(coordinator, list(work.to_grade), workers, record)
    finally:
        tempfolders.sweep()  # the cluster is closed: what its worker processes left, if they were killed
    run = ClassRun(outcomes, work, workers or 0, time.perf_counter() - started)
    print_summary(outcomes, work, run.seconds, paths, out)
    return run


class _Recorder:
    """Takes each finished submission: its state, the progress line, a second try if needed."""

    def __init__(self, outcomes, state, checks, database, progress: Progress):
        self.outcomes, self.state, self.checks, self.database = outcomes, state, checks, database
        self.progress = progress
        self.retry: list[str] = []

    def take(self, outcome: Outcome) -> None:
        if outcome.status != "graded" and outcome.attempts == 1:
            self.retry.append(outcome.student)
            self.progress.deferred(outcome)
            return
        self.outcomes[outcome.student] = outcome
        self.state.record(outcome, self.checks, self.database)
        self.progress.done(outcome)


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
