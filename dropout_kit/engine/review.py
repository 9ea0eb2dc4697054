"""Parts held for a person's review: what the autograder could not judge from data.

A part is held when the integrity scan (dropout_kit.engine.integrity_scan) found, in a cell
the student wrote before the part's autograder cell, a construct that can change the
library's or the grader's behaviour, or when one of the part's checks routed it to a
person (dropout_kit.checking.flag). A held part
  * is recorded with 0 points (GuardGradeCells), so forged points never reach totals or
    `nbgrader export`, and is listed by the formgrader as needing manual grading
    (HoldForReview, after nbgrader's SaveAutoGrades);
  * shows the grader, in the autograded notebook, the automatic score as a suggestion and
    the evidence (construct, cell, line) in an output of REVIEW_MIME;
  * shows the student only that the part awaits review (PendingReviewFeedback).
"""
from __future__ import annotations

from nbformat import NotebookNode
from nbformat.v4 import new_output

REVIEW_MIME = "application/vnd.dropout-kit.review+json"
# resources key: autograder grade_id → the scan's evidence lines (IntegrityScan)
FINDINGS = "dropout_kit_findings"
# resources key: autograder grade_id → evidence lines of the parts held (GuardGradeCells)
HELD = "dropout_kit_held"

PENDING = ("⏳ 검토 대기: 이 부분은 강사가 직접 검토한 뒤 점수가 정해집니다. "
           "지금 보이는 점수는 확정된 점수가 아닙니다.")
REVIEWED = "이 부분은 강사가 검토하여 점수를 정했습니다."


def review_output(evidence: list[str], suggested: float | None, points: float) -> NotebookNode:
    """What the grader reads under a held part in the formgrader."""
    lines = ["⚑ 강사 검토 필요 (needs review): 기록된 점수는 사람이 채점할 때까지 0점입니다.",
             f"   자동 채점 결과 (suggestion): "
             f"{'없음' if suggested is None else f'{suggested:g}'} / {points:g}점",
             "   근거 (evidence):"]
    lines += [f"   - {line}" for line in evidence]
    return new_output("display_data", data={
        REVIEW_MIME: {"evidence": list(evidence), "suggested": suggested, "points": points},
        "text/plain": "\n".join(lines)})


def review_of(cell: NotebookNode) -> dict | None:
    """The review record of a held cell, or None."""
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if isinstance(data, dict) and isinstance(data.get(REVIEW_MIME), dict):
            return data[REVIEW_MIME]
    return None
