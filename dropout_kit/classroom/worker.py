"""A grading worker: a long-lived process that loads the course's nbgrader configuration once
(exactly as `nbgrader autograde` does, so the course's sandbox and timeouts apply) and then
runs nbgrader's own Autograde converter for one student after another: nbgrader's start-up
is paid once per worker, not once per submission.
"""
from __future__ import annotations

import contextlib
import datetime
import io
import logging
import os
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

from dropout_kit.classroom.changes import submission_checksum
from dropout_kit.classroom.course_paths import CoursePaths, load_autograde_app
from dropout_kit.classroom.gradebook import auto_totals, cell_grades
from dropout_kit.classroom.gradebook_lock import GradebookLock, released_while_executing
from dropout_kit.classroom.outcome import Outcome, inspect_autograded
from dropout_kit.engine.sandbox_kernel_manager import SINGLE_THREAD_ENV


def _redirect_output(log_file: Path) -> None:
    """The worker's and its kernels' console output go to a file, not the progress display."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def grade_one(app, paths: CoursePaths, student: str, worker: int) -> Outcome:
    from nbgrader.converters import Autograde

    checksum = submission_checksum(paths, student)
    coursedir = app.coursedir
    coursedir.assignment_id = paths.assignment
    coursedir.student_id = student
    converter = Autograde(coursedir=coursedir, parent=app)
    converter.force = True
    converter.create_student = True
    lock = GradebookLock(paths.gradebook_lock) if paths.gradebook_lock is not None else None
    if lock is not None:
        converter.autograde_preprocessors = [released_while_executing(pp, lock)
                                             for pp in converter.autograde_preprocessors]
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    app.log.addHandler(handler)
    outcome = Outcome(student, "graded", worker=worker, checksum=checksum)
    started = time.perf_counter()
    try:
        with lock if lock is not None else contextlib.nullcontext():
            try:
                converter.start()
                outcome.auto_score, outcome.auto_max, outcome.manual_pending = recorded_scores(paths, student)
            except BaseException as error:  # nbgrader exits through SystemExit too
                if isinstance(error, KeyboardInterrupt):
                    raise
                outcome.status = "failed"
                handed_in = sorted(p.name for p in paths.submission_dir(student).iterdir())
                outcome.error = (f"{_last_error_line(captured.getvalue(), error)} "
                                 f"[handed in: {', '.join(handed_in) or 'nothing'}]")
                captured.write(traceback.format_exc())
    finally:
        outcome.seconds = time.perf_counter() - started
        if lock is not None:
            outcome.lock_wait_seconds = lock.waited
            lock.close()
        app.log.removeHandler(handler)
        paths.log_dir.mkdir(parents=True, exist_ok=True)
        (paths.log_dir / f"{student}.log").write_text(captured.getvalue(), encoding="utf-8")
    timed_out, outcome.cells_seconds = inspect_autograded(paths.autograded_dir(student))
    if outcome.status == "graded" and timed_out:
        outcome.status = "timeout"
        outcome.timed_out_cells = timed_out
    outcome.graded_at = datetime.datetime.now().isoformat(timespec="seconds")
    return outcome


def recorded_scores(paths: CoursePaths, student: str) -> tuple[float, float, bool]:
    """What the gradebook holds for the submission; raises if nbgrader's grades did not reach it."""
    cells = cell_grades(paths.db_url, paths.assignment, paths.course_id, student).get(student, {})
    if not any(grade.auto for grade in cells.values()):
        raise RuntimeError(f"no autograded cells recorded in the gradebook for {student}")
    return auto_totals(cells)


def _last_error_line(log: str, error: BaseException) -> str:
    errors = [line for line in log.splitlines() if line.startswith("[ERROR]")]
    interesting = [line for line in errors if "There was an error" not in line and "Please see" not in line]
    text = (interesting or errors or [f"{type(error).__name__}: {error}"])[0]
    return text.removeprefix("[ERROR] ").strip()[:300]


def worker_main(worker: int, course_root: str, assignment: str, tasks, results) -> None:
    os.environ.update(SINGLE_THREAD_ENV)
    paths = None
    try:
        app = load_autograde_app(Path(course_root), assignment)
        paths = CoursePaths.from_app(app)
        _redirect_output(paths.log_dir / f"worker-{worker}.log")
        os.chdir(paths.root)
        results.put(("ready", worker, None))
        while (student := tasks.get()) is not None:
            results.put(("started", worker, student))
            results.put(("done", worker, asdict(grade_one(app, paths, student, worker))))
    except KeyboardInterrupt:
        pass
    except BaseException:
        results.put(("crashed", worker, traceback.format_exc()))
