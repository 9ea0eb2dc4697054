"""`dropout-kit audit` on this assignment: its wall time and what it finds.

    python -m benchmarks.audit            # 25 mutants per part (100 in all), seed 0, 2 workers
    python -m benchmarks.audit --seed 1 --per-part 20
    python -m benchmarks.audit --quick    # 3 mutants per part (a smoke run)

The audit runs on a copy of the repository's course in build/bench/audit/ (fresh each time,
so nothing is reused from an earlier run), exactly as `dropout-kit audit --workers 2` runs it.
Printed: the audit's own summary (scores per part, survivors), then its wall time for the
whole audit and split into the reference round, the mutants' grading and the differential
runs, the time per graded mutant (wall time of the mutants' grading ÷ mutants) against the
reference's grading time as one submission of `dropout-kit grade` (measured in the same run),
and the goal: ≤ 10 minutes for about 100 mutants on 2 workers.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

from dropout_kit.assignment import find_assignment
from dropout_kit.audit import report
from dropout_kit.audit.run import audit
from dropout_kit.harness.course import copy_course

REPO = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 600


class Timeline:
    """The audit's console output, with the time each line was printed."""

    def __init__(self):
        self.started = time.perf_counter()
        self.lines: list[tuple[float, str]] = []
        self._partial = ""

    def write(self, text: str) -> int:
        sys.stdout.write(text)
        self._partial += text
        *done, self._partial = re.split(r"[\n\r]", self._partial)
        now = time.perf_counter() - self.started
        self.lines += [(now, line) for line in done if line.strip()]
        return len(text)

    def flush(self) -> None:
        sys.stdout.flush()

    def first(self, pattern: str) -> float | None:
        return next((t for t, line in self.lines if re.search(pattern, line)), None)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-part", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    root = REPO / "build" / "bench" / "audit"
    shutil.rmtree(root, ignore_errors=True)
    course = copy_course(REPO, root / "course")
    assignment = find_assignment(course, "dropout")
    timeline = Timeline()
    result = audit(assignment, per_part=3 if args.quick else args.per_part, seed=args.seed, workers=args.workers,
                   folder=root / "audit", out=timeline)
    report.write_report(result, root / "audit")
    print(report.summary_text(result))
    graded = len(result.results)
    grading_start = timeline.first(r"^audit: grading \d+ mutants") or 0.0
    differential_start = timeline.first(r"^audit: comparing") or result.seconds
    print(f"\nwall time of the audit: {result.seconds:.0f} s for {graded} mutants on {result.workers} workers "
          f"(goal: ≤ {GOAL_SECONDS} s for about 100): {'met' if result.seconds <= GOAL_SECONDS else 'NOT met'}")
    print(f"  set-up and the reference round: {grading_start:.0f} s")
    print(f"  the mutants' round (cluster, canary, grading): {differential_start - grading_start:.0f} s")
    print(f"  differential runs of the survivors: {result.seconds - differential_start:.0f} s")
    per_mutant = (differential_start - grading_start) / graded if graded else 0.0
    print(f"per mutant: {per_mutant:.1f} s of the round's wall time on {result.workers} workers "
          f"({per_mutant * result.workers:.1f} s of a worker); the reference as one submission of "
          f"`dropout-kit grade`: {result.reference_seconds:.1f} s "
          f"(ratio {per_mutant * result.workers / result.reference_seconds:.2f} per worker)"
          if result.reference_seconds else "")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
