"""Grading on dask.distributed: the kit's cost per submission, stock nbgrader side by side,
and the old process pool, the local Dask cluster and a real Dask cluster on the same class.

    python -m benchmarks.dask            # (a) 20, (c) 40 submissions
    python -m benchmarks.dask --quick    # (a) 3, (c) 4 submissions (a smoke run)
    python -m benchmarks.dask --parts c  # only (c)
    python -m benchmarks.dask --parts d  # only (d)

Submissions are generated as in benchmarks.batch (the reference solution and the sample
mistakes in turn) and collected into scratch courses under build/bench/dask/ (copies of the
repository's config, source and hidden checks). The machine is small and shared, so every
figure is compared with another measured in the same run, as a ratio. Printed:

  (a) per submission at steady state, one core (`grade_class(workers=1)`, reference submissions
      only), twice: kernels started afresh, then forked from the template: the kit's wall time
      per submission against the floor, the time of the student's cells and the hidden checks in
      an already-running Python that has imported torch (a fresh single-threaded Python per
      measurement, the reference notebook's cells and checks run in it by
      benchmarks.checks.InProcessGrader; the median of 3); the ratio kit/floor. Printed too: the
      time the cells and checks took in the grading kernels (outcome.cells_seconds, from the
      executed notebooks' cell timings), which includes the kernel's own `import torch`. The
      kit's figure is the interval between the first and the last submission's completion
      divided by the submissions in between: what each extra submission adds to a run, Dask's
      round trip and the coordinator's nbgrader steps included, without the cluster's start, the
      canary and the shutdown (printed apart). The mean of outcome.seconds is printed too: one
      submission's own time (its nbgrader steps in the coordinator plus its execution on the
      worker, queueing left out), which overstates the interval when the coordinator prepares
      the next notebook while the worker executes this one.
  (b) two stock `nbgrader autograde dropout --force` runs (two scratch courses, 2
      submissions each) one after the other, then both started at the same time: wall
      times and the speed-up serial/concurrent (kernels are single-threaded by the course's
      config, SandboxKernelManager.threads).
  (c) one class on 2 cores, three ways: (i) the old process pool of commit 5ffca1d (a git
      worktree under build/bench/dask/old-kit, run in a subprocess by the python of
      build/bench/dask/old-env: a venv without packages of its own that imports the
      worktree's kit first, then this environment's packages; the old canary refuses a kit
      that this environment's `python -I`, the kernels' python, would not import); (ii) `grade_class(workers=2)` on its local Dask cluster (its start
      included); (iii) a Dask cluster started with `dask scheduler` and two single-threaded
      `dask worker`s (already running: not timed), `grade_class(scheduler=ADDRESS)`. Wall
      times, ratios, which worker graded how many, the CPU seconds of each run's processes
      by kind (benchmarks.cpu_use; on 2 busy cores the total decides the wall time), and
      the grades differing between each pair (must be 0).
  (d) half that class on 2 workers, kernels forked from the template (the default) and started
      afresh (c.SandboxKernelManager.fork_kernels = False), in the order forked, fresh, fresh,
      forked: wall times, CPU seconds by kind (forked kernels, their template and its sandbox
      count as kernels), the ratios forked/fresh and the grades differing (must be 0).
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from benchmarks.batch import (
    REPO,
    class_notebooks,
    differing,
    dropout,
    grades,
    kit_run,
    new_course,
)
from benchmarks.cpu_use import CpuByProcess, describe
from dropout_kit.classroom.grade_class import ClassRun, default_workers, grade_class
from dropout_kit.engine.sandbox_kernel_manager import SINGLE_THREAD_ENV
from dropout_kit.harness.commands import BIN, environment, nbgrader

OLD_KIT_COMMIT = "5ffca1d"  # the last commit with the process pool (classroom/pool.py)
OLD_KIT = "old-kit"  # its worktree, in the work folder; kept between runs
OLD_ENV = "old-env"  # a python importing that worktree's kit; kept between runs
SCHEDULER_START_SECONDS = 60
WORKERS_START_SECONDS = 120

# A submission's line in grade_class's progress: "HH:MM:SS student: graded ..." (or TIMED
# OUT, FAILED); a first attempt put off for a retry says "timed out"/"failed" in lower case.
DONE_LINE = re.compile(r"^\d\d:\d\d:\d\d (\S+): (graded|TIMED OUT|FAILED)\b")


class Stamped(io.StringIO):
    """grade_class's output, each write stamped with time.perf_counter()."""

    def __init__(self):
        super().__init__()
        self.writes: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        self.writes.append((time.perf_counter(), text))
        return super().write(text)

    def canary_at(self) -> float | None:
        """When the canary was reported: the first submission is sent right after."""
        return next((at for at, text in self.writes if text.startswith("canary:")), None)

    def done_at(self) -> list[float]:
        return sorted(at for at, text in self.writes if DONE_LINE.match(text))


