"""The service's folder (autograded/.dropout-kit/on-submission/<assignment>/) and what the
instructor's commands and nbgrader's autograde read or write there: the service's lock (held
while it runs), its health, the pause switch and the regrade-all request."""
from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

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


class ServiceGrades(RuntimeError):
    """nbgrader's autograde refused: grading on submission writes this assignment's gradebook."""


def refuse_autograde_while_serving(paths: CoursePaths) -> None:
    """For nbgrader autograde (command line and formgrader): the gradebook has one writer.
    While grading on submission runs for the assignment, pause it first."""
    if serving_here:
        return
    if Folder(paths).grading_now():
        raise ServiceGrades(
            f"grading on submission is running for '{paths.assignment}' and writes its gradebook; "
            f"pause it first: dropout-kit on-submission pause --assignment {paths.assignment} "
            "(제출 즉시 채점이 이 과제의 성적부를 쓰는 중입니다: 먼저 pause 하세요)")
