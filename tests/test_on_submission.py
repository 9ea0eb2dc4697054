"""Grading on submission (dropout_kit.on_submission): what the round in
tests/on_submission_round.py observed — students who are Unix users hand in with nbgrader's
own submit, the service grades each latest submission and releases that student's feedback,
forged folders are refused, a killed service resumes from its journal."""
from __future__ import annotations

import pytest
from on_submission_round import Observed, can_run_on_submission_round, started_round

from dropout_kit.classroom.gradebook import cell_grades
from dropout_kit.exchange.refusal_record import read_refusals

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not can_run_on_submission_round(),
                       reason="Unix students need root and the hub's environment (make test builds it)"),
]
SCALING_MESSAGE = "살아남은 값은 10배가 되어야 합니다"
EVAL_MODE_MESSAGE = "net 이 학습모드로 동작합니다"
HIDDEN_CODE_MARKERS = ["BEGIN HIDDEN TESTS", "dropout_kit.grading", 'grade("test_', "def test_"]


@pytest.fixture(scope="module")
def observed() -> Observed:
    seen = started_round().wait()
    assert not seen.error, f"{seen.error}\nservice log:\n{seen.service_log[-4000:]}"
    return seen


def stamp(seen: Observed, what: str) -> str:
    return seen.submissions[what].split("+")[2]


def test_each_student_fetches_the_feedback_of_their_latest_submission(observed):
    a, b = observed.students["a"], observed.students["b"]
    pages = observed.feedback["first"]
    a_page = pages[a][stamp(observed, "a")]
    b_page = pages[b][stamp(observed, "b")]
    for page in (a_page, b_page):
        assert "[test_my_dropout_scale]" in page and "✅" in page and "❌" not in page
        for marker in HIDDEN_CODE_MARKERS:
            assert marker not in page


def test_an_older_waiting_submission_is_superseded_and_says_so(observed):
    first = observed.submissions["b-first"]
    assert observed.events(first, "superseded") and not observed.events(first, "graded")
    page = observed.feedback["first"][observed.students["b"]][stamp(observed, "b-first")]
    assert "더 최근 제출" in page and SCALING_MESSAGE not in page


@pytest.mark.parametrize("what, reason", [("forged-as-b", "owner_mismatch"), ("b-future", "future_time")])
def test_a_forged_folder_is_refused_recorded_and_never_collected(observed, what, reason):
    folder = observed.submissions[what]
    assert observed.events(folder, "refused") and not observed.events(folder, "collected")
    recorded = {r.refusal.folder: r.refusal.reason for r in read_refusals(observed.course)}
    assert recorded.get(folder) == reason
    timestamp = (observed.course / "submitted" / observed.students["b"] / "dropout" / "timestamp.txt").read_text()
    assert timestamp.strip() == stamp(observed, "b")  # B's own latest submission stands


def test_the_gradebook_holds_the_latest_submissions_scores(observed):
    grades = cell_grades(f"sqlite:///{observed.course / 'gradebook.db'}", "dropout")
    a, b = observed.students["a"], observed.students["b"]
    assert sum(g.score for g in grades[b].values() if g.auto) == 15
    # A's second submission predicts in training mode: only the evaluation-mode part loses points.
    lost = {cell: g.max_score - g.score for cell, g in grades[a].items() if g.auto and g.score < g.max_score}
    assert list(lost) == ["test_eval_predict"], lost


def test_a_killed_service_resumes_from_its_journal_without_grading_twice(observed):
    second = observed.submissions["a-second"]
    assert observed.exit_codes[0] == -9  # SIGKILL once the submission was collected
    assert len(observed.events(second, "released")) == 1
    assert len(observed.events(second, "graded")) == 1
    page = observed.feedback["after-restart"][observed.students["a"]][stamp(observed, "a-second")]
    assert EVAL_MODE_MESSAGE in page and "❌" in page
    # The first submission's feedback stays in its own timestamp folder.
    assert observed.feedback["after-restart"][observed.students["a"]][stamp(observed, "a")] == \
        observed.feedback["first"][observed.students["a"]][stamp(observed, "a")]


def test_every_folder_is_accounted_for_once(observed):
    for folder in observed.submissions.values():
        endings = [e["event"] for e in observed.journal
                   if e.get("folder") == folder and e["event"] in ("released", "superseded", "refused")]
        assert len(endings) == 1, (folder, endings)


def test_nbgrader_autograde_is_refused_while_the_service_grades(observed):
    done = observed.autograde_while_serving
    assert done.returncode != 0
    assert "dropout-kit on-submission pause" in done.stdout + done.stderr
    assert "Removing existing" not in done.stdout + done.stderr  # refused before nbgrader removes


def test_pause_is_acknowledged_and_sigterm_stops_the_service_cleanly(observed):
    assert observed.pause.returncode == 0 and "paused" in observed.pause.stdout
    assert "(paused)" in observed.status_paused.stdout
    assert "canary: passed" in observed.status_paused.stdout
    assert observed.exit_codes[1] == 0