def reference_notebooks(count: int) -> dict:
    reference = class_notebooks(1)["s01-reference"]
    return {f"s{number + 1:02d}-reference": reference for number in range(count)}


def check_clean(run: ClassRun, what: str) -> None:
    if run.failed or run.timed_out:
        print(f"  WARNING: {what}: failed {run.failed}, timed out {run.timed_out}", flush=True)


# -- (a) ---------------------------------------------------------------------------------
FLOOR_RUN = """
import json, tempfile, time
from pathlib import Path
import torch  # already imported: the floor leaves torch's import out
from benchmarks.checks import InProcessGrader
from dropout_kit.checking import DEFAULT_CHECK_SEED
with tempfile.TemporaryDirectory(prefix="dropout-kit-floor-") as workdir:
    grader = InProcessGrader(Path(workdir))
    started = time.perf_counter()
    graded = grader.grade(grader.reference, int(DEFAULT_CHECK_SEED))
    seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "full_marks": graded.scores == grader.max_points}))
"""


def floor_seconds(runs: int = 3) -> float:
    """The median time of the reference notebook's cells and checks in a Python that has
    imported torch (one fresh, single-threaded Python per run)."""
    times = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", FLOOR_RUN], cwd=REPO, capture_output=True, text=True,
                              env={**os.environ, **SINGLE_THREAD_ENV})
        if done.returncode != 0:
            raise RuntimeError(f"the floor's run exited {done.returncode}:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if not result["full_marks"]:
            raise RuntimeError("the floor's run did not give the reference solution full marks")
        times.append(result["seconds"])
    return statistics.median(times)


def steady_state(root: Path, count: int) -> dict:
    out = Stamped()
    started = time.perf_counter()
    run = grade_class(root, dropout.ASSIGNMENT, workers=1, out=out)
    ended = time.perf_counter()
    check_clean(run, "(a)")
    done = out.done_at()
    first = out.canary_at() or started
    if len(done) != count:
        raise RuntimeError(f"(a): {len(done)} progress lines for {count} submissions:\n{out.getvalue()}")
    outcomes = list(run.outcomes.values())
    return {
        "wall": ended - started,
        "before_first": first - started,
        "after_last": ended - done[-1],
        "steady": (done[-1] - done[0]) / (count - 1) if count > 1 else done[0] - first,
        "from_first": (done[-1] - first) / count,
        "mean_seconds": statistics.fmean(o.seconds for o in outcomes),
        "in_kernel": statistics.fmean(o.cells_seconds for o in outcomes),
        "floor": floor_seconds(),
    }


# -- (b) ---------------------------------------------------------------------------------
def stock_autograde(root: Path) -> float:
    started = time.perf_counter()
    nbgrader("autograde", dropout.ASSIGNMENT, "--force", cwd=root)
    return time.perf_counter() - started


def stock_concurrently(roots: list[Path]) -> tuple[float, list[float]]:
    """Wall time of `nbgrader autograde --force` in every course at once, and each one's."""
    started = time.perf_counter()
    running = []
    for root in roots:
        log = (root / "autograde-concurrent.log").open("w")
        running.append((root, log, subprocess.Popen([str(BIN / "nbgrader"), "autograde", dropout.ASSIGNMENT, "--force"],
                                                    cwd=root, env=environment(), stdout=log,
                                                    stderr=subprocess.STDOUT)))
    each = []
    for root, log, process in running:
        code = process.wait()
        each.append(time.perf_counter() - started)
        log.close()
        if code != 0:
            raise RuntimeError(f"nbgrader autograde in {root} exited {code}:\n"
                               f"{(root / 'autograde-concurrent.log').read_text()[-3000:]}")
    return time.perf_counter() - started, each


# -- (c) ---------------------------------------------------------------------------------
def old_kit(workdir: Path) -> Path:
    """A git worktree of the commit with the old process pool (made once, then reused)."""
    tree = workdir / OLD_KIT
    wanted = subprocess.run(["git", "-C", str(REPO), "rev-parse", f"{OLD_KIT_COMMIT}^{{commit}}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    if (tree / ".git").exists():
        head = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True)
        if head.returncode == 0 and head.stdout.strip() == wanted:
            return tree
    if tree.exists():
        shutil.rmtree(tree)
    subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], check=True)
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), wanted],
                   check=True, capture_output=True, text=True)
    return tree


