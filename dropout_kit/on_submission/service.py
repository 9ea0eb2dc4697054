"""The service: notices each new submission in inbound/ (polled every
c.GradeOnSubmission.poll_seconds), collects that student's latest submission with nbgrader's
own collect (the kit's, which refuses forged folders), grades it with the kit's engine (the
same GradingSession as `dropout-kit grade`, kept open: its Dask cluster, and the canary again
only when the checks change), then generates and releases that student's feedback.

Every step is written to the journal (dropout_kit.on_submission.journal) before the next, so
a restarted service (SIGTERM, SIGKILL) picks up exactly what was left. The latest submission
of a student counts; older ones waiting are superseded, and each gets a status page.
"""
from __future__ import annotations

import copy
import datetime
import logging
import threading
import time
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps.api import NbGraderAPI
from nbgrader.utils import capture_log, temp_attrs

from dropout_kit.classroom.changes import GradingState
from dropout_kit.classroom.course_paths import CoursePaths, environment_kept, load_autograde_app
from dropout_kit.classroom.grade_class import GradingSession
from dropout_kit.cluster.payload import WorkerMismatch
from dropout_kit.exchange import check_submission
from dropout_kit.exchange.refusal_record import append_refusals
from dropout_kit.on_submission import control, status_page
from dropout_kit.on_submission.inbound import Submission, put_page, submissions
from dropout_kit.on_submission.journal import Journal
from dropout_kit.on_submission.policy import GradeOnSubmission

HOUR = 3600.0
RETRY_SECONDS = 30.0
DUE_DATE_SECONDS = 30.0  # a due date changed in the formgrader counts after at most this long


class AlreadyRunning(RuntimeError):
    pass


