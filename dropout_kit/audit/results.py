"""What the audit found: each mutant, how grading treated it, and the score per part.

A mutant is one small fault in one automatically graded part's solution region. Grading
classifies it (`status`):
  killed            a check of its own part took points: the checks work
  killed-elsewhere  its own part kept full marks, another part lost points (a double-penalty
                    risk, or a check missing in its own part)
  survived          full marks everywhere
  broke             the mutated cell raised an error (never counted as killed)
  timeout           a cell or the notebook ran out of its time
A survivor is then compared with the reference outside grading (dropout_kit.audit.differential):
  equivalent        every observable value is the reference's: likely an equivalent mutant
  accepted          it differs only where an answer the assignment accepts differs too
                    (grader_tests/<name>/audit.py, ACCEPTED)
and what stays `survived` is for the instructor to review.

The mutation score of a part = killed ÷ (killed + killed-elsewhere + survived): equivalent,
accepted, broke and timeout mutants are listed apart and count neither way.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

KILLED = "killed"
KILLED_ELSEWHERE = "killed-elsewhere"
SURVIVED = "survived"
BROKE = "broke"
TIMEOUT = "timeout"
EQUIVALENT = "equivalent"
ACCEPTED = "accepted"
STATUSES = (KILLED, KILLED_ELSEWHERE, SURVIVED, EQUIVALENT, ACCEPTED, BROKE, TIMEOUT)
SCORED = (KILLED, KILLED_ELSEWHERE, SURVIVED)  # the score's denominator

# What an instructor reads for each status.
MEANING = {
    KILLED: "killed in its own part",
    KILLED_ELSEWHERE: "killed only in other parts",
    SURVIVED: "survived: to review",
    EQUIVALENT: "likely equivalent",
    ACCEPTED: "accepted by the contract",
    BROKE: "broke the notebook",
    TIMEOUT: "timeout",
}


@dataclass(frozen=True)
class Mutant:
    id: str  # stable for a given source notebook: "<part>-<operator>-<n>", e.g. "my_dropout-compare-3"
    part: str  # grade_id of the solution cell mutated
    operator: str  # dropout_kit.audit.mutants.OPERATORS key
    line: int  # 1-based line of the change in `original`
    description: str  # what changed, e.g. "`>=` → `>`" or "deleted `optimizr.zero_grad()`"
    original: str  # the part's reference answer: the whole cell, solution markers removed
    source: str  # `original` with exactly this one change

    def diff(self) -> str:
        """A unified diff of the cell, reference → mutant."""
        lines = difflib.unified_diff(self.original.splitlines(), self.source.splitlines(),
                                     f"reference/{self.part}", f"mutant/{self.part}", n=1, lineterm="")
        return "\n".join(lines) + "\n"


@dataclass
class Difference:
    """One observable on which a survivor and the reference disagree."""
    observable: str  # e.g. "my_dropout(linspace(1, 2, 1000), 0.8) [seed 2]"
    reference: str  # short description of the reference's value
    mutant: str  # and the mutant's


@dataclass
class MutantResult:
    mutant: Mutant
    status: str  # one of STATUSES
    scores: dict[str, float] = field(default_factory=dict)  # autograder cell → points got
    maxima: dict[str, float] = field(default_factory=dict)  # autograder cell → its points
    failed_checks: list[str] = field(default_factory=list)  # "<cell>: <check title>" that failed
    error: str = ""  # broke: the error in the mutated cell; timeout: the cells stopped
    seconds: float = 0.0  # grading wall time of this mutant
    differences: list[Difference] = field(default_factory=list)  # survivors: from the differential run
    precedent: str = ""  # accepted: the accepted answer (ACCEPTED's name) that differs the same way

    @property
    def lost_in(self) -> list[str]:
        return [cell for cell, top in self.maxima.items() if self.scores.get(cell, 0.0) < top]


@dataclass
class AuditResult:
    assignment: str
    seed: int
    parts: dict[str, list[str]]  # automatically graded part → its autograder cells (check modules)
    candidates: dict[str, dict[str, int]]  # part → operator → candidate mutants found
    results: list[MutantResult]
    workers: int = 0
    seconds: float = 0.0  # wall time of the whole audit
    reference_seconds: float = 0.0  # grading wall time of the reference answer, as one submission

    def of_part(self, part: str) -> list[MutantResult]:
        return [r for r in self.results if r.mutant.part == part]

    def counts(self, part: str) -> dict[str, int]:
        found = {status: 0 for status in STATUSES}
        for result in self.of_part(part):
            found[result.status] += 1
        return found

    def score(self, part: str) -> float | None:
        """Killed in its own part ÷ (killed + killed-elsewhere + survived); None: nothing to score."""
        counts = self.counts(part)
        scored = sum(counts[s] for s in SCORED)
        return counts[KILLED] / scored if scored else None

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "AuditResult":
        data = json.loads(path.read_text(encoding="utf-8"))
        data["results"] = [MutantResult(**{**r, "mutant": Mutant(**r["mutant"]),
                                           "differences": [Difference(**d) for d in r["differences"]]})
                           for r in data["results"]]
        return cls(**data)
