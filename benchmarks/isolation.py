"""How much grading slows down a person working on the same machine, with and without the
grading kernels' lower CPU priority (dropout_kit.engine.kernel_cgroup).

    python -m benchmarks.isolation            # 4 grading kernels, 8 rounds of 10 actions
    python -m benchmarks.isolation --quick    # 2 grading kernels, 3 rounds of 8 actions

A "student's" kernel (a plain Jupyter kernel in a session of its own, as a student's
server runs it) repeats a small interactive action: a CPU-bound cell of 50 ms on an idle
machine, then 0.2 s of thinking. Its latency (execute to reply, seen from the client) is
measured while N sandboxed grading kernels spin on the CPU (each setting has its N kernels,
started once, idle but for its own blocks), under each setting:

  idle        no grading
  plain       grading kernels at the student's priority (nice 0, no cpu cgroup)
  nice        nice 10 (and its session's autogroup nice 10)
  cpu cgroup  nice 0, all grading under a cpu cgroup of weight 20 (cpu.shares 204 on v1)
  both        nice 10 and the cpu cgroup: the kit's default

All settings alternate within one run, in blocks of a few actions (the order reversed every
round), so the machine's other load falls on all of them alike. Printed: median and 95th
percentile per setting, their ratios to idle and to plain, and how much work the grading
kernels got done meanwhile, relative to plain.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets.config import Config

from dropout_kit.engine.kernel_cgroup import KernelCgroups
from dropout_kit.engine.sandbox_kernel_manager import SandboxKernelManager

ACTION_MS = 50
THINK_SECONDS = 0.2
RAMP_SECONDS = 0.5
BENCH_PARENT = "dropout-kit-bench"
# Work until interrupted, counted in units of about 1 ms.
SPIN = ("units = 0\ntry:\n    while True:\n        sum(i * i for i in range(10000))\n        units += 1\n"
        "except KeyboardInterrupt:\n    pass")
# setting → (nice, cgroup controllers); None: no grading
SETTINGS: dict[str, tuple[int, list[str]] | None] = {
    "idle": None,
    "plain": (0, ["pids"]),
    "nice": (10, ["pids"]),
    "cpu cgroup": (0, ["pids", "cpu"]),
    "both": (10, ["pids", "cpu"]),
}


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def quiet(message) -> None:
    pass


class StudentKernel:
    """A plain kernel, as in a student's own server, timing one action at a time."""

    async def start(self, folder: Path) -> None:
        self.manager = AsyncKernelManager(transport="ipc", ip=str(folder / "student"))
        await self.manager.start_kernel()
        self.client = self.manager.client()
        self.client.start_channels()
        await self.client.wait_for_ready(timeout=120)
        await self.client.execute_interactive(CALIBRATE, timeout=120, output_hook=quiet)

    async def timed_action(self) -> float:
        started = time.perf_counter()
        reply = await self.client.execute_interactive("_ = sum(i * i for i in range(n))", timeout=120,
                                                      store_history=False, output_hook=quiet)
        assert reply["content"]["status"] == "ok", reply["content"]
        return time.perf_counter() - started

    async def stop(self) -> None:
        self.client.stop_channels()
        await self.manager.shutdown_kernel(now=True)


# n such that the action takes ACTION_MS on a core of its own (the best of 5 runs).
CALIBRATE = f"""\
import time
def best(n):
    times = []
    for _ in range(5):
        started = time.perf_counter()
        sum(i * i for i in range(n))
        times.append(time.perf_counter() - started)
    return min(times)
n = 20000
while (took := best(n)) < {ACTION_MS / 1000}:
    n = int(n * max(1.05, {ACTION_MS / 1000} / took))"""


class GradingKernels:
    """N sandboxed kernels of one setting, idle until `spin`."""

    def __init__(self, count: int, nice: int, controllers: list[str], workdir: Path):
        config = Config()
        config.SandboxKernelManager.nice = nice
        config.KernelCgroups.controllers = controllers
        config.KernelCgroups.parent_cgroup = BENCH_PARENT
        self.managers = [SandboxKernelManager(config=config) for _ in range(count)]
        self.workdir = workdir
        self.spinning: list[str] = []

    async def start(self) -> None:
        await asyncio.gather(*(m.start_kernel(cwd=str(self.workdir)) for m in self.managers))
        self.clients = [m.client() for m in self.managers]
        for client in self.clients:
            client.start_channels()
        await asyncio.gather(*(c.wait_for_ready(timeout=120) for c in self.clients))

    def spin(self) -> None:
        self.spinning = [client.execute(SPIN) for client in self.clients]

    async def stop_spinning(self) -> int:
        """Interrupts the work; the units of work done."""
        await asyncio.gather(*(m.interrupt_kernel() for m in self.managers))
        for client, msg_id in zip(self.clients, self.spinning):
            while (await client.get_shell_msg(timeout=60))["parent_header"].get("msg_id") != msg_id:
                pass
        replies = await asyncio.gather(*(c.execute_interactive("", user_expressions={"units": "units"},
                                                               timeout=60, output_hook=quiet)
                                         for c in self.clients))
        return sum(int(r["content"]["user_expressions"]["units"]["data"]["text/plain"]) for r in replies)

    async def stop(self) -> None:
        for manager, client in zip(self.managers, self.clients):
            client.stop_channels()
            await manager.shutdown_kernel(now=True)
            await manager.cleanup_resources()


