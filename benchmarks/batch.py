"""Grading a whole class: stock `nbgrader autograde` against `dropout-kit grade`.

    python -m benchmarks.batch            # 40 submissions, serial/parallel repeated 3 times
    python -m benchmarks.batch --quick    # 6 submissions, once (a smoke run)

One class of generated submissions (the reference solution and the sample mistakes of
dropout_kit.harness.samples, in turn) is collected into scratch courses under build/bench/batch/
(each a copy of the repository's config, source and hidden checks, so the course's
sandbox and time limits apply). Printed:

  (a) wall time of stock `nbgrader autograde dropout` (as installed: torch's default
      threads; and again with OMP_NUM_THREADS=1, to separate the thread setting from the
      parallelism) and of `dropout-kit grade` with 2 workers on the same submissions, in
      this run; the speed-ups; grades identical?
  (b) per-submission overhead (everything but executing the notebook's cells, hidden
      checks included in the cells): the kit's serial run against
      `jupyter nbconvert --execute` of the same autograded notebooks.
  (c) serial (1 worker) against parallel (2 workers) runs of the kit over the same
      submissions, repeated: grades that differ (must be 0), timeouts, failures and
      SQLite "database is locked" errors in the students' logs.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the tests' helpers name the course's assignment

import dropout_assignment as dropout  # noqa: E402

from dropout_kit.classroom.course_paths import CoursePaths  # noqa: E402
from dropout_kit.classroom.grade_class import ClassRun, default_workers, grade_class  # noqa: E402
from dropout_kit.classroom.outcome import notebook_timing  # noqa: E402
from dropout_kit.engine.config import CELL_TIMEOUT_SECONDS  # noqa: E402
from dropout_kit.engine.sandbox_kernel_manager import SINGLE_THREAD_ENV  # noqa: E402
from dropout_kit.harness import samples  # noqa: E402
from dropout_kit.harness.commands import BIN, environment, nbgrader  # noqa: E402
from dropout_kit.harness.course import (
    copy_course,  # noqa: E402
    place_submission,  # noqa: E402
)


def class_notebooks(count: int) -> dict[str, nbformat.NotebookNode]:
    """`count` submissions: the reference and each sample mistake in turn."""
    release = dropout.release_notebook(REPO)
    reference = samples.reference_answers(dropout.source_notebook(REPO))
    kinds = [("reference", reference)] + [(name, {**reference, **wrong}) for name, wrong in samples.mistakes(dropout.in_course(REPO)).items()]
    notebooks = {}
    for number in range(count):
        kind, answers = kinds[number % len(kinds)]
        notebooks[f"s{number + 1:02d}-{kind}"] = samples.assemble(release, answers)
    return notebooks


def new_course(dest: Path, notebooks: dict[str, nbformat.NotebookNode]) -> Path:
    root = copy_course(REPO, dest)
    nbgrader("generate_assignment", dropout.ASSIGNMENT, "--force", cwd=root)
    for student, notebook in notebooks.items():
        place_submission(root, student, notebook, assignment=dropout.ASSIGNMENT)
    return root


def grades(root: Path) -> dict:
    return dropout.cell_grades(CoursePaths.load(root, dropout.ASSIGNMENT).db_url)


def differing(a: dict, b: dict) -> int:
    """Number of (student, cell) grades that are not the same in both gradebooks."""
    keys = {(s, c) for s in set(a) | set(b) for c in set(a.get(s, {})) | set(b.get(s, {}))}
    return sum(a.get(s, {}).get(c) != b.get(s, {}).get(c) for s, c in keys)


def kit_run(root: Path, workers: int, force: bool) -> tuple[float, ClassRun]:
    started = time.perf_counter()
    run = grade_class(root, dropout.ASSIGNMENT, workers=workers, force=force, out=io.StringIO())
    return time.perf_counter() - started, run


def locked_errors(root: Path) -> int:
    logs = CoursePaths.load(root, dropout.ASSIGNMENT).log_dir
    return sum(path.read_text(errors="replace").count("database is locked") for path in logs.glob("*.log"))


def nbconvert_overhead(autograded: Path) -> tuple[float, float]:
    """(wall seconds, seconds executing cells) of `jupyter nbconvert --execute` of one
    autograded notebook, in its folder, with the grading kernel's environment."""
    scratch = autograded.parent / "nbconvert-run.ipynb"
    shutil.copyfile(autograded, scratch)
    scratch.chmod(0o644)
    env = environment(SINGLE_THREAD_ENV)
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute", "--inplace", "--allow-errors",
                           f"--ExecutePreprocessor.timeout={CELL_TIMEOUT_SECONDS}", scratch.name],
                          cwd=scratch.parent, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"nbconvert failed on {autograded}:\n{done.stderr[-2000:]}")
    _, cells = notebook_timing(scratch)
    scratch.unlink()
    return wall, cells


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="6 submissions, serial/parallel once")
    parser.add_argument("--submissions", type=int, help="class size (default 40, quick 6)")
    parser.add_argument("--repeats", type=int, help="serial/parallel repetitions (default 3, quick 1)")
    parser.add_argument("--nbconvert-sample", type=int, default=12,
                        help="submissions also run with nbconvert for (b) (default 12)")
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "bench" / "batch")
    args = parser.parse_args()
    count = args.submissions or (6 if args.quick else 40)
    repeats = args.repeats or (1 if args.quick else 3)
    notebooks = class_notebooks(count)
    if args.workdir.exists():
        shutil.rmtree(args.workdir)
    print(f"Class: {count} submissions ({', '.join(sorted({s.split('-', 1)[1] for s in notebooks}))}); "
          f"{default_workers()} cores; load average {os.getloadavg()[0]:.2f} at start", flush=True)

    stock_root = new_course(args.workdir / "stock", notebooks)
    stock1_root = new_course(args.workdir / "stock-1-thread", notebooks)
    serial_root = new_course(args.workdir / "serial", notebooks)
    parallel_root = new_course(args.workdir / "parallel", notebooks)

    # (a) stock nbgrader (torch's default threads, then one thread per kernel), then the
    # kit with 2 workers, back to back.
    started = time.perf_counter()
    nbgrader("autograde", dropout.ASSIGNMENT, cwd=stock_root)
    stock_seconds = time.perf_counter() - started
    stock_grades = grades(stock_root)
    started = time.perf_counter()
    nbgrader("autograde", dropout.ASSIGNMENT, cwd=stock1_root, env=SINGLE_THREAD_ENV)
    stock1_seconds = time.perf_counter() - started
    parallel_seconds, parallel_run = kit_run(parallel_root, workers=2, force=False)
    parallel_grades = grades(parallel_root)
    first_parallel_seconds = parallel_seconds
    print("\n(a) whole class, wall time")
    print(f"  stock `nbgrader autograde`, torch's default threads:  {stock_seconds:7.1f} s  "
          f"({stock_seconds / count:.2f} s/submission)")
    print(f"  stock `nbgrader autograde`, OMP_NUM_THREADS=1:        {stock1_seconds:7.1f} s  "
          f"({stock1_seconds / count:.2f} s/submission)")
    print(f"  `dropout-kit grade --workers 2`:                      {parallel_seconds:7.1f} s  "
          f"({parallel_seconds / count:.2f} s/submission)")
    print(f"  speed-up over stock: {stock_seconds / parallel_seconds:.2f}x (goal >= 1.8x); "
          f"over stock with one thread: {stock1_seconds / parallel_seconds:.2f}x")
    print(f"  grades differing from stock: {differing(stock_grades, parallel_grades)} of "
          f"{sum(len(c) for c in stock_grades.values())}; stock with one thread: "
          f"{differing(grades(stock1_root), parallel_grades)}", flush=True)

    # (b) per-submission overhead: the kit's serial run against nbconvert --execute.
    serial_seconds, serial_run = kit_run(serial_root, workers=1, force=False)
    cells_total = sum(o.cells_seconds for o in serial_run.outcomes.values())
    kit_overhead = (serial_seconds - cells_total) / count
    sample = sorted(notebooks)[:: max(1, count // max(1, args.nbconvert_sample))][: args.nbconvert_sample]
    nbconvert = [nbconvert_overhead(serial_root / "autograded" / s / dropout.ASSIGNMENT / dropout.NOTEBOOK)
                 for s in sample]
    nbconvert_overheads = [wall - cells for wall, cells in nbconvert]
    nbconvert_overhead_mean = statistics.fmean(nbconvert_overheads)
    print("\n(b) per-submission overhead (wall time minus the time the kernel spent executing cells)")
    print(f"  kit, 1 worker, {count} submissions: {serial_seconds:.1f} s wall, {cells_total:.1f} s in cells "
          f"-> {kit_overhead:.2f} s/submission")
    print(f"  `jupyter nbconvert --execute`, {len(sample)} of the same notebooks: "
          f"{statistics.fmean(w for w, _ in nbconvert):.2f} s wall, "
          f"{statistics.fmean(c for _, c in nbconvert):.2f} s in cells -> {nbconvert_overhead_mean:.2f} s/submission "
          f"(min {min(nbconvert_overheads):.2f}, max {max(nbconvert_overheads):.2f})")
    print(f"  ratio kit/nbconvert: {kit_overhead / nbconvert_overhead_mean:.2f}x (goal <= 1.2x)", flush=True)

    # (c) serial against parallel, repeated (the first repetition is the runs above).
    print("\n(c) serial (1 worker) against parallel (2 workers), same submissions")
    print("  run  serial s  parallel s  grades differing  timeouts  failures  'database is locked'")
    total_differing = 0
    for number in range(1, repeats + 1):
        if number > 1:
            serial_seconds, serial_run = kit_run(serial_root, 1, force=True)
            parallel_seconds, parallel_run = kit_run(parallel_root, 2, force=True)
        diff = differing(grades(serial_root), grades(parallel_root))
        total_differing += diff
        timeouts = len(serial_run.timed_out) + len(parallel_run.timed_out)
        failures = len(serial_run.failed) + len(parallel_run.failed)
        print(f"  {number:3d}  {serial_seconds:8.1f}  {parallel_seconds:10.1f}  {diff:16d}  {timeouts:8d}  "
              f"{failures:8d}  {locked_errors(serial_root) + locked_errors(parallel_root):20d}", flush=True)
    print(f"  grades differing over {repeats} repetitions: {total_differing} (goal 0)")
    summary = {"submissions": count, "stock_seconds": stock_seconds, "kit_parallel_seconds": first_parallel_seconds,
               "speedup": stock_seconds / first_parallel_seconds,
               "stock_1_thread_seconds": stock1_seconds, "speedup_over_1_thread": stock1_seconds / first_parallel_seconds, "kit_overhead_s": kit_overhead,
               "nbconvert_overhead_s": nbconvert_overhead_mean, "overhead_ratio": kit_overhead / nbconvert_overhead_mean,
               "serial_parallel_differing": total_differing,
               "stock_vs_kit_differing": differing(stock_grades, parallel_grades)}
    (args.workdir / "summary.json").write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
