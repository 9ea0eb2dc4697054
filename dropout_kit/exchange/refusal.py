"""Which submission folders in an exchange's inbound/ are refused, and why.

`nbgrader submit` names a folder `<student>+<assignment>+<timestamp>+<random>` and stock
`nbgrader collect` believes the name: anyone who can write inbound/ (every student) can
hand in as somebody else, and a time far in the future outranks every later submission.
`check_submission` refuses a folder when
  * it is not a real folder, holds anything but plain files and folders (a symbolic link
    would make the collector copy what it points to), cannot be read whole by the
    collector, or is larger than the course allows (stock collect would stop there, for
    the whole class);
  * its name holds no student and time that nbgrader can read;
  * (check_owner) its Unix owner is not the student it names, or no Unix user has that
    name; folders owned by the account collecting, or by root, are trusted: whoever
    owns those accounts can write the course's submitted/ anyway (an instructor handing
    in for a student, the kit's demo class);
  * its time lies more than CLOCK_SKEW in the future, or its timestamp.txt (which
    autograde reads for the late penalty and `collect --update` for the next comparison)
    is missing or says another time than its name.
"""
from __future__ import annotations

import datetime
import os
import pwd
import stat
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path

CLOCK_SKEW = datetime.timedelta(minutes=2)
TIMESTAMP_FILE = "timestamp.txt"
MAX_TIMESTAMP_FILE_BYTES = 1024

# reason -> (English, Korean) templates; fields: student, owner, claimed, extra (and its
# Korean form, extra_ko).
REASONS = {
    "not_a_folder": ("it is not a folder (a symbolic link or a file)",
                     "폴더가 아닙니다 (심볼릭 링크 또는 파일)"),
    "unreadable_name": ("its name holds no student and time nbgrader can read",
                        "폴더 이름에서 학생과 제출 시각을 읽을 수 없습니다"),
    "owner_mismatch": ("it names {student} but is owned by {owner}: handed in under another student's name",
                       "{student} 학생의 이름으로 되어 있지만 폴더 소유자는 {owner}입니다: 다른 학생 명의의 제출"),
    "no_such_student": ("it names {student}, who has no account on this machine; it is owned by {owner}",
                        "{student}라는 사용자 계정이 이 서버에 없습니다 (폴더 소유자: {owner})"),
    "future_time": ("its time is {extra} ahead of the clock: it would outrank every later submission",
                    "제출 시각이 현재보다 {extra_ko} 미래입니다: 이후의 모든 제출보다 우선하게 됩니다"),
    "unsafe_entry": ("it holds {extra}, which is not a plain file or folder (a link, pipe or device)",
                     "일반 파일이나 폴더가 아닌 항목이 들어 있습니다 (링크, 파이프, 장치): {extra}"),
    "unreadable": ("the collecting account cannot read {extra}",
                   "수집하는 계정이 읽을 수 없는 항목이 있습니다: {extra_ko}"),
    "too_big": ("it holds {extra}, more than the course allows (CourseDirectory.max_dir_size)",
                "허용된 크기(CourseDirectory.max_dir_size)보다 큽니다: {extra}"),
    "timestamp_file": ("{extra} (nbgrader submit writes the time of its name there)",
                       "{extra_ko} (nbgrader submit은 폴더 이름의 시각을 이 파일에 씁니다)"),
}


@dataclass(frozen=True)
class Refusal:
    """Why one inbound folder is not collected."""
    folder: str  # its name in inbound/
    student: str  # the student its name claims ("" when unreadable)
    owner: str  # its Unix owner: a user name, or "uid N"
    claimed_time: str  # the time in its name, as written ("" when unreadable)
    reason: str  # a key of REASONS
    detail: str  # for the instructor, in English
    detail_ko: str  # the same, in Korean

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class SubmissionName:
    """What a folder's name claims, read as nbgrader's collect reads it."""
    student: str
    assignment: str
    time: datetime.datetime  # UTC, naive (nbgrader.utils.parse_utc)
    time_text: str


def parse_submission_name(name: str) -> SubmissionName | None:
    """The student, assignment and time a folder's name claims; None if nbgrader could not
    read them (where stock collect stops with an error, or copies into a wrong place)."""
    # nbgrader's own split: the last three '+' at most, so a student id may hold '+'.
    parts = name.rsplit("+", 3)
    if len(parts) < 3 or not parts[0] or parts[0].startswith("."):
        return None
    time = _read_time(parts[2])
    return SubmissionName(parts[0], parts[1], time, parts[2]) if time else None


