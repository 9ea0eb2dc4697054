"""Grading on submission, driven as a class would drive it: a scratch course with its own
exchange, students who are real Unix users handing in with nbgrader's own submit, and the
service (`dropout-kit on-submission run`) as a process of its own. Most of it is waiting
(kernels, polls), so it starts as soon as the session's tests are collected and runs beside
the others (`start_if_selected`, from tests/conftest.py); test_on_submission.py reads what
it observed.

The scenario, in order:
  before the service starts: A hands in the reference; B hands in a notebook that does not
  scale, then the fixed one (the first is superseded, only the latest graded); A drops a
  folder in B's name, and B one dated 40 minutes ahead (both refused);
  the service starts, grades A and B, releases their feedback (students fetch it);
  nbgrader's autograde of the course is refused while the service grades;
  A hands in a notebook predicting in training mode; the service is killed (SIGKILL) once that
  submission is collected and started again: it resumes from its journal;
  the service is paused (the instructor's command), then stopped with SIGTERM.
"""
from __future__ import annotations

import datetime
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import dropout_assignment as dropout
import nbformat

from dropout_kit.harness import samples
from dropout_kit.harness.commands import BIN, environment, nbgrader
from dropout_kit.harness.course import Course, copy_course
from dropout_kit.harness.unix_students import STUDENT_BIN, UnixStudents

MODULE = "test_on_submission.py"
REPO = Path(__file__).resolve().parent.parent
COURSE_ID = "dl-dropout"
WAIT_SECONDS = 900.0
CONFIG = """
# tests/on_submission_round.py
c.GradeOnSubmission.assignments = ["dropout"]
c.GradeOnSubmission.poll_seconds = 0.5
c.GradeOnSubmission.workers = 1
"""


def can_run_on_submission_round() -> bool:
    """Unix students need root, and an nbgrader every user can run (the hub's environment)."""
    return os.geteuid() == 0 and (STUDENT_BIN / "nbgrader").exists()


@dataclass
class Observed:
    course: Path
    students: dict[str, str] = field(default_factory=dict)  # role (a, b) → Unix user
    submissions: dict[str, str] = field(default_factory=dict)  # what → inbound folder name
    feedback: dict[str, dict[str, str]] = field(default_factory=dict)  # moment → {timestamp: page}
    autograde_while_serving: subprocess.CompletedProcess | None = None
    pause: subprocess.CompletedProcess | None = None
    status_paused: subprocess.CompletedProcess | None = None
    exit_codes: list[int] = field(default_factory=list)  # each service run's, in order
    error: str = ""

    @property
    def journal(self) -> list[dict]:
        path = self.course / "autograded" / ".dropout-kit" / "on-submission" / "dropout" / "journal.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def events(self, folder: str, kind: str) -> list[dict]:
        return [e for e in self.journal if e.get("folder") == folder and e["event"] == kind]

    @property
    def service_log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.course.parent.glob("service-*.log")))


# Students (other Unix users) must reach the exchange and their homes: pytest's folders are 0700.
MACHINE_TMP = tempfile.gettempdir()


_started: OnSubmissionRound | None = None


def start_if_selected(items) -> None:
    """pytest_collection_finish: the round starts if test_on_submission.py is to run."""
    global _started
    if any(item.path.name == MODULE for item in items) and can_run_on_submission_round():
        _started = OnSubmissionRound()


def started_round() -> OnSubmissionRound | None:
    return _started


def stop_started() -> None:
    """pytest_sessionfinish: whatever the tests saw, the users and folders go."""
    if _started is not None:
        _started.stop()