class KitChanged(RuntimeError):
    """The kit's code on disk is not the code this process runs (an upgrade): new grading
    processes would refuse its notebooks, so the service ends and is started again."""


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class Service:
    def __init__(self, course_root: Path, assignment: str, log: logging.Logger):
        self.paths = CoursePaths.load(Path(course_root).resolve(), assignment)
        self.assignment = assignment
        self.log = log
        with environment_kept():
            config = load_autograde_app(self.paths.root, assignment).config
        self.policy = GradeOnSubmission(config=config)
        self.exchange = Path(config.Exchange.root) / self.paths.course_id
        self.folder = control.Folder(self.paths)
        self.pages: dict[str, str] = {}  # folder → the status page put there last
        self.lock = threading.RLock()  # the journal, the pages and the health: watcher and grader
        self.releasing: set[str] = set()  # folders whose feedback is being released
        self.grading: set[str] = set()  # folders collected for the batch being graded
        self._due_read: tuple[float, datetime.datetime | None] = (-DUE_DATE_SECONDS - 1, None)
        self.health = {"assignment": assignment, "started": time.time(), "last_event": None,
                       "queue": 0, "last_error": None, "canary": "not run yet", "paused": False,
                       "after_deadline": False, "graded": 0, "refused": 0}

    # -- running --------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Until `stop`: a watcher thread notices submissions and keeps their status pages and
        the health current (within poll_seconds, even while a notebook is graded); this thread
        grades what is due, one batch at a time."""
        if self.assignment not in self.policy.assignments:
            raise SystemExit(f"grading on submission is off for '{self.assignment}': add it to "
                             "c.GradeOnSubmission.assignments in nbgrader_config.py")
        lock = self.folder.hold_lock()
        if lock is None:
            raise AlreadyRunning(f"a service already grades '{self.assignment}' on submission "
                                 f"(lock {self.folder.lock})")
        control.serving_here = True
        self.journal = Journal(self.folder.journal)
        self.state = GradingState(self.paths)
        self.due: list[Submission] = []
        self.work = threading.Event()  # something may be due
        watching = threading.Event()  # set when the grader has stopped: the watcher goes on till then
        watcher = threading.Thread(target=self._watch, args=(watching,), name="watch-inbound", daemon=True)
        watcher.start()
        try:
            with GradingSession(self.paths, self.policy.workers or None, None,
                                _LogStream(self.log)) as session:
                self.session = session
                self.log.info("grading '%s' on submission: %d worker(s), inbound %s",
                              self.assignment, session.workers, self.exchange / "inbound")
                self._grade_until(stop)
        finally:
            watching.set()
            watcher.join()
            self.journal.close()
            control.serving_here = False
            lock.close()

    def _watch(self, until: threading.Event) -> None:
        while not until.is_set():
            with self.lock:
                try:
                    self.notice()
                    self.due = self.sort_pending()
                except Exception as error:  # noqa: BLE001 - the service reports and goes on
                    self._error(error)
                self.folder.write_health(self.health)
            if self.due or self.folder.regrade_request.exists():
                self.work.set()
            until.wait(self.policy.poll_seconds)

    def _grade_until(self, stop: threading.Event) -> None:
        """Grades what is due until `stop`. After an error, waits RETRY_SECONDS before trying
        again. Raises KitChanged when the kit was upgraded under the running service."""
        while not stop.is_set():
            if not self.work.wait(timeout=self.policy.poll_seconds):
                continue
            self.work.clear()
            try:
                if self.folder.take_regrade_request():
                    self.regrade_all()
                else:
                    with self.lock:
                        due = list(self.due)
                    if due:
                        self.grade(due)
            except WorkerMismatch as changed:
                raise KitChanged(f"the kit changed since the service started ({changed}); start "
                                 "the service again (on JupyterHub the hub restarts it)") from changed
            except Exception as error:  # noqa: BLE001 - the service reports and goes on
                self._error(error)
                stop.wait(RETRY_SECONDS)

    def _error(self, error: BaseException) -> None:
        self.log.exception("grading on submission: %s", error)
        self.health["last_error"] = f"{time.strftime('%H:%M:%S')} {type(error).__name__}: {error}"

    # -- noticing ---------------------------------------------------------------------------
    def notice(self) -> None:
        """New folders in inbound/: refused (forged) or journaled as seen."""
        known = self.journal.state
        for submission in sorted(submissions(self.exchange / "inbound", self.assignment),
                                 key=lambda s: s.timestamp):
            if submission.name in known.seen or submission.name in known.done:
                continue
            if not submission.settled(time.time()):  # nbgrader submit is still writing it
                continue
            refusal = check_submission(submission.folder, now_utc(), assignment=self.assignment)
            if refusal is not None:
                self.journal.write("refused", folder=submission.name, student=submission.student,
                                   reason=refusal.detail)
                append_refusals(self.paths.root, [refusal], course_id=self.paths.course_id,
                                assignment=self.assignment)
                self.log.error("refused %s: %s", submission.name, refusal.detail)
                self.health["refused"] += 1
                self._event("refused", submission)
                continue
            self.journal.write("seen", folder=submission.name, student=submission.student,
                               timestamp=submission.timestamp)
            self._event("seen", submission)

    def sort_pending(self) -> list[Submission]:
        """The latest waiting submission of each student, in the order they came; every other
        waiting one superseded; each told where it stands (a status page)."""
        known = self.journal.state
        latest = known.latest()
        for name, event in list(known.seen.items()):
            later = latest[event["student"]]
            if name not in known.done and name != later["folder"] and name not in self.grading:
                self.journal.write("superseded", folder=name, student=event["student"], by=later["folder"])
                self._page(self._submission(event), status_page.superseded(
                    self._when(event), self._when(later)))
        paused = self.health["paused"] = self.folder.paused
        gradebook_due = self._gradebook_due()
        self.health["after_deadline"] = self._every_deadline_passed(gradebook_due)
        course_deadline = self.policy.deadline(self.assignment, None, gradebook_due)
        self.health["deadline"] = None if course_deadline is None else self.policy.local(course_deadline)
        due = []
        for event in sorted(known.pending().values(), key=lambda e: e["at"]):
            submission = self._submission(event)
            deadline = self.policy.deadline(self.assignment, submission.student, gradebook_due)
            if deadline is not None and submission.moment > deadline:
                self.journal.write("late", folder=submission.name, student=submission.student)
                self._page(submission, status_page.after_deadline(self._when(event),
                                                                  self.policy.local(deadline)))
                continue
            if paused:
                self._page(submission, status_page.paused(self._when(event)))
                continue
            recent = [at for at in known.graded_at.get(submission.student, []) if at > time.time() - HOUR]
            if len(recent) >= self.policy.per_hour:
                when = datetime.datetime.fromtimestamp(min(recent) + HOUR, datetime.timezone.utc)
                self._page(submission, status_page.waiting_for_rate(
                    self._when(event), self.policy.per_hour, self.policy.local(when)))
                continue
            due.append(submission)
        for position, submission in enumerate(due, start=1):
            if submission.name not in known.graded:
                self._page(submission, status_page.queued(self._when(known.seen[submission.name]), position))
        self.health["queue"] = len(due)
        return due

    # -- grading ----------------------------------------------------------------------------
    def grade(self, due: list[Submission]) -> None:
        """Collects and grades the due submissions; each one's feedback is released as soon as
        its notebook is graded, not when the whole batch is."""
        known = self.journal.state
        due = [s for s in due if s.name not in known.done]  # the watcher's list may be a moment old
        for submission in [s for s in due if s.name in known.graded]:  # killed before release
            self.release(submission)
        collected = [s for s in due if s.name not in known.graded and self.collect(s)]
        if not collected or not self._canary_passes():
            self._grading_done(collected)
            return
        by_student = {s.student: s for s in collected}

        def graded(outcome) -> None:
            submission = by_student[outcome.student]
            self.journal.write("graded", folder=submission.name, student=submission.student,
                               status=outcome.status, seconds=round(outcome.seconds, 2))
            self.health["graded"] += 1
            self._event("graded", submission)
            self.release(submission)

        try:
            self.session.grade(list(by_student), self.state, on_graded=graded)
        finally:
            self._grading_done(collected)

    def _grading_done(self, submissions: list[Submission]) -> None:
        with self.lock:
            self.grading.difference_update(s.name for s in submissions)

    def collect(self, submission: Submission) -> bool:
        """The student's latest submission into submitted/, with nbgrader's collect (update on)."""
        api = self._api()
        with temp_attrs(api.coursedir, assignment_id=self.assignment, student_id=submission.student):
            collect = api.exchange.Collect(coursedir=api.coursedir, authenticator=api.authenticator,
                                           parent=api)
            collect.update = True
            result = capture_log(collect)
        stamp = self.paths.submission_dir(submission.student) / "timestamp.txt"
        collected = stamp.read_text().strip() if stamp.exists() else None
        if not result["success"] or collected is None:
            self._failed(submission, f"collect failed: {result.get('error') or result.get('log')}")
            return False
        if collected != submission.timestamp:
            # A later submission arrived since the scan: the next scan notices it, and it supersedes this one.
            self.log.info("collect of %s found a later submission (%s)", submission.name, collected)
            return False
        with self.lock:  # a later submission waits for the next batch; this one is not superseded
            self.grading.add(submission.name)
        self.journal.write("collected", folder=submission.name, student=submission.student)
        return True

    def release(self, submission: Submission) -> None:
        with self.lock:  # from now on the watcher leaves this submission's page alone
            self.releasing.add(submission.name)
        api = self._api(level=self._feedback_level(submission))
        generated = api.generate_feedback(self.assignment, submission.student, force=True)
        released = api.release_feedback(self.assignment, submission.student) if generated["success"] else None
        if not generated["success"] or not released["success"]:
            failed = released if generated["success"] else generated
            self._failed(submission, f"feedback failed: {failed.get('error') or failed.get('log')}")
            return
        self.journal.write("released", folder=submission.name, student=submission.student)
        self.pages.pop(submission.name, None)
        self._event("released", submission)

    def regrade_all(self) -> None:
        """The instructor's request: every collected submission graded again, feedback released."""
        students = self.paths.students()
        self.log.info("regrading all %d submissions of '%s'", len(students), self.assignment)
        if not students or not self._canary_passes():
            return
        self.session.grade(students, self.state)
        for student in students:
            stamp = (self.paths.submission_dir(student) / "timestamp.txt").read_text().strip()
            name = next((n for n, e in self.journal.state.seen.items()
                         if e["student"] == student and e["timestamp"] == stamp), None)
            submission = self._submission({"folder": name or f"{student}+{self.assignment}+{stamp}+?",
                                           "student": student, "timestamp": stamp})
            self.release(submission)

    def _canary_passes(self) -> bool:
        from dropout_kit.engine.canary import CanaryFailed
        try:
            self.session.check()
        except CanaryFailed as failure:
            self.health["canary"] = f"FAILED: {failure}"
            self.health["last_error"] = f"{time.strftime('%H:%M:%S')} canary failed: nothing graded"
            self.log.error("canary failed, nothing graded until the checks change: %s", failure)
            return False
        self.health["canary"] = f"passed {time.strftime('%Y-%m-%d %H:%M:%S')}"
        return True

    # -- helpers ----------------------------------------------------------------------------
    def _api(self, level: str | None = None) -> NbGraderAPI:
        config = copy.deepcopy(self.session.app.config)
        if level is not None:
            config.FeedbackDetail.level = level
        return NbGraderAPI(config=config)

    def _feedback_level(self, submission: Submission) -> str:
        deadline = self.policy.deadline(self.assignment, submission.student, self._gradebook_due())
        if deadline is not None and now_utc() <= deadline:
            return self.policy.feedback_before_deadline
        return "checks"

    def _every_deadline_passed(self, gradebook_due: datetime.datetime | None) -> bool:
        """Past the course's deadline and every extension: nothing more is graded on
        submission, and nbgrader's autograde may write the gradebook again."""
        students = self.policy.extensions.get(self.assignment, {})
        deadlines = [self.policy.deadline(self.assignment, s, gradebook_due) for s in [None, *students]]
        return all(d is not None for d in deadlines) and now_utc() > max(deadlines)

    def _gradebook_due(self) -> datetime.datetime | None:
        """The assignment's due date in the gradebook, read at most every DUE_DATE_SECONDS (the
        watcher asks every poll; opening the gradebook that often competes with grading's writes)."""
        read_at, due = self._due_read
        if time.monotonic() - read_at > DUE_DATE_SECONDS:
            try:
                with Gradebook(self.paths.db_url, self.paths.course_id) as gb:
                    due = gb.find_assignment(self.assignment).duedate
            except MissingEntry:
                due = None
            self._due_read = (time.monotonic(), due)
        return due

    def _failed(self, submission: Submission, error: str) -> None:
        self.journal.write("failed", folder=submission.name, student=submission.student, error=error[-2000:])
        self.log.error("%s: %s", submission.name, error)
        self.health["last_error"] = f"{time.strftime('%H:%M:%S')} {submission.name}: {error[-300:]}"
        with self.lock:
            self.releasing.discard(submission.name)
            self._page(submission, status_page.failed(self._when({"timestamp": submission.timestamp})))

    def _page(self, submission: Submission, html: str) -> None:
        with self.lock:
            if self.pages.get(submission.name) == html or submission.name in self.releasing:
                return
            for page in submission.feedback_pages(self.exchange):
                put_page(page, html)
            self.pages[submission.name] = html

    def _submission(self, event: dict) -> Submission:
        return Submission(self.exchange / "inbound" / event["folder"], event["student"], event["timestamp"])

    def _when(self, event: dict) -> str:
        return self.policy.local(self._submission({"folder": "", **event}).moment)

    def _event(self, what: str, submission: Submission) -> None:
        self.health["last_event"] = {"event": what, "folder": submission.name, "at": time.time()}


class _LogStream:
    """The grading session's console lines (plan, canary, progress) into the service's log."""

    def __init__(self, log: logging.Logger):
        self.log = log

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                self.log.info("%s", line.rstrip())
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
