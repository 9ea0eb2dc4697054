"""Grades a whole class: every collected submission, in parallel, resumable, with progress.

Each worker is a long-lived process that loads the course's nbgrader configuration once
(exactly as `nbgrader autograde` does, so the course's sandbox and timeouts apply) and
then runs nbgrader's own Autograde converter for one student after another: nbgrader's
start-up is paid once per worker, not once per submission.

Why the rules below:
- Kernels run single-threaded (OMP/MKL/OpenBLAS threads = 1) and there is at most one
  worker per core: torch's default of one thread per core in every kernel oversubscribes
  the machine, stretches a 2 s training past the cell timeout and scores correct work 0.
- A submission in which a cell was stopped (the cell time limit: nbgrader writes a
  CellTimeoutError; or a kernel that stopped answering, the notebook's time limit, a dead
  kernel: see STOPPED_CELL_ERRORS) or that nbgrader failed to grade is graded again at the
  end, alone on the machine; if it happens again it is reported as such ("timeout",
  "failed"), never passed off as a plain grade.
- SQLite allows one writer at a time and nbgrader gives up on "database is locked", so
  with SQLite the workers take turns for everything except running the notebook (a lock
  held around each autograde and released while the kernel executes). The lock is a
  flock(2) on a file beside the grading record: the operating system drops it when its
  holder dies, so a worker killed while holding it cannot stall the others, and two
  `dropout-kit grade` runs on one gradebook take turns too. PostgreSQL takes concurrent
  writers as they come.
- A run remembers, per student, a checksum of what was graded (the submission's files and
  the hidden checks); the next run grades only what is new or changed, unless forced.
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import glob
import hashlib
import io
import json
import logging
import multiprocessing
import os
import queue
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dropout_kit import settings
from dropout_kit.cells import grade_id
from dropout_kit.fingerprint import folder_files, grading_fingerprint
from dropout_kit.progress import Progress

# Environment of every grading kernel (inherited from its worker).
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
# Error outputs that mean a cell was stopped rather than failed by the student's code:
# nbgrader's marker for c.Execute.timeout (Execute.error_on_timeout), and those of the
# course's hardened executor (dropout_kit.execute.SafeExecute). Load can cause any of them.
STOPPED_CELL_ERRORS = {
    "CellTimeoutError": "",
    "KernelUnresponsive": "unresponsive, kernel restarted",
    "NotExecuted": "notebook time limit",
    "CheckerFailed": "the checker process failed",
    "KernelDied": "kernel died",
}
STATE_VERSION = 1


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# -- the course as nbgrader sees it ---------------------------------------------------------

@contextlib.contextmanager
def _working_directory(path: Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def _environment_kept():
    """Undoes what loading a course config does to os.environ (nbgrader_config.py sets the
    hidden checks' folder and PATH for its grading kernels): a process that reads several
    courses' configs must not hand one course's settings to another's workers."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def load_autograde_app(course_root: Path, assignment: str = settings.ASSIGNMENT):
    """nbgrader's `autograde` application configured as `cd COURSE; nbgrader autograde
    ASSIGNMENT` would be: Jupyter config paths, then the course's nbgrader_config.py
    (which may set environment variables for the kernels, as in `nbgrader autograde`)."""
    from nbgrader.apps import AutogradeApp

    with _working_directory(course_root):
        app = AutogradeApp()
        app.initialize([assignment])
    app.coursedir.assignment_id = assignment
    return app


@dataclass(frozen=True)
class CoursePaths:
    """Where nbgrader keeps things for this course (read from its configuration)."""
    root: Path
    assignment: str
    db_url: str
    course_id: str
    submitted: str
    autograded: str

    @classmethod
    def load(cls, course_root: Path, assignment: str = settings.ASSIGNMENT) -> "CoursePaths":
        with _environment_kept():
            coursedir = load_autograde_app(course_root, assignment).coursedir
        return cls(Path(coursedir.root), assignment, coursedir.db_url, coursedir.course_id,
                   coursedir.submitted_directory, coursedir.autograded_directory)

    def submission_dir(self, student: str) -> Path:
        return self.root / self.submitted / student / self.assignment

    def autograded_dir(self, student: str) -> Path:
        return self.root / self.autograded / student / self.assignment

    @property
    def kit_dir(self) -> Path:
        """The kit's own records, beside nbgrader's autograded/ (hidden: not a student)."""
        return self.root / self.autograded / ".dropout-kit"

    @property
    def state_file(self) -> Path:
        return self.kit_dir / f"{self.assignment}-grading.json"

    @property
    def log_dir(self) -> Path:
        return self.kit_dir / "logs" / self.assignment

    @property
    def gradebook_lock(self) -> Path | None:
        """The file whose flock gives one grading process at a time the SQLite gradebook."""
        return self.kit_dir / "gradebook.lock" if self.db_url.startswith("sqlite") else None

    def students(self) -> list[str]:
        """Students with a collected submission holding at least one notebook."""
        pattern = str(self.root / self.submitted / "*" / self.assignment)
        return sorted(Path(folder).parent.name for folder in glob.glob(pattern)
                      if any(Path(folder).glob("*.ipynb")))


def place_submission(course_root: Path, student: str, notebook, when: datetime.datetime | None = None,
                     assignment: str = settings.ASSIGNMENT, filename: str = settings.NOTEBOOK) -> Path:
    """Puts a submission where `nbgrader collect` leaves it: submitted/<student>/<assignment>/
    with the notebook (a NotebookNode, or raw text) and timestamp.txt."""
    import nbformat

    folder = Path(course_root) / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    if isinstance(notebook, str):
        path.write_text(notebook, encoding="utf-8")
    else:
        nbformat.write(notebook, path)
    stamp = when or datetime.datetime.now(datetime.timezone.utc)
    (folder / "timestamp.txt").write_text(stamp.strftime("%Y-%m-%d %H:%M:%S.%f %Z"), encoding="utf-8")
    return path


def _digest(files: list[Path], base: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(files):
        sha.update(str(path.relative_to(base)).encode() + b"\0")
        sha.update(path.read_bytes() + b"\0")
    return sha.hexdigest()


def submission_checksum(paths: CoursePaths, student: str) -> str:
    return _digest(folder_files(paths.submission_dir(student)), paths.submission_dir(student))


def checks_fingerprint(paths: CoursePaths) -> str:
    """What grading depends on besides the submission (dropout_kit.fingerprint): a fix to a
    check, to the kit's own code or to the course configuration regrades every submission."""
    return grading_fingerprint(paths.root, paths.assignment)


def _database_key(db_url: str) -> str:
    return hashlib.sha256(db_url.encode()).hexdigest()[:16]


# -- what one grading of one student produced -------------------------------------------------

@dataclass
class Outcome:
    student: str
    status: str  # "graded", "timeout" (a cell hit the time limit) or "failed" (nbgrader gave up)
    seconds: float = 0.0  # wall time of this student's autograde in its worker
    cells_seconds: float = 0.0  # time the kernel spent executing the notebook's cells
    lock_wait_seconds: float = 0.0  # time spent waiting for the SQLite lock
    auto_score: float = 0.0
    auto_max: float = 0.0
    manual_pending: bool = False
    timed_out_cells: list[str] = field(default_factory=list)
    error: str = ""
    attempts: int = 1
    worker: int = 0
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


def _read_scores(db_url: str, course_id: str, assignment: str, student: str) -> tuple[float, float, bool]:
    """(auto points, auto maximum, manual grading pending) of one submission, from the
    gradebook; raises if nbgrader's grades did not reach it."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id) as gb:
        submission = gb.find_submission(assignment, student)
        grades = [g for notebook in submission.notebooks for g in notebook.grades]
        auto = [g for g in grades if g.auto_score is not None]
        if not auto:
            raise RuntimeError(f"no autograded cells recorded in the gradebook for {student}")
        return (float(sum(g.score for g in auto)), float(sum(g.max_score for g in auto)),
                any(g.needs_manual_grade for g in grades))


def complete_in_gradebook(paths: CoursePaths) -> set[str]:
    """Students whose submission of the assignment has its autograded cells scored."""
    from nbgrader.api import Gradebook, MissingEntry

    done = set()
    with Gradebook(paths.db_url, paths.course_id) as gb:
        try:
            submissions = gb.assignment_submissions(paths.assignment)
        except MissingEntry:
            return done
        for submission in submissions:
            grades = [g for notebook in submission.notebooks for g in notebook.grades]
            if grades and any(g.auto_score is not None for g in grades):
                done.add(submission.student.id)
    return done


# -- the worker process ----------------------------------------------------------------------

class GradebookLock:
    """The SQLite gradebook's lock (see the module's notes), counting how long this
    process waited for it. Closed, it is released."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        # Not inherited (O_CLOEXEC): a kernel started while it is held must not keep it.
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.waited = 0.0

    def acquire(self) -> None:
        started = time.perf_counter()
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        self.waited += time.perf_counter() - started

    def release(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _released_while_executing(preprocessor, lock: GradebookLock):
    """A subclass of an execution preprocessor that lets other workers use the database
    while this one's kernel runs the notebook."""
    from nbconvert.preprocessors import ExecutePreprocessor
    from traitlets.utils.importstring import import_item

    cls = import_item(preprocessor) if isinstance(preprocessor, str) else preprocessor
    if not (isinstance(cls, type) and issubclass(cls, ExecutePreprocessor)):
        return preprocessor

    class ReleasesDatabaseLock(cls):
        def preprocess(self, nb, resources, *args, **kwargs):
            lock.release()
            try:
                return super().preprocess(nb, resources, *args, **kwargs)
            finally:
                lock.acquire()

    return ReleasesDatabaseLock


def _redirect_output(log_file: Path) -> None:
    """The worker's and its kernels' console output go to a file, not the progress display."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _grade_one(app, paths: CoursePaths, student: str, worker: int) -> Outcome:
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
        converter.autograde_preprocessors = [_released_while_executing(pp, lock)
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
                outcome.auto_score, outcome.auto_max, outcome.manual_pending = _read_scores(
                    paths.db_url, paths.course_id, paths.assignment, student)
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


def _last_error_line(log: str, error: BaseException) -> str:
    errors = [line for line in log.splitlines() if line.startswith("[ERROR]")]
    interesting = [line for line in errors if "There was an error" not in line and "Please see" not in line]
    text = (interesting or errors or [f"{type(error).__name__}: {error}"])[0]
    return text.removeprefix("[ERROR] ").strip()[:300]


def _worker_main(worker: int, course_root: str, assignment: str, tasks, results) -> None:
    os.environ.update(SINGLE_THREAD_ENV)
    paths = None
    try:
        app = load_autograde_app(Path(course_root), assignment)
        coursedir = app.coursedir
        paths = CoursePaths(Path(coursedir.root), assignment, coursedir.db_url, coursedir.course_id,
                            coursedir.submitted_directory, coursedir.autograded_directory)
        _redirect_output(paths.log_dir / f"worker-{worker}.log")
        os.chdir(paths.root)
        results.put(("ready", worker, None))
        while (student := tasks.get()) is not None:
            results.put(("started", worker, student))
            results.put(("done", worker, asdict(_grade_one(app, paths, student, worker))))
    except KeyboardInterrupt:
        pass
    except BaseException:
        results.put(("crashed", worker, traceback.format_exc()))


# -- the run: what to grade, the pool, the record ----------------------------------------------

@dataclass
class Plan:
    to_grade: dict[str, str]  # student → why it is graded now
    unchanged: list[str]
    timed_out_before: list[str]


class GradingState:
    """The record of what was graded, kept in autograded/.dropout-kit/ (written after every
    submission, so an interrupted run resumes where it stopped)."""

    def __init__(self, paths: CoursePaths):
        self.paths = paths
        self.data = {"version": STATE_VERSION, "assignment": paths.assignment, "students": {}}
        if paths.state_file.is_file():
            try:
                loaded = json.loads(paths.state_file.read_text(encoding="utf-8"))
                if loaded.get("version") == STATE_VERSION:
                    self.data = loaded
            except ValueError:
                pass

    @property
    def students(self) -> dict[str, dict]:
        return self.data["students"]

    def record(self, outcome: Outcome, checks: str, database: str) -> None:
        self.students[outcome.student] = {**asdict(outcome), "checks": checks, "database": database}
        self.save()

    def save(self) -> None:
        self.paths.kit_dir.mkdir(parents=True, exist_ok=True)
        scratch = self.paths.state_file.with_suffix(".tmp")
        scratch.write_text(json.dumps(self.data, indent=1, ensure_ascii=False), encoding="utf-8")
        scratch.replace(self.paths.state_file)


def plan(paths: CoursePaths, state: GradingState, force: bool) -> Plan:
    checks = checks_fingerprint(paths)
    database = _database_key(paths.db_url)
    in_gradebook = complete_in_gradebook(paths)
    result = Plan({}, [], [])
    for student in paths.students():
        before = state.students.get(student)
        autograded = any(paths.autograded_dir(student).glob("*.ipynb"))
        if force:
            reason = "forced"
        elif before is None:
            reason = "new"
        elif before["checksum"] != submission_checksum(paths, student):
            reason = "resubmitted"
        elif before["checks"] != checks:
            reason = "hidden checks changed"
        elif before["status"] == "failed":
            reason = "failed before"
        elif before["database"] != database or student not in in_gradebook:
            reason = "not in this gradebook"
        elif not autograded:
            reason = "autograded files missing"
        else:
            result.unchanged.append(student)
            if before["status"] == "timeout":
                result.timed_out_before.append(student)
            continue
        result.to_grade[student] = reason
    return result


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


class _Pool:
    """Worker processes fed one student at a time (so the parent decides how many run)."""

    def __init__(self, paths: CoursePaths, workers: int):
        context = multiprocessing.get_context("spawn")
        self.tasks = context.Queue()
        self.results = context.Queue()
        self.processes = [context.Process(target=_worker_main, name=f"grader-{n}", daemon=True,
                                          args=(n, str(paths.root), paths.assignment,
                                                self.tasks, self.results))
                          for n in range(1, workers + 1)]
        self.in_flight: dict[int, str] = {}
        self.queued = 0
        self.last_crash = ""
        for process in self.processes:
            process.start()

    def submit(self, student: str) -> None:
        self.tasks.put(student)
        self.queued += 1

    def next_event(self, wait: float):
        """("done", worker, Outcome), ("lost", worker, Outcome) for a worker that died with a
        student, or None when nothing happened within `wait` seconds."""
        try:
            kind, worker, payload = self.results.get(timeout=wait)
        except queue.Empty:
            return self._check_alive()
        if kind == "started":
            self.in_flight[worker] = payload
            self.queued -= 1
            return self.next_event(0)
        if kind == "done":
            self.in_flight.pop(worker, None)
            return "done", worker, Outcome(**payload)
        if kind == "crashed":
            self.last_crash = payload
            student = self.in_flight.pop(worker, None)
            if student is not None:
                return "lost", worker, Outcome(student, "failed", worker=worker,
                                               error=payload.strip().splitlines()[-1][:300])
        return None

    def _check_alive(self):
        for number, process in enumerate(self.processes, start=1):
            if not process.is_alive() and number in self.in_flight:
                student = self.in_flight.pop(number)
                return "lost", number, Outcome(student, "failed", worker=number,
                                               error=f"grading worker exited with code {process.exitcode}")
        if not self.alive:
            raise RuntimeError("every grading worker has stopped" +
                               (f"; the last one said:\n{self.last_crash}" if self.last_crash else ""))
        return None

    @property
    def alive(self) -> int:
        return sum(p.is_alive() for p in self.processes)

    def close(self) -> None:
        for _ in self.processes:
            self.tasks.put(None)
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)

    def kill(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            process.join(timeout=5)


def grade_class(course_root: Path, workers: int | None = None, force: bool = False,
                out=None, assignment: str = settings.ASSIGNMENT) -> ClassRun:
    """Autogrades every collected submission of `assignment` that needs it."""
    out = out or sys.stdout
    started = time.perf_counter()
    paths = CoursePaths.load(Path(course_root).resolve(), assignment)
    state = GradingState(paths)
    work = plan(paths, state, force)
    checks, database = checks_fingerprint(paths), _database_key(paths.db_url)
    workers = max(1, min(workers or default_workers(), len(work.to_grade) or 1))
    _print_plan(work, paths, workers, out)
    if work.to_grade:
        _canary(paths, out)
    outcomes: dict[str, Outcome] = {}
    if work.to_grade:
        progress = Progress(len(work.to_grade), out)
        pool = _Pool(paths, workers)
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
    _print_summary(run, paths, out)
    return run


def _canary(paths: CoursePaths, out) -> None:
    """The instructor's solutions through the same pipeline first (dropout_kit.canary);
    raises CanaryFailed, and no student is graded, if they lose any point."""
    from dropout_kit import canary
    with _environment_kept():
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


def _print_plan(work: Plan, paths: CoursePaths, workers: int, out) -> None:
    reasons: dict[str, int] = {}
    for why in work.to_grade.values():
        reasons[why] = reasons.get(why, 0) + 1
    detail = ", ".join(f"{n} {why}" for why, n in reasons.items())
    print(f"{paths.assignment}: {len(work.to_grade) + len(work.unchanged)} submissions; "
          f"{len(work.to_grade)} to grade" + (f" ({detail})" if detail else "") +
          f", {len(work.unchanged)} unchanged" +
          (f"; {workers} worker(s), 1 thread per kernel" if work.to_grade else ""), file=out, flush=True)


def _print_summary(run: ClassRun, paths: CoursePaths, out) -> None:
    graded = sum(o.status == "graded" for o in run.outcomes.values())
    print(f"Done in {run.seconds:.1f} s: {graded} graded, {len(run.timed_out)} timed out, "
          f"{len(run.failed)} failed, {len(run.plan.unchanged)} unchanged.", file=out)
    if run.timed_out:
        print("Timed out twice (the second time alone on the machine), so the student's code is "
              "the likely cause; their timed-out cells scored 0: "
              + ", ".join(f"{s} ({', '.join(run.outcomes[s].timed_out_cells)})" for s in run.timed_out), file=out)
    if run.plan.timed_out_before:
        print("Timed out in an earlier run (not regraded; use --force to try again): "
              + ", ".join(run.plan.timed_out_before), file=out)
    if run.failed:
        print("NOT graded (nbgrader failed twice; logs in "
              f"{paths.log_dir.relative_to(paths.root)}/): "
              + ", ".join(f"{s} ({run.outcomes[s].error})" for s in run.failed), file=out)
    out.flush()
