"""Whether a machine's memory holds the grading kernels that may run on it at once.

Each kernel may grow to c.SandboxKernelManager.memory_limit_mb (its address space,
RLIMIT_AS). A Dask worker process grades one submission per thread and starts the next
submission's kernel ahead of it (one spare per process: dropout_kit.cluster.task), so a
machine runs up to threads + processes kernels at once. If their limits add up to the
machine's memory or more, a few heavy submissions at once bring in the kernel's OOM killer,
which may pick the worker or nbgrader rather than the student's kernel; within the limits a
greedy submission gets a MemoryError in its own cell instead. Not counted: the judgement
kernel that a submission's checks run beside its notebook's kernel (dropout_kit.engine.
judgement_kernel), under the same limit. Counted, one 4 GB kernel per core would no longer
fit a machine of 24 GB with 2 cores; a judgement kernel that runs out of memory holds the
part for a person rather than failing it, but its memory is not reserved here.

Checked when a round starts (dropout_kit.classroom.grade_class): a local cluster's workers
before they start, a Dask cluster's machines once connected. `--workers N` beyond what the
machine holds is refused; the default (one worker per core) is lowered to what it holds. One
worker is always allowed, with a warning, so that the defaults still grade on a small machine.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

KERNELS_AHEAD_PER_PROCESS = 1  # the spare (dropout_kit.cluster.task.WarmKernels)
UNLIMITED = 1 << 60  # a cgroup limit at least this large means none
LIMIT_SETTING = "c.SandboxKernelManager.memory_limit_mb"


class NotEnoughMemory(RuntimeError):
    """The kernels a round would run at once may need more memory than a machine has."""


def machine_memory_mb() -> int:
    """This machine's memory, or this process's cgroup (container) limit if lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limits = [total, *_cgroup_limits()]
    return min(limits) // (1024 * 1024)


def _cgroup_limits() -> list[int]:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    files = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        path = path.lstrip("/")
        if controllers == "":  # cgroup v2
            files += [Path("/sys/fs/cgroup") / path / "memory.max", Path("/sys/fs/cgroup/memory.max")]
        elif "memory" in controllers.split(","):  # cgroup v1
            files += [Path("/sys/fs/cgroup/memory") / path / "memory.limit_in_bytes",
                      Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")]
    limits = []
    for file in files:
        try:
            text = file.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < UNLIMITED:
            limits.append(int(text))
    return limits


def kernel_memory_mb(config) -> int | None:
    """Each kernel's memory limit in the course's configuration; None when its kernels have
    none (the sandbox off)."""
    from dropout_kit.engine.sandbox_kernel_manager import SandboxKernelManager

    section = config.get("SandboxKernelManager") or {}
    mode = section.get("mode", os.environ.get("DROPOUT_KIT_SANDBOX", "auto"))
    if str(mode).lower() == "off":
        return None
    return int(section.get("memory_limit_mb", SandboxKernelManager.memory_limit_mb.default_value))


def kernels_at_once(threads: int, processes: int) -> int:
    return threads + KERNELS_AHEAD_PER_PROCESS * processes


def local_workers(requested: int | None, default: int, kernel_mb: int | None,
                  machine_mb: int | None = None) -> tuple[int, str]:
    """The local cluster's single-threaded workers for `--workers requested` (None: the
    default, one per core) and a note to print ("" if none). Raises NotEnoughMemory when
    more workers are asked for than this machine's memory holds."""
    if kernel_mb is None:
        return requested or default, ""
    machine_mb = machine_mb if machine_mb is not None else machine_memory_mb()
    per_worker = kernels_at_once(1, 1) * kernel_mb
    fitting = (machine_mb - 1) // per_worker  # their limits together stay below the memory
    if requested is not None and requested > max(fitting, 1):
        kernels = kernels_at_once(requested, requested)
        raise NotEnoughMemory(
            f"--workers {requested} would run up to {kernels} grading kernels at once (each worker "
            f"grades one submission and starts the next one's kernel ahead), each allowed "
            f"{kernel_mb} MB ({LIMIT_SETTING}): {kernels * kernel_mb} MB in all, but this machine "
            f"has {machine_mb} MB of memory. Use --workers {max(fitting, 1)} or fewer, or lower "
            f"{LIMIT_SETTING} in the course's nbgrader_config.py; nothing was graded")
    workers = requested if requested is not None else min(default, max(fitting, 1))
    if fitting < 1:
        return workers, (
            f"warning: one worker runs up to {kernels_at_once(1, 1)} grading kernels at once, each "
            f"allowed {kernel_mb} MB ({LIMIT_SETTING}): {per_worker} MB, but this machine has "
            f"{machine_mb} MB of memory; a submission that uses its whole allowance may bring in the "
            f"system's out-of-memory killer. Lower {LIMIT_SETTING} in the course's nbgrader_config.py.")
    if workers < default and requested is None:
        return workers, (
            f"note: {workers} worker(s), not one per core ({default}): each runs up to "
            f"{kernels_at_once(1, 1)} grading kernels of {kernel_mb} MB ({LIMIT_SETTING}) and this "
            f"machine has {machine_mb} MB of memory. Lower {LIMIT_SETTING} for more workers.")
    return workers, ""


def this_machine() -> tuple[str, int]:
    """(host name, memory in MB) of the machine that runs this (a Dask worker)."""
    return socket.gethostname(), machine_memory_mb()


def check_cluster(client, kernel_mb: int | None) -> None:
    """Raises NotEnoughMemory if a machine of the Dask cluster runs more kernels at once than
    its memory holds (counted over its worker processes and their threads)."""
    if kernel_mb is None:
        return
    try:
        machines = client.run(this_machine)
    except Exception:  # noqa: BLE001 - a worker without this kit: the payload's check names it
        return
    threads = client.nthreads()
    hosts: dict[str, dict] = {}
    for address, (host, memory_mb) in machines.items():
        seen = hosts.setdefault(host, {"memory_mb": memory_mb, "processes": 0, "threads": 0})
        seen["processes"] += 1
        seen["threads"] += threads.get(address, 1)
    problems = []
    for host, seen in sorted(hosts.items()):
        kernels = kernels_at_once(seen["threads"], seen["processes"])
        if kernels * kernel_mb >= seen["memory_mb"]:
            problems.append(
                f"{host} runs {seen['processes']} worker process(es) with {seen['threads']} thread(s): up "
                f"to {kernels} grading kernels at once (one per thread and one started ahead per "
                f"process), each allowed {kernel_mb} MB: {kernels * kernel_mb} MB in all, but it has "
                f"{seen['memory_mb']} MB of memory")
    if problems:
        raise NotEnoughMemory(
            "the Dask cluster's machines cannot hold the grading kernels they would run: "
            + "; ".join(problems) + f". Start fewer workers or threads there, or lower {LIMIT_SETTING} "
            "in the course's nbgrader_config.py; nothing was graded")
