"""One grading kernel started by the course's SandboxKernelManager (namespaces), some code
run in it, and its printed output: for tests of what the sandbox lets a kernel see."""
from __future__ import annotations

import asyncio
from pathlib import Path

from traitlets.config import Config

from dropout_kit.engine.sandbox_kernel_manager import SandboxKernelManager


async def _run(code: str, workdir: Path, course: Path | None, kernel_name: str | None) -> str:
    config = Config()
    config.SandboxKernelManager.mode = "namespaces"
    if course is not None:
        config.SandboxKernelManager.course_root = str(course)
    manager = SandboxKernelManager(config=config, **({"kernel_name": kernel_name} if kernel_name else {}))
    await manager.start_kernel(cwd=str(workdir))
    client = manager.client()
    client.start_channels()
    seen = []
    try:
        await client.wait_for_ready(timeout=120)
        await client.execute_interactive(code, timeout=120,
                                         output_hook=lambda msg: seen.append(msg["content"].get("text", "")))
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
        await manager.cleanup_resources()
    return "".join(seen)


def printed_by(code: str, workdir: Path, course: Path | None = None, kernel_name: str | None = None) -> str:
    """What `code` prints in a sandboxed kernel started in `workdir`."""
    return asyncio.run(_run(code, workdir, course, kernel_name))
