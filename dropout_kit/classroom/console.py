"""What `dropout-kit grade` prints before and after a run."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dropout_kit.classroom.changes import Plan
    from dropout_kit.classroom.course_paths import CoursePaths
    from dropout_kit.classroom.outcome import Outcome

def print_plan(work: Plan, paths: CoursePaths, workers: int, out) -> None:
    reasons: dict[str, int] = {}
    for why in work.to_grade.values():
        reasons[why] = reasons.get(why, 0) + 1
    detail = ", ".join(f"{n} {why}" for why, n in reasons.items())
    print(f"{paths.assignment}: {len(work.to_grade) + len(work.unchanged)} submissions; "
          f"{len(work.to_grade)} to grade" + (f" ({detail})" if detail else "") +
          f", {len(work.unchanged)} unchanged" +
          (f"; {workers} worker(s), 1 thread per kernel" if work.to_grade else ""), file=out, flush=True)


def print_summary(outcomes: dict[str, Outcome], work: Plan, seconds: float, paths: CoursePaths,
                  out) -> None:
    by_status: dict[str, list[str]] = {"graded": [], "timeout": [], "failed": []}
    for student, outcome in sorted(outcomes.items()):
        by_status[outcome.status].append(student)
    timed_out, failed = by_status["timeout"], by_status["failed"]
    print(f"Done in {seconds:.1f} s: {len(by_status['graded'])} graded, {len(timed_out)} timed out, "
          f"{len(failed)} failed, {len(work.unchanged)} unchanged.", file=out)
    if timed_out:
        print("Timed out twice (the second time alone on the machine), so the student's code is "
              "the likely cause; their timed-out cells scored 0: "
              + ", ".join(f"{s} ({', '.join(outcomes[s].timed_out_cells)})" for s in timed_out), file=out)
    if work.timed_out_before:
        print("Timed out in an earlier run (not regraded; use --force to try again): "
              + ", ".join(work.timed_out_before), file=out)
    if failed:
        print("NOT graded (nbgrader failed twice; logs in "
              f"{paths.log_dir.relative_to(paths.root)}/): "
              + ", ".join(f"{s} ({outcomes[s].error})" for s in failed), file=out)
    out.flush()
