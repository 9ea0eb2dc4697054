"""`dropout-kit on-submission ACTION`: run the service, or look at and steer it."""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from pathlib import Path

from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.on_submission import control

ACTIONS = ["run", "status", "pause", "resume", "regrade-all"]
EXIT_RESTART = 75  # EX_TEMPFAIL: start the service again


def main(assignment, action: str) -> int:
    paths = CoursePaths.load(assignment.course_root, assignment.name)
    folder = control.Folder(paths)
    if action == "run":
        return run(assignment, folder)
    if action == "pause":
        folder.pause()
        return _wait_for(folder, lambda h: h.get("paused"), "paused: no new grading until resume")
    if action == "resume":
        folder.resume()
        return _wait_for(folder, lambda h: not h.get("paused"), "resumed")
    if action == "regrade-all":
        folder.request_regrade()
        print("regrade of every collected submission requested; `status` shows its progress")
        return 0
    return status(folder)


def wait_for_course(root: Path, assignment: str | None) -> None:
    """A service started with the hub may start before the course is set up: it waits."""
    ready = lambda: (root / "nbgrader_config.py").is_file() and (  # noqa: E731
        assignment is None or (root / "release" / assignment).is_dir())
    if not ready():
        print(f"waiting for the course at {root}", flush=True)
    while not ready():
        time.sleep(1.0)


def run(assignment, folder: control.Folder) -> int:
    from dropout_kit.on_submission.service import AlreadyRunning, KitChanged, Service
    folder.make()
    log = logging.getLogger("dropout_kit.on_submission")
    log.setLevel(logging.INFO)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    for handler in (logging.StreamHandler(sys.stdout), logging.FileHandler(folder.log, encoding="utf-8")):
        handler.setFormatter(formatter)
        log.addHandler(handler)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        Service(assignment.course_root, assignment.name, log).run(stop)
    except AlreadyRunning as problem:
        print(f"dropout-kit on-submission: {problem}", file=sys.stderr)
        return 2
    except KitChanged as problem:
        log.warning("%s", problem)
        return EXIT_RESTART
    log.info("stopped")
    return 0


def status(folder: control.Folder) -> int:
    health = folder.read_health()
    running = folder.running()
    print(f"service: {'running' if running else 'not running'}"
          + (" (paused)" if folder.paused else ""))
    if health:
        age = time.time() - health.get("updated", 0)
        event = health.get("last_event") or {}
        print(f"  health written {age:.0f} s ago by pid {health.get('pid')}")
        print(f"  queue: {health.get('queue')}  graded: {health.get('graded')}  refused: {health.get('refused')}")
        if event:
            print(f"  last event: {event.get('event')} {event.get('folder')} "
                  f"({time.time() - event.get('at', 0):.0f} s ago)")
        print(f"  canary: {health.get('canary')}")
        print(f"  last error: {health.get('last_error') or 'none'}")
    print(f"  log: {folder.log}")
    return 0 if running else 1


def _wait_for(folder: control.Folder, condition, done: str, seconds: float = 600) -> int:
    """A pause takes effect between two submissions: wait until the service says so."""
    if not folder.running():
        print(f"{done} (the service is not running)")
        return 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition(folder.read_health() or {}):
            print(done)
            return 0
        time.sleep(0.5)
    print("the service did not answer; see `dropout-kit on-submission status`", file=sys.stderr)
    return 1