class OnSubmissionRound:
    def __init__(self):
        self.dest = Path(tempfile.mkdtemp(prefix="dk-on-submission-", dir=MACHINE_TMP))
        os.chmod(self.dest, 0o755)
        tmp = self.dest / "tmp"  # the service's and its kernels' own temporary folder
        tmp.mkdir()
        self.env = {"TMPDIR": str(tmp)}
        self.observed = Observed(self.dest / "course")
        self.service: subprocess.Popen | None = None
        self.runs = 0
        self.students: UnixStudents | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._drive, name="on-submission-round", daemon=True)
        self._thread.start()

    def wait(self) -> Observed:
        self._thread.join()
        return self.observed

    def stop(self) -> None:
        self._stopping.set()  # a session cut short does not wait for the scenario's end
        self._thread.join()
        shutil.rmtree(self.dest, ignore_errors=True)

    # -- the scenario -------------------------------------------------------------------------
    def _drive(self) -> None:
        seen = self.observed
        try:
            course = self._course()
            tag = secrets.token_hex(2)
            self.students = UnixStudents([f"ks{tag}-a", f"ks{tag}-b"], self.dest / "homes",
                                         self.dest / "exchange", COURSE_ID, dropout.ASSIGNMENT)
            a, b = self.students.students
            seen.students = {"a": a.user, "b": b.user}
            reference = samples.reference_answers(dropout.source_notebook(course))
            mistakes = samples.mistakes(dropout.in_course(course))
            release = dropout.release_notebook(course)
            seen.submissions["a"] = self._hand_in(a, samples.assemble(release, reference))
            seen.submissions["b-first"] = self._hand_in(
                b, samples.assemble(release, {**reference, **mistakes["no-scaling"]}))
            seen.submissions["b"] = self._hand_in(b, samples.assemble(release, reference))
            seen.submissions["forged-as-b"] = self._drop_folder(a, b.user, datetime.timedelta(0))
            seen.submissions["b-future"] = self._drop_folder(b, b.user, datetime.timedelta(minutes=40))

            self._start_service()
            self._wait_for("released", seen.submissions["a"], seen.submissions["b"])
            seen.feedback["first"] = self._fetch_all()
            seen.autograde_while_serving = nbgrader("autograde", dropout.ASSIGNMENT, "--force",
                                                   cwd=course, env=self._env(), check=False)

            seen.submissions["a-second"] = self._hand_in(
                a, samples.assemble(release, {**reference, **mistakes["no-eval-mode"]}))
            self._wait_for("collected", seen.submissions["a-second"])
            self.service.send_signal(signal.SIGKILL)
            seen.exit_codes.append(self.service.wait())
            self._start_service()
            self._wait_for("released", seen.submissions["a-second"])
            seen.feedback["after-restart"] = self._fetch_all()

            seen.pause = self._kit("on-submission", "pause")
            seen.status_paused = self._kit("on-submission", "status")
            self.service.send_signal(signal.SIGTERM)
            seen.exit_codes.append(self.service.wait(timeout=120))
        except BaseException:  # noqa: BLE001 - reported by the tests
            seen.error = traceback.format_exc()
        finally:
            if self.service is not None and self.service.poll() is None:
                self.service.kill()
                self.service.wait()
            if self.students is not None:
                self.students.remove()

    def _course(self) -> Path:
        course = copy_course(REPO, self.observed.course)
        with open(course / "nbgrader_config.py", "a") as config:
            config.write(CONFIG)
        exchange = self.dest / "exchange"
        exchange.mkdir()
        os.chmod(exchange, 0o1777)
        Course(course, exchange, dropout.ASSIGNMENT, COURSE_ID).release()
        return course

    def _env(self) -> dict[str, str]:
        return {**self.env, "NBGRADER_EXCHANGE_ROOT": str(self.dest / "exchange")}

    def _kit(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "dropout-kit"), *args, "--course", str(self.observed.course),
                               "--assignment", dropout.ASSIGNMENT], env=environment(self._env()),
                              capture_output=True, text=True, timeout=300)

    def _start_service(self) -> None:
        self.runs += 1
        log = open(self.dest / f"service-{self.runs}.log", "w")
        self.service = subprocess.Popen(
            [str(BIN / "dropout-kit"), "on-submission", "run", "--course", str(self.observed.course),
             "--assignment", dropout.ASSIGNMENT],
            env=environment(self._env()), stdout=log, stderr=subprocess.STDOUT)

    def _hand_in(self, student, notebook: nbformat.NotebookNode) -> str:
        inbound = self.dest / "exchange" / COURSE_ID / "inbound"
        before = set(os.listdir(inbound)) if inbound.exists() else set()
        self.students.submit(student, notebook)
        (made,) = set(os.listdir(inbound)) - before
        return made

    def _drop_folder(self, owner, named: str, ahead: datetime.timedelta) -> str:
        """A folder made in inbound/ by `owner` (as that Unix user), named as `named`'s submission."""
        moment = datetime.datetime.now(datetime.timezone.utc) + ahead
        stamp = moment.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
        name = f"{named}+{dropout.ASSIGNMENT}+{stamp}+{secrets.token_urlsafe(6)}"
        folder = self.dest / "exchange" / COURSE_ID / "inbound" / name
        notebook = owner.home / dropout.ASSIGNMENT / f"{dropout.ASSIGNMENT}.ipynb"
        script = (f"import os, shutil; os.mkdir({str(folder)!r}); "
                  f"shutil.copy({str(notebook)!r}, {str(folder)!r}); "
                  f"open(os.path.join({str(folder)!r}, 'timestamp.txt'), 'w').write({stamp!r}); "
                  f"open(os.path.join({str(folder)!r}, 'submission_secret.txt'), 'w').write('forged')")
        subprocess.run(["/usr/bin/python3", "-c", script], user=owner.uid, group=owner.gid,
                       extra_groups=[], check=True, env={"PATH": "/usr/bin:/bin"})
        return name

    def _wait_for(self, kind: str, *folders: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if self._stopping.is_set():
                raise RuntimeError("the test session ended first")
            if self.service.poll() is not None:
                raise RuntimeError(f"the service exited ({self.service.returncode}):\n{self.observed.service_log[-3000:]}")
            try:
                if all(self.observed.events(f, kind) for f in folders):
                    return
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"no '{kind}' for {folders} within {WAIT_SECONDS:.0f} s")

    def _fetch_all(self) -> dict[str, dict[str, str]]:
        return {student.user: {stamp: page.read_text(encoding="utf-8")
                               for stamp, page in self.students.fetch_feedback(student).items()}
                for student in self.students.students}
