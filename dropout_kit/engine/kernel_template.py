"""Grading kernels forked from a warm template (issue 33), seen from the grading process.

A fresh `python -m ipykernel_launcher` imports torch, numpy, matplotlib and ipykernel before
the first student cell runs (about 2 s of CPU here), for every submission, every re-run and
every mutant of the audit. A template (dropout_kit/kernel/template.py) imports them once per
grading process, inside a sandbox of its own, and forks each kernel from that state.

Why a template per grading process, in its own sandbox: bubblewrap wraps a program it starts
and cannot adopt a running process, so the template's sandbox is built like a kernel's
(system and Python read-only, no network, its own PID namespace) with two differences: the
grading process's temporary folder is writable in it (where every kernel's folders are made)
and it may create one more level of namespaces. Each fork enters namespaces of its own
before anything of a student runs (see the template's docstring): a private /tmp and /dev/shm
over the shared ones, its own working folder and IPC folder brought back from detached mount
copies, a fresh /proc of its own PID namespace, the account (nobody when the grading account
is root) and the resource limits of today's kernels, and the kernel's cgroups, which the
grading process enters it into. The template is never given a submission's settings: each
kernel's channel is handed over as a file descriptor and read by the fork alone.

The template is made again when what it preloads could differ (KernelTemplate.key: its
source, the sandbox, the environment variables, the imports and the Python packages'
folders), and stops with the grading process (bubblewrap's --die-with-parent, started from a
thread that lives as long as the template: sandbox_layout.launch_kept; every fork is inside
its PID namespace and ends with it). A fork that does not answer within READY_SECONDS is
stopped and replaced by a fresh kernel. A template that cannot start, or a fork that
fails, leaves that grading process with today's kernels and one warning: never a wrong grade.
"""
from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import json
import logging
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.provisioning import LocalProvisioner

from dropout_kit.engine.sandbox_layout import launch_kept
from dropout_kit.kernel import template as template_module

# What a grading kernel imports before or during the course's cells; pyplot and matplotlib's
# inline backend are left to the kernel (they register with it when imported).
PRELOADED = ("numpy", "torch", "matplotlib", "matplotlib.figure", "matplotlib.font_manager",
             "ipykernel.kernelapp", "ipykernel.ipkernel", "IPython.core.interactiveshell")
START_SECONDS = 120
FORK_SECONDS = 30
READY_SECONDS = 20  # a fork answers in about 0.5 s on a busy machine; nbclient waits 60 s
IDLE_SECONDS = 600

log = logging.getLogger(__name__)


class ForkFailed(RuntimeError):
    """The template could not start or could not fork this kernel: use a fresh kernel."""


@dataclass(frozen=True)
class TemplatePlan:
    """How to start a template: the sandbox's command prefix and the environment."""
    prefix: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    imports: tuple[str, ...] = PRELOADED

    @property
    def key(self) -> str:
        """Changes whenever a template would preload something else."""
        sha = hashlib.sha256(Path(template_module.__file__).read_bytes())
        for part in (*self.prefix, *map("=".join, self.env), *self.imports, sys.executable):
            sha.update(part.encode() + b"\0")
        for path in sorted({Path(p) for p in sys.path if p.endswith("site-packages")}):
            try:
                sha.update(str(path.stat().st_mtime_ns).encode())
            except OSError:
                pass
        return sha.hexdigest()


@dataclass(frozen=True)
class ForkPlan:
    """One kernel's fork: the template it comes from, the settings its fork reads, and what
    the grading process does with its pid before it goes on (its cgroups)."""
    template: TemplatePlan
    settings: dict
    admit: Callable[[int], None]


class SandboxProvisioner(LocalProvisioner):
    """Launches the kernel as its manager planned it (SandboxKernelManager.fork_plan): forked
    from this process's template, or, without a plan or when the fork fails, as a program."""

    async def launch_kernel(self, cmd: list[str], **kwargs):
        plan: ForkPlan | None = getattr(self.parent, "fork_plan", None)
        if plan is not None:
            try:
                template = await asyncio.to_thread(template_for, plan.template)
                self.process = await asyncio.to_thread(template.fork, plan.settings, plan.admit)
                self.pid, self.pgid = self.process.pid, None
                await self._confirm_ready()
            except ForkFailed as error:
                warn_fresh_kernels(self.parent.log, str(error))
                self.process = self.pid = None
            else:
                self.cwd = kwargs.get("cwd")
                return self.connection_info
        return await super().launch_kernel(cmd, **kwargs)

    async def _confirm_ready(self) -> None:
        """Waits for the forked kernel's first reply. A fork that does not answer within
        READY_SECONDS is stopped (ForkFailed, with what Linux says it is doing) so that a fresh
        kernel takes its place within the caller's start-up time."""
        client = AsyncKernelClient(parent=self.parent)  # its liveness check asks our poll()
        client.load_connection_info(self.connection_info)
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=READY_SECONDS)
        except RuntimeError as error:
            state = describe_process(self.process.pid)
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(self.process.wait, 5)
            raise ForkFailed(f"a forked kernel did not answer ({error}; {state})") from error
        finally:
            client.stop_channels()