def old_kit_python(workdir: Path, tree: Path) -> Path:
    """The python of a venv (made once, then reused) that imports the kit of `tree` and every
    other package from this environment, with -I too (as the old canary and kernels do)."""
    env = workdir / OLD_ENV
    python = env / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # .pth files are read in name order: the worktree first, then this environment's
    # site-packages with its own .pth files (its editable kit comes after the worktree).
    (site / "00-old-kit.pth").write_text(f"{tree}\n")
    (site / "01-kit-environment.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    imported = subprocess.run([str(python), "-I", "-c", "import dropout_kit; print(dropout_kit.__file__)"],
                              capture_output=True, text=True, cwd="/")
    if imported.returncode != 0 or not Path(imported.stdout.strip()).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"{python} -I imports dropout_kit from {imported.stdout.strip() or imported.stderr[-500:]}, "
                           f"not from {tree}")
    return python


OLD_POOL_RUN = """
import io, json, sys, time
from pathlib import Path
import dropout_kit
from dropout_kit.classroom.grade_class import grade_class
import nbgrader.apps.autogradeapp, nbgrader.converters  # imported before the clock starts
root, assignment, workers = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
started = time.perf_counter()
run = grade_class(root, assignment, workers=workers, force=False, out=io.StringIO())
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "kit": dropout_kit.__file__, "failed": run.failed,
                  "timed_out": run.timed_out, "cells": [o.cells_seconds for o in run.outcomes.values()],
                  "workers": [str(o.worker) for o in run.outcomes.values()]}))
"""


