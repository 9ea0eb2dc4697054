"""What the sandbox costs and what the hostile corpus does to a grading run.

    python -m benchmarks.sandbox            # cost (2 rounds), hostile table, stock contrast
    python -m benchmarks.sandbox --quick    # cost (fewer submissions), hostile table

Printed (Markdown, ready for the README or an issue's closing note):
  (a) the added cost of the sandbox per submission: the same class of ordinary
      submissions graded by `nbgrader autograde` with the sandbox (namespaces) and
      without it (mode off; SafeExecute and the intake stay on, so only the sandbox
      differs), alternating, in one invocation; per-submission kernel time from the log
      and the whole run's wall time; the ratio. (a2) the same without grading: kernel
      start to `import torch` done, with and without the sandbox, alternating.
  (b) the hostile corpus (tests/hostile/corpus.py) with the correct submissions, graded in
      one run with the repository's configuration: case, what happened, time taken.
  (c) (full run only) a few cases graded with stock nbgrader (the repository's config
      without its "Sandbox and limits" block), to show what the kit changes.
All runs happen in scratch courses under a temporary directory, with the short limits of
tests/hostile/grading_run.py.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the tests' helpers name the course's assignment

import dropout_assignment as dropout  # noqa: E402

from tests.hostile import corpus, grading_run  # noqa: E402

CONFIG_BLOCK = "# --- Sandbox and limits (issue 4) ---"
EVENTS = {"KernelDied": "kernel died", "KernelUnresponsive": "unresponsive, killed",
          "KernelExited": "kernel exited", "CellTimeoutError": "timed out, interrupted",
          "InvalidScore": "invalid score → 0", "NotExecuted": "cells not run"}
MARKERS = ("REFUSED", "SURVIVED", "READABLE", "LEAKED", "NETWORK OPEN", "WRITTEN", "DELETED",
           "REWRITTEN", "FOLLOWED", "출력이 너무 많아")


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def score_summary(run: grading_run.Run, student: str) -> str:
    cells = run.grades.get(student, {})
    if not cells or any(cells.get(c) is None or cells[c].score is None for c in dropout.AUTO_CELLS):
        return "BLANK"
    got = sum(cells[c].score for c in dropout.AUTO_CELLS)
    top = sum(cells[c].max_score for c in dropout.AUTO_CELLS)
    return f"{got:g}/{top:g}"


def what_happened(run: grading_run.Run, student: str) -> str:
    notebook = run.course / "autograded" / student / "dropout" / "dropout.ipynb"
    if not notebook.exists():
        return "submission failed (no graded notebook)"
    parts = []
    reasons = re.findall(rf"SafeExecute: student {re.escape(student)}: cell \d+ \((\S+)\): \w+ \[(.+?)\]", run.log)
    for cell, reason in reasons:
        parts.append(f"{cell}: {reason}")
    restarts = re.search(rf"SafeExecute: student {re.escape(student)}: [0-9.]+ s, (\d+) kernel", run.log)
    if restarts and int(restarts.group(1)):
        parts.append(f"{restarts.group(1)} restart(s)")
    names = run.error_names(student)
    parts += [text for name, text in EVENTS.items() if name in names and name not in ("KernelDied",
                                                                                     "KernelUnresponsive")]
    outputs = run.outputs_text(student)
    parts += [f"printed {m!r}" for m in MARKERS if m in outputs]
    case = run.students.get(student)
    if case is not None and case.blocked and not any(word in outputs for word in case.blocked):
        parts.append("attack blocked")
    warnings = len(re.findall(rf"Student {re.escape(student)}: ", run.log))
    if warnings:
        parts.append(f"{warnings} log line(s) naming the student")
    return "; ".join(parts) or "graded normally"


def table(run: grading_run.Run, title: str) -> None:
    seconds = run.kernel_seconds()
    print(f"\n### {title}\n")
    print(f"Exit code {run.returncode}, wall {run.wall:.0f} s for {len(run.students)} submissions.\n")
    print("| case | what it does | what happened | score | time (s) |")
    print("|---|---|---|---|---|")
    for student, case in run.students.items():
        what = case.what if case else "correct submission"
        name = case.name if case else student
        print(f"| {name} | {what} | {what_happened(run, student)} | {score_summary(run, student)} "
              f"| {seconds.get(student, float('nan')):.1f} |")


def measure_cost(work: Path, submissions: int, rounds: int) -> None:
    """(a): ordinary submissions graded with and without the sandbox, alternating."""
    split = "xtr, ytr = x[:80], y[:80]\nxtest, ytest = x[80:], y[80:]"
    cases = tuple(corpus.Case(f"ordinary-{i:02d}", "split and my_dropout answered", split=split)
                  for i in range(submissions))
    results: dict[str, list[tuple[float, list[float]]]] = {"namespaces": [], "off": []}
    for round_number in range(rounds):
        for mode in ("namespaces", "off") if round_number % 2 == 0 else ("off", "namespaces"):
            course, students, listener = grading_run.prepare(work / f"cost-{mode}-{round_number}",
                                                             cases=cases, correct=())
            with listener:
                run = grading_run.autograde(course, students, mode=mode)
            if run.returncode != 0:
                raise SystemExit(f"cost run ({mode}) failed:\n{run.log[-3000:]}")
            per = list(run.kernel_seconds().values())
            results[mode].append((run.wall, per))
            log(f"  cost round {round_number + 1}, {mode}: wall {run.wall:.1f} s, "
                f"median {statistics.median(per):.2f} s per submission")
    print("\n### (a) Added cost of the sandbox\n")
    print(f"{submissions} ordinary submissions, {rounds} round(s) per mode, alternating; "
          "time per submission = SafeExecute's kernel time (start, all cells, kill).\n")
    print("| mode | mean per submission (s) | median (s) | whole run, mean (s) |")
    print("|---|---|---|---|")
    means = {}
    for mode, rows in results.items():
        per = [t for _, run_times in rows for t in run_times]
        means[mode] = statistics.mean(per)
        print(f"| {mode} | {means[mode]:.2f} | {statistics.median(per):.2f} | "
              f"{statistics.mean(w for w, _ in rows):.1f} |")
    added = means["namespaces"] - means["off"]
    print(f"\nAdded cost per submission: {added:+.2f} s "
          f"(ratio {means['namespaces'] / means['off']:.3f}).")


async def _kernel_round_trip(mode: str, workdir: Path) -> float:
    """Seconds from starting a grading kernel to the result of `import torch`, killed after."""
    from traitlets.config import Config

    from dropout_kit.engine.sandbox_kernel_manager import SandboxKernelManager

    config = Config()
    config.SandboxKernelManager.mode = mode
    manager = SandboxKernelManager(config=config)
    started = time.monotonic()
    await manager.start_kernel(cwd=str(workdir))
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=120)
        reply = await client.execute_interactive("import torch, matplotlib.pyplot", timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
        return time.monotonic() - started
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
        await manager.cleanup_resources()


def measure_kernel_start(work: Path, repeats: int) -> None:
    """(a2): the sandbox's own overhead, without grading around it."""
    import asyncio

    workdir = work / "kernel-start"
    workdir.mkdir()
    times: dict[str, list[float]] = {"namespaces": [], "off": []}
    for number in range(repeats):
        for mode in ("namespaces", "off") if number % 2 == 0 else ("off", "namespaces"):
            times[mode].append(asyncio.run(_kernel_round_trip(mode, workdir)))
    print("\n### (a2) Kernel start to `import torch, matplotlib.pyplot` done\n")
    print(f"{repeats} kernels per mode, alternating.\n")
    print("| mode | median (s) | min (s) | max (s) |")
    print("|---|---|---|---|")
    for mode, values in times.items():
        print(f"| {mode} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |")
    added = statistics.median(times["namespaces"]) - statistics.median(times["off"])
    print(f"\nSandbox overhead per kernel start: {added:+.2f} s (median difference); every "
          "submission starts one kernel, plus one per restart.")


