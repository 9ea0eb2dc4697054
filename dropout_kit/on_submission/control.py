"""The service's folder (autograded/.dropout-kit/on-submission/<assignment>/) and what the
instructor's commands and nbgrader's autograde read or write there: the service's lock (held
while it runs), its health, the pause switch and the regrade-all request."""
from __future__ import annotations

import dataclasses
import fcntl
import fnmatch
import json
import os
import time

from dropout_kit.classroom.course_paths import CoursePaths

# Set in the service's own process: its autograde steps are not the formgrader's.
serving_here = False


class Folder:
    def __init__(self, paths: CoursePaths):
        self.path = paths.kit_dir / "on-submission" / paths.assignment

    journal = property(lambda self: self.path / "journal.jsonl")
    health = property(lambda self: self.path / "health.json")
    log = property(lambda self: self.path / "service.log")
    lock = property(lambda self: self.path / "service.lock")
    paused_flag = property(lambda self: self.path / "paused")
    regrade_request = property(lambda self: self.path / "regrade-all")

    def make(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def hold_lock(self):
        """The running service's lock (an open file; the system drops it when the service
        dies); None when another service holds it."""
        self.make()
        handle = open(self.lock, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return handle

    def running(self) -> bool:
        if not self.lock.exists():
            return False
        with open(self.lock) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    @property
    def paused(self) -> bool:
        return self.paused_flag.exists()

    def pause(self) -> None:
        self.make()
        self.paused_flag.touch()

    def resume(self) -> None:
        self.paused_flag.unlink(missing_ok=True)

    def request_regrade(self) -> None:
        self.make()
        self.regrade_request.touch()

    def take_regrade_request(self) -> bool:
        try:
            self.regrade_request.unlink()
            return True
        except FileNotFoundError:
            return False

    def write_health(self, health: dict) -> None:
        scratch = self.health.with_suffix(".tmp")
        scratch.write_text(json.dumps({**health, "updated": time.time(), "pid": os.getpid()},
                                      ensure_ascii=False, indent=1), encoding="utf-8")
        scratch.replace(self.health)

    def read_health(self) -> dict | None:
        try:
            return json.loads(self.health.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def grading_now(self) -> bool:
        """Whether the service may be writing the gradebook: running, not paused (a pause
        takes effect between two submissions: health says when it has)."""
        if not self.running():
            return False
        health = self.read_health() or {}
        return not (self.paused and health.get("paused")) and not health.get("after_deadline")


def refusal(paths: CoursePaths) -> str | None:
    """Why nbgrader's autograde (command line or formgrader) must not touch this assignment
    now: grading on submission writes its gradebook (one writer); None when it may."""
    if serving_here or not Folder(paths).grading_now():
        return None
    return (f"Grading on submission is running for '{paths.assignment}' and writes its gradebook, "
            "so this autograde was refused before anything was removed or changed. Pause it first "
            f"(dropout-kit on-submission pause --assignment {paths.assignment}), then autograde; "
            "resume it afterwards.\n"
            f"제출 즉시 채점이 '{paths.assignment}' 과제의 성적부를 쓰고 있어서 이 자동 채점은 아무것도 "
            "지우거나 바꾸지 않고 거절되었습니다. 먼저 pause 한 뒤 채점하고, 끝나면 resume 하세요.")


def autograde_refusal(converter) -> str | None:
    """c.SubmissionExporter.before_autograde: for the assignment(s) nbgrader's Autograde
    converter is about to grade, the first refusal (nbgrader builds the exporter before it
    removes any autograded folder)."""
    paths = CoursePaths.from_app(converter)
    wanted = paths.assignment or "*"
    for name in [n for n in assignments_served(paths) if fnmatch.fnmatch(n, wanted)]:
        reason = refusal(dataclasses.replace(paths, assignment=name))
        if reason:
            return reason
    return None


REFUSALS_SHOWN = 20


def describe(paths: CoursePaths) -> dict:
    """What the formgrader shows of the service for one assignment: its state, its health
    and the latest refused submissions with their reasons (from the journal)."""
    folder = Folder(paths)
    running = folder.running()
    health = (folder.read_health() or {}) if running else {}
    state = "stopped" if not running else "paused" if health.get("paused") else "running"
    refused = []
    try:
        lines = folder.journal.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if record.get("event") == "refused":
            refused.append({key: record.get(key) for key in ("student", "folder", "reason", "at")})
    return {"assignment": paths.assignment, "state": state,
            "pausing": folder.paused and state == "running",
            "after_deadline": bool(health.get("after_deadline")),
            "deadline": health.get("deadline"), "queue": health.get("queue"),
            "graded": health.get("graded"), "last_error": health.get("last_error"),
            "canary": health.get("canary"), "refused": refused[-REFUSALS_SHOWN:],
            "refused_total": len(refused), "log": str(folder.log)}


def assignments_served(paths: CoursePaths) -> list[str]:
    """The assignments that have (or had) grading on submission in this course."""
    root = paths.kit_dir / "on-submission"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
