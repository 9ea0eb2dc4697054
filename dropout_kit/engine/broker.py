"""nbgrader's side of the hidden checks: the checker process and the kernel's agent.

While `nbgrader autograde` runs a submission (dropout_kit.engine.safe_execute.SafeExecute), an
autograder cell of the kit — one whose hidden region is `grade("<module>")` — is not sent
to the student's kernel. Instead SafeExecute asks the checker process
(dropout_kit.checks.process, sandboxed, the only process that can read grader_tests/) to
run that module, and relays the checker's requests: kernel requests go to the kernel's
agent (dropout_kit/kernel/agent.py, whose source is sent into the kernel, so the kernel
needs none of the kit), cell sources come from nbgrader's copy of the submission. The
cell's outputs are then written here from the checker's verdict: the Korean report, the
verdicts as data (CHECKS_MIME) and the score, which nbgrader records.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

from nbformat import NotebookNode
from nbformat.v4 import new_output

import dropout_kit
from dropout_kit import tempfolders
from dropout_kit.cells import cell_index, grade_call
from dropout_kit.checks.runner import CHECKS_MIME, ModuleResult, cell_score, report
from dropout_kit.engine.sandbox_layout import launch_kept, python_runtime_paths
from dropout_kit.process_exit import on_process_exit
from dropout_kit.kernel import agent as agent_module

AGENT_NAME = "__dropout_kit_agent__"
AGENT_SOURCE = Path(agent_module.__file__).read_text(encoding="utf-8")
# Installs the agent in the kernel's namespace; `{source}` is the agent's file, base64. Sent
# right after the kernel starts, before any student code: the agent keeps a copy of
# Python's builtins as they are then, so a student's later patch of `isinstance` or
# `float` does not reach it.
BOOT = """\
def __dropout_kit_boot__():
    import base64, builtins, types
    module = types.ModuleType("dropout_kit_agent")
    module.__dict__["__builtins__"] = dict(builtins.__dict__)
    exec(compile(base64.b64decode("{source}").decode("utf-8"), "dropout_kit_agent", "exec"), module.__dict__)
    shell = get_ipython()
    agent = module.Agent(shell.user_ns)
    shell.user_ns["{name}"] = lambda nonce: module.serve(agent, shell.kernel, nonce)
    shell.user_ns_hidden["{name}"] = None
__dropout_kit_boot__()
del __dropout_kit_boot__
"""
# The most the checker reads in one line (a reply with the tensors of a whole pass).
MAX_LINE = 256 * 1024 * 1024


def kit_test_id(cell: NotebookNode) -> str | None:
    """The hidden-check module an autograder cell of the kit runs, or None for any other
    cell (ordinary nbgrader test cells run in the kernel as nbgrader runs them)."""
    if cell.cell_type != "code":
        return None
    nbgrader = cell.metadata.get("nbgrader", {})
    if not (nbgrader.get("grade") and not nbgrader.get("solution")):
        return None
    return grade_call(cell.source)


def boot_code() -> str:
    source = base64.b64encode(AGENT_SOURCE.encode("utf-8")).decode("ascii")
    return BOOT.replace("{source}", source).replace("{name}", AGENT_NAME)


def encoded_request(op: str, **args) -> bytes:
    return agent_module.encode({"op": op, "args": args})


def request_code(nonce: str) -> str:
    """The code of a request; the request itself travels as the message's binary buffer."""
    return f'{AGENT_NAME}("{nonce}")'


def new_nonce() -> str:
    return secrets.token_hex(8)


def solution_source(nb: NotebookNode, wanted: str) -> str | None:
    """A cell's source from nbgrader's copy of the submission (never from the student's
    working folder, which their code can write)."""
    index = cell_index(nb.cells, wanted)
    return None if index is None else nb.cells[index].source


def cell_outputs(result: ModuleResult) -> list[NotebookNode]:
    """What the graded cell shows: the report, the verdicts as data, the score."""
    score = cell_score(result)
    return [
        new_output("stream", name="stdout", text=report(result) + "\n"),
        new_output("display_data", data={CHECKS_MIME: result.as_data(),
                                         "text/plain": f"<{result.test_id}: {score:g}점>"}),
        new_output("execute_result", data={"text/plain": repr(score)}, execution_count=None),
    ]


class CheckerFailed(Exception):
    """The checker process ended or broke its protocol: the grading's fault, not the student's."""


