"""What a grading run has to do: the record of what was graded (autograded/.dropout-kit/),
and per student why it is graded now (new, resubmitted, the grading changed, ...).

A run remembers, per student, a checksum of what was handed in and a fingerprint of what
the verdict depends on besides it (dropout_kit.engine.fingerprint: the hidden checks, the
kit's own code, the course configuration); the next run grades only what is new or
changed, unless forced.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.classroom.gradebook import cell_grades
from dropout_kit.classroom.outcome import Outcome
from dropout_kit.engine.fingerprint import folder_files, grading_fingerprint

STATE_VERSION = 1


def _digest(files: list[Path], base: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(files):
        sha.update(str(path.relative_to(base)).encode() + b"\0")
        sha.update(path.read_bytes() + b"\0")
    return sha.hexdigest()


def submission_checksum(paths: CoursePaths, student: str) -> str:
    return _digest(folder_files(paths.submission_dir(student)), paths.submission_dir(student))


def checks_fingerprint(paths: CoursePaths) -> str:
    """What grading depends on besides the submission (dropout_kit.engine.fingerprint): a fix to a
    check, to the kit's own code or to the course configuration regrades every submission."""
    return grading_fingerprint(paths.root, paths.assignment)


def database_key(db_url: str) -> str:
    return hashlib.sha256(db_url.encode()).hexdigest()[:16]


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
    database = database_key(paths.db_url)
    in_gradebook = {student for student, cells in cell_grades(paths.db_url, paths.assignment, paths.course_id).items()
                    if any(grade.auto for grade in cells.values())}
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
