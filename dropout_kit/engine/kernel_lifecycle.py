"""Kernels around one submission: a kernel started ahead of its submission (Spare), kernels
stopped in the background, and the scratch copy of the submission's folder a kernel works in.
"""
from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path

import zmq
from jupyter_core.utils import ensure_async
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from dropout_kit import tempfolders
from dropout_kit.engine.sandbox_kernel_manager import SandboxKernelManager

# What the kernel can do to a cell that nbclient reports by raising. A message that fails
# its signature check (e.g. written by a process the student's code forked, which shares the
# kernel's sockets) surfaces as ValueError from jupyter_client's Session: it costs the cell,
# not the submission.
CHANNEL_FAILURES = (ValueError,)
KERNEL_FAILURES = (DeadKernelError, CellTimeoutError, TimeoutError, RuntimeError, zmq.ZMQError, *CHANNEL_FAILURES)


@dataclass
class Spare:
    """A kernel started before its submission arrived: agent booted, `warm_imports` imported,
    running in `folder` (empty until its one submission's files are written there)."""
    km: SandboxKernelManager
    kc: object
    kernel_name: str
    folder: Path
    language_info: dict | None

    def hand_over_files(self) -> None:
        """The submission's files, written after the kernel started, become its account's too."""
        if isinstance(self.km, SandboxKernelManager):
            self.km.hand_over_again()


# Kernels being stopped in the background (kept referenced until they are).
_retiring: set[asyncio.Task] = set()


async def stop_kernel(km, kc, log, remove: Path | None = None) -> None:
    """Stops a kernel and its channels, then removes `remove` (its folder) if given."""
    if kc is not None:
        try:
            await ensure_async(kc.stop_channels())
        except Exception:  # noqa: BLE001
            pass
    if km is not None:
        try:
            if km.has_kernel:
                await ensure_async(km.shutdown_kernel(now=True))
        except Exception as error:  # noqa: BLE001
            log.warning("SafeExecute: killing the kernel: %s", error)
        try:
            await ensure_async(km.cleanup_resources())
        except Exception:  # noqa: BLE001
            pass
    if remove is not None:
        shutil.rmtree(remove, ignore_errors=True)


def _in_background(coroutine) -> None:
    task = asyncio.ensure_future(coroutine)
    _retiring.add(task)
    task.add_done_callback(_retiring.discard)


def stop_in_background(km, kc, log) -> None:
    _in_background(stop_kernel(km, kc, log))


def remove_in_background(folder: Path) -> None:
    """Removes `folder` once the kernels being stopped now are gone (one may run in it)."""
    stopping = _retiring_here()

    async def remove() -> None:
        await asyncio.gather(*stopping, return_exceptions=True)
        shutil.rmtree(folder, ignore_errors=True)

    _in_background(remove())


# The kernel's working folder: a scratch copy (see scratch_copy), named like the sandbox's own
# workspaces so that a leftover of either is found the same way.
SCRATCH_PREFIX = "dropout-kit-kernel-"


def scratch_copy(folder: Path) -> Path:
    """A copy of `folder` (what nbgrader put in autograded/<student>/<assignment>/: the
    notebook and the submission's other files) in a fresh temporary folder: the kernel works
    there, so nothing it writes reaches autograded/, the instructor's report or the student's
    feedback. Returns the copy, <scratch>/<folder's name>; remove it with remove_scratch.
    Symbolic links are copied as links, never followed (nbgrader's intake keeps them out of
    autograded/ already; a link must not bring the file it names into the kernel's folder)."""
    scratch = tempfolders.new_folder(SCRATCH_PREFIX)
    scratch.chmod(0o711)  # a kernel of another account (nbgrader as root, no namespaces) goes through
    copy_ = scratch / (folder.name or "submission")
    try:
        shutil.copytree(folder, copy_, symlinks=True)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return copy_


def remove_scratch(copy_: Path, background: bool) -> None:
    """Removes a scratch_copy once its kernel is gone (`background`: being stopped in the
    background by this event loop; otherwise it is stopped already)."""
    if background:
        remove_in_background(copy_.parent)
    else:
        shutil.rmtree(copy_.parent, ignore_errors=True)


def _retiring_here() -> list[asyncio.Task]:
    return [task for task in _retiring if task.get_loop() is asyncio.get_running_loop()]


async def stopped_in_background() -> None:
    """Waits for what this event loop stops or removes in the background."""
    while pending := _retiring_here():
        await asyncio.gather(*pending, return_exceptions=True)