class CheckerServer:
    """The sandboxed process that forks the checkers (dropout_kit.checks.process): one per
    grading process and folder of hidden checks, started by the first submission that needs
    it and kept while this process grades."""

    START_SECONDS = 120  # its first answer waits for torch's import

    def __init__(self, grader_tests: Path, confinement, log):
        self.grader_tests = grader_tests
        self._scratch = tempfolders.new_folder("dropout-kit-checker-")
        kit_parent = Path(dropout_kit.__file__).resolve().parent.parent
        prefix, env, _ = confinement(
            workdir=grader_tests, scratch=self._scratch,
            read_only=[*python_runtime_paths(), Path(dropout_kit.__file__).resolve().parent, grader_tests],
            writable=[])
        # The same copy of the kit as this process, whatever the environment would import.
        boot = (f"import sys; sys.path.insert(0, {str(kit_parent)!r}); "
                "from dropout_kit.checks.process import main; sys.exit(main(sys.argv[1:]))")
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control.settimeout(self.START_SECONDS)
        self._log_path = self._scratch / "server.log"
        with theirs, self._log_path.open("wb") as errors:
            self.process = launch_kept(dict(
                args=[*prefix, sys.executable, "-I", "-c", boot, str(grader_tests), str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=errors, stderr=errors,
                env=env, cwd=str(grader_tests)))
        self._lock = threading.Lock()
        log.info("checker server started for %s", grader_tests)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def _ask(self, message: bytes, fds=()) -> str:
        with self._lock:
            try:
                socket.send_fds(self.control, [message], list(fds))
                answer = self.control.recv(64)
            except OSError as error:  # a late answer would come to the next question: no more questions
                answer, cause = b"", error
                self.process.kill()
            else:
                cause = None
        if not answer:
            log = self._log_path.read_text(encoding="utf-8", errors="replace")[-2000:] if \
                self._log_path.exists() else ""
            raise CheckerFailed(f"the checker server does not answer ({cause or 'it ended'}): {log}")
        return answer.decode("ascii")

    def fork(self, channel: int, errors: int) -> int:
        return int(self._ask(b"fork", (channel, errors)))

    def kill(self, pid: int) -> None:
        if self.running:
            with contextlib.suppress(CheckerFailed):
                self._ask(f"kill {pid}".encode("ascii"))

    def stop(self) -> None:
        self.control.close()
        if self.running:
            self.process.kill()
        self.process.wait()
        shutil.rmtree(self._scratch, ignore_errors=True)


_server: tuple[tuple, CheckerServer] | None = None
_server_lock = threading.Lock()


def checker_server(grader_tests: Path, sandbox, log) -> CheckerServer:
    """This process's checker server for `grader_tests` in `sandbox`'s confinement (a
    SandboxKernelManager); a new one when either changed or the old one ended."""
    global _server
    folder = grader_tests.stat()  # a folder replaced at the same path is another folder
    key = (str(grader_tests), folder.st_dev, folder.st_ino,
           tuple((name, repr(getattr(sandbox, name))) for name in sorted(sandbox.class_own_traits(config=True))))
    with _server_lock:
        if _server is not None and (_server[0] != key or not _server[1].running):
            _server[1].stop()
            _server = None
        if _server is None:
            _server = (key, CheckerServer(grader_tests, sandbox.confinement, log))
        return _server[1]


def _stop_server() -> None:
    if _server is not None:
        _server[1].stop()


on_process_exit(_stop_server)


class CheckerProcess:
    """The checker of one submission: a fresh fork of the checker server, never reused."""

    def __init__(self, grader_tests: Path, sandbox, log):
        self.grader_tests = grader_tests
        self.sandbox = sandbox  # a SandboxKernelManager: the checker's confinement
        self.log = log
        self._server: CheckerServer | None = None
        self._pid: int | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._stderr_task = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.run_in_executor(None, checker_server, self.grader_tests, self.sandbox, self.log)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        errors_in, errors_out = os.pipe()
        try:
            self._pid = await loop.run_in_executor(None, self._server.fork, theirs.fileno(), errors_out)
        except BaseException:
            ours.close()
            os.close(errors_in)
            raise
        finally:
            theirs.close()
            os.close(errors_out)
        self._reader, self._writer = await asyncio.open_unix_connection(sock=ours, limit=MAX_LINE)
        self._stderr_task = asyncio.ensure_future(self._drain_stderr(os.fdopen(errors_in, "rb")))

    async def _drain_stderr(self, pipe) -> None:
        reader = asyncio.StreamReader()
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe)
        try:
            kept = 0
            while line := await reader.readline():
                if kept < 200:  # the checks' own noise, for the instructor's log
                    kept += 1
                    self.log.debug("checker: %s", line.decode("utf-8", "replace").rstrip())
        finally:
            transport.close()

    @property
    def running(self) -> bool:
        return self._reader is not None and not self._reader.at_eof()

    async def send(self, message: dict) -> None:
        try:
            self._writer.write((json.dumps(message) + "\n").encode("utf-8"))
            await self._writer.drain()
        except OSError as error:
            raise CheckerFailed(f"the checker process ended ({error})") from error

    async def receive(self, timeout: float) -> dict:
        line = await asyncio.wait_for(self._reader.readline(), timeout)
        if not line:
            raise CheckerFailed("the checker process ended")
        try:
            return json.loads(line)
        except ValueError as error:
            raise CheckerFailed(f"the checker process sent no JSON: {error}") from error

    async def stop(self) -> None:
        if self._pid is not None:
            self._server.kill(self._pid)
            self._pid = None
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None
        if self._stderr_task is not None:
            self._stderr_task.cancel()
            self._stderr_task = None
