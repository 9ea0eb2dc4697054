"""What slow and hungry answers cost a grading run (issue 24).

    python -m benchmarks.budgets            # every slow/hungry case, the reference twice
    python -m benchmarks.budgets --quick    # the same cases, the reference once

The slow and hungry cases of the hostile corpus (tests/hostile/corpus.py) and the reference
solution are graded in one `nbgrader autograde` run of a scratch course with the repository's
configuration and the hostile round's short limits (tests/hostile/grading_run.py). Printed
(Markdown): per submission, its kernel time, its automatic score per part, the budgets and
cell time limits it ran into (from its graded notebook: the checks' verdicts and the cells
stopped at their limit), and whether it stayed within twice an honest notebook's time plus
those budgets. Every figure comes from this one run (the machine is noisy: compare within it).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import dropout_assignment as dropout  # noqa: E402
from hostile import corpus, grading_run  # noqa: E402

CASES = ("broadcast-mask", "sleeping-dropout", "hungry-dropout", "slow-loop-dropout")
STOPPED = {"CellTimeoutError", "KernelUnresponsive"}


def cell_limit(cell_id: str | None) -> float:
    """The time limit the hostile round's flags give a cell."""
    if cell_id == grading_run.TRAINING_CELL:
        return grading_run.TRAINING_CELL_TIMEOUT
    if cell_id in grading_run.HEAVY_CELLS:
        return grading_run.HEAVY_CELL_TIMEOUT
    return grading_run.CELL_TIMEOUT


def exhausted(run: grading_run.Run, student: str) -> tuple[float, list[str]]:
    """Seconds of budgets and cell limits the submission ran into, and what they were."""
    seconds, what = 0.0, []
    for cell_id, budgets in run.over_budget(student).items():
        for entry in budgets:
            if entry["kind"] == "time":
                seconds += entry["limit"]
            what.append(f"{cell_id}: {entry['kind']} {entry['limit']:g}")
    for cell in run.notebook(student).cells:
        names = {o.get("ename") for o in cell.get("outputs", []) if o.get("output_type") == "error"}
        if names & STOPPED:
            cell_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            seconds += cell_limit(cell_id) + (grading_run.RESTART_SECONDS if "KernelUnresponsive" in names else 0)
            what.append(f"{cell_id}: cell limit {cell_limit(cell_id):g} s")
    return seconds, what


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the reference graded once")
    args = parser.parse_args(argv)
    correct = ("aa-reference",) if args.quick else ("aa-reference", "zz-noisy")
    with tempfile.TemporaryDirectory(prefix="bench-budgets-") as tmp:
        course, students, listener = grading_run.prepare(Path(tmp) / "course", cases=corpus.by_name(*CASES),
                                                         correct=correct)
        run = grading_run.Started(course, students, keep_open=listener, env={"TMPDIR": tmp}).wait()
        if run.returncode:
            print(run.log[-3000:])
            return 1
        seconds = run.kernel_seconds()
        honest = statistics.median(seconds[s] for s in correct)
        parts = [c.removeprefix("test_") for c in dropout.AUTO_CELLS]
        print(f"\nhonest notebook (the reference, median of {len(correct)}): {honest:.1f} s of kernel time\n")
        print("| submission | kernel s | " + " | ".join(parts) + " | budgets and limits hit | bound s | within |")
        print("|---" * (len(parts) + 5) + "|")
        over = 0
        for student, case in students.items():
            spent, what = exhausted(run, student)
            bound = 2 * honest + spent
            within = seconds.get(student, 0.0) <= bound
            over += not within
            scores = run.automatic(student)
            print(f"| {student} | {seconds.get(student, 0.0):.1f} | "
                  + " | ".join(f"{scores[c]:g}" for c in dropout.AUTO_CELLS)
                  + f" | {'; '.join(what) or '-'} | {bound:.0f} | {'yes' if within else 'NO'} |")
        print(f"\nwall time of the run: {run.wall:.0f} s")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
