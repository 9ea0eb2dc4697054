"""Kernels forked from the template (issue 33): nothing of one reaches another.

Real kernels started by the course's SandboxKernelManager in one process, so forked from one
template: the first leaves behind what a submission can leave in its kernel (module
attributes, modules, environment, torch's settings, seeded generators, files in /tmp,
/dev/shm and its folder, a listening socket) and stays running; the second, forked from the
same template meanwhile, finds none of it, cannot reach the first, and is no child of a
process that imported anything of a student. The template itself: one thread when it forks,
and no ZeroMQ context, event loop or kernel application made before.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from traitlets.config import Config

from dropout_kit.engine import kernel_template
from dropout_kit.engine.kernel_template import ForkedProcess
from dropout_kit.engine.sandbox_kernel_manager import SandboxKernelManager

LEAVE_BEHIND = r"""
import os, random, socket, sys, types
import numpy, torch
first_draws = [random.random(), numpy.random.random(), *torch.rand(4).tolist()]
torch.nn.Dropout.forward = lambda self, x: x
sys.modules["left_behind"] = types.ModuleType("left_behind")
os.environ["LEFT_BEHIND"] = "1"
torch.set_default_dtype(torch.float64)
torch.set_num_threads(2)
torch.manual_seed(5); random.seed(5); numpy.random.seed(5)
for path in ("/tmp/left-behind", "/dev/shm/left-behind", "left-behind"):
    open(path, "w").write("1")
