"""`dropout-kit grade`: every collected submission of an assignment, in parallel, resumable,
with progress.

- The instructor's solutions are graded first (the canary, dropout_kit.engine.canary); a
  point lost there stops the run before any student is graded.
- Only what changed since the last run is graded (dropout_kit.classroom.changes).
- A submission in which a cell was stopped (the cell time limit, a kernel that stopped
  answering, the notebook's time limit, a dead kernel, a failed checker: see
  outcome.STOPPED_CELL_ERRORS) or that nbgrader failed to grade is graded again at the end,
  alone on the machine; if it happens again it is reported as such ("timeout", "failed"),
  never passed off as a plain grade.
"""
from __future__ import annotations

import sys
import time
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
from dropout_kit.classroom.course_paths import (
    CoursePaths,
    environment_kept,
    load_autograde_app,
)
from dropout_kit.classroom.outcome import Outcome
from dropout_kit.classroom.pool import WorkerPool, default_workers
from dropout_kit.classroom.progress import Progress


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
                out=None) -> ClassRun:
    """Autogrades every collected submission of `assignment` that needs it."""
    out = out or sys.stdout
    started = time.perf_counter()
    paths = CoursePaths.load(Path(course_root).resolve(), assignment)
    state = GradingState(paths)
    work = plan(paths, state, force)
    checks, database = checks_fingerprint(paths), database_key(paths.db_url)
    workers = max(1, min(workers or default_workers(), len(work.to_grade) or 1))
    print_plan(work, paths, workers, out)
    if work.to_grade:
        _canary(paths, out)
    outcomes: dict[str, Outcome] = {}
    if work.to_grade:
        progress = Progress(len(work.to_grade), out)
        pool = WorkerPool(paths, workers)
        try:
            retry = _run_parallel(pool, list(work.to_grade), workers, progress, outcomes, state, checks, database)
            if retry:
                progress.note(f"grading {len(retry)} again, one at a time: {', '.join(retry)}")
                _run_serial(pool, retry, progress, outcomes, state, checks, database)
        except BaseException:
            pool.kill()
            progress.close()
            raise
        pool.close()
        progress.close()
    run = ClassRun(outcomes, work, workers, time.perf_counter() - started)
    print_summary(outcomes, work, run.seconds, paths, out)
    return run


def _canary(paths: CoursePaths, out) -> None:
    """The instructor's solutions through the same pipeline first (dropout_kit.engine.canary);
    raises CanaryFailed, and no student is graded, if they lose any point."""
    from dropout_kit.engine import canary
    with environment_kept():
        app = load_autograde_app(paths.root, paths.assignment)
        grader_tests = app.config.SafeExecute.get("grader_tests")
        if not grader_tests:
            return
        source = paths.root / app.coursedir.source_directory / paths.assignment
        for notebook in sorted(source.glob("*.ipynb")):
            result = canary.ensure(app.config, Path(grader_tests), notebook, app.log, cached=False)
    print(f"canary: the instructor's solutions get full marks ({result.seconds:.1f} s)", file=out)


def _run_parallel(pool, students, workers, progress, outcomes, state, checks, database) -> list[str]:
    pending = list(students)
    retry = []
    while pending and len(pool.in_flight) + pool.queued < workers:
        pool.submit(pending.pop(0))
    while len(outcomes) + len(retry) < len(students):
        event = pool.next_event(wait=1.0)
        if event is None:
            progress.refresh()
            continue
        _, _, outcome = event
        if outcome.status == "graded":
            outcomes[outcome.student] = outcome
            state.record(outcome, checks, database)
            progress.done(outcome)
        else:
            retry.append(outcome.student)
            progress.deferred(outcome)
        if pending:
            pool.submit(pending.pop(0))
    return retry


def _run_serial(pool, students, progress, outcomes, state, checks, database) -> None:
    for student in students:
        pool.submit(student)
        while (event := pool.next_event(wait=1.0)) is None:
            progress.refresh()
        _, _, outcome = event
        outcome.attempts = 2
        outcomes[student] = outcome
        state.record(outcome, checks, database)
        progress.done(outcome)
