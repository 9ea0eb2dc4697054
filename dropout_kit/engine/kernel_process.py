"""The grading kernel's process seen from outside, and the memory budget of one request.

A request of the hidden checks (a call of the student's function, a re-run of a cell) may
use at most `extra_mb` of address space beyond what the kernel holds when it starts: for the
request, nbgrader's side lowers the kernel process's soft RLIMIT_AS to its current size plus
the budget (never above the hard limit the sandbox set at start), and puts the old limit back
afterwards. An allocation past it fails inside the kernel (torch raises "not enough memory",
Python MemoryError), so the request ends at once instead of swapping the machine; the
checker reports the budget. RLIMIT_AS covers the whole process, so the budget is the
headroom of the request, not a count of its own bytes; the kernel's own threads keep working
within it. The student's code could raise its soft limit back up to the hard limit; that
costs only its own grading time, which the request's time budget bounds.

The kernel is found as the oldest descendant of the launched process (bubblewrap, setpriv,
prlimit) that is a Python whose command line runs ipykernel (bubblewrap's and the wrappers'
command lines name ipykernel too); its pid is the one outside any PID namespace. A kernel
forked from the template (engine/kernel_template.py) is the launched process itself.
"""
from __future__ import annotations

import contextlib
import resource
from pathlib import Path

PROC = Path("/proc")


def _parent_and_start(pid: int) -> tuple[int, int] | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
    return int(fields[1]), int(fields[19])  # ppid, start time in clock ticks


def kernel_pid(launched: int) -> int | None:
    """The ipykernel process under `launched` (itself included), or None."""
    children: dict[int, list[int]] = {}
    started: dict[int, int] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            known = _parent_and_start(int(entry.name))
            if known is not None:
                children.setdefault(known[0], []).append(int(entry.name))
                started[int(entry.name)] = known[1]
    found, level = [], [launched]
    while level and not found:
        for pid in level:
            try:
                command = (PROC / str(pid) / "cmdline").read_bytes()
            except OSError:
                continue
            program = command.split(b"\0", 1)[0].rsplit(b"/", 1)[-1]
            if program.startswith(b"python") and b"ipykernel" in command:
                found.append(pid)
        level = [child for pid in level for child in children.get(pid, [])]
    return min(found, key=lambda pid: started.get(pid, 0)) if found else None


def address_space_mb(pid: int) -> float | None:
    """The process's current address space (VmSize), in MB."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@contextlib.contextmanager
def memory_budget(pid: int | None, extra_mb: float | None, log=None):
    """The kernel `pid` limited to its current address space plus `extra_mb` for the block
    (see the module docstring); nothing if either is None or the limit cannot be set."""
    if pid is None or not extra_mb:
        yield
        return
    size = address_space_mb(pid)
    old = None
    if size is not None:
        try:
            soft, hard = resource.prlimit(pid, resource.RLIMIT_AS)
            wanted = int((size + extra_mb) * 1024 * 1024)
            if hard != resource.RLIM_INFINITY:
                wanted = min(wanted, hard)
            if soft == resource.RLIM_INFINITY or wanted < soft:
                old = resource.prlimit(pid, resource.RLIMIT_AS, (wanted, hard))
        except (OSError, ValueError) as error:
            if log is not None:
                log.debug("memory budget of kernel %s not set: %s", pid, error)
    try:
        yield
    finally:
        if old is not None:
            with contextlib.suppress(OSError, ValueError):  # the kernel may be gone
                resource.prlimit(pid, resource.RLIMIT_AS, old)

