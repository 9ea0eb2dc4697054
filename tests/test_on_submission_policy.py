"""Grading on submission without a service: the deadline arithmetic of the instructor's
settings, and the journal that a restarted service resumes from."""
from __future__ import annotations

import datetime
import json
import time

import pytest
from traitlets.config import Config

from dropout_kit.on_submission import status_page
from dropout_kit.on_submission.inbound import SETTLE_SECONDS, Submission
from dropout_kit.on_submission.journal import Journal
from dropout_kit.on_submission.policy import GradeOnSubmission

UTC = datetime.timezone.utc


def policy(**settings) -> GradeOnSubmission:
    config = Config()
    for name, value in settings.items():
        setattr(config.GradeOnSubmission, name, value)
    return GradeOnSubmission(config=config)


@pytest.mark.parametrize("student, expected", [
    ("kit-stu-a", datetime.datetime(2026, 12, 10, 14, 59, tzinfo=UTC)),  # 23:59 in Seoul
    ("kit-stu-b", datetime.datetime(2026, 12, 12, 0, 0, tzinfo=UTC)),  # the extension
    (None, datetime.datetime(2026, 12, 10, 14, 59, tzinfo=UTC)),  # the course's
])
def test_deadlines_are_read_in_the_courses_time_zone_with_extensions(student, expected):
    settings = policy(deadlines={"dropout": "2026-12-10 23:59"},
                      extensions={"dropout": {"kit-stu-b": "2026-12-12 09:00"}})
    assert settings.deadline("dropout", student, None) == expected


def test_without_a_setting_the_gradebooks_due_date_counts_and_none_means_no_deadline():
    due = datetime.datetime(2026, 12, 10, 15, 0)  # nbgrader keeps naive UTC
    assert policy().deadline("dropout", "x", due) == due.replace(tzinfo=UTC)
    assert policy().deadline("dropout", "x", None) is None
    assert policy().local(due.replace(tzinfo=UTC)) == "2026-12-11 00:00 KST (UTC 15:00)"


def test_the_journal_replays_what_is_left_to_do_and_skips_a_line_cut_by_a_kill(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.write("seen", folder="a+hw+1+x", student="a", timestamp="2026-12-03 10:00:00 UTC")
    journal.write("seen", folder="a+hw+2+y", student="a", timestamp="2026-12-03 10:05:00 UTC")
    journal.write("seen", folder="b+hw+1+z", student="b", timestamp="2026-12-03 10:01:00 UTC")
    journal.write("graded", folder="b+hw+1+z", student="b", status="graded")
    journal.close()
    with open(path, "a") as cut:
        cut.write(json.dumps({"event": "released", "folder": "b+hw+1+z"})[:20])  # killed mid-write

    replayed = Journal(path).state
    assert {s: e["folder"] for s, e in replayed.pending().items()} == {"a": "a+hw+2+y", "b": "b+hw+1+z"}
    assert "b+hw+1+z" in replayed.graded  # graded before the kill: released without regrading
    assert not replayed.done


def test_status_pages_escape_what_they_quote():
    page = status_page.after_deadline("2026-12-03 10:00", "<script>x</script>")
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_a_folder_is_judged_only_once_nbgrader_submit_has_written_it(tmp_path):
    folder = tmp_path / "a+dropout+2026-12-03 10:00:00.000000 UTC+x"
    folder.mkdir()
    (folder / "dropout.ipynb").write_text("{}")
    submission = Submission(folder, "a", "2026-12-03 10:00:00.000000 UTC")
    now = time.time()
    assert not submission.settled(now)  # copied, the two last files not written yet
    assert submission.settled(now + SETTLE_SECONDS + 1)  # never completed: judged (and refused) later
    (folder / "timestamp.txt").write_text("2026-12-03 10:00:00.000000 UTC")
    (folder / "submission_secret.txt").write_text("s")
    assert submission.settled(now)


def test_an_event_after_a_cut_line_is_kept(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text(json.dumps({"event": "seen", "folder": "a+hw+1+x", "student": "a",
                                "timestamp": "t1", "at": 1.0}) + "\n" + '{"event": "rel')
    journal = Journal(path)
    journal.write("seen", folder="b+hw+1+y", student="b", timestamp="t1")
    journal.close()
    assert set(Journal(path).state.seen) == {"a+hw+1+x", "b+hw+1+y"}
