"""The checker server (dropout_kit.engine.broker, dropout_kit.checks.process): one sandboxed
process per grading process imports torch once and forks a fresh checker for every
submission. Each checker starts from the server's untouched state and ends with its
submission; a stopped checker is gone; a changed folder of checks gets a new server.

These drive real checker processes in the course's sandbox (namespaces) with checks that
need nothing from a kernel."""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from pathlib import Path

import pytest
from traitlets.config import Config

from dropout_kit.engine import broker
from dropout_kit.engine.sandbox_kernel_manager import SandboxKernelManager

PYTEST_INI = "[pytest]\nmarkers =\n    points(n): points\n    gate: gate\n"

# Leaves a mark in its process and reports the marks it found: a checker forked from a
# server that another checker had already changed would find one.
STATE_CHECK = '''
import os, sys
import pytest

@pytest.mark.points(1)
def test_fresh_state():
    found = sorted(getattr(sys, "marks", []))
    sys.marks = [*found, os.getpid()]
    assert not found, f"marks of earlier checkers: {found}"
'''

HANGING_CHECK = '''
import pytest, time

@pytest.mark.points(1)
def test_hangs():
    time.sleep(3600)
'''

log = logging.getLogger("test_checker_server")


@pytest.fixture
def checks(tmp_path) -> Path:
    folder = tmp_path / "grader_tests" / "demo"
    folder.mkdir(parents=True)
    (folder / "pytest.ini").write_text(PYTEST_INI)
    (folder / "test_state.py").write_text(STATE_CHECK)
    (folder / "test_hang.py").write_text(HANGING_CHECK)
    os.chmod(tmp_path, 0o755)
    return folder


@pytest.fixture
def sandbox() -> SandboxKernelManager:
    config = Config()
    config.SandboxKernelManager.mode = "namespaces"
    return SandboxKernelManager(config=config)


async def run_module(checker: broker.CheckerProcess, test_id: str) -> dict:
    await checker.send({"run": test_id})
    while True:
        message = await checker.receive(timeout=120)
        if "result" in message:
            return message["result"]


def grade_once(checks: Path, sandbox, test_id: str = "test_state") -> tuple[dict, int]:
    async def go():
        checker = broker.CheckerProcess(checks, sandbox, log)
        await checker.start()
        try:
            return await run_module(checker, test_id), checker._server.process.pid
        finally:
            await checker.stop()
    return asyncio.run(go())


def test_every_submission_gets_a_fresh_checker_from_one_server(checks, sandbox):
    servers = set()
    for _ in range(3):
        result, server = grade_once(checks, sandbox)
        servers.add(server)
        assert [c["passed"] for c in result["checks"]] == [True], result
    assert len(servers) == 1


def test_a_stopped_checker_is_killed(checks, sandbox):
    async def go():
        checker = broker.CheckerProcess(checks, sandbox, log)
        await checker.start()
        pid = checker._pid
        await checker.send({"run": "test_hang"})
        with pytest.raises(asyncio.TimeoutError):
            await checker.receive(timeout=2)
        reader = checker._reader
        await checker.stop()
        # The checker's end of the channel closes when the kernel has removed it.
        assert await asyncio.wait_for(reader.read(), 30) == b""
        return pid
    assert asyncio.run(go()) > 0
    result, _ = grade_once(checks, sandbox)  # the server still forks
    assert [c["passed"] for c in result["checks"]] == [True]


def test_a_replaced_folder_of_checks_gets_a_new_server(checks, sandbox):
    _, first = grade_once(checks, sandbox)
    copy = checks.parent / "copy"
    shutil.copytree(checks, copy)
    shutil.rmtree(checks)
    copy.rename(checks)
    _, second = grade_once(checks, sandbox)
    assert second != first
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{first}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{first}")