abstract = socket.socket(socket.AF_UNIX); abstract.bind("\0left-behind"); abstract.listen()
tcp = socket.socket(); tcp.bind(("127.0.0.1", 0)); tcp.listen()
print(json.dumps({"port": tcp.getsockname()[1], "pid": os.getpid(), "first draws": first_draws}))
"""

LOOK_AROUND = r"""
import os, random, socket, sys
import numpy, torch
left = {}
left["forward patched"] = torch.nn.Dropout.forward(torch.nn.Dropout(1.0), torch.ones(1)).item() != 0.0
left["module"] = "left_behind" in sys.modules
left["environment"] = "LEFT_BEHIND" in os.environ
left["dtype"] = str(torch.get_default_dtype())
left["threads"] = torch.get_num_threads()
left["files"] = [p for p in ("/tmp/left-behind", "/dev/shm/left-behind", "left-behind") if os.path.exists(p)]
left["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
def reaches(family, address):
    with socket.socket(family) as probe:
        try:
            probe.connect(address)
            return True
        except OSError:
            return False
left["abstract socket"] = reaches(socket.AF_UNIX, "\0left-behind")
left["tcp"] = reaches(socket.AF_INET, ("127.0.0.1", PORT))
import ctypes
left["new user namespace"] = ctypes.CDLL(None).unshare(0x10000000) == 0
left["first draws"] = [random.random(), numpy.random.random(), *torch.rand(4).tolist()]
print(json.dumps(left))
"""


class Kernel:
    """A grading kernel of the course's manager, started in a folder of its own in the
    temporary folder (where SafeExecute puts a kernel's folder, and the template sees)."""

    def __init__(self):
        self.workdir = Path(tempfile.mkdtemp(prefix="forked-kernel-test-")) / "work"
        self.workdir.mkdir()
        config = Config()
        config.SandboxKernelManager.mode = "namespaces"
        self.manager = SandboxKernelManager(config=config)

    async def start(self) -> None:
        await self.manager.start_kernel(cwd=str(self.workdir))
        self.client = self.manager.client()
        self.client.start_channels()
        await self.client.wait_for_ready(timeout=120)

    async def run(self, code: str) -> dict:
        printed = []
        await self.client.execute_interactive(
            "import json\n" + code, timeout=120,
            output_hook=lambda msg: printed.append(msg["content"].get("text", "")))
        return json.loads("".join(printed).strip().splitlines()[-1])

    async def stop(self) -> None:
        self.client.stop_channels()
        await self.manager.shutdown_kernel(now=True)
        await self.manager.cleanup_resources()
        shutil.rmtree(self.workdir.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def two_kernels() -> dict:
    """What the first kernel left and what the second, forked while it ran, saw."""
    async def scenario():
        first, second = Kernel(), Kernel()
        await first.start()
        try:
            left = await first.run(LEAVE_BEHIND)
            await second.start()
            try:
                seen = await second.run(LOOK_AROUND.replace("PORT", str(left["port"])))
                processes = [kernel.manager.provisioner.process for kernel in (first, second)]
                return {"left": left, "seen": seen, "processes": processes,
                        "templates": list(kernel_template._templates.values())}
            finally:
                await second.stop()
        finally:
            await first.stop()
    return asyncio.run(scenario())


def test_both_kernels_are_forked_from_one_template_with_one_thread(two_kernels):
    assert all(isinstance(process, ForkedProcess) for process in two_kernels["processes"])
    [template] = two_kernels["templates"]
    assert template.report == {"tasks": 1, "zmq context": False, "event loop": False, "kernel app": False,
                               "imported": list(kernel_template.PRELOADED)}
    assert two_kernels["left"]["pid"] == 1  # the first process of a PID namespace of its own


@pytest.mark.parametrize(("what", "fresh"), [
    ("forward patched", False), ("module", False), ("environment", False), ("dtype", "torch.float32"),
    ("threads", 1), ("files", []), ("processes", [1]), ("abstract socket", False), ("tcp", False),
    ("new user namespace", False),
])
def test_nothing_left_by_one_kernel_reaches_the_next(two_kernels, what, fresh):
    assert two_kernels["seen"][what] == fresh


def test_each_kernel_draws_its_own_random_numbers(two_kernels):
    """Each fork reseeds from the system what a fresh Python seeds so (the random module,
    numpy's and torch's generators): two kernels' first draws differ. Unreseeded, both would
    continue the template's state and draw the same. A false failure needs two equal
    doubles (2^-53 each) or four equal floats of torch (2^-96)."""
    left, seen = two_kernels["left"]["first draws"], two_kernels["seen"]["first draws"]
    assert left[0] != seen[0] and left[1] != seen[1] and left[2:] != seen[2:]


UNPRIVILEGED_ROUND = r"""
import asyncio, json, os, sys, tempfile
from pathlib import Path
from dropout_kit.engine.kernel_template import ForkedProcess
from dropout_kit.engine.sandbox_kernel_manager import SandboxKernelManager

async def main():
    work = Path(tempfile.mkdtemp()) / "work"
    work.mkdir()
    manager = SandboxKernelManager(mode="namespaces")
    await manager.start_kernel(cwd=str(work))
    client = manager.client()
    client.start_channels()
    printed = []
    try:
        await client.wait_for_ready(timeout=120)
        await client.execute_interactive(
            "import ctypes, os, torch\n"
            "print(os.getuid(), os.getpid(), open('/proc/self/uid_map').read().split(),"
            " ctypes.CDLL(None).unshare(0x10000000), os.getcwd() == %r)" % str(work),
            timeout=120, output_hook=lambda msg: printed.append(msg["content"].get("text", "")))
    finally:
        client.stop_channels()
        forked = isinstance(manager.provisioner.process, ForkedProcess)
        await manager.shutdown_kernel(now=True)
    print(json.dumps({"forked": forked, "printed": "".join(printed).strip()}))

asyncio.run(main())
"""


def test_an_unprivileged_account_forks_its_kernels_in_a_user_namespace_of_its_own(tmp_path):
    """As the hub's grading service runs (the instructor's account, not root), with the hub's
    environment: the fork maps only that account's id, may make no further user namespace,
    and works in its folder."""
    hub_python = Path(os.environ.get("HUB_PREFIX", "/opt/dropout-kit-hub/venv")) / "bin" / "python"
    if os.geteuid() != 0 or not hub_python.exists():
        pytest.skip("needs root (to become another account) and the hub's environment (make hub)")
    tmp_path.chmod(0o777)
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(hub_python), "-I", "-c", UNPRIVILEGED_ROUND],
        capture_output=True, text=True, timeout=300, cwd="/", env={"PATH": os.environ["PATH"], "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["forked"], done.stderr[-3000:]
    assert result["printed"] == "65534 1 ['65534', '65534', '1'] -1 True"


def fresh_kernel_instead(caplog, prepare) -> str:
    """Starts a kernel of the course's manager once `prepare(kernel)` has set it up: it must
    have started afresh (no fork, not the first process of a namespace) and work. The
    template's one warning."""
    async def scenario():
        kernel = Kernel()
        prepare(kernel)
        await kernel.start()
        try:
            return kernel.manager.provisioner.process, await kernel.run("import os\nprint(json.dumps(os.getpid()))")
        finally:
            await kernel.stop()
    process, pid = asyncio.run(scenario())
    assert not isinstance(process, ForkedProcess) and pid != 1
    [warning] = [r.getMessage() for r in caplog.records if "Kernel template" in r.getMessage()]
    return warning


def test_a_template_that_cannot_start_leaves_kernels_started_afresh(caplog):
    """A template whose imports fail (an environment without one of them): one warning, and
    the kernel starts as before and works."""
    def without_a_module(kernel):
        kernel.manager.template_imports = ["torch", "no_module_of_this_name"]

    warning = fresh_kernel_instead(caplog, without_a_module)
    assert "no_module_of_this_name" in warning and "kernels started afresh" in warning


def test_a_fork_that_does_not_answer_is_stopped_and_a_fresh_kernel_takes_its_place(caplog, monkeypatch):
    """A forked kernel that never answers (here an IPython start-up file that waits in forked
    kernels only, the first process of their namespace) is stopped after READY_SECONDS, with
    what its threads were doing (as Linux tells) in the warning; a fresh kernel serves the
    submission."""
    monkeypatch.setattr(kernel_template, "READY_SECONDS", 3)

    def waiting_when_forked(kernel):
        startup = kernel.workdir / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-wait.py").write_text("import os, time\nif os.getpid() == 1:\n    time.sleep(600)\n")
        kernel.manager.kernel_spec.env = {"IPYTHONDIR": str(kernel.workdir / "ipython")}

    warning = fresh_kernel_instead(caplog, waiting_when_forked)
    assert "a forked kernel did not answer" in warning and "hrtimer_nanosleep" in warning  # its sleep


def test_the_template_outlives_the_event_loop_that_started_it():
    """bubblewrap's --die-with-parent ends a sandbox when the *thread* that started it ends,
    and asyncio.run ends its executor's threads: the template, started from a thread of its
    own, serves the kernels of a later event loop too."""
    async def one_kernel():
        kernel = Kernel()
        await kernel.start()
        try:
            return kernel.manager.provisioner.process
        finally:
            await kernel.stop()

    first = asyncio.run(one_kernel())
    templates = list(kernel_template._templates.values())
    second = asyncio.run(one_kernel())
    assert isinstance(first, ForkedProcess) and isinstance(second, ForkedProcess)
    assert templates and all(template.alive() for template in templates)
    assert list(kernel_template._templates.values()) == templates
