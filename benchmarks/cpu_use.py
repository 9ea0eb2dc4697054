"""CPU seconds spent by every process a piece of work starts, by kind of process.

    with CpuByProcess() as cpu:
        grade_class(...)
    cpu.seconds  # {"kernels": 101.6, "checkers": 29.0, ...}

A thread reads /proc five times a second and keeps, for every descendant of this process
(and this process itself), its latest user + system time; a process that ends between two
readings loses its last 0.2 s. Linux only.
"""
from __future__ import annotations

import collections
import os
import threading

TICK = os.sysconf("SC_CLK_TCK")
INTERVAL = 0.2

# First match wins; the coordinator is this process or the old pool's `python -c` run.
KINDS = (
    ("kernels", ("ipykernel",)),
    ("checkers", ("dropout_kit.checks.process",)),
    ("sandbox (bwrap)", ("bwrap",)),
    ("Dask scheduler", ("dask scheduler",)),
    ("Dask nannies", ("dask worker",)),
    ("workers", ("spawn_main", "forkserver")),
    ("coordinator", ("grade_class",)),
)


def kind_of(command: str) -> str:
    for kind, marks in KINDS:
        if any(mark in command for mark in marks):
            return kind
    return "other"


class CpuByProcess:
    def __init__(self):
        self.me = os.getpid()
        self.parents: dict[int, int] = {}
        self.latest: dict[tuple[int, int], tuple[str, float]] = {}  # (pid, start) → (command, CPU s)
        self.seconds: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="cpu-by-process", daemon=True)

    def __enter__(self) -> CpuByProcess:
        self._read()
        self._before = dict(self.latest)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._read()
        totals: collections.Counter = collections.Counter()
        for key, (command, cpu) in self.latest.items():
            kind = "coordinator" if key[0] == self.me else kind_of(command)
            totals[kind] += cpu - self._before.get(key, (command, 0.0))[1]
        self.seconds = dict(totals.most_common())

    def _watch(self) -> None:
        while not self._stop.wait(INTERVAL):
            self._read()

    def _mine(self, pid: int) -> bool:
        for _ in range(64):
            if pid == self.me:
                return True
            pid = self.parents.get(pid, 0)
            if pid <= 1:
                return False
        return False

    def _read(self) -> None:
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            try:
                with open(f"/proc/{pid}/stat") as stat_file:
                    stat = stat_file.read()
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            self.parents[pid] = int(fields[1])
            if not self._mine(pid):
                continue
            key = (pid, int(fields[19]))
            known = self.latest.get(key)
            if known and not command:  # an ended process (a zombie) has no command line left
                command = known[0]
            self.latest[key] = (command, (int(fields[11]) + int(fields[12])) / TICK)


def describe(seconds: dict[str, float], submissions: int) -> str:
    total = sum(seconds.values())
    parts = ", ".join(f"{kind} {value:.1f}" for kind, value in seconds.items() if value >= 0.05)
    return f"CPU {total:.1f} s ({total / submissions:.2f} s/submission): {parts}"


if __name__ == "__main__":  # a smoke test: a busy child is counted
    import subprocess
    import sys
    with CpuByProcess() as cpu:
        subprocess.run([sys.executable, "-c", "import time\nend = time.time() + 1\nwhile time.time() < end: pass"],
                       check=True)
    print(cpu.seconds)
