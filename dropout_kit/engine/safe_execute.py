"""nbgrader's Execute step, hardened: every notebook ends in bounded time, every cell
accounted for.

Stock nbgrader gives up on a whole submission (blank grades, exit code 1) when a cell
ignores the interrupt after its timeout or the kernel dies. `SafeExecute` instead
  * marks the failed cell with an error (so an autograder cell there scores 0),
  * starts a fresh kernel, replays the cells that had run (their outputs are kept from
    the first run) and carries on with the next cell,
  * stops after `max_kernel_restarts` or when the notebook's `notebook_timeout` is used
    up, marking every cell left with an error instead of leaving it blank (a test cell
    without output would earn FULL points in nbgrader),
  * keeps at most `max_output_bytes` of output per cell, so a flood of prints cannot
    exhaust nbgrader's memory,
  * grades the kit's autograder cells (hidden region `grade("<module>")`) outside the
    student's kernel, in a checker process (dropout_kit.engine.kit_cells, through
    dropout_kit.engine.broker), and records the checker's verdict as the cell's score. Other cells, ordinary nbgrader test cells
    included, run in the kernel as nbgrader runs them,
  * runs the kernel in a scratch copy of the submission's folder (nothing it writes
    reaches autograded/), and caps the bytes of its replies to the checks, per request
    (`max_reply_bytes`) and per submission (`max_submission_reply_bytes`): a request over
    a cap fails and the kernel is restarted, the earlier cells replayed.
Where submissions come one after another (a Dask worker, dropout_kit.cluster.task), the
next student's kernel can be started ahead, while this one's runs (`start_spare`): a
`Spare` is started in an empty folder of its own, boots the agent and imports
`warm_imports`, and is given to exactly one submission (`SafeExecute.spare`), whose files
are then written into its folder; its kernel is stopped in the background afterwards
(dropout_kit.engine.kernel_lifecycle). Which submitted files the run reads, cell by cell, is
watched from outside the kernel (dropout_kit.engine.file_reads).
Kernels come from dropout_kit.engine.sandbox_kernel_manager.SandboxKernelManager unless configured otherwise.
"""
from __future__ import annotations

import asyncio
import copy
import math
import signal
from pathlib import Path
from time import monotonic

from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert.preprocessors.execute import NotebookClient
from nbformat.v4 import new_notebook, new_output
from nbgrader.preprocessors import Execute
from traitlets import Dict, Integer, List, Unicode

from dropout_kit import tempfolders
from dropout_kit.cells import grade_id
from dropout_kit.engine import broker
from dropout_kit.engine.cell_outputs import TRUNCATED, error_output, message_size, shrink
from dropout_kit.engine.file_reads import FileReads
from dropout_kit.engine.kernel_lifecycle import (
    CHANNEL_FAILURES,
    KERNEL_FAILURES,
    SCRATCH_PREFIX,
    Spare,
    remove_scratch,
    scratch_copy,
    stop_in_background,
    stop_kernel,
)
from dropout_kit.engine.judgement_kernel import JudgementKernels
from dropout_kit.engine.kit_cells import VERDICTS, KitCells, RepliesTooLarge
from dropout_kit.engine.sandbox_kernel_manager import SandboxKernelManager

AFTER_RESTART = " 앞의 셀들을 새 커널에서 다시 실행한 뒤 다음 셀부터 채점을 계속했습니다."

class KernelStartFailed(RuntimeError):
    pass


class KernelExited(Exception):
    """The cell ran exit() or quit(): ipykernel stops right after replying."""


# resources key: the submitted files the run read, cell by cell (file_reads.FileReads.as_data)
FILES_READ = "dropout_kit_files_read"


def describe_exit(code: int | None) -> tuple[str, str]:
    """How a kernel ended, for the student (Korean) and for the log."""
    if code is None:
        return "종료 코드 없음", "no exit code"
    signum = -code if code < 0 else code - 128 if code > 128 else None
    if signum:
        try:
            name = signal.Signals(signum).name
            return f"신호 {name}", f"signal {name}"
        except ValueError:
            pass
    return f"종료 코드 {code}", f"exit code {code}"


