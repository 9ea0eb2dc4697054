"""Grading on submission: how soon students read their feedback, idle and in a burst (issue 23, item 7).

    python -m benchmarks.on_submission            # 5 single submissions; 40 from 20 students in a minute
    python -m benchmarks.on_submission --quick    # 3 single submissions; 10 from 5 students in 30 s

Root only: the students are real Unix users (dropout_kit.harness.unix_students, named kit-ob-*,
removed at the end, Ctrl-C included) who fetch, submit and fetch feedback with nbgrader's own
commands from the hub's environment, into a scratch exchange. The service is
`dropout-kit on-submission run` in a scratch course (a copy of the repository's config, source
and checks with c.GradeOnSubmission.assignments = ["dropout"] and per_hour = 100, poll_seconds
as configured: 1 s), started as JupyterHub starts it and started again whenever it stops.
Every time is an event's "at" in the service's journal against the moment the submission
landed in inbound/ (its folder's mtime: nbgrader writes timestamp.txt and
submission_secret.txt into it last). Printed:

  1. idle: the service's start-up (its Dask cluster up; the canary, which runs with the first
     submission, printed with that submission apart), then N single submissions (the reference
     solution) one after the other, each waiting for its feedback: landed → released, median and
     worst, and its steps: notice (seen − landed), collect (collected − seen), grade (graded −
     collected; the engine's own seconds in brackets), feedback (released − graded). Goal:
     ≤ 30 s median. Then the student hands in again while the previous submission is being
     graded: the later one's time to feedback, and how the journal ends the earlier one
     (released, or superseded: not both).
  2. burst: S students hand in within a minute, some 2-3 times (the reference and the sample
     mistakes in turn, each submission marked by a comment in its first answer). Meanwhile the
     service is stopped once with SIGTERM and killed once with SIGKILL, both while it grades
     (how long SIGTERM takes to end it; which of its processes outlive SIGKILL), and started
     again each time. Checked: every inbound folder ends released, superseded or refused in
     the journal (none lost); no folder graded twice and one release per graded folder; each
     student's latest submission's page, fetched as the student with fetch_feedback, is the
     real feedback carrying that submission's mark (not a status page); their older
     submissions superseded (or graded when no later one was waiting yet). Printed: per
     student, then total time (first landed → last released), throughput, latency of the
     latest submissions and how long each waited for the rest of its batch once the engine
     had finished it (the service's log), how many were coalesced, how late submissions were
     noticed (the restarts), how long the students' `nbgrader submit` took.
  3. what `dropout-kit on-submission status` shows at the end; per start of the service: how
     it ended, signal → exit, its cluster's start-up, canaries run, its own process's CPU time.

A table of the figures closes the run; it, the journal and the service's logs are kept in
build/bench/on_submission/. The machine is small and shared: every figure comes from this one
run (compare within it). The service is started again at once after each stop; JupyterHub
notices a managed service's exit at its next poll (Spawner.poll_interval, 30 s by default), and
stops one with SIGINT, SIGTERM 30 s later, SIGKILL 30 s after that.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import dropout_assignment as dropout  # noqa: E402
from dropout_kit.classroom.course_paths import CoursePaths  # noqa: E402
from dropout_kit.harness import samples  # noqa: E402
from dropout_kit.harness.course import Course, copy_course  # noqa: E402
from dropout_kit.harness.unix_students import STUDENT_BIN, UnixStudents, remove_user  # noqa: E402
from dropout_kit.on_submission import control, status_page  # noqa: E402

ASSIGNMENT = dropout.ASSIGNMENT
KIT = Path(sys.executable).parent / "dropout-kit"
SETTINGS = f"""
# benchmarks.on_submission: graded on submission; the burst's resubmissions not rate-limited.
c.GradeOnSubmission.assignments = [{ASSIGNMENT!r}]
c.GradeOnSubmission.per_hour = 100
"""
DONE = {"released", "superseded", "refused"}  # a folder ends with one of these
PROBLEMS = {"failed", "late"}
STATUS_PAGE = status_page.PAGE.split("{title}")[0]  # how every status page starts
READY_LINE = re.compile(r"^(\S+ \S+) INFO grading '[^']+' on submission: (\d+) worker", re.MULTILINE)
CANARY_LINE = re.compile(r"Canary passed in ([\d.]+) s")
CANARY_DONE = re.compile(r"^(\S+ \S+) INFO canary: ", re.MULTILINE)
# The grading session's line for a submission it finished: "<asctime> INFO HH:MM:SS student: graded ..."
ENGINE_DONE = re.compile(r"^(\S+ \S+) INFO \d\d:\d\d:\d\d (\S+): (?:graded|TIMED OUT|FAILED)\b", re.MULTILINE)
AT_ONCE = 10  # students handing in at the same moment, at most
KEPT = REPO / "build" / "bench" / "on_submission"  # the last run's journal, logs and figures
SURVIVOR_WAIT = 10.0  # s after SIGKILL before looking for the service's processes


@dataclass(frozen=True)
class Plan:
    idle: int  # single submissions, each waiting for its feedback
    students: int  # in the burst
    rounds: tuple[int, ...]  # of them, how many hand in a 1st, a 2nd, a 3rd time
    window: float  # s: the burst's submissions spread over it
    patience: float  # s: the burst's feedback, at most


FULL = Plan(idle=5, students=20, rounds=(20, 12, 8), window=60, patience=3600)
QUICK = Plan(idle=3, students=5, rounds=(5, 3, 2), window=30, patience=900)


@dataclass
class Handed:
    """One submission: who, its mark, its inbound folder and when it landed there."""
    student: str
    mark: str
    folder: str = ""
    landed: float = 0.0
    submit_seconds: float = 0.0  # the student's `nbgrader submit`

    @property
    def timestamp(self) -> str:
        return self.folder.split("+")[2]


@dataclass
class Run:
    """One start of the service."""
    process: subprocess.Popen
    log: Path
    started: float
    ended: str = ""  # how it ended
    exit_seconds: float | None = None  # signal → exit
    cpu: float = 0.0  # CPU seconds of the service's own process (not its workers), last sampled
    stopped: float | None = None  # when it exited (epoch seconds)
    family: int = 0  # its processes (Dask workers, kernels, ...) when it was signalled
    survivors: list[str] = field(default_factory=list)  # of them, alive after it

    signalled: float | None = None

    @property
    def ready(self) -> float | None:
        """When its cluster was up (the log's "grading ... on submission"), epoch seconds."""
        found = READY_LINE.search(self.log.read_text(errors="replace"))
        return datetime.datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S,%f").timestamp() if found else None

    def canary_seconds(self) -> float | None:
        found = CANARY_LINE.search(self.log.read_text(errors="replace"))
        return float(found[1]) if found else None

    def canary_times(self) -> list[float]:
        """When it reported a canary passed (epoch seconds)."""
        return [datetime.datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                for found in CANARY_DONE.finditer(self.log.read_text(errors="replace"))]

    def engine_done(self) -> list[tuple[str, float]]:
        """(student, when the engine finished their submission), in order."""
        return [(found[2], datetime.datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S,%f").timestamp())
                for found in ENGINE_DONE.finditer(self.log.read_text(errors="replace"))]

    def canaries(self) -> int:
        """How often it ran the canary: again whenever the checks' fingerprint changed (the
        kit's own code included: others editing the repository during the run change it)."""
        return len(CANARY_LINE.findall(self.log.read_text(errors="replace")))


class Service:
    """`dropout-kit on-submission run` as JupyterHub runs it (the instructor's environment and
    command), in its own session so that its Dask workers and kernels can be found and ended;
    started again whenever it stops, as the hub does."""

    def __init__(self, course: Path, exchange: Path, logs: Path):
        self.course, self.logs = course, logs
        self.env = {**os.environ, "NBGRADER_EXCHANGE_ROOT": str(exchange), "OMP_NUM_THREADS": "1",
                    "LANG": "C.UTF-8"}
        self.runs: list[Run] = []
        self.unexpected = 0  # exits nobody asked for
        self.sampling = threading.Event()
        threading.Thread(target=self._sample_cpu, daemon=True).start()

    def _sample_cpu(self) -> None:
        """The CPU time of each run's own process (the watcher, the coordinator's nbgrader
        steps, collect and feedback), every second while it lives."""
        while not self.sampling.wait(1.0):
            for run in list(self.runs):
                if run.stopped is None:
                    try:
                        times = psutil.Process(run.process.pid).cpu_times()
                        run.cpu = times.user + times.system
                    except psutil.Error:
                        pass

    @property
    def current(self) -> Run:
        return self.runs[-1]

    def start(self) -> Run:
        log = self.logs / f"service-{len(self.runs)}.out"
        with open(log, "w") as out:
            process = subprocess.Popen(
                [str(KIT), "on-submission", "run", "--course", str(self.course), "--assignment", ASSIGNMENT],
                stdout=out, stderr=subprocess.STDOUT, cwd=self.course.parent, env=self.env,
                start_new_session=True)
        self.runs.append(Run(process, log, time.time()))
        return self.current

    def wait_ready(self, timeout: float = 600) -> float:
        """Seconds from the start to the cluster up."""
        run = self.current
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if run.ready is not None:
                return run.ready - run.started
            if run.process.poll() is not None:
                raise RuntimeError(f"the service exited ({run.process.returncode}):\n{tail(run.log)}")
            time.sleep(0.2)
        raise TimeoutError(f"the service did not start within {timeout:.0f} s:\n{tail(run.log)}")

    def keep_up(self) -> None:
        """As the hub: a service that stopped by itself is started again."""
        run = self.current
        if run.process.poll() is not None:
            run.ended = f"exited by itself ({run.process.returncode})"
            run.stopped = time.time()
            self.unexpected += 1
            print(f"  the service (pid {run.process.pid}, {time.time() - run.started:.0f} s old) exited by itself "
                  f"({run.process.returncode}); started again. Its log:\n{tail(run.log)}", flush=True)
            self.start()

    def stop(self, signum: int, timeout: float = 900) -> Run:
        """`signum` to the service alone (as the hub, or the OOM killer, sends it); waits for its
        exit; notes which of its processes outlive it, and ends them."""
        run = self.current
        family = descendants(run.process.pid)
        run.family = len(family)
        sent = run.signalled = time.time()
        run.process.send_signal(signum)
        run.ended = signal.Signals(signum).name
        try:
            run.process.wait(timeout)
        except subprocess.TimeoutExpired:
            run.process.kill()
            run.process.wait()
            run.ended += f", SIGKILL after {timeout:.0f} s"
        run.stopped = time.time()
        run.exit_seconds = run.stopped - sent
        if signum == signal.SIGKILL:
            time.sleep(SURVIVOR_WAIT)
        run.survivors = [describe(p) for p in family if alive(p)]
        end(family)
        return run

    def end_all(self) -> None:
        self.sampling.set()
        for run in self.runs:
            if run.process.poll() is None:
                family = descendants(run.process.pid)
                run.process.kill()
                run.process.wait()
                end(family)


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def describe(process: psutil.Process) -> str:
    try:
        return f"{process.pid} {' '.join(process.cmdline())[:90]}"
    except psutil.Error:
        return str(process.pid)


def end(processes: list[psutil.Process]) -> None:
    """The service's own processes, by their ids."""
    for process in processes:
        try:
            if alive(process):
                process.kill()
        except psutil.Error:
            pass


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return ""


def read_journal(path: Path) -> dict[str, dict[str, list[dict]]]:
    """folder → event → its entries, in order."""
    folders: dict[str, dict[str, list[dict]]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return folders
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        folders.setdefault(entry.get("folder"), {}).setdefault(entry["event"], []).append(entry)
    return folders


def first_at(events: dict[str, list[dict]], name: str) -> float | None:
    entries = events.get(name)
    return entries[0]["at"] if entries else None


def finished(journal: Path, folders) -> bool:
    """Whether every one of `folders` has ended (or failed) in the journal."""
    known = read_journal(journal)
    return all((DONE | PROBLEMS) & set(known.get(folder, {})) for folder in folders)


def wait_until(condition, timeout: float, what: str, service: Service | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service is not None:
            service.keep_up()
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


class Students:
    """The class: Unix users handing in marked notebooks; each submission's inbound folder."""

    def __init__(self, names: list[str], scratch: Path, exchange: Path, course_id: str, release: Path,
                 variants: list[dict[str, str]]):
        self.unix = UnixStudents(names, scratch / "homes", exchange, course_id, ASSIGNMENT)
        self.by_name = {s.user: s for s in self.unix.students}
        self.inbound = exchange / course_id / "inbound"
        self.release, self.variants = release, variants
        self.first_answer = samples.solution_ids(release)[0]

    def fetch_assignment(self, names: list[str]) -> None:
        with ThreadPoolExecutor(AT_ONCE) as pool:
            list(pool.map(lambda name: self.unix.run(self.by_name[name], "fetch_assignment", ASSIGNMENT), names))

    def _folders(self, name: str) -> set[str]:
        try:
            return {e.name for e in os.scandir(self.inbound) if e.name.startswith(f"{name}+{ASSIGNMENT}+")}
        except FileNotFoundError:
            return set()

    def hand_in(self, name: str, number: int, variant: int = 0) -> Handed:
        handed = Handed(name, f"benchmark-mark-{name}-{number}")
        answers = dict(self.variants[variant % len(self.variants)])
        answers[self.first_answer] += f"\n# {handed.mark}"
        before = self._folders(name)
        started = time.perf_counter()
        self.unix.submit(self.by_name[name], samples.assemble(self.release, answers))
        handed.submit_seconds = time.perf_counter() - started
        new = self._folders(name) - before
        if len(new) != 1:
            raise RuntimeError(f"{name}'s submission {number}: {len(new)} new folders in inbound/")
        handed.folder = new.pop()
        handed.landed = os.stat(self.inbound / handed.folder).st_mtime
        return handed

    def feedback(self, name: str) -> dict[str, str]:
        """Fetch Feedback as the student: submission timestamp → the page's text."""
        pages = self.unix.fetch_feedback(self.by_name[name])
        return {stamp: page.read_text(encoding="utf-8", errors="replace") for stamp, page in pages.items()}


def real_feedback(text: str | None, mark: str) -> bool:
    return bool(text) and not text.startswith(STATUS_PAGE) and "Score:" in text and mark in text


def figures(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} / {max(values):.1f}" if values else "-"


# -- 1. idle -------------------------------------------------------------------------------
def idle(service: Service, students: Students, journal: Path, count: int, table: dict) -> list[str]:
    problems = []
    ready = service.wait_ready()
    print(f"\nservice start-up: its cluster up {ready:.1f} s after the start", flush=True)
    table["start-up: cluster up (s)"] = f"{ready:.1f}"
    rows = []
    for number in range(count + 1):  # the first one (the warm-up) runs the canary
        handed = students.hand_in("kit-ob-idle", number)
        wait_until(lambda: finished(journal, [handed.folder]), 900, f"feedback of {handed.folder}", service)
        events = read_journal(journal)[handed.folder]
        if "released" not in events:
            problems.append(f"idle {number}: {sorted(events)}")
            continue
        page = students.feedback("kit-ob-idle").get(handed.timestamp)
        if not real_feedback(page, handed.mark):
            problems.append(f"idle {number}: the page fetched is not its feedback")
        seen, collected, graded, released = (first_at(events, e) for e in ("seen", "collected", "graded", "released"))
        rows.append({"total": released - handed.landed, "notice": seen - handed.landed,
                     "collect": collected - seen, "grade": graded - collected, "feedback": released - graded,
                     "engine": events["graded"][0].get("seconds", 0.0),
                     "canary": any(collected <= at <= graded for run in service.runs for at in run.canary_times())})
    if not rows:
        return problems
    print(f"\nidle: {count} single submissions after a first one (canary; poll every "
          f"{poll_seconds(service.course):g} s)\n")
    print("| submission | landed → feedback s | notice | collect | grade (engine) | feedback |")
    print("|---|---|---|---|---|---|")
    for number, row in enumerate(rows):
        label = ("first" if number == 0 else str(number)) + (" (canary)" if row["canary"] else "")
        print(f"| {label} | {row['total']:.1f} | {row['notice']:.1f} | {row['collect']:.1f} | "
              f"{row['grade']:.1f} ({row['engine']:.1f}) | {row['feedback']:.1f} |")
    steady = [row for row in rows[1:] if not row["canary"]]  # a canary again: the kit's files changed
    canary = service.runs[0].canary_seconds()
    table["canary (s)"] = f"{canary:.1f}" if canary is not None else "?"
    table["first submission, canary included: landed → feedback (s)"] = f"{rows[0]['total']:.1f}"
    left_out = len(rows) - 1 - len(steady)
    table[f"idle, {len(steady)} submissions{f' ({left_out} with a canary left out)' if left_out else ''}: "
          "landed → feedback, median / worst (s)"] = figures([r["total"] for r in steady])
    if steady:
        step = {k: statistics.median(r[k] for r in steady) for k in rows[0] if k != "canary"}
        table["idle, median steps: notice / collect / grade (engine) / feedback (s)"] = (
            f"{step['notice']:.1f} / {step['collect']:.1f} / {step['grade']:.1f} ({step['engine']:.1f}) / "
            f"{step['feedback']:.1f}")
        table["idle goal: ≤ 30 s median"] = "met" if step["total"] <= 30 else "NOT met"
    return problems


def resubmitted(service: Service, students: Students, journal: Path, number: int, table: dict) -> list[str]:
    """A student hands in again while their previous submission is being graded (its "collected"
    journaled): the later one must get its feedback; the earlier one, being graded already, is
    released (its own feedback) or superseded, not both."""
    problems = []
    earlier = students.hand_in("kit-ob-idle", number)
    wait_until(lambda: "collected" in read_journal(journal).get(earlier.folder, {}), 900,
               f"{earlier.folder} collected", service)
    later = students.hand_in("kit-ob-idle", number + 1)
    wait_until(lambda: finished(journal, [earlier.folder, later.folder]), 900, f"feedback of {later.folder}", service)
    known = read_journal(journal)
    first, second = known[earlier.folder], known[later.folder]
    pages = students.feedback("kit-ob-idle")
    print(f"\nhanded in again while the previous one was graded: the previous one's journal: "
          f"{', '.join(e for e in first)}; the later one's: {', '.join(e for e in second)}", flush=True)
    both = "superseded" in first and "released" in first
    table["handed in again while graded: earlier one's end in the journal"] = (
        "superseded AND graded + released" if both else " + ".join(e for e in first if e in DONE | {"graded"}))
    if both:
        problems.append(f"resubmitted while graded: {earlier.folder} journaled superseded, then graded and released "
                        "(the student read \"not graded\" for it, then its feedback)")
    if "released" in second:
        table["handed in again while graded: later one landed → feedback (s)"] = \
            f"{first_at(second, 'released') - later.landed:.1f}"
        if not real_feedback(pages.get(later.timestamp), later.mark):
            problems.append("resubmitted while graded: the later one's page is not its feedback")
    else:
        problems.append(f"resubmitted while graded: the later one ended {sorted(second)}")
    if "released" in first and not real_feedback(pages.get(earlier.timestamp), earlier.mark):
        problems.append("resubmitted while graded: the earlier one, released, has not its own feedback")
    return problems


def poll_seconds(course: Path) -> float:
    from dropout_kit.classroom.course_paths import environment_kept, load_autograde_app
    from dropout_kit.on_submission.policy import GradeOnSubmission
    with environment_kept():
        return GradeOnSubmission(config=load_autograde_app(course, ASSIGNMENT).config).poll_seconds


# -- 2. burst ------------------------------------------------------------------------------
def burst(plan: Plan, service: Service, students: Students, journal: Path, table: dict) -> list[str]:
    names = [f"kit-ob-{n:02d}" for n in range(plan.students)]
    schedule = [(number, name) for number, count in enumerate(plan.rounds) for name in names[:count]]
    spacing = plan.window / len(schedule)
    handed_in = {(name, number): threading.Event() for number, name in schedule}
    began = time.time() + 1.0

    def hand_in(index: int, number: int, name: str) -> Handed:
        time.sleep(max(0.0, began + index * spacing - time.time()))
        if number:
            handed_in[(name, number - 1)].wait()  # a student's submissions one after the other
        try:
            return students.hand_in(name, number, variant=index)
        finally:
            handed_in[(name, number)].set()

    print(f"\nburst: {len(schedule)} submissions from {plan.students} students over {plan.window:.0f} s; "
          "SIGTERM and SIGKILL while it grades", flush=True)
    with ThreadPoolExecutor(AT_ONCE) as pool:
        futures = [pool.submit(hand_in, index, number, name) for index, (number, name) in enumerate(schedule)]
        # SIGTERM while the service grades the burst's first submissions.
        wait_until(lambda: any((first_at(e, "collected") or 0) > began for e in read_journal(journal).values()),
                   plan.patience, "a burst submission collected", service)
        time.sleep(3.0)
        term = service.stop(signal.SIGTERM)
        print(f"  SIGTERM: the service exited {term.exit_seconds:.1f} s later; started again", flush=True)
        service.start()
        # SIGKILL while the restarted service grades (its canary passed, a batch under way).
        wait_until(lambda: service.current.canary_seconds() is not None, plan.patience,
                   "the restarted service's canary", service)
        time.sleep(10.0)
        kill = service.stop(signal.SIGKILL)
        print(f"  SIGKILL: {len(kill.survivors)} of its processes outlived it; started again", flush=True)
        service.start()
        handed = [future.result() for future in futures]
    submitted = time.time()
    print(f"  the last submission landed {max(h.landed for h in handed) - began:.0f} s after the first", flush=True)

    wait_until(lambda: finished(journal, {h.folder for h in handed} | set(inbound_burst(students, names))),
               plan.patience, "every burst submission done", service)
    print(f"  every submission done {time.time() - submitted:.0f} s after the last was handed in", flush=True)
    return check_burst(plan, names, handed, students, journal, service, term, kill, table)


def inbound_burst(students: Students, names: list[str]) -> list[str]:
    """Every folder of the burst's students in inbound/, handed in by this benchmark or not."""
    return [e.name for e in os.scandir(students.inbound) if e.name.split("+")[0] in names]


def check_burst(plan: Plan, names: list[str], handed: list[Handed], students: Students, journal: Path,
                service: Service, term: Run, kill: Run, table: dict) -> list[str]:
    problems = []
    folders = read_journal(journal)
    inbound = inbound_burst(students, names)
    ends = {f: sorted(set(folders.get(f, {})) & (DONE | PROBLEMS)) for f in inbound}
    lost = [f for f, done in ends.items() if not done]
    troubled = {f: folders[f] for f, done in ends.items() if PROBLEMS & set(done)}
    twice = [f for f in inbound if len(folders.get(f, {}).get("graded", [])) > 1]
    releases = [f for f in inbound if "graded" in folders.get(f, {})
                and len(folders[f].get("released", [])) != 1]
    refused = {f: folders[f]["refused"][0].get("reason") for f in inbound if "refused" in folders.get(f, {})}
    superseded = [f for f in inbound if "superseded" in folders.get(f, {})]
    graded_anyway = [f for f in superseded if "graded" in folders[f]]  # superseded while being graded
    for name, what in (("lost (no end in the journal)", lost), ("graded twice", twice),
                       ("graded but released ≠ once", releases)):
        if what:
            problems.append(f"burst: {len(what)} {name}: {what}")
    for folder, events in troubled.items():
        problems.append(f"burst: {folder}: {sorted(events)} {events.get('failed', [{}])[0].get('error', '')[:300]}")
    for folder, reason in refused.items():
        problems.append(f"burst: {folder} refused: {reason}")

    by_student: dict[str, list[Handed]] = {}
    for h in sorted(handed, key=lambda h: h.timestamp):
        by_student.setdefault(h.student, []).append(h)
    with ThreadPoolExecutor(AT_ONCE) as pool:
        pages = dict(zip(by_student, pool.map(students.feedback, by_student)))
    print("\n| student | submissions | superseded | graded and released | latest: landed → feedback s | "
          "latest's page fetched |")
    print("|---|---|---|---|---|---|")
    latencies, real, older_ok, older = [], 0, 0, 0
    for name, theirs in by_student.items():
        latest = theirs[-1]
        events = folders.get(latest.folder, {})
        released = first_at(events, "released")
        if released is not None:
            latencies.append(released - latest.landed)
        page = pages[name].get(latest.timestamp)
        ok = real_feedback(page, latest.mark)
        real += ok
        if not ok:
            what = ("missing" if page is None else "a status page" if page.startswith(STATUS_PAGE)
                    else "not its feedback")
            problems.append(f"burst: {name}'s latest submission: the page fetched is {what}")
        for earlier in theirs[:-1]:
            older += 1
            mine = folders.get(earlier.folder, {})
            text = pages[name].get(earlier.timestamp) or ""
            if "released" in mine:
                older_ok += real_feedback(text, earlier.mark)
            elif "superseded" in mine:
                older_ok += text.startswith(STATUS_PAGE)
        print(f"| {name} | {len(theirs)} | {sum('superseded' in folders.get(h.folder, {}) for h in theirs)} | "
              f"{sum('released' in folders.get(h.folder, {}) for h in theirs)} | "
              f"{'-' if released is None else f'{released - latest.landed:.0f}'} | "
              f"{'feedback, its mark' if ok else 'WRONG'} |")
    if older_ok != older:
        problems.append(f"burst: {older - older_ok} of {older} older submissions' pages neither their "
                        "feedback nor the superseded page")

    first_landed = min(h.landed for h in handed)
    last_released = max((first_at(folders.get(h.folder, {}), "released") or 0) for h in handed)
    total = last_released - first_landed
    graded = sum(len(folders.get(f, {}).get("graded", [])) for f in inbound)
    table["burst: submissions / students / landed within (s)"] = \
        f"{len(handed)} / {len(by_student)} / {max(h.landed for h in handed) - first_landed:.0f}"
    table["burst: `nbgrader submit` as the student, median / worst (s)"] = figures([h.submit_seconds for h in handed])
    table["burst: total, first landed → last feedback (s)"] = f"{total:.0f}"
    table["burst: throughput, submissions / graded per minute"] = \
        f"{len(handed) / total * 60:.1f} / {graded / total * 60:.1f}"
    table["burst, latest submissions: landed → feedback, median / worst (s)"] = figures(latencies)
    table["burst, latest: engine done → feedback released (the rest of its batch), median / worst (s)"] = \
        figures(batch_waits(service, by_student, folders))
    table["burst: coalesced (superseded, not graded)"] = f"{len(superseded) - len(graded_anyway)} of {len(handed)}"
    if graded_anyway:
        table["burst: superseded while being graded (then released anyway)"] = str(len(graded_anyway))
    table["burst: lost / graded twice / released ≠ once / failed or late / refused"] = \
        f"{len(lost)} / {len(twice)} / {len(releases)} / {len(troubled)} / {len(refused)}"
    table["burst: latest page is its real feedback (fetched as the student)"] = f"{real} / {len(by_student)}"
    table["burst: older pages right (own feedback or superseded page)"] = f"{older_ok} / {older}"
    noticed = [first_at(folders.get(h.folder, {}), "seen") for h in handed]
    table["burst: noticed (seen − landed), median / worst (s)"] = figures(
        [at - h.landed for at, h in zip(noticed, handed) if at is not None])
    after_term = [e for f in inbound for e in folders.get(f, {}).get("graded", [])
                  if term.signalled <= e["at"] <= term.signalled + term.exit_seconds]
    table["SIGTERM while grading: exit after (s); graded meanwhile"] = f"{term.exit_seconds:.1f}" + (
        f" ({term.ended})" if term.ended != "SIGTERM" else "") + f"; {len(after_term)}"
    dropped = [f for f in inbound if (first_at(folders.get(f, {}), "collected") or 1e20) <= kill.signalled
               and (first_at(folders[f], "graded") or 1e20) > kill.signalled]
    table["SIGKILL while grading: submissions it was grading (graded again after)"] = str(len(dropped))
    table["SIGKILL: its processes alive 10 s later"] = f"{len(kill.survivors)} of {kill.family}" + (
        f" ({'; '.join(s[:60] for s in kill.survivors[:3])})" if kill.survivors else "")
    starts = [run.ready - run.started for run in service.runs[1:] if run.ready]
    if starts:
        table["restarts: cluster up after the start (s)"] = ", ".join(f"{s:.1f}" for s in starts)
    return problems


def batch_waits(service: Service, by_student: dict[str, list[Handed]], folders: dict) -> list[float]:
    """For each student's latest submission: from the engine finishing it (the service's log)
    to its feedback released. The service journals and releases a batch when all of it is graded."""
    done = [entry for run in service.runs for entry in run.engine_done()]
    waits = []
    for name, theirs in by_student.items():
        events = folders.get(theirs[-1].folder, {})
        collected, released = first_at(events, "collected"), first_at(events, "released")
        if collected is None or released is None:
            continue
        finished = [at for student, at in done if student == name and collected <= at <= released]
        if finished:
            waits.append(released - finished[-1])
    return waits


def service_runs(service: Service, table: dict) -> None:
    print("\n| service run | ended | signal → exit s | cluster up s | canaries | its own CPU s / wall s | log |")
    print("|---|---|---|---|---|---|---|")
    for number, run in enumerate(service.runs):
        print(f"| {number} | {run.ended or 'running'} | "
              f"{'-' if run.exit_seconds is None else f'{run.exit_seconds:.1f}'} | "
              f"{'-' if run.ready is None else f'{run.ready - run.started:.1f}'} | {run.canaries()} | "
              f"{run.cpu:.0f} / {(run.stopped or time.time()) - run.started:.0f} | {run.log.name} |")
    table["service starts / exits nobody asked for"] = f"{len(service.runs)} / {service.unexpected}"
    table["canary runs (again when the kit's files change: others edit it)"] = \
        str(sum(run.canaries() for run in service.runs))


# -- main ----------------------------------------------------------------------------------
def keep(service: Service, journal: Path) -> None:
    """The journal and the service's logs, for a look after the run (the scratch folder goes)."""
    KEPT.mkdir(parents=True, exist_ok=True)
    for old in KEPT.glob("service-*.out"):
        old.unlink()
    for path in [journal, *(run.log for run in service.runs)]:
        if path.exists():
            shutil.copy(path, KEPT / path.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 single submissions; a burst of 10 from 5 students")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if os.geteuid() != 0:
        print("benchmarks.on_submission: root only (students are Unix users)", file=sys.stderr)
        return 1
    if not (STUDENT_BIN / "nbgrader").exists():
        print(f"benchmarks.on_submission: no {STUDENT_BIN / 'nbgrader'} (make test builds the hub's environment)",
              file=sys.stderr)
        return 1
    started = time.perf_counter()
    names = ["kit-ob-idle"] + [f"kit-ob-{n:02d}" for n in range(plan.students)]
    service = None
    # Under /tmp, not TMPDIR: the students (other users) go through it to their homes.
    with tempfile.TemporaryDirectory(prefix="bench-onsub-", dir="/tmp") as tmp:
        scratch = Path(tmp)
        os.chmod(scratch, 0o755)
        try:
            course = copy_course(REPO, scratch / "course")
            with open(course / "nbgrader_config.py", "a", encoding="utf-8") as config:
                config.write(SETTINGS)
            exchange = scratch / "exchange"
            exchange.mkdir()
            os.chmod(exchange, 0o1777)
            os.environ["NBGRADER_EXCHANGE_ROOT"] = str(exchange)  # the course's config reads it
            Course(course, exchange, ASSIGNMENT).release()
            paths = CoursePaths.load(course, ASSIGNMENT)
            journal = control.Folder(paths).journal
            reference = samples.reference_answers(dropout.source_notebook(course))
            variants = [reference] + [{**reference, **wrong} for wrong in
                                      samples.mistakes(dropout.in_course(course)).values()]
            students = Students(names, scratch, exchange, paths.course_id, dropout.release_notebook(course), variants)
            students.fetch_assignment(names)
            print(f"set up in {time.perf_counter() - started:.0f} s: {len(names)} Unix students, the course "
                  f"in {course}", flush=True)

            table: dict[str, str] = {}
            service = Service(course, exchange, scratch)
            service.start()
            problems = idle(service, students, journal, plan.idle, table)
            problems += resubmitted(service, students, journal, plan.idle + 1, table)
            problems += burst(plan, service, students, journal, table)

            print("\n$ dropout-kit on-submission status", flush=True)
            status = subprocess.run([str(KIT), "on-submission", "status", "--course", str(course),
                                     "--assignment", ASSIGNMENT], env=service.env, capture_output=True, text=True)
            print(status.stdout + status.stderr, flush=True)
            if status.returncode:
                problems.append(f"status: exit {status.returncode}")
            last = service.stop(signal.SIGTERM)
            table["SIGTERM when idle: exit after (s)"] = f"{last.exit_seconds:.1f}"
            if service.unexpected:
                problems.append(f"the service exited by itself {service.unexpected} time(s)")
            service_runs(service, table)
            table["wall time of the benchmark (s)"] = f"{time.perf_counter() - started:.0f}"

            figures_text = "| figure | value |\n|---|---|\n" + "".join(
                f"| {name} | {value} |\n" for name, value in table.items())
            print("\n" + figures_text
                  + "\n(a shared 2-core machine, other heavy work running: compare within this run)")
            (KEPT / "figures.md").parent.mkdir(parents=True, exist_ok=True)
            (KEPT / "figures.md").write_text(f"python -m benchmarks.on_submission {' '.join(argv or [])}\n\n"
                                             + figures_text, encoding="utf-8")
            for problem in problems:
                print(f"PROBLEM: {problem}")
            return 1 if problems else 0
        except BaseException:
            if service is not None and service.runs:
                print(f"\nthe service's last log:\n{tail(service.current.log)}", file=sys.stderr)
            raise
        finally:
            if service is not None:
                service.end_all()
                keep(service, journal)
            for name in names:
                try:
                    remove_user(name)
                except RuntimeError as problem:
                    print(problem, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
