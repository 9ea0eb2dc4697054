"""Nobody submits as somebody else (issue 23, item 2): the course's `nbgrader collect`
(dropout_kit.exchange, set by exchange.configure) refuses an inbound folder whose Unix owner
is not the student it names, or whose time lies in the future; the student's own latest
valid submission is collected instead, the instructor reads an error line, and the refusal is
recorded once in <course>/.dropout-kit/refused_submissions.jsonl.

Real nbgrader commands on a scratch course whose exchange (mode 1777, as on a hub) is in the
test's folder. The students are system users that exist everywhere (bin, daemon); their
submissions are made by nbgrader's own submit and then handed to their owner with chown (the
environment's interpreter lives under /root, which other users cannot run). A forged folder
is made by hand, as a student would make it.
"""
from __future__ import annotations

import datetime
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import dropout_assignment as dropout
import pytest
from class_builder import unavailable

from dropout_kit.exchange import CLOCK_SKEW, check_submission
from dropout_kit.exchange.refusal import Refusal
from dropout_kit.exchange.refusal_record import append_refusals, read_refusals, record_path
from dropout_kit.harness.commands import environment
from dropout_kit.harness.course import Course, copy_course

REPO = Path(__file__).resolve().parent.parent
COURSE_ID = "dl-dropout"
HONEST, ATTACKER = "bin", "daemon"  # system users: B, whose name is taken, and A
GHOST = "kit-ghost-student"  # a student id without a Unix user (as in the kit's demo class)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix owners")


@pytest.fixture(scope="module", autouse=True)
def as_root():
    if os.geteuid() != 0:
        unavailable("these tests hand folders to other users (chown): run them as root")


