"""What grading outside the student's kernel costs, measured in the real pipeline.

    python -m benchmarks.verdicts            # 8 reference submissions
    python -m benchmarks.verdicts --quick    # 3

One `nbgrader autograde` run of reference submissions in a scratch course with the
course's configuration (sandboxed kernels, the checker process), then the canary run on
its own. Printed:
  (a) per submission: the time of the hidden checks (the five kit cells, from the timing
      SafeExecute records in each cell: requests to the kernel included) and SafeExecute's
      time for the whole notebook (kernel start to kill), median and worst;
  (b) the canary's time against the median submission's grading time (goal: ≤ 1).
The in-process time of the checks alone (no kernel, no checker process) is in
benchmarks/checks.py (c); comparing the two shows what the requests cost.
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the tests' helpers name the course's assignment

import dropout_assignment as dropout  # noqa: E402

from dropout_kit.classroom.outcome import _cell_seconds as cell_seconds  # noqa: E402
from dropout_kit.engine import canary  # noqa: E402
from dropout_kit.harness import samples  # noqa: E402
from dropout_kit.harness.commands import environment, nbgrader  # noqa: E402
from dropout_kit.harness.course import (
    copy_course,  # noqa: E402
    place_submission,  # noqa: E402
)


def kit_cell_seconds(notebook: Path) -> float:
    import json
    return sum(cell_seconds(cell) for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
               if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in dropout.AUTO_CELLS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = 3 if args.quick else 8
    with tempfile.TemporaryDirectory(prefix="bench-verdicts-") as tmp:
        root = copy_course(REPO, Path(tmp) / "course")
        nbgrader("generate_assignment", dropout.ASSIGNMENT, "--force", cwd=root)
        reference = samples.assemble(dropout.release_notebook(root),
                                     samples.reference_answers(dropout.source_notebook(root)))
        students = [f"ref-{i:02d}" for i in range(count)]
        for student in students:
            place_submission(root, student, reference, assignment=dropout.ASSIGNMENT)
        env = environment({canary.CACHE_ENV: str(Path(tmp) / "cache")})
        done = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "autograde", dropout.ASSIGNMENT,
                               "--force"], cwd=root, env=env, capture_output=True, text=True)
        if done.returncode:
            print(done.stderr[-3000:])
            return 1
        notebook_seconds = [float(m.group(1)) for m in
                            re.finditer(r"SafeExecute: student ref-\d+: ([0-9.]+) s, ", done.stderr)]
        checks = [kit_cell_seconds(root / "autograded" / s / dropout.ASSIGNMENT / dropout.NOTEBOOK)
                  for s in students]
        canary_seconds = [float(m.group(1)) for m in re.finditer(r"Canary passed in ([0-9.]+) s", done.stderr)]
        grades = dropout.cell_grades(f"sqlite:///{root / 'gradebook.db'}")
        full = sum(all(g.score == g.max_score for c, g in grades[s].items() if c in dropout.AUTO_CELLS)
                   for s in students)
    print(f"reference submissions graded: {count}, full marks: {full}/{count}")
    print(f"(a) hidden checks per submission (5 kit cells, requests included): median "
          f"{statistics.median(checks):.2f} s, worst {max(checks):.2f} s")
    print(f"    whole notebook (SafeExecute, kernel start to kill): median "
          f"{statistics.median(notebook_seconds):.2f} s, worst {max(notebook_seconds):.2f} s")
    if canary_seconds:
        ratio = canary_seconds[0] / statistics.median(notebook_seconds)
        print(f"(b) canary {canary_seconds[0]:.2f} s = {ratio:.2f} x the median submission (goal <= 1)")
    return 0 if full == count else 1


if __name__ == "__main__":
    sys.exit(main())
