"""The durable record of refused submissions: <course root>/.dropout-kit/refused_submissions.jsonl,
one JSON object a line, one line per refused folder however often a collect sees it again.
Written by the kit's collect (and whatever else calls `append_refusals`), read by the
instructor's report."""
from __future__ import annotations

import datetime
import fcntl
import json
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

from dropout_kit.exchange.refusal import Refusal

RECORD_FILE = Path(".dropout-kit") / "refused_submissions.jsonl"
REFUSAL_FIELDS = tuple(f.name for f in fields(Refusal))
MAX_LINE = 64 * 1024


@dataclass(frozen=True)
class RecordedRefusal:
    refusal: Refusal
    course_id: str
    assignment: str
    refused_at: str  # ISO 8601, UTC: when a collect first refused the folder


def record_path(course_root: Path) -> Path:
    return Path(course_root) / RECORD_FILE


def append_refusals(course_root: Path, refusals: Iterable[Refusal], *, course_id: str, assignment: str,
                    now: datetime.datetime | None = None) -> list[Refusal]:
    """Appends the refusals not yet recorded for this course (by folder name); returns them."""
    path = record_path(course_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(datetime.timezone.utc)
    with path.open("a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # two collects at once (formgrader and a terminal)
        fh.seek(0)
        seen = {(r.course_id, r.refusal.folder) for r in _parse(fh)}
        new = []
        for refusal in refusals:
            if (course_id, refusal.folder) in seen:
                continue
            seen.add((course_id, refusal.folder))
            new.append(refusal)
            line = {"course_id": course_id, "assignment": assignment, **refusal.as_dict(),
                    "refused_at": stamp.isoformat(timespec="seconds").replace("+00:00", "Z")}
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        fh.flush()
    return new


def read_refusals(course_root: Path, assignment: str | None = None) -> list[RecordedRefusal]:
    """The recorded refusals (of `assignment`, if given), oldest first; lines that are not
    records are skipped."""
    path = record_path(course_root)
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            records = list(_parse(fh))
    except FileNotFoundError:
        return []
    return [r for r in records if assignment is None or r.assignment == assignment]


def _parse(lines: Iterable[str]) -> Iterable[RecordedRefusal]:
    for line in lines:
        if len(line) > MAX_LINE:
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        keys = ("course_id", "assignment", "refused_at", *REFUSAL_FIELDS)
        if not all(isinstance(data.get(k), str) for k in keys):
            continue
        yield RecordedRefusal(Refusal(**{k: data[k] for k in REFUSAL_FIELDS}), data["course_id"],
                              data["assignment"], data["refused_at"])