def old_pool_run(python: Path, tree: Path, root: Path, workers: int) -> dict:
    done = subprocess.run([str(python), "-c", OLD_POOL_RUN, str(root), dropout.ASSIGNMENT, str(workers)],
                          cwd=root, env=environment(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the old pool's run exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(result["kit"]).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"the old pool's run imported {result['kit']}, not the kit of {tree}")
    return result


def _stop_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):  # the group: a worker's nanny and its process
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@contextlib.contextmanager
def dask_cluster(folder: Path, workers: int):
    """`dask scheduler` on localhost and `workers` single-threaded `dask worker`s, all
    stopped (their process groups) on the way out; yields the scheduler's address."""
    from distributed import Client

    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    scheduler_file.unlink(missing_ok=True)
    processes: list[subprocess.Popen] = []
    logs = []

    def start(name: str, *args: str, env: dict | None = None) -> subprocess.Popen:
        log = (folder / f"{name}.log").open("w")
        logs.append(log)
        process = subprocess.Popen([str(BIN / "dask"), *args], stdout=log, stderr=subprocess.STDOUT,
                                   env=environment(env), start_new_session=True)
        processes.append(process)
        return process

    try:
        scheduler = start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                          "--scheduler-file", str(scheduler_file))
        deadline = time.monotonic() + SCHEDULER_START_SECONDS
        address = None
        while address is None:
            if scheduler.poll() is not None:
                raise RuntimeError(f"dask scheduler exited {scheduler.returncode}:\n"
                                   f"{(folder / 'scheduler.log').read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"dask scheduler wrote no {scheduler_file} in {SCHEDULER_START_SECONDS} s")
            with contextlib.suppress(OSError, ValueError, KeyError):
                address = json.loads(scheduler_file.read_text())["address"]
            time.sleep(0.2)
        for number in range(1, workers + 1):
            # As the local cluster starts its workers (dropout_kit.cluster.connect) and the
            # README's deployment note asks: one thread, no statistical profiler.
            start(f"w{number}", "worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{number}",
                  env={**SINGLE_THREAD_ENV, "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"})
        # grade_class waits for one worker and counts the slots once: wait for all of them.
        with Client(address, timeout=30) as client:
            client.wait_for_workers(workers, timeout=WORKERS_START_SECONDS)
        yield address
    finally:
        for process in reversed(processes):
            _stop_group(process)
        for log in logs:
            log.close()


def by_worker(workers: list[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(collections.Counter(workers).items()))


FRESH_KERNELS = "\nc.SandboxKernelManager.fork_kernels = False  # benchmarks.dask (a): kernels started afresh\n"


def part_a(workdir: Path, steady_count: int) -> dict:
    """(a) steady state on one worker: kernels forked from the template (the default), then
    started afresh, each against the same floor."""
    results = {}
    for kind in ("fresh", "forked"):
        root = new_course(workdir / f"steady-{kind}", reference_notebooks(steady_count))
        if kind == "fresh":
            with (root / "nbgrader_config.py").open("a") as config:
                config.write(FRESH_KERNELS)
        a = results[kind] = steady_state(root, steady_count)
        print(f"\n(a) per submission at steady state, 1 worker, {steady_count} reference submissions, "
              f"kernels {kind}")
        print(f"  run {a['wall']:.1f} s: {a['before_first']:.1f} s before the first submission (cluster start, "
              f"canary), {a['after_last']:.1f} s after the last (summary, cluster shutdown)")
        print(f"  kit: {a['steady']:.2f} s/submission (interval between completions); "
              f"{a['from_first']:.2f} s from the first submission sent to the last done; "
              f"mean outcome.seconds {a['mean_seconds']:.2f} s")
        print(f"  floor (the cells and hidden checks in a Python with torch imported): {a['floor']:.2f} s/submission; "
              f"in the grading kernels: {a['in_kernel']:.2f} s")
        print(f"  ratio kit/floor: {a['steady'] / a['floor']:.2f}x (goal <= 1.5x); "
              f"mean outcome.seconds/floor: {a['mean_seconds'] / a['floor']:.2f}x", flush=True)
    forked, fresh = results["forked"], results["fresh"]
    print(f"  forked/fresh per submission: {forked['steady'] / fresh['steady']:.2f}x", flush=True)
    return {"steady_submissions": steady_count, "kit_steady_s": forked["steady"],
            "kit_mean_outcome_s": forked["mean_seconds"], "floor_s": forked["floor"],
            "in_kernel_s": forked["in_kernel"], "kit_floor_ratio": forked["steady"] / forked["floor"],
            "fresh_steady_s": fresh["steady"], "fresh_floor_ratio": fresh["steady"] / fresh["floor"]}


def part_b(workdir: Path) -> dict:
    """(b) two stock nbgrader runs, one after the other, then at the same time."""
    pair = class_notebooks(2)
    stock_roots = [new_course(workdir / f"stock-{name}", pair) for name in ("a", "b")]
    serial_each = [stock_autograde(root) for root in stock_roots]
    serial_grades = [grades(root) for root in stock_roots]
    concurrent_seconds, concurrent_each = stock_concurrently(stock_roots)
    stock_differing = sum(differing(before, grades(root)) for before, root in zip(serial_grades, stock_roots))
    print(f"\n(b) stock `nbgrader autograde {dropout.ASSIGNMENT} --force`, two courses of 2 submissions")
    print(f"  one after the other: {sum(serial_each):.1f} s ({' + '.join(f'{s:.1f}' for s in serial_each)})")
    print(f"  at the same time:    {concurrent_seconds:.1f} s (done after "
          f"{', '.join(f'{s:.1f}' for s in concurrent_each)} s)")
    print(f"  speed-up serial/concurrent: {sum(serial_each) / concurrent_seconds:.2f}x (goal >= 1.3x); "
          f"grades differing between the two: {stock_differing}", flush=True)
    return {"stock_serial_s": sum(serial_each), "stock_concurrent_s": concurrent_seconds,
            "stock_speedup": sum(serial_each) / concurrent_seconds}


def part_c(workdir: Path, count: int) -> dict:
    """(c) the old pool, the local Dask cluster and a real Dask cluster, same class."""
    notebooks = class_notebooks(count)
    tree = old_kit(workdir)
    old_python = old_kit_python(workdir, tree)
    old_root = new_course(workdir / "old-pool", notebooks)
    local_root = new_course(workdir / "local", notebooks)
    cluster_root = new_course(workdir / "scheduler", notebooks)
    load = [os.getloadavg()[0]]
    with CpuByProcess() as old_cpu:
        old = old_pool_run(old_python, tree, old_root, workers=2)
    load.append(os.getloadavg()[0])
    with CpuByProcess() as local_cpu:
        local_seconds, local_run = kit_run(local_root, workers=2, force=False)
    check_clean(local_run, "(c) local")
    with dask_cluster(workdir / "cluster", workers=2) as address:
        load.append(os.getloadavg()[0])
        started = time.perf_counter()
        with CpuByProcess() as cluster_cpu:
            cluster_run = grade_class(cluster_root, dropout.ASSIGNMENT, workers=2, out=io.StringIO(),
                                      scheduler=address)
        cluster_seconds = time.perf_counter() - started
    check_clean(cluster_run, "(c) scheduler")
    if old["failed"] or old["timed_out"]:
        print(f"  WARNING: (c) old pool: failed {old['failed']}, timed out {old['timed_out']}", flush=True)
    old_grades, local_grades, cluster_grades = grades(old_root), grades(local_root), grades(cluster_root)
    graded_cells = sum(len(c) for c in local_grades.values())
    pairs = {"old pool / local Dask": differing(old_grades, local_grades),
             "local Dask / scheduler": differing(local_grades, cluster_grades),
             "old pool / scheduler": differing(old_grades, cluster_grades)}
    runs = {"(i)   old process pool:           ": (old["seconds"], old["cells"], old["workers"]),
            "(ii)  local Dask cluster:         ": (local_seconds, [o.cells_seconds for o in local_run.outcomes.values()],
                                                   [o.worker for o in local_run.outcomes.values()]),
            "(iii) `dask scheduler` + 2 workers:": (cluster_seconds,
                                                   [o.cells_seconds for o in cluster_run.outcomes.values()],
                                                   [o.worker for o in cluster_run.outcomes.values()])}
    print(f"\n(c) {count} submissions, 2 workers (commit {OLD_KIT_COMMIT} for the old pool); wall time, "
          "mean time in cells (the machine's load shows there), submissions per worker, load average at start")
    for (name, (seconds, in_cells, workers)), load_at_start in zip(runs.items(), load):
        print(f"  {name} {seconds:7.1f} s  ({seconds / count:.2f} s/submission; cells {statistics.fmean(in_cells):.2f} s; "
              f"{by_worker(workers)}; load {load_at_start:.2f})")
    print("  CPU seconds of every process of each run, by kind (sampled from /proc: benchmarks.cpu_use)")
    for name, cpu in (("(i)  ", old_cpu), ("(ii) ", local_cpu), ("(iii)", cluster_cpu)):
        print(f"  {name} {describe(cpu.seconds, count)}")
    print(f"  local Dask / old pool: {local_seconds / old['seconds']:.2f}x; "
          f"scheduler / local Dask: {cluster_seconds / local_seconds:.2f}x")
    print(f"  grades differing (of {graded_cells}): " + "; ".join(f"{k} {v}" for k, v in pairs.items()) + " (goal 0)",
          flush=True)
    return {"submissions": count, "old_pool_s": old["seconds"], "local_dask_s": local_seconds,
            "scheduler_s": cluster_seconds, "local_over_old": local_seconds / old["seconds"],
            "scheduler_over_local": cluster_seconds / local_seconds, "differing": pairs,
            "cpu_s": {"old_pool": old_cpu.seconds, "local_dask": local_cpu.seconds, "scheduler": cluster_cpu.seconds}}


def part_d(workdir: Path, count: int) -> dict:
    """(d) the same class on 2 workers with kernels forked from the template and started
    afresh, in the order forked, fresh, fresh, forked (the machine's drift shows as the
    difference between the two runs of a kind): wall time and every process's CPU seconds."""
    notebooks = class_notebooks(count)
    runs: dict[str, list[tuple[float, dict]]] = {"forked": [], "fresh": []}
    graded = {}
    for number, kind in enumerate(("forked", "fresh", "fresh", "forked")):
        root = new_course(workdir / f"kernels-{kind}-{number}", notebooks)
        if kind == "fresh":
            with (root / "nbgrader_config.py").open("a") as config:
                config.write(FRESH_KERNELS)
        with CpuByProcess() as cpu:
            seconds, run = kit_run(root, workers=2, force=False)
        check_clean(run, f"(d) {kind}")
        runs[kind].append((seconds, cpu.seconds))
        graded[number] = grades(root)
    print(f"\n(d) {count} submissions, 2 workers, kernels forked from the template or started afresh "
          "(order: forked, fresh, fresh, forked)")
    for kind, measured in runs.items():
        for seconds, cpu in measured:
            print(f"  {kind:6} {seconds:6.1f} s ({seconds / count:.2f} s/submission); {describe(cpu, count)}")
    wall = {kind: statistics.fmean(s for s, _ in measured) for kind, measured in runs.items()}
    cpu_total = {kind: statistics.fmean(sum(c.values()) for _, c in measured) for kind, measured in runs.items()}
    different = sum(differing(graded[0], graded[n]) for n in (1, 2, 3))
    print(f"  forked/fresh: wall {wall['forked'] / wall['fresh']:.2f}x, CPU {cpu_total['forked'] / cpu_total['fresh']:.2f}x; "
          f"grades differing from the first run: {different} (goal 0)", flush=True)
    return {"d_submissions": count, "d_wall_s": wall, "d_cpu_s": cpu_total,
            "d_forked_over_fresh_wall": wall["forked"] / wall["fresh"],
            "d_forked_over_fresh_cpu": cpu_total["forked"] / cpu_total["fresh"], "d_differing": different}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="(a) 3 and (c) 4 submissions")
    parser.add_argument("--steady", type=int, help="submissions for (a) (default 20, quick 3)")
    parser.add_argument("--submissions", type=int, help="class size for (c) (default 40, quick 4)")
    parser.add_argument("--parts", default="abcd", help="which of (a), (b), (c), (d) to run (default abcd)")
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "bench" / "dask")
    args = parser.parse_args()
    steady_count = args.steady or (3 if args.quick else 20)
    count = args.submissions or (4 if args.quick else 40)
    workdir = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    for old in workdir.iterdir():  # scratch courses of an earlier run; the old kit and its venv stay
        if old.name not in (OLD_KIT, OLD_ENV):
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    print(f"parts {args.parts}: (a) {steady_count} submissions, (c) {count}; {default_workers()} cores; "
          f"load average {os.getloadavg()[0]:.2f} at start", flush=True)

    summary = {}
    for part, run in (("a", lambda: part_a(workdir, steady_count)), ("b", lambda: part_b(workdir)),
                      ("c", lambda: part_c(workdir, count)), ("d", lambda: part_d(workdir, count // 2))):
        if part in args.parts:
            summary.update(run())
    (workdir / "summary.json").write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
