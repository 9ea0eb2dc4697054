"""`make bench`: every benchmark of the kit, one after the other, each printing its figures.

    python -m benchmarks.run            full runs (long: see each module's docstring)
    python -m benchmarks.run --quick    smoke runs
    python -m benchmarks.run checks     only the named benchmarks
"""
from __future__ import annotations

import subprocess
import sys
import time

BENCHMARKS = ("checks", "training_mode", "verdicts", "sandbox", "budgets", "batch", "dask", "kernel_start", "isolation",
              "on_submission", "audit")


def main(argv: list[str]) -> int:
    quick = ["--quick"] if "--quick" in argv else []
    chosen = [name for name in argv if not name.startswith("-")] or list(BENCHMARKS)
    failed = []
    for name in chosen:
        print(f"\n=== benchmarks.{name} {' '.join(quick)}", flush=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *quick])
        print(f"=== benchmarks.{name}: exit {done.returncode}, {time.perf_counter() - started:.0f} s", flush=True)
        if done.returncode:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
