"""`dropout-kit audit` proved on a weakened checks folder (the round: tests/audit_round.py).

With my_dropout's scaling checks weakened, the two scaling mutants the audit grades survive and
a mask mutant is still killed in its own part. With the real checks the two survivors are
killed: they are wrong entries of the corpus (tests/corpus.py, AUDIT_FOUND), which
tests/test_corpus.py grades with the real checks, asserting the points they lose in
my_dropout's cells. Also: the course's own gradebook never sees a mutant, and a second run
grades nothing again.
"""
from __future__ import annotations

import json

import audit_round
import corpus
import dropout_assignment as dropout
import pytest

from dropout_kit.audit.results import KILLED, SURVIVED, AuditResult

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def audited() -> audit_round.Audited:
    return audit_round.AuditRound.started_round().wait()


@pytest.fixture(scope="module")
def result(audited) -> AuditResult:
    first = audited.runs[0]
    assert first.returncode == 0, first.stderr[-3000:]
    return AuditResult.load(audited.folder / "audit.json")


def test_the_weakened_checks_let_the_scaling_mutants_survive(audited, result):
    status = {r.mutant.id: r for r in result.results}
    for mutant in audited.scaling:
        assert status[mutant.id].status == SURVIVED, status[mutant.id]
        assert status[mutant.id].differences, "a survivor is reported with what differs from the reference"
    killed = status[audited.mask.id]
    assert killed.status == KILLED
    assert any(check.startswith("test_my_dropout_mask:") for check in killed.failed_checks)
    summary = audited.runs[0].stdout
    assert all(m.id in summary for m in audited.scaling) and "test_my_dropout_scale" in summary


def test_the_real_checks_kill_them_in_the_corpus(audited):
    """Each survivor is a wrong entry of the corpus that loses points in my_dropout's cells."""
    wrong = {entry.answers.get("my_dropout"): entry for entry in corpus.WRONG}
    for mutant in audited.scaling:
        entry = wrong.get(mutant.source)
        assert entry is not None, f"{mutant.id} is not in the corpus:\n{mutant.diff()}"
        assert entry.scores and set(entry.scores) <= set(dropout.AUTO_PARTS["my_dropout"])


def test_survivors_exported_as_corpus_entries(audited, result):
    exported = {e["name"]: e for e in json.loads((audited.folder / "survivors.json").read_text(encoding="utf-8"))}
    assert sorted(exported) == sorted(m.id for m in audited.scaling)
    for mutant in audited.scaling:
        assert exported[mutant.id]["answers"] == {"my_dropout": mutant.source}


def test_the_report_names_the_survivors(audited, result):
    page = (audited.folder / "audit.html").read_text(encoding="utf-8")
    assert all(m.id in page for m in audited.scaling)
    assert (audited.folder / "audit-scores.png").read_bytes().startswith(b"\x89PNG")


def test_a_second_run_grades_nothing_again(audited, result):
    second = audited.runs[1]
    assert second.returncode == 0, second.stderr[-3000:]
    assert "canary" not in second.stdout  # no grading round was opened
    assert AuditResult.load(audited.folder / "audit.json").results == result.results


def test_the_course_gradebook_never_sees_a_mutant(audited):
    assert not (audited.course / "gradebook.db").exists()
    assert not (audited.course / "submitted").exists()
    assert (audited.folder / "course" / "gradebook.db").is_file()