def stamp(moment: datetime.datetime) -> str:
    """A time as nbgrader writes it in a folder's name and timestamp.txt."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z")


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def chown_tree(path: Path, user: str) -> None:
    account = pwd.getpwnam(user)
    for folder, _, files in os.walk(path):
        os.lchown(folder, account.pw_uid, account.pw_gid)
        for name in files:
            os.lchown(os.path.join(folder, name), account.pw_uid, account.pw_gid)


def inbound(course: Course) -> Path:
    return course.exchange / course.course_id / "inbound"


def submit(course: Course, student: str, homes: Path, marker: str, *, owner: str | None) -> Path:
    """`nbgrader submit` of the released notebook and a marker.txt, as `student`; the new
    inbound folder then belongs to `owner` (None: to root, who ran the command)."""
    home = homes / student
    folder = home / course.assignment
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(dropout.release_notebook(course.root), folder / course.notebook)
    (folder / "marker.txt").write_text(marker, encoding="utf-8")
    before = set(os.listdir(inbound(course)))
    course.student(student, home, "submit", course.assignment)
    made, = set(os.listdir(inbound(course))) - before
    if owner is not None:
        chown_tree(inbound(course) / made, owner)
    return inbound(course) / made


def forge(course: Course, student: str, owner: str, when: datetime.datetime, marker: str) -> Path:
    """A folder made by hand in inbound/, in `student`'s name, owned by `owner`: what
    nbgrader submit makes (notebook, timestamp.txt of the name's time), with `marker`."""
    folder = inbound(course) / f"{student}+{course.assignment}+{stamp(when)}+handmade{marker}"
    folder.mkdir()
    shutil.copy(dropout.release_notebook(course.root), folder / course.notebook)
    (folder / "marker.txt").write_text(marker, encoding="utf-8")
    (folder / "timestamp.txt").write_text(stamp(when), encoding="utf-8")
    folder.chmod(0o777)
    chown_tree(folder, owner)
    return folder


def collect(course: Course, *flags: str) -> str:
    done = course.instructor("collect", course.assignment, *flags)
    return done.stdout + done.stderr


def collected(course: Course, student: str) -> str | None:
    """The marker of `student`'s collected submission (None: nothing collected)."""
    marker = course.root / "submitted" / student / course.assignment / "marker.txt"
    return marker.read_text(encoding="utf-8") if marker.exists() else None


def records(course: Course) -> list[dict]:
    path = record_path(course.root)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def refusal_lines(output: str, folder: Path) -> list[str]:
    return [line for line in output.splitlines()
            if "[CollectApp | ERROR] Refused submission · 제출 거부: " + repr(folder.name) in line]


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> tuple[Course, Path]:
    """The course as configured by the repository (its engine sets the kit's collect:
    dropout_kit.exchange.configure), `dropout` released to an exchange of mode 1777, and two
    honest submissions: bin's ("bin-1", owned by bin) and GHOST's (owned by root, the
    collecting account: a student id without a Unix user, handed in by the instructor)."""
    base = tmp_path_factory.mktemp("refusal")
    root = copy_course(REPO, base / "course")
    course = Course(root, base / "exchange", dropout.ASSIGNMENT, course_id=COURSE_ID)
    course.exchange.chmod(0o1777)
    course.release()
    submit(course, HONEST, base / "homes", "bin-1", owner=HONEST)
    submit(course, GHOST, base / "homes", "ghost-1", owner=None)
    return course, base / "homes"


@pytest.fixture
def course(released, tmp_path) -> Course:
    """A copy of the released course and its exchange, owners and modes kept."""
    template, _ = released
    root, exchange = tmp_path / "course", tmp_path / "exchange"
    for source, copy in ((template.root, root), (template.exchange, exchange)):
        shutil.copytree(source, copy, symlinks=True)
        for folder, names, files in os.walk(source):
            for name in [".", *names, *files]:
                path = os.path.normpath(os.path.join(folder, name))
                info = os.lstat(path)
                os.lchown(os.path.join(copy, os.path.relpath(path, source)), info.st_uid, info.st_gid)
    assert stat.S_IMODE(exchange.stat().st_mode) == 0o1777
    return Course(root, exchange, template.assignment, course_id=template.course_id)


@pytest.fixture
def homes(tmp_path) -> Path:
    return tmp_path / "homes"


def test_a_folder_in_another_students_name_is_refused_and_theirs_collected(course):
    # A (daemon) makes a folder in B's (bin's) name, 40 minutes ahead: stock nbgrader warns,
    # then collects it as B's, and it would outrank all of B's later submissions.
    claimed = utc_now() + datetime.timedelta(minutes=40)
    forged = forge(course, HONEST, ATTACKER, claimed, "forged-by-daemon")
    output = collect(course)
    assert collected(course, HONEST) == "bin-1"
    assert not (course.root / "submitted" / ATTACKER).exists()
    assert "forged-by-daemon" not in {p.read_text() for p in (course.root / "submitted").rglob("marker.txt")}
    lines = refusal_lines(output, forged)
    assert len(lines) == 1 and "owned by daemon" in lines[0] and "다른 학생 명의의 제출" in lines[0], output
    assert "recorded in " + str(record_path(course.root)) in lines[0]
    # A student id with no Unix user, handed in by the collecting account: collected with
    # nbgrader's own warning, as before.
    assert collected(course, GHOST) == "ghost-1"
    assert f"claims to be submitted by {GHOST} but is owned by root" in output
    [record] = records(course)
    assert {k: record[k] for k in ("course_id", "assignment", "folder", "student", "owner", "claimed_time", "reason")} \
        == {"course_id": COURSE_ID, "assignment": course.assignment, "folder": forged.name, "student": HONEST,
            "owner": ATTACKER, "claimed_time": stamp(claimed), "reason": "owner_mismatch"}
    refused_at = datetime.datetime.fromisoformat(record["refused_at"].replace("Z", "+00:00"))
    assert abs(refused_at - utc_now()) < datetime.timedelta(minutes=5)

    # Seen again by a later collect: refused and told again, recorded once; the folder stays.
    output = collect(course, "--update")
    assert collected(course, HONEST) == "bin-1"
    assert "already recorded in" in refusal_lines(output, forged)[0]
    assert len(records(course)) == 1 and forged.is_dir()


def test_a_future_time_is_refused_and_later_honest_submissions_collected_with_update(course, homes):
    # B's own folder (owner right) dated 40 minutes ahead, then a real submission of B's.
    ahead = forge(course, HONEST, HONEST, utc_now() + datetime.timedelta(minutes=40), "bin-ahead")
    output = collect(course)
    assert collected(course, HONEST) == "bin-1"
    [line] = refusal_lines(output, ahead)
    assert "40 min ahead of the clock" in line and "40분 미래" in line, line
    assert [r["reason"] for r in records(course)] == ["future_time"]

    submit(course, HONEST, homes, "bin-2", owner=HONEST)
    assert "Submission already exists, use --update" in collect(course)  # nbgrader's meaning kept
    assert collected(course, HONEST) == "bin-1"
    output = collect(course, "--update")
    assert collected(course, HONEST) == "bin-2"
    assert "Updating submission: bin dropout" in output
    assert len(refusal_lines(output, ahead)) == 1 and len(records(course)) == 1


def test_a_student_without_an_account_is_refused_unless_check_owner_is_off(course):
    [ghost] = inbound(course).glob(f"{GHOST}+*")
    chown_tree(ghost, ATTACKER)  # now made by A, in the name of nobody on this machine
    output = collect(course)
    assert collected(course, GHOST) is None
    [line] = refusal_lines(output, ghost)
    assert f"it names {GHOST}, who has no account on this machine" in line
    assert [(r["reason"], r["owner"]) for r in records(course)] == [("no_such_student", ATTACKER)]
    # nbgrader's switch: no owner check at all (no warning either); the future check stays.
    ahead = forge(course, GHOST, ATTACKER, utc_now() + datetime.timedelta(hours=3), "ghost-ahead")
    output = collect(course, "--ExchangeCollect.check_owner=False")
    assert collected(course, GHOST) == "ghost-1"
    assert "cheating attempt" not in output and not refusal_lines(output, ghost)
    assert "3.0 h ahead" in refusal_lines(output, ahead)[0]


def test_before_duedate_chooses_among_the_accepted_submissions(course):
    # bin-1 (before the due date); a folder of A's in B's name just before the due date (stock
    # --before-duedate would take it); a later folder of B's own, after the due date.
    due = utc_now()
    forge(course, HONEST, ATTACKER, due - datetime.timedelta(seconds=1), "forged-on-time")
    late = forge(course, HONEST, HONEST, due + datetime.timedelta(seconds=1), "bin-late")
    course.instructor("db", "assignment", "add", course.assignment, f"--duedate={stamp(due)}")
    collect(course, "--before-duedate")
    assert collected(course, HONEST) == "bin-1"
    collect(course, "--update")  # without the flag: the latest accepted one
    assert collected(course, HONEST) == "bin-late" and late.is_dir()


FORMGRADER_COLLECT = """
import json
from nbgrader.apps import NbGrader, NbGraderAPI
app = NbGrader()
app.load_config_file()  # as the formgrader does: the course's nbgrader_config.py
print(json.dumps(NbGraderAPI(config=app.config).collect("dropout")))
"""


def test_the_formgrader_collect_refuses_too(course):
    forged = forge(course, HONEST, ATTACKER, utc_now() + datetime.timedelta(minutes=40), "forged-by-daemon")
    done = subprocess.run([sys.executable, "-c", FORMGRADER_COLLECT], cwd=course.root, capture_output=True,
                          text=True, check=True, env=environment({"NBGRADER_EXCHANGE_ROOT": str(course.exchange),
                                                                  "NBGRADER_COURSE_ID": course.course_id}))
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["success"], result
    assert f"[ERROR] Refused submission · 제출 거부: {forged.name!r}" in result["log"]
    assert collected(course, HONEST) == "bin-1"
    assert [r["folder"] for r in records(course)] == [forged.name]


# -- one folder, judged: dropout_kit.exchange.check_submission -------------------------------------
def made(inbound_folder: Path, student: str, owner: str, when: datetime.datetime, *,
         timestamp_text: str | None = None) -> Path:
    folder = inbound_folder / f"{student}+dropout+{stamp(when)}+x"
    folder.mkdir(parents=True)
    (folder / "dropout.ipynb").write_text("{}", encoding="utf-8")
    (folder / "timestamp.txt").write_text(stamp(when) if timestamp_text is None else timestamp_text,
                                          encoding="utf-8")
    chown_tree(folder, owner)
    return folder


def reason(folder: Path, now: datetime.datetime, **options) -> str | None:
    refusal = check_submission(folder, now, assignment="dropout", **options)
    return refusal.reason if refusal else None


def test_check_submission_judges_owner_and_time(tmp_path):
    now = utc_now()
    untrusting = {"trusted_uids": ()}
    assert reason(made(tmp_path / "1", HONEST, HONEST, now), now, **untrusting) is None
    assert reason(made(tmp_path / "2", HONEST, ATTACKER, now), now, **untrusting) == "owner_mismatch"
    assert reason(made(tmp_path / "3", GHOST, ATTACKER, now), now, **untrusting) == "no_such_student"
    assert reason(made(tmp_path / "4", GHOST, ATTACKER, now), now, check_owner=False) is None
    assert reason(made(tmp_path / "5", HONEST, "root", now), now) is None  # the collecting account (root)
    assert reason(made(tmp_path / "5b", HONEST, "root", now), now, **untrusting) == "owner_mismatch"
    within = made(tmp_path / "6", HONEST, HONEST, now + CLOCK_SKEW - datetime.timedelta(seconds=5))
    assert reason(within, now) is None
    ahead = made(tmp_path / "7", HONEST, HONEST, now + CLOCK_SKEW + datetime.timedelta(seconds=5))
    assert reason(ahead, now) == "future_time"
    assert reason(ahead, now.replace(tzinfo=None)) == "future_time"  # naive: UTC
    assert reason(ahead, now + datetime.timedelta(minutes=1)) is None
    # A student's Exchange.timezone of Asia/Seoul writes KST, which nbgrader reads as UTC.
    kst = tmp_path / "8" / f"{HONEST}+dropout+{(now + datetime.timedelta(hours=9)).strftime('%Y-%m-%d %H:%M:%S.%f')} KST+x"
    kst.mkdir(parents=True)
    refusal = check_submission(kst, now)
    assert refusal.reason == "future_time" and "'KST' is unknown to nbgrader" in refusal.detail


def test_check_submission_refuses_what_collect_could_not_copy_as_the_students_files(tmp_path):
    now = utc_now()
    link = tmp_path / "1" / f"{HONEST}+dropout+{stamp(now)}+x"
    link.parent.mkdir()
    link.symlink_to(made(tmp_path / "0", HONEST, HONEST, now))
    assert reason(link, now) == "not_a_folder"
    inside = made(tmp_path / "2", HONEST, HONEST, now)
    (inside / "solution.ipynb").symlink_to(REPO / "source" / "dropout" / "dropout.ipynb")
    assert reason(inside, now) == "unsafe_entry"
    pipe = made(tmp_path / "3", HONEST, HONEST, now)
    os.mkfifo(pipe / "data.csv")
    assert reason(pipe, now) == "unsafe_entry"
    assert reason(made(tmp_path / "4", HONEST, HONEST, now, timestamp_text=stamp(now - datetime.timedelta(days=3))),
                  now) == "timestamp_file"  # a late penalty dodged
    missing = made(tmp_path / "5", HONEST, HONEST, now)
    (missing / "timestamp.txt").unlink()
    assert reason(missing, now) == "timestamp_file"
    assert reason(made(tmp_path / "6", HONEST, HONEST, now), now, max_bytes=1) == "too_big"
    garbage = tmp_path / "7" / f"{HONEST}+dropout+not-a-time"
    garbage.mkdir(parents=True)
    assert reason(garbage, now) == "unreadable_name"
    other = made(tmp_path / "8", HONEST, HONEST, now)
    assert check_submission(other, now, assignment="week2").reason == "unreadable_name"


def test_refusals_are_recorded_once_per_folder(tmp_path):
    first = Refusal("bin+dropout+t+x", "bin", "daemon", "t", "owner_mismatch", "en", "ko")
    second = Refusal("bin+dropout+u+y", "bin", "bin", "u", "future_time", "en", "ko")
    assert append_refusals(tmp_path, [first], course_id="c", assignment="dropout") == [first]
    assert append_refusals(tmp_path, [first, second, second], course_id="c", assignment="dropout") == [second]
    with record_path(tmp_path).open("a", encoding="utf-8") as fh:
        fh.write("not json\n")
    assert [r.refusal for r in read_refusals(tmp_path, "dropout")] == [first, second]
    assert read_refusals(tmp_path, "week2") == []
