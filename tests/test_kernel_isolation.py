"""Grading kernels are isolated from one another and yield the CPU (issue 23, item 6).

Two real kernels started together through SandboxKernelManager under one user: the first
forks until its pids cgroup refuses and holds its children; meanwhile the second, whose
user's process count is then past the per-kernel limit (which RLIMIT_NPROC alone would have
made a shared one), still starts threads and runs torch, niced. Their cgroups are gone
once they stop. Skipped where this user cannot make cgroups.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from traitlets.config import Config

from dropout_kit.engine import kernel_cgroup
from dropout_kit.engine.kernel_cgroup import Hierarchy, KernelCgroups
from dropout_kit.engine.sandbox_kernel_manager import SandboxKernelManager

MAX_PROCESSES = 64  # per kernel; a kernel with torch needs 16 (bubblewrap included)

FORK_UNTIL_REFUSED = """\
import os, time
children = []
try:
    while len(children) < 1000:
        pid = os.fork()
        if pid == 0:
            time.sleep(120)
            os._exit(0)
        children.append(pid)
    print("FORK NOT REFUSED", len(children))
except OSError as error:
    print("FORK REFUSED", len(children), error.errno)
"""

THREADS_AND_TORCH = """\
import os, threading
import torch
done = []
threads = [threading.Thread(target=done.append, args=(n,)) for n in range(24)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
x = torch.randn(128, 128)
print("THREADS", len(done), "TORCH", bool(torch.isfinite(x @ x).all()), "NICE", os.nice(0),
      "SESSION NICE", open("/proc/self/autogroup").read().split()[-1])
"""


def usable_cgroups() -> KernelCgroups:
    cgroups = KernelCgroups()
    prepared = cgroups.prepared()
    if "pids" not in prepared.controllers:
        pytest.skip("no writable pids cgroup here: " + "; ".join(prepared.problems))
    return cgroups


def tasks_of(uid: int) -> int:
    """Processes and threads of user `uid` on the machine (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                count += len(os.listdir(entry / "task"))
        except OSError:
            pass
    return count


class Kernel:
    def __init__(self, workdir: Path):
        config = Config()
        config.SandboxKernelManager.max_processes = MAX_PROCESSES
        self.manager = SandboxKernelManager(config=config)
        self.workdir = workdir
        self.client = None

    async def start(self) -> None:
        await self.manager.start_kernel(cwd=str(self.workdir))
        self.cgroups = dict(self.manager._cgroup.children)
        self.client = self.manager.client()
        self.client.start_channels()
        await self.client.wait_for_ready(timeout=60)

    async def run(self, code: str) -> tuple[str, str]:
        """(stdout, stderr) of `code`."""
        streams = {"stdout": [], "stderr": []}

        def keep(message):
            if message["msg_type"] == "stream":
                streams[message["content"]["name"]].append(message["content"]["text"])
        reply = await self.client.execute_interactive(code, timeout=60, output_hook=keep)
        assert reply["content"]["status"] == "ok", reply["content"]
        return "".join(streams["stdout"]), "".join(streams["stderr"])

    async def stop(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
        await self.manager.shutdown_kernel(now=True)
        await self.manager.cleanup_resources()


async def fork_bomb_beside_a_kernel(tmp_path: Path) -> dict:
    kernels = [Kernel(tmp_path / name) for name in ("bomber", "neighbour")]
    for kernel in kernels:
        kernel.workdir.mkdir(mode=0o755)
    bomber, neighbour = kernels
    seen: dict = {}
    try:
        await asyncio.gather(*(kernel.start() for kernel in kernels))
        seen["bomb"] = await bomber.run(FORK_UNTIL_REFUSED)
        pids = next(path for hierarchy, path in bomber.cgroups.items() if "pids" in hierarchy.controllers)
        seen["held"] = int((pids / "pids.current").read_text())
        kernel_pid = neighbour.manager.provisioner.process.pid
        seen["user_tasks"] = tasks_of(os.stat(f"/proc/{kernel_pid}").st_uid)
        seen["neighbour"] = await neighbour.run(THREADS_AND_TORCH)
        seen["still_held"] = int((pids / "pids.current").read_text())
        seen["cpu_parent_weight"] = {path.parent: (path.parent / "cpu.shares").read_text().strip()
                                     for hierarchy, path in neighbour.cgroups.items()
                                     if "cpu" in hierarchy.controllers and hierarchy.version == 1}
    finally:
        for kernel in kernels:
            await kernel.stop()
    seen["cgroups"] = [path for kernel in kernels for path in kernel.cgroups.values()]
    return seen


def test_a_fork_bomb_does_not_stop_another_kernel_of_its_user(tmp_path):
    usable_cgroups()
    seen = asyncio.run(fork_bomb_beside_a_kernel(tmp_path))

    bomb_out, bomb_err = seen["bomb"]
    assert bomb_out.startswith("FORK REFUSED"), bomb_out
    assert seen["held"] == MAX_PROCESSES
    # The per-user count alone (RLIMIT_NPROC = MAX_PROCESSES) would have refused the neighbour.
    assert seen["user_tasks"] > MAX_PROCESSES

    out, err = seen["neighbour"]
    assert "THREADS 24 TORCH True" in out, out + err
    assert seen["still_held"] == MAX_PROCESSES  # the bomb's children were there all along
    assert not bomb_err and not err  # nothing on stderr: nbgrader would score such a cell 0

    assert f"NICE {min(19, os.nice(0) + 10)} SESSION NICE 10" in out, out
    expected_shares = kernel_cgroup.cpu_setting(Hierarchy(Path("/"), 1, ("cpu",), "/"),
                                                kernel_cgroup.DEFAULT_CPU_WEIGHT)[1]
    assert all(weight == expected_shares for weight in seen["cpu_parent_weight"].values())

    assert seen["cgroups"] and not [path for path in seen["cgroups"] if path.exists()]


def test_delegate_hands_a_parent_to_a_user(tmp_path):
    """What `make hub` prepares for the instructor: that user makes kernel cgroups there."""
    usable_cgroups()
    if os.geteuid() != 0:
        pytest.skip("delegate() is for root")
    parent = f"dropout-kit-test-{os.getpid()}"
    made = kernel_cgroup.delegate(parent, "nobody")
    as_nobody = [*"setpriv --reuid=nobody --regid=nogroup --clear-groups".split(), sys.executable, "-I", "-c",
                 "from dropout_kit.engine.kernel_cgroup import KernelCgroups\n"
                 f"print(sorted(KernelCgroups(parent_cgroup={parent!r}).prepared().controllers))"]
    try:
        done = subprocess.run(as_nobody, capture_output=True, text=True, timeout=60, cwd="/",
                              env={"PYTHONPATH": str(Path(kernel_cgroup.__file__).parents[2])})
        if "ModuleNotFoundError" in done.stderr or "Permission denied" in done.stderr:
            pytest.skip(f"nobody cannot run this python: {done.stderr.strip()[-200:]}")
        assert done.stdout.strip() == str(sorted(KernelCgroups().prepared().controllers)), done.stderr
    finally:
        for path in reversed(made):  # a leaf before its parent
            path.rmdir()


def test_parent_cgroup_paths():
    unified = Hierarchy(Path("/sys/fs/cgroup"), 2, ("pids", "cpu"), "/system.slice/grader.service/main")
    assert unified.resolve("dropout-kit") == Path("/sys/fs/cgroup/dropout-kit")
    assert unified.resolve("../kernels") == Path("/sys/fs/cgroup/system.slice/grader.service/kernels")
    assert unified.cgroup_of("0::/dropout-kit/kernel-1-0\n") == Path("/sys/fs/cgroup/dropout-kit/kernel-1-0")
    pids = Hierarchy(Path("/sys/fs/cgroup/pids"), 1, ("pids",), "/")
    assert pids.cgroup_of("8:pids:/dropout-kit/kernel-1-0\n0::/\n") == \
        Path("/sys/fs/cgroup/pids/dropout-kit/kernel-1-0")
    assert kernel_cgroup.cpu_setting(pids, 20) == ("cpu.shares", "204")
    assert kernel_cgroup.cpu_setting(unified, 20) == ("cpu.weight", "20")
