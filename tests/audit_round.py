"""The audit round of tests/test_audit.py, started when the session's collection finishes and
run beside the other tests (it is mostly kernels starting and waiting; pytest_collection_finish
in conftest.py, which runs test_audit.py last).

A copy of the course has my_dropout's scaling checks (survivors × 1/(1-p), the expected value,
the gradient) weakened to pass whatever they get; `dropout-kit audit` runs on three of
my_dropout's mutants, as the instructor types it, then a second time (nothing left to grade).
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dropout_assignment as dropout
from background_round import BackgroundRound

from dropout_kit.audit import mutants as mutation
from dropout_kit.audit.results import Mutant
from dropout_kit.harness.course import copy_course

WEAKENED = ("test_survivors_scaled", "test_expected_value_preserved", "test_gradient_is_mask_over_keep_probability")
SCALE_MODULE = Path("grader_tests") / dropout.ASSIGNMENT / "test_my_dropout_scale.py"
# The mutants graded, by the mutated line they produce (their ids are the audit's own).
SCALING_MUTANTS = ("return x * mask * (1 - p)", "return x * mask / (2 - p)")
MASK_MUTANT = "mask = (torch.rand_like(x) < p).to(x.dtype)"
TIMEOUT = 900


def weaken(module: Path, names: tuple[str, ...]) -> None:
    """Each check named in `names` returns at once (after its docstring): it passes whatever it gets."""
    lines = module.read_text(encoding="utf-8").splitlines(keepends=True)
    found = [node for node in ast.parse("".join(lines)).body
             if isinstance(node, ast.FunctionDef) and node.name in names]
    assert {node.name for node in found} == set(names)
    for node in sorted(found, key=lambda n: n.lineno, reverse=True):
        docstring = node.body[0]
        lines.insert(docstring.end_lineno, " " * docstring.col_offset + "return  # weakened by tests/audit_round.py\n")
    module.write_text("".join(lines), encoding="utf-8")


def mutant_with_line(candidates: dict[str, list[Mutant]], line: str) -> Mutant:
    matches = [m for m in candidates["my_dropout"] if line in m.source.splitlines()[m.line - 1]]
    assert len(matches) == 1, f"{line!r}: {[m.id for m in matches]}"
    return matches[0]


@dataclass
class Audited:
    course: Path
    scaling: list[Mutant]
    mask: Mutant
    runs: list[subprocess.CompletedProcess]

    @property
    def folder(self) -> Path:
        return self.course / "reports" / dropout.ASSIGNMENT / "audit"


class AuditRound(BackgroundRound):
    MODULE = "test_audit.py"
    PREFIX = "dk-audit-"

    def run(self) -> Audited:
        course = copy_course(dropout.REPO, self.dest / "course")
        weaken(course / SCALE_MODULE, WEAKENED)
        candidates = mutation.candidates(dropout.in_course(course))
        scaling = [mutant_with_line(candidates, line) for line in SCALING_MUTANTS]
        mask = mutant_with_line(candidates, MASK_MUTANT)
        command = [sys.executable, "-m", "dropout_kit.cli", "audit", "--course", str(course), "--workers", "2",
                   *(a for m in [*scaling, mask] for a in ("--mutant", m.id))]
        tmp = self.dest / "tmp"
        tmp.mkdir()
        env = {**os.environ, "TMPDIR": str(tmp)}
        runs = [subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=env)
                for _ in range(2)]
        return Audited(course, scaling, mask, runs)
