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
import json
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from nbformat import NotebookNode
from nbformat.v4 import new_output

import dropout_kit
from dropout_kit.cells import grade_call, grade_id
from dropout_kit.checks.runner import CHECKS_MIME, ModuleResult, cell_score, report
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
    for cell in nb.cells:
        if grade_id(cell) == wanted:
            return cell.source
    return None


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


class CheckerProcess:
    """The sandboxed process that runs the hidden checks of one submission."""

    def __init__(self, grader_tests: Path, confinement, log):
        self.grader_tests = grader_tests
        self.confinement = confinement  # SandboxKernelManager.confinement
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        self._scratch: Path | None = None
        self._stderr_task = None

    def command(self) -> tuple[list[str], dict]:
        self._scratch = Path(tempfile.mkdtemp(prefix="dropout-kit-checker-"))
        kit_parent = Path(dropout_kit.__file__).resolve().parent.parent
        from dropout_kit.engine.sandbox_kernel_manager import python_runtime_paths
        prefix, env, _ = self.confinement(
            workdir=self.grader_tests, scratch=self._scratch,
            read_only=[*python_runtime_paths(), Path(dropout_kit.__file__).resolve().parent,
                       self.grader_tests],
            writable=[])
        # The same copy of the kit as this process, whatever the environment would import.
        boot = (f"import sys; sys.path.insert(0, {str(kit_parent)!r}); "
                "from dropout_kit.checks.process import main; sys.exit(main(sys.argv[1:]))")
        return [*prefix, sys.executable, "-I", "-c", boot, str(self.grader_tests)], env

    async def start(self) -> None:
        argv, env = self.command()
        self.process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, cwd=str(self.grader_tests), limit=MAX_LINE)
        self._stderr_task = asyncio.ensure_future(self._drain_stderr())

    async def _drain_stderr(self) -> None:
        kept = 0
        while self.process is not None and self.process.stderr is not None:
            line = await self.process.stderr.readline()
            if not line:
                return
            if kept < 200:  # the checks' own noise, for the instructor's log
                kept += 1
                self.log.debug("checker: %s", line.decode("utf-8", "replace").rstrip())

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def send(self, message: dict) -> None:
        self.process.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
        await self.process.stdin.drain()

    async def receive(self, timeout: float) -> dict:
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise CheckerFailed(f"the checker process ended (exit code {await self.process.wait()})")
        try:
            return json.loads(line)
        except ValueError as error:
            raise CheckerFailed(f"the checker process sent no JSON: {error}") from error

    async def stop(self) -> None:
        if self.process is not None:
            if self.process.returncode is None:
                self.process.kill()
            await self.process.wait()
            self.process = None
        if self._stderr_task is not None:
            self._stderr_task.cancel()
            self._stderr_task = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
