"""What `dropout-kit grade` prints before and after a run."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the run's types; console is imported by grade_class
    from dropout_kit.classroom.changes import Plan
    from dropout_kit.classroom.course_paths import CoursePaths
    from dropout_kit.classroom.grade_class import ClassRun

def print_plan(work: Plan, paths: CoursePaths, workers: int, out) -> None:
    reasons: dict[str, int] = {}
    for why in work.to_grade.values():
        reasons[why] = reasons.get(why, 0) + 1
    detail = ", ".join(f"{n} {why}" for why, n in reasons.items())
    print(f"{paths.assignment}: {len(work.to_grade) + len(work.unchanged)} submissions; "
          f"{len(work.to_grade)} to grade" + (f" ({detail})" if detail else "") +
          f", {len(work.unchanged)} unchanged" +
          (f"; {workers} worker(s), 1 thread per kernel" if work.to_grade else ""), file=out, flush=True)


def print_summary(run: ClassRun, paths: CoursePaths, out) -> None:
    graded = sum(o.status == "graded" for o in run.outcomes.values())
    print(f"Done in {run.seconds:.1f} s: {graded} graded, {len(run.timed_out)} timed out, "
          f"{len(run.failed)} failed, {len(run.plan.unchanged)} unchanged.", file=out)
    if run.timed_out:
        print("Timed out twice (the second time alone on the machine), so the student's code is "
              "the likely cause; their timed-out cells scored 0: "
              + ", ".join(f"{s} ({', '.join(run.outcomes[s].timed_out_cells)})" for s in run.timed_out), file=out)
    if run.plan.timed_out_before:
        print("Timed out in an earlier run (not regraded; use --force to try again): "
              + ", ".join(run.plan.timed_out_before), file=out)
    if run.failed:
        print("NOT graded (nbgrader failed twice; logs in "
              f"{paths.log_dir.relative_to(paths.root)}/): "
              + ", ".join(f"{s} ({run.outcomes[s].error})" for s in run.failed), file=out)
    out.flush()
