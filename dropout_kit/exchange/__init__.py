"""The kit's side of nbgrader's exchange: collecting only what each student handed in.

`configure(c)` makes every `nbgrader collect` of the course (command line and formgrader)
use `collect.VerifiedCollect`, which refuses submission folders made in another student's
name or dated in the future; `check_submission` judges one inbound folder the same way, for
the kit's other code. Refusals are recorded in <course root>/.dropout-kit/refused_submissions.jsonl.
"""
from __future__ import annotations

from dropout_kit.exchange.refusal import CLOCK_SKEW, Refusal, check_submission

COLLECT_CLASS = "dropout_kit.exchange.collect.VerifiedCollect"

__all__ = ["CLOCK_SKEW", "COLLECT_CLASS", "Refusal", "check_submission", "configure"]


def configure(c) -> None:
    """Sets the kit's collect on the nbgrader config `c` (ExchangeFactory.collect)."""
    c.ExchangeFactory.collect = COLLECT_CLASS
