"""The service's durable journal: one JSON line per event, flushed and fsync-ed before the
service acts on it, so that a service killed at any moment (SIGKILL included) resumes from
it without losing a submission or releasing feedback twice.

Events (all with "at", seconds since the epoch):
  seen        a submission folder noticed in inbound/ (folder, student, timestamp)
  refused     a folder not accepted (folder, student, reason): never collected
  superseded  a folder that a later submission of the same student replaced before grading
  collected   the folder copied to submitted/ by nbgrader's collect
  graded      the student's folder graded (folder, status, seconds): in the gradebook
  released    that folder's feedback released: the folder is done
  late        submitted after the student's deadline: left to the instructor's round
  failed      collecting, grading or feedback failed (error): left to the instructor (health,
              log; `dropout-kit on-submission regrade-all`)
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Replayed:
    """What the journal says so far."""
    seen: dict[str, dict] = field(default_factory=dict)  # folder → its "seen" event
    done: set[str] = field(default_factory=set)  # nothing more to do for these folders
    graded: set[str] = field(default_factory=set)
    graded_at: dict[str, list[float]] = field(default_factory=dict)  # student → when graded

    def latest(self) -> dict[str, dict]:
        """Per student, the "seen" event of their latest submission."""
        latest: dict[str, dict] = {}
        for event in self.seen.values():
            current = latest.get(event["student"])
            if current is None or event["timestamp"] > current["timestamp"]:
                latest[event["student"]] = event
        return latest

    def pending(self) -> dict[str, dict]:
        """Per student, their latest submission if it is not done yet."""
        return {student: event for student, event in self.latest().items() if event["folder"] not in self.done}


class Journal:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.state = self._replay()
        self._file = open(path, "a", encoding="utf-8")
        if path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            self._file.write("\n")  # a line cut short by a kill stays alone on its line
        self._writing = threading.Lock()  # the service's watcher and grader threads

    def write(self, event: str, **data) -> dict:
        record = {"event": event, "at": time.time(), **data}
        with self._writing:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
            self._apply(self.state, record)
        return record

    def close(self) -> None:
        self._file.close()

    def _replay(self) -> Replayed:
        state = Replayed()
        if not self.path.exists():
            return state
        with open(self.path, encoding="utf-8") as lines:
            for line in lines:
                try:
                    self._apply(state, json.loads(line))
                except ValueError:  # a line cut short by a kill: the event did not happen
                    continue
        return state

    @staticmethod
    def _apply(state: Replayed, record: dict) -> None:
        folder, event = record.get("folder"), record.get("event")
        if event == "seen":
            state.seen[folder] = record
        elif event in ("released", "superseded", "refused", "late", "failed"):
            state.done.add(folder)
        elif event == "graded":
            state.graded.add(folder)
            state.graded_at.setdefault(record["student"], []).append(record["at"])