_warned: set[str] = set()


def describe_process(pid: int) -> str:
    """What Linux says process `pid` and its threads are doing (for the log)."""
    threads = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        try:
            stat = (task / "stat").read_text().rsplit(")", 1)[1].split()
            threads.append(f"{task.name} {stat[0]} {(task / 'wchan').read_text() or '-'}")
        except OSError:
            pass
    return "threads: " + (", ".join(threads) if threads else "none")


def warn_fresh_kernels(logger, reason: str) -> None:
    if reason not in _warned:
        _warned.add(reason)
        logger.warning("Kernel template: %s. Grading goes on with kernels started afresh (slower; "
                       "c.SandboxKernelManager.fork_kernels = False silences this).", reason)


class ForkedProcess:
    """A forked kernel as jupyter_client's provisioner sees a Popen: `pid` is its pid in the
    grading process's namespace; signals go through a pidfd (never to a reused pid); the
    exit status comes from the fork's first process over the kernel's channel."""

    def __init__(self, pid: int, pidfd: int, channel: socket.socket):
        self.pid, self._pidfd, self._channel = pid, pidfd, channel
        self.returncode: int | None = None
        self.stdin = self.stdout = self.stderr = None
        self._buffer = b""
        self._reading = threading.Lock()  # the reaper thread polls too

    def poll(self) -> int | None:
        if self.returncode is None:
            self._read(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired("forked kernel", timeout)
            self._read(0.1 if left is None else min(left, 0.1))
        return self.returncode

    def _read(self, seconds: float) -> None:
        with self._reading:
            if self._channel is not None and _readable(self._channel, seconds):
                self._read_ready()

    def _read_ready(self) -> None:
        try:
            chunk = self._channel.recv(4096)
        except OSError:
            chunk = b""
        self._buffer += chunk
        for line in self._buffer.decode(errors="replace").splitlines():
            if line.startswith("exit "):
                self.returncode = int(line.split()[1])
        if not chunk and self.returncode is None:  # the fork's first process is gone too
            self.returncode = -signal.SIGKILL
        if self.returncode is not None:
            self._close()

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            signal.pidfd_send_signal(self._pidfd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def _close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
            os.close(self._pidfd)

    def __del__(self):
        try:
            self._close()
        except (OSError, AttributeError):
            pass


class KernelTemplate:
    """One running template (see the module docstring)."""

    def __init__(self, plan: TemplatePlan):
        self.plan = plan
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._control, self._lock = ours, threading.Lock()
        started = time.monotonic()
        try:
            self._process = launch_kept(dict(
                args=[*plan.prefix, sys.executable, "-I", "-c", Path(template_module.__file__).read_text(),
                      str(theirs.fileno()), json.dumps(list(plan.imports))],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=dict(plan.env), cwd="/"))
        finally:
            theirs.close()
        ready = _read_line(self._control, START_SECONDS)
        try:
            self.report = json.loads(ready)
        except ValueError:
            self.close()
            raise ForkFailed(f"the kernel template did not start ({ready or 'no answer'})") from None
        if "error" in self.report:
            self.close()
            raise ForkFailed(f"the kernel template could not preload its modules ({self.report['error']})")
        unsafe = [name for name in ("zmq context", "event loop", "kernel app") if self.report.get(name)]
        if self.report.get("tasks") != 1 or unsafe:  # a fork copies one thread; the rest is shared
            self.close()
            raise ForkFailed(f"the kernel template is not safe to fork: {self.report.get('tasks')} threads "
                             f"after its imports{''.join(', a ' + name for name in unsafe)}")
        self.start_seconds = time.monotonic() - started
        self._kernels: weakref.WeakSet[ForkedProcess] = weakref.WeakSet()
        self._last_used = time.monotonic()

    def used(self) -> None:
        self._last_used = time.monotonic()

    def idle_for(self) -> float:
        return time.monotonic() - self._last_used

    def kernels_running(self) -> bool:
        return any(kernel.poll() is None for kernel in list(self._kernels))

    def alive(self) -> bool:
        return self._process.poll() is None

    def fork(self, settings: dict, admit) -> ForkedProcess:
        """A kernel forked with `settings` (see template.prepare); `admit(pid)` is called with
        its pid here before it prepares anything (e.g. to put it in its cgroups)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        ours.settimeout(FORK_SECONDS)
        try:
            with self._lock:
                socket.send_fds(self._control, [b"k"], [theirs.fileno()])
            theirs.close()
            ours.sendall(json.dumps(settings).encode() + b"\n")
            pid = self._kernel_pid(ours)
            pidfd = os.pidfd_open(pid)
            try:
                admit(pid)
                ours.sendall(b"go\n")
                answer = _read_line(ours, FORK_SECONDS)
            except BaseException:
                os.close(pidfd)
                raise
            if answer != "ok":
                os.close(pidfd)
                raise ForkFailed(f"a forked kernel could not start: {answer}")
        except (OSError, ValueError) as error:
            ours.close()
            raise ForkFailed(f"a forked kernel could not start: {error}") from error
        except BaseException:
            ours.close()
            raise
        ours.settimeout(None)
        kernel = ForkedProcess(pid, pidfd, ours)
        self._kernels.add(kernel)
        self.used()
        return kernel

    @staticmethod
    def _kernel_pid(channel: socket.socket) -> int:
        """The pid the kernel's "pid" message carries (SCM_CREDENTIALS, translated by Linux
        into this process's PID namespace); any other message is the fork's error."""
        message, ancillary, _, _ = channel.recvmsg(4096, socket.CMSG_SPACE(struct.calcsize("3i")))
        if message != b"pid\n":
            raise ForkFailed(message.decode(errors="replace").strip() or "the fork ended before it started")
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                return struct.unpack("3i", data[:struct.calcsize("3i")])[0]
        raise ForkFailed("the forked kernel did not tell its pid")

    def close(self) -> None:
        try:
            self._control.close()
        finally:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()


def _readable(channel: socket.socket, seconds: float) -> bool:
    """Whether `channel` has data or has ended within `seconds` (poll: a long-lived grading
    process may hold descriptors past select's 1024)."""
    waiter = select.poll()
    waiter.register(channel, select.POLLIN)
    return bool(waiter.poll(seconds * 1000))


def _read_line(channel: socket.socket, seconds: float) -> str:
    """One line from `channel`, or what came before it ended or `seconds` passed."""
    data, deadline = b"", time.monotonic() + seconds
    while not data.endswith(b"\n") and time.monotonic() < deadline:
        if _readable(channel, 0.2):
            chunk = channel.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode(errors="replace").strip()


_templates: dict[str, KernelTemplate] = {}
_failed: dict[str, str] = {}
_registry_lock = threading.Lock()
_reaper: list[threading.Thread] = []


def template_for(plan: TemplatePlan) -> KernelTemplate:
    """This process's template for `plan`, started on first use. Templates of other plans
    (the kit, the sandbox or the environment changed; another course) stop once none of their
    kernels runs: stopping a template ends its kernels. ForkFailed if it cannot start; then
    it is not tried again in this process."""
    key = plan.key
    with _registry_lock:
        if key in _failed:
            raise ForkFailed(_failed[key])
        current = _templates.get(key)
        if current is None or not current.alive():
            try:
                current = KernelTemplate(plan)
            except (OSError, ForkFailed) as error:
                _failed[key] = str(error)
                raise ForkFailed(str(error)) from error
            _templates[key] = current
            log.info("Kernel template started in %.1f s", current.start_seconds)
        current.used()
        _stop_unused(keep=key)
        if not _reaper:
            _reaper.append(threading.Thread(target=_reap, name="kernel-template-reaper", daemon=True))
            _reaper[0].start()
        return current


def _stop_unused(keep: str | None = None, idle_seconds: float = 0.0) -> None:
    """Stops the templates (but `keep`) that have no kernel running and were not used for
    `idle_seconds`. The registry's lock is held."""
    for key, template in list(_templates.items()):
        if key != keep and not template.kernels_running() and template.idle_for() >= idle_seconds:
            _templates.pop(key).close()


def _reap() -> None:
    """A long-lived process (the formgrader's server, the grading service) does not keep an
    idle template: it is stopped after IDLE_SECONDS without a kernel, started again when needed."""
    while True:
        time.sleep(IDLE_SECONDS / 10)
        with _registry_lock:
            _stop_unused(idle_seconds=IDLE_SECONDS)


@atexit.register
def _stop_templates() -> None:
    with _registry_lock:
        while _templates:
            _templates.popitem()[1].close()