def stock_contrast(work: Path) -> None:
    """(c): a few cases with stock nbgrader (the config block removed)."""
    cases = corpus.by_name("ignore-interrupt", "score-above-points", "invalid-json", "read-others", "network")
    course, students, listener = grading_run.prepare(work / "stock", cases=cases, correct=())
    config = course / "nbgrader_config.py"
    text = config.read_text()
    config.write_text(text[: text.index(CONFIG_BLOCK)] if CONFIG_BLOCK in text else text)
    with listener:
        run = grading_run.autograde(course, students, mode="off", flags=["--Execute.timeout=10"])
    print("\n### (c) The same cases with stock nbgrader\n")
    print(f"Exit code {run.returncode}, wall {run.wall:.0f} s.\n")
    print("| case | what happened | score |")
    print("|---|---|---|")
    for student, case in students.items():
        print(f"| {case.name} | {what_happened(run, student)} | {score_summary(run, student)} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller cost run, no stock contrast")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        work = Path(tmp)
        log("(a) sandbox cost …")
        measure_cost(work, submissions=3 if args.quick else 8, rounds=2)
        measure_kernel_start(work, repeats=5 if args.quick else 15)
        log("(b) hostile corpus …")
        course, students, listener = grading_run.prepare(work / "hostile")
        with listener:
            run = grading_run.autograde(course, students)
        table(run, "(b) The hostile corpus, one `nbgrader autograde` run (sandbox on)")
        bound = grading_run.wall_bound(students)
        print(f"\nBound the cases can legitimately cost: {bound:.0f} s; measured {run.wall:.0f} s.")
        if not args.quick:
            log("(c) stock nbgrader …")
            stock_contrast(work)
    log(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