def check_submission(folder: Path, now: datetime.datetime | None = None, *, assignment: str | None = None,
                     check_owner: bool = True, trusted_uids: Collection[int] | None = None,
                     max_bytes: int | None = None) -> Refusal | None:
    """Why the submission folder `folder` (in an exchange's inbound/) must not be collected,
    or None. `now`: the time to judge by (default: the clock; naive means UTC);
    `assignment`: the one it must name (default: any); `check_owner`: nbgrader's
    ExchangeCollect.check_owner; `trusted_uids`: owners trusted whatever student the
    folder names (default: this process's user and root); `max_bytes`: a size limit.
    Raises FileNotFoundError if the folder is gone."""
    folder = Path(folder)
    info = os.lstat(folder)
    owner = owner_name(info.st_uid)
    name = parse_submission_name(folder.name)
    if name is not None and assignment is not None and name.assignment != assignment:
        name = None

    def refuse(reason: str, extra: str = "", extra_ko: str | None = None, note: tuple[str, str] = ("", "")
               ) -> Refusal:
        fields = {"student": name.student if name else "", "owner": owner,
                  "claimed": name.time_text if name else "", "extra": extra,
                  "extra_ko": extra if extra_ko is None else extra_ko}
        english, korean = REASONS[reason]
        return Refusal(folder.name, fields["student"], owner, fields["claimed"], reason,
                       english.format(**fields) + note[0], korean.format(**fields) + note[1])

    if not stat.S_ISDIR(info.st_mode):
        return refuse("not_a_folder")
    if name is None:
        return refuse("unreadable_name")
    if check_owner and info.st_uid not in (_default_trusted() if trusted_uids is None else trusted_uids):
        try:
            student_uid = pwd.getpwnam(name.student).pw_uid
        except KeyError:
            return refuse("no_such_student")
        if student_uid != info.st_uid:
            return refuse("owner_mismatch")
    ahead = name.time - _utc_naive(now)
    if ahead > CLOCK_SKEW:
        return refuse("future_time", _duration(ahead), _duration(ahead, korean=True), _zone_note(name.time_text))
    problem = _contents_problem(folder, max_bytes)
    if problem:
        return refuse(*problem)
    problem = _timestamp_file_problem(folder, name.time)
    return refuse("timestamp_file", *problem) if problem else None


def owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _default_trusted() -> set[int]:
    return {os.geteuid(), 0}


def _read_time(text: str) -> datetime.datetime | None:
    """`text` read as nbgrader reads a submission's time (UTC, naive), or None."""
    # Imported here: nbgrader's package takes seconds to import, and the kit's configuration
    # and report import this module without needing it.
    from nbgrader.utils import parse_utc
    try:
        return parse_utc(text)
    except Exception:  # noqa: BLE001 - dateutil raises several kinds; a student chose the text
        return None


def _utc_naive(moment: datetime.datetime | None) -> datetime.datetime:
    if moment is None:
        moment = datetime.datetime.now(datetime.timezone.utc)
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def _duration(delta: datetime.timedelta, korean: bool = False) -> str:
    minutes = delta.total_seconds() / 60
    if minutes < 120:
        return f"{minutes:.0f}분" if korean else f"{minutes:.0f} min"
    hours = minutes / 60
    if hours < 48:
        return f"{hours:.1f}시간" if korean else f"{hours:.1f} h"
    return f"{hours / 24:.0f}일" if korean else f"{hours / 24:.0f} days"


def _zone_note(time_text: str) -> tuple[str, str]:
    """A zone name nbgrader does not know (e.g. KST: a student's Exchange.timezone set to
    Asia/Seoul) is read as UTC, hours off: said so, for the instructor who asks the student."""
    from dateutil.tz import gettz
    parts = time_text.split(" ")
    if len(parts) != 3:
        return "", ""
    zone = parts[2]
    try:
        int(zone)
        return "", ""
    except ValueError:
        pass
    if gettz(zone) is not None:
        return "", ""
    return (f" (its zone {zone!r} is unknown to nbgrader, which reads the time as UTC)",
            f" (nbgrader가 모르는 시간대 {zone!r}라서 UTC로 읽힙니다)")


def _contents_problem(folder: Path, max_bytes: int | None) -> tuple[str, ...] | None:
    """(reason, what[, what in Korean]) for the first thing in `folder` that collect could not copy as the
    student's own plain files; None when it can."""
    total, pending = 0, [folder]
    while pending:
        current = pending.pop()
        where = os.path.relpath(current, folder)
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    info = entry.stat(follow_symlinks=False)
                    what = repr(os.path.relpath(entry.path, folder))
                    if stat.S_ISDIR(info.st_mode):
                        pending.append(Path(entry.path))
                    elif not stat.S_ISREG(info.st_mode):
                        return "unsafe_entry", what
                    elif not os.access(entry.path, os.R_OK):
                        return "unreadable", what
                    else:
                        total += info.st_size
        except OSError:
            return ("unreadable", repr(where), repr(where)) if where != "." else ("unreadable", "the folder", "폴더 자체")
    if max_bytes is not None and total > max_bytes:
        return "too_big", f"{total / 1e6:.1f} MB > {max_bytes / 1e6:.1f} MB"
    return None


def _timestamp_file_problem(folder: Path, named: datetime.datetime) -> tuple[str, str] | None:
    """(English, Korean) of what is wrong with the folder's timestamp.txt, or None."""
    path = folder / TIMESTAMP_FILE
    if not path.is_file():  # a link or pipe was refused above
        return "timestamp.txt is missing", "timestamp.txt가 없습니다"
    with path.open("rb") as fh:
        raw = fh.read(MAX_TIMESTAMP_FILE_BYTES + 1)
    text = raw.decode("utf-8", errors="replace").strip()
    if len(raw) > MAX_TIMESTAMP_FILE_BYTES or not text:
        return "timestamp.txt is empty or too long", "timestamp.txt가 비었거나 너무 깁니다"
    written = _read_time(text)
    if written == named:
        return None
    shown = repr(text[:60])
    return f"timestamp.txt says {shown}", f"timestamp.txt의 시각 {shown}이(가) 폴더 이름과 다릅니다"