async def measure(student: StudentKernel, grading: GradingKernels | None, actions: int) -> tuple[list[float], float]:
    """The student's action times, and the grading kernels' units of work per second."""
    if grading is not None:
        grading.spin()
        await asyncio.sleep(RAMP_SECONDS)
    started = time.perf_counter()
    times = []
    for _ in range(actions):
        times.append(await student.timed_action())
        await asyncio.sleep(THINK_SECONDS)
    elapsed = time.perf_counter() - started
    units = await grading.stop_spinning() if grading is not None else 0
    return times, units / (elapsed + RAMP_SECONDS)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


async def run(kernels: int, rounds: int, actions: int) -> tuple[dict, dict]:
    """Per setting: the action times, and grading's work per second in each block."""
    times: dict[str, list[float]] = {name: [] for name in SETTINGS}
    work: dict[str, list[float]] = {name: [] for name in SETTINGS}
    with tempfile.TemporaryDirectory(prefix="bench-isolation-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)
        student = StudentKernel()
        await student.start(folder)
        grading: dict[str, GradingKernels] = {}
        try:
            for name, plan in SETTINGS.items():
                if plan is not None:
                    grading[name] = GradingKernels(kernels, *plan, folder)
                    await grading[name].start()
            for number in range(rounds):
                order = list(SETTINGS) if number % 2 == 0 else list(reversed(SETTINGS))
                for name in order:
                    block, rate = await measure(student, grading.get(name), actions)
                    times[name] += block
                    work[name].append(rate)
                log(f"  round {number + 1}/{rounds}: " + ", ".join(
                    f"{name} {statistics.median(times[name]) * 1000:.0f} ms" for name in SETTINGS))
        finally:
            for kernels_of_setting in grading.values():
                await kernels_of_setting.stop()
            await student.stop()
    return times, work


def report(results: dict[str, list[float]], work: dict[str, list[float]], kernels: int, rounds: int,
           actions: int, load_before: float) -> None:
    autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled")
    prepared = KernelCgroups(parent_cgroup=BENCH_PARENT).prepared()
    print("\n### Latency of a student's 50 ms action while grading runs\n")
    print(f"{os.cpu_count()} cores; {kernels} grading kernels spinning; {rounds} round(s) × {actions} actions "
          f"per setting, alternating; autogroup scheduling "
          f"{'on' if autogroup.exists() and autogroup.read_text().strip() == '1' else 'off'}; "
          f"load average before the run {load_before:.1f}; "
          f"cgroup controllers usable: {', '.join(sorted(prepared.controllers)) or 'none'}.\n")
    print("| setting | median (ms) | p95 (ms) | median / idle | p95 / idle | median / plain | p95 / plain "
          "| grading work / plain |")
    print("|---|---|---|---|---|---|---|---|")
    figures = {name: (statistics.median(times), p95(times)) for name, times in results.items() if times}
    idle, plain = figures["idle"], figures["plain"]
    plain_work = statistics.median(work["plain"])
    for name, (median, high) in figures.items():
        grading = f"{statistics.median(work[name]) / plain_work:.2f}" if SETTINGS[name] else "-"
        print(f"| {name} | {median * 1000:.0f} | {high * 1000:.0f} | {median / idle[0]:.2f} | {high / idle[1]:.2f} "
              f"| {median / plain[0]:.2f} | {high / plain[1]:.2f} | {grading} |")
    print("\nGrading work: the spinning kernels' loop iterations per second (median over blocks), relative "
          "to plain. With a lower priority grading yields to every process at normal priority: the "
          "student's actions and whatever else runs on the machine (see the load average above).")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 kernels, 3 rounds of 8 actions")
    parser.add_argument("--kernels", type=int, help="grading kernels spinning (default 4, quick 2)")
    args = parser.parse_args()
    kernels = args.kernels or (2 if args.quick else 4)
    rounds, actions = (3, 8) if args.quick else (8, 10)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    results, work = asyncio.run(run(kernels, rounds, actions))
    report(results, work, kernels, rounds, actions, load_before)
    for parent in KernelCgroups(parent_cgroup=BENCH_PARENT).prepared().parents.values():
        try:
            parent.rmdir()
        except OSError:
            pass
    log(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