class SafeExecute(KitCells, JudgementKernels, Execute):
    """Execute for nbgrader autograde that survives hostile notebooks."""

    notebook_timeout = Integer(
        1800, help="wall-clock seconds for a whole notebook: cells, kernel restarts and replays"
    ).tag(config=True)
    cell_timeouts = Dict(
        key_trait=Unicode(), value_trait=Integer(), default_value={},
        help="per-cell timeouts by nbgrader grade_id (others use `timeout`)",
    ).tag(config=True)
    max_kernel_restarts = Integer(
        3, help="kernel restarts per notebook after a death or an unresponsive cell"
    ).tag(config=True)
    max_output_bytes = Integer(
        1_000_000, help="output kept per cell; the rest is dropped with a note"
    ).tag(config=True)
    max_reply_bytes = Integer(
        32 * 1024 * 1024,
        help="bytes of the kernel's replies kept for one request of the hidden checks (their "
             "binary buffers, plus 1 kB per reply message). Past it the request is refused: the "
             "checker is told the answer is unavailable (the part's checks score 0) and the "
             "kernel is restarted, the earlier cells replayed. An honest reply is one message; "
             "the largest of this course's reference solution is 0.8 MB (a forward pass "
             "recorded on 200 inputs of 512 units)").tag(config=True)
    max_submission_reply_bytes = Integer(
        256 * 1024 * 1024,
        help="bytes of the kernel's replies kept for one submission's hidden checks in all "
             "(counted as for max_reply_bytes); later requests are refused. The course's "
             "reference solution takes 3.5 MB").tag(config=True)
    grader_tests = Unicode(
        "", help="the course's grader_tests/ folder: assignment A's hidden checks are in its "
                 "subfolder A/, read only by A's checker process; empty: the kit's autograder "
                 "cells run in the kernel (no checker)").tag(config=True)
    check_key = Unicode(
        "", help="the course's secret (hex) from which each submission's check seeds are drawn "
                 "(dropout_kit/engine/check_key.py; set from <course>/.dropout-kit/check-key); "
                 "empty: a key of this process's own").tag(config=True)
    warm_imports = List(Unicode(), default_value=["torch"],
        help="modules a kernel started ahead of its submission (a spare) imports before the "
             "submission arrives; no name is bound, the student's `import` finds them loaded"
    ).tag(config=True)
    interrupt_grace = Integer(
        5, help="seconds a kernel has to stop after an interrupt before it is restarted"
    ).tag(config=True)
    error_on_timeout = Dict(
        default_value={
            "ename": "CellTimeoutError",
            "evalue": "셀이 제한 시간 안에 끝나지 않아 중단했습니다.",
            "traceback": ["CellTimeoutError: 셀이 제한 시간 안에 끝나지 않아 중단했습니다."],
        },
    ).tag(config=True)

    # Given by the caller, like `spare` and `background_stop`: the submission's folder is a
    # scratch folder of this submission alone already (a Dask job's, removed by the caller),
    # so the kernel works in it; otherwise it works in a scratch_copy of the folder.
    folder_is_scratch = False
    # The submission's folder the kernel's scratch copy stands for: the sandbox shows the copy
    # at its path (SandboxKernelManager.workdir_shown).
    _workdir_shown: Path | None = None
    # The replies' budget (max_reply_bytes, max_submission_reply_bytes): this submission's
    # reply bytes so far; the refusal that stopped this kernel mid-request (the cell loop
    # restarts it, see raise_if_spoiled); why the last request got no answer (for the checker).
    _reply_bytes = 0
    _spoiled: RepliesTooLarge | None = None
    _refused_because = ""

    def __init__(self, **kw):
        kw.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(**kw)
        self._deadline: float | None = None
        self._output_used: dict[int, int] = {}
        self._asked_exit = False
        self._timed_out = False
        self._cell_timeout = None
        self._checker: broker.CheckerProcess | None = None
        self._replayable: list[int] = []  # the cells that ran, to replay on a new kernel
        self._kernel_pid: tuple[object, int | None] = (None, None)  # (its manager, pid outside)
        self._grade_deadline = math.inf  # the kit cell's, moved on by a replay in the middle of it
        self._over: dict | None = None  # the budget the last request ran past, for the checker
        self._file_reads: FileReads | None = None  # the submitted files read, cell by cell
        # Forbidden torch operators the kernel told it entered: (nonce, op) of the current
        # request, and the ops of the last request's own nonce.
        self._entered: list[tuple[str, str]] = []
        self._entered_by_request: list[str] = []
        self._ran_out_of_time: set[str] = set()  # grade ids of cells stopped at their time limit
        # Given by the caller: this submission's kernel, started ahead (its files are in its
        # folder); and whether the kernel is stopped in the background when it is done.
        self.spare: Spare | None = None
        self.background_stop = False

    # -- the run ---------------------------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        return run_sync(self.async_preprocess)(nb, resources, km)

    async def async_preprocess(self, nb, resources=None, km=None):
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._student = (resources or {}).get("nbgrader", {}).get("student", "?")
        self._assignment = (resources or {}).get("nbgrader", {}).get("assignment", "")
        self._reply_bytes, self._spoiled, self._refused_because = 0, None, ""
        # The kernel works in a scratch copy of the submission's folder (nbgrader's
        # autograded/<student>/<assignment>/): nbgrader's executed notebook is the only output.
        # A spare already runs in a folder of its own, as does a Dask job.
        metadata = self.resources.setdefault("metadata", {})
        given = metadata.get("path")
        work, self._workdir_shown = None, None
        if self.spare is None and not self.folder_is_scratch:
            work = scratch_copy(Path(given)) if given else tempfolders.new_folder(SCRATCH_PREFIX) / "empty"
            work.mkdir(exist_ok=True)
            metadata["path"] = str(work)
            self._workdir_shown = Path(given) if given else None
        folder = self.spare.folder if self.spare is not None else metadata.get("path")
        self._file_reads = FileReads(Path(folder)) if folder and Path(folder).is_dir() else None
        if self.grader_tests:  # for the checks' judgement kernels
            self._keep_submitted(Path(given) if work is not None and given else Path(folder) if folder else None,
                                 untouched=work is not None)
            self._folder_shown = self._workdir_shown or (Path(folder) if folder else None)
        try:
            await self._async_run_notebook()
        finally:
            self._forget_submitted()
            self._deadline = None
            if self._file_reads is not None:
                self._file_reads.close()
                self.resources[FILES_READ] = self._file_reads.as_data()
            if work is not None:  # nbgrader's later steps see the folder as it was
                if given is None:
                    metadata.pop("path", None)
                else:
                    metadata["path"] = given
                remove_scratch(work, background=self.background_stop)
        self.set_widgets_metadata()
        return self.nb, self.resources

    async def start_spare(self, kernel_name: str, folder: Path) -> Spare:
        """A kernel for a submission not yet here (see the module docstring)."""
        self.nb = new_notebook()
        self.nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": kernel_name}
        self.resources = {"metadata": {"path": str(folder)}}
        self._student = "(spare)"
        self._cell_timeout = self.startup_timeout
        await self._start_kernel_once(boot_agent=True)
        if self.warm_imports:
            names = ", ".join(repr(name) for name in self.warm_imports)
            await self._in_kernel(f"for __dropout_kit_module__ in ({names},):\n"
                                  "    __import__(__dropout_kit_module__)\n"
                                  "del __dropout_kit_module__\n", monotonic() + self.startup_timeout)
        spare = Spare(self.km, self.kc, kernel_name, folder, self.nb.metadata.get("language_info"))
        self.km = self.kc = None
        return spare

    async def _async_run_notebook(self) -> None:
        started = monotonic()
        self._deadline = started + self.notebook_timeout
        self._restarts = 0
        self._stopped_because = ""
        self._ran_out_of_time = set()
        replayable: list[int] = []
        self._replayable = replayable
        self.resources[VERDICTS] = {}
        checker_started = None
        try:
            if self.grader_tests and any(broker.kit_test_id(cell) for cell in self.nb.cells):
                self._checker = broker.CheckerProcess(
                    Path(self.grader_tests) / self._assignment, SandboxKernelManager(parent=self), self.log)
                # The first checker of a process waits for its server's torch import: meanwhile the kernel starts.
                checker_started = asyncio.ensure_future(self._checker.start())
            try:
                await self._start_kernel(attempts=2, systemic=True)
            finally:
                if checker_started is not None:
                    await checker_started
            if self._checker is not None:
                self._notebook_starts()
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                if self.kc is None or self._remaining() <= 0:
                    if not self._stopped_because:
                        self._stopped_because = (
                            f"노트북 전체의 제한 시간({self.notebook_timeout}초)을 다 써서 "
                            "이 셀은 실행하지 않았습니다.")
                    cell.outputs = [error_output("NotExecuted", self._stopped_because)]
                    continue
                test_id = broker.kit_test_id(cell) if self._checker is not None else None
                if self._checker is not None:
                    self._before_cell(index)
                try:
                    await self._run_cell(cell, index, test_id, replayable)
                finally:
                    if self._file_reads is not None:
                        self._file_reads.after_cell(index)
                if self._checker is not None:
                    await self._after_cell(index, ran=replayable[-1:] == [index])
        finally:
            await self._stop_judgements()
            if self._checker is not None:
                await self._checker.stop()
                self._checker = None
            if self.background_stop:
                stop_in_background(self.km, self.kc, self.log)
                self.km = self.kc = None
            else:
                await self._stop_kernel()
            self.log.info("SafeExecute: student %s: %.1f s, %d kernel restart(s)",
                          self._student, monotonic() - started, self._restarts)

    async def _run_cell(self, cell, index: int, test_id: str | None, replayable: list[int]) -> None:
        """One code cell: a kit autograder cell's checks, or the cell in the kernel (a kernel
        failure marks the cell and brings a new kernel, the earlier cells replayed)."""
        try:
            if test_id:
                await self._grade(cell, index, test_id)
                self.raise_if_spoiled()  # a reply over its budget: restart and replay
                return  # the checks leave the kernel's state as it was: no replay
            await self._execute(cell, index)
            if self._asked_exit:
                raise KernelExited("the cell asked the kernel to exit")
        except (*KERNEL_FAILURES, KernelExited) as failure:
            self._record_failure(cell, index, failure)
            await self._recover(replayable)
        else:
            replayable.append(index)

    def _remaining(self) -> float:
        return self._deadline - monotonic() if self._deadline is not None else math.inf

    def _get_timeout(self, cell):
        timeout = self.timeout
        if cell is not None:
            timeout = self.cell_timeouts.get(grade_id(cell) or "", timeout)
        if not timeout or timeout < 0:
            timeout = None
        if self._deadline is not None:
            left = max(1, math.ceil(self._remaining()))
            timeout = left if timeout is None else min(timeout, left)
        return timeout

    async def _execute(self, cell, index: int, store_history: bool = True):
        self._output_used[index] = 0
        self._asked_exit = False
        self._timed_out = False
        self._cell_timeout = self._get_timeout(cell)
        return await self.async_execute_cell(
            cell, index, execution_count=self.code_cells_executed + 1, store_history=store_history)

    # -- failures --------------------------------------------------------------------
    def _record_failure(self, cell, index: int, failure: BaseException) -> None:
        if isinstance(failure, DeadKernelError):
            code = None
            if self.km is not None and self.km.provisioner is not None:
                code = getattr(getattr(self.km.provisioner, "process", None), "returncode", None)
            korean, how = describe_exit(code)
            ename, message = "KernelDied", (
                f"이 셀을 실행하는 동안 커널이 종료되었습니다({korean}). 앞의 셀들을 새 커널에서 "
                "다시 실행한 뒤 다음 셀부터 채점을 계속했습니다.")
        elif isinstance(failure, KernelExited):
            how = "exit() or quit()"
            ename, message = "KernelExited", (
                "이 셀이 커널을 종료시켰습니다(exit()/quit()). 앞의 셀들을 새 커널에서 다시 실행한 뒤 "
                "다음 셀부터 채점을 계속했습니다.")
        elif isinstance(failure, RepliesTooLarge):
            how = str(failure)
            ename, message = "RepliesTooLarge", failure.student_message + AFTER_RESTART
        elif isinstance(failure, CHANNEL_FAILURES):
            how = f"the kernel's channel broke ({type(failure).__name__})"
            ename, message = "KernelChannelBroken", (
                f"커널과 주고받는 메시지가 깨졌습니다({type(failure).__name__}: {str(failure)[:100]}). "
                "커널을 다시 시작했습니다." + AFTER_RESTART)
        elif self._timed_out:
            limit = self._cell_timeout
            how = f"unresponsive after {limit} s"
            ename, message = "KernelUnresponsive", (
                f"이 셀이 제한 시간({limit}초) 안에 끝나지 않았고 중단 요청에도 응답하지 않아 "
                "커널을 다시 시작했습니다. 앞의 셀들을 다시 실행한 뒤 다음 셀부터 채점을 계속했습니다.")
        elif isinstance(failure, CellTimeoutError):  # the reply came, its output did not (nbclient's iopub_timeout)
            how = f"the cell's output did not arrive within {self.iopub_timeout} s of its reply"
            ename, message = "OutputTimeout", (
                f"이 셀의 실행은 끝났지만 출력이 {self.iopub_timeout}초 안에 다 전달되지 않았습니다. "
                "커널을 다시 시작했습니다." + AFTER_RESTART)
        else:
            how = f"talking to the kernel failed ({type(failure).__name__})"
            ename, message = "KernelFailed", (
                f"커널과 통신하는 중 오류가 났습니다({type(failure).__name__}). 커널을 다시 시작했습니다."
                + AFTER_RESTART)
        cell.outputs.append(error_output(ename, message))
        self.nb.cells[index] = cell
        first_line = (str(failure).strip().splitlines() or [""])[0]
        self.log.warning("SafeExecute: student %s: cell %d (%s): %s [%s] %s", self._student, index,
                         grade_id(cell) or "student cell", ename, how, first_line)

    async def _recover(self, replayable: list[int]) -> None:
        """A fresh kernel in the state the earlier cells left, or none (kc = None). A judgement
        kernel started meanwhile is stopped: it starts again when asked for, from the cells
        replayed."""
        await self._stop_judgements()
        while True:
            await self._stop_kernel()
            self._restarts += 1
            if self._restarts > self.max_kernel_restarts:
                self._stopped_because = (
                    f"커널이 {self.max_kernel_restarts}번 넘게 멈춰서 이 셀부터는 실행하지 않았습니다.")
                self.log.warning("SafeExecute: student %s: restart limit reached", self._student)
                return
            if self._remaining() <= 0:
                return
            try:
                await self._start_kernel(attempts=1)
            except KernelStartFailed:
                continue
            began = monotonic()
            failed = await self._replay(replayable)
            if failed is None:
                self.log.info("SafeExecute: student %s: kernel restarted, %d cell(s) replayed in %.1f s",
                              self._student, len(replayable), monotonic() - began)
                return
            replayable.remove(failed)

    async def _replay(self, replayable: list[int]) -> int | None:
        """Re-runs earlier cells quietly; returns the index of one that broke the kernel."""
        for index in replayable:
            original = self.nb.cells[index]
            try:
                replayed = copy.deepcopy(original)
                await self._execute(replayed, index, store_history=False)
                if self._asked_exit:
                    raise KernelExited("the cell asked the kernel to exit")
                self._replayed(index, replayed)
            except (*KERNEL_FAILURES, KernelExited) as failure:
                self.log.warning("SafeExecute: student %s: replaying cell %d failed (%s); it is left "
                                 "out of later replays", self._student, index, type(failure).__name__)
                return index
            finally:
                self.nb.cells[index] = original
        return None

    # -- kernel lifecycle ------------------------------------------------------------
    async def _restart_mid_cell(self) -> None:
        """A new kernel in the state the earlier cells left, while a kit cell is being graded:
        the checks go on with it (its replay does not count against the cell's time)."""
        began = monotonic()
        await self._recover(self._replayable)
        self._grade_deadline += monotonic() - began

    async def _start_kernel(self, attempts: int, systemic: bool = False) -> None:
        error: BaseException | None = None
        for _ in range(attempts):
            try:
                await self._start_kernel_once()
                return
            except Exception as caught:  # noqa: BLE001 - any startup failure means no kernel
                error = caught
                self.log.error("SafeExecute: student %s: kernel did not start: %s", self._student, caught)
                await self._stop_kernel()
        if systemic:
            # Not the student's doing (their code has not run yet): let nbgrader report it.
            raise RuntimeError(f"the grading kernel could not start: {error}") from error
        raise KernelStartFailed(str(error))

    async def _start_kernel_once(self, boot_agent: bool = False) -> None:
        self._spoiled = None  # a new kernel answers again (the submission's reply total stays)
        spare, self.spare = self.spare, None
        if spare is not None and spare.kernel_name == self.nb.metadata.get("kernelspec", {}).get("name") \
                and await ensure_async(spare.km.is_alive()):
            self.km, self.kc, self.owns_km = spare.km, spare.kc, True
            self.km.log = self.log
            self.log.info("SafeExecute: student %s: a kernel started ahead, in %s", self._student, spare.folder)
            if spare.language_info:
                self.nb.metadata["language_info"] = spare.language_info
            return
        if spare is not None:  # another kernel than the notebook's, or it died: not this one
            stop_in_background(spare.km, spare.kc, self.log)
        self.km = self.create_kernel_manager()
        self.owns_km = True
        if isinstance(self.km, SandboxKernelManager):  # the scratch copy, shown where the folder is
            self.km.workdir_shown = self._workdir_shown
        await self.async_start_new_kernel()
        self.kc = self.km.client()
        await ensure_async(self.kc.start_channels())
        startup = min(self.startup_timeout, max(1.0, self._remaining()))
        await ensure_async(self.kc.wait_for_ready(timeout=startup))
        self.kc.allow_stdin = False
        info = await self.async_wait_for_reply(await ensure_async(self.kc.kernel_info()))
        if info is not None and "language_info" in info["content"]:
            self.nb.metadata["language_info"] = info["content"]["language_info"]
        if self._checker is not None or boot_agent or self._is_judge:  # the agent, before any student code
            await self._in_kernel(broker.boot_code(), monotonic() + startup)

    async def _stop_kernel(self) -> None:
        km, kc, self.km, self.kc = self.km, self.kc, None, None
        await stop_kernel(km, kc, self.log)

    async def _async_handle_timeout(self, timeout, cell=None):
        self._timed_out = True
        if cell is not None and grade_id(cell):
            self._ran_out_of_time.add(grade_id(cell))
        return await super()._async_handle_timeout(timeout, cell)

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        payload = (kwargs.get("execute_reply") or {}).get("content", {}).get("payload") or []
        self._asked_exit = any(isinstance(p, dict) and p.get("source") == "ask_exit"
                               and not p.get("keepkernel") for p in payload)

    # -- output budget ---------------------------------------------------------------
    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        used = self._output_used.get(cell_index, 0)
        self._output_used[cell_index] = total = used + message_size(content)
        if total > self.max_output_bytes:
            if msg["msg_type"] in ("stream", "display_data", "update_display_data"):
                if used <= self.max_output_bytes:
                    outs.append(new_output("stream", name="stdout",
                                           text=TRUNCATED.format(limit=self.max_output_bytes)))
                    self._output_used[cell_index] = self.max_output_bytes + 1
                return None
            shrink(content, 10_000)
        return super().output(outs, msg, display_id, cell_index)
