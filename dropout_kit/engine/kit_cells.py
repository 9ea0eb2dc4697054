"""The kit's autograder cells, graded outside the student's kernel (a mixin of SafeExecute).

A kit autograder cell (hidden region `grade("<module>")`) runs its checks in a checker process
(dropout_kit.engine.broker): the checker's requests are relayed to the agent in the kernel,
each with its own time and memory budget within the cell's, and the kernel's replies are
counted against `max_reply_bytes` per request and `max_submission_reply_bytes` per
submission; the checker's verdict becomes the cell's outputs and score (VERDICTS). A
forbidden torch operator the kernel tells it entered (dropout_kit.kernel.agent.ENTERED_MIME)
goes to the checker with the request's reply.
"""
from __future__ import annotations

import asyncio
import base64
import math
import queue
import secrets
import signal
from time import monotonic

from jupyter_core.utils import ensure_async
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from dropout_kit.cells import cell_index, code_sources_before, grade_id
from dropout_kit.checks.runner import ModuleResult, cell_score
from dropout_kit.engine import broker, kernel_process
from dropout_kit.engine.cell_outputs import error_of, error_output, now
from dropout_kit.engine.check_key import KEY_FILE, submission_seed
from dropout_kit.engine.judgement_kernel import JudgementFailed
from dropout_kit.engine.kernel_lifecycle import KERNEL_FAILURES
from dropout_kit.kernel.agent import ENTERED_MIME, REPLY_MIME


class CheckTimeout(Exception):
    """A kit autograder cell ran out of time while its kernel still answers."""


class RepliesTooLarge(RuntimeError):
    """The kernel's replies to the checks' requests passed a limit (`max_reply_bytes` for
    one request, `max_submission_reply_bytes` for the submission). The request was refused
    (the checker is told the answer is unavailable) and the kernel stopped: a kernel failure
    of the cell being graded, which the cell loop follows with a restart and a replay."""

    def __init__(self, message: str, student_message: str):
        super().__init__(message)
        self.student_message = student_message  # Korean, for the checker's `unavailable`


MB = 1024 * 1024
# What one reply message of the agent counts besides its buffers (a flood of empty replies
# must reach the limits too).
REPLY_OVERHEAD = 1024
# Why a request got no answer, for the student (the checker's `unavailable`; the cell's
# error adds that the kernel was restarted).
REPLY_TOO_LARGE = "커널의 응답이 너무 커서 받지 않았습니다 (검사 요청 하나에 {limit} MB까지)."
REPLIES_TOO_LARGE = "이 제출물에 대한 커널의 응답이 모두 합쳐 너무 커서 더 이상 받지 않았습니다 ({limit} MB까지)."


# How long a kernel has, after a kit cell, to undo what the checks changed (one request).
SETTLE_SECONDS = 10

# This process's key for the check seeds of a course without a readable one (_check_seed).
_process_key: list[bytes] = []

# Where SafeExecute records the checker's verdict of each kit cell (read by GuardGradeCells).
VERDICTS = "dropout_kit_verdicts"


class KitCells:
    """SafeExecute's grading of the kit's autograder cells (its traits and kernel are SafeExecute's)."""

    async def _grade(self, cell, index: int, test_id: str) -> None:
        """Runs a kit autograder cell's checks in the checker process, relaying its requests
        to the kernel; the cell's outputs and score are the checker's verdict."""
        self._timed_out = False
        self._cell_timeout = timeout = self._get_timeout(cell)
        self._grade_deadline = monotonic() + timeout if timeout else math.inf
        cell.outputs = []
        cell.execution_count = None
        started = now()
        judged: set[str] = set()  # the cells whose judgement kernels this cell's checks used
        try:
            if not self._checker.running:
                await self._checker.start()
            await self._ask_agent(broker.encoded_request("reset"), self._grade_deadline)
            await self._checker.send({"run": test_id, "seed": self._check_seed(test_id)})
            requests, in_kernel = 0, 0.0
            while True:
                message = await self._checker.receive(max(0.1, self._grade_deadline - monotonic()))
                if "result" in message:
                    break
                if "source" in message:
                    await self._checker.send({"text": broker.solution_source(self.nb, message["source"])})
                elif "cells_before" in message:
                    await self._checker.send({"cells": code_sources_before(self.nb.cells, message["cells_before"])})
                elif "ran_out_of_time" in message:
                    await self._checker.send({"value": message["ran_out_of_time"] in self._ran_out_of_time})
                elif "cell_error" in message:
                    await self._checker.send({"error": self._cell_error(message["cell_error"])})
                elif "kernel" in message:
                    # the notebook's kernel, or a judgement kernel (dropout_kit.engine.judgement_kernel)
                    judge = message.get("judge") if isinstance(message.get("judge"), str) else None
                    if judge is not None:
                        judged.add(judge)
                    kernel = await self._judge(judge) if judge is not None else self
                    if isinstance(kernel, JudgementFailed):
                        await self._checker.send({"unavailable": str(kernel), "over": {
                            "kind": "judgement", "limit": 0, "seconds": 0.0, "restarted": False}})
                        continue
                    asked = monotonic()
                    reply = await kernel._ask_agent(base64.b64decode(message["kernel"]), self._grade_deadline,
                                                    seconds=message.get("seconds"), memory_mb=message.get("memory_mb"))
                    requests, in_kernel = requests + 1, in_kernel + monotonic() - asked
                    if reply is not None:
                        # forbidden operators the request entered, as the kernel told them at once
                        await self._checker.send({"reply": base64.b64encode(reply).decode("ascii"),
                                                  "entered": kernel._entered_by_request})
                    else:
                        answer = {"unavailable": kernel._refused_because or "no answer from the kernel's agent"}
                        if kernel._over is not None:
                            answer["over"] = kernel._over
                        await self._checker.send(answer)
        except (CheckTimeout, asyncio.TimeoutError):
            await self._checker.stop()
            cell.outputs = [error_output(self.error_on_timeout["ename"], self.error_on_timeout["evalue"])]
            cell.metadata["execution"] = {"iopub.execute_input": started, "shell.execute_reply": now()}
            self.log.warning("SafeExecute: student %s: cell %d (%s): checks stopped after %s s",
                             self._student, index, test_id, timeout)
            await self._settle()
            return
        except broker.CheckerFailed as failure:
            await self._checker.stop()
            cell.outputs = [error_output("CheckerFailed", "채점 프로세스가 중단되어 이 셀을 채점하지 못했습니다 "
                                                          "(학생의 잘못이 아닙니다; 강사에게 알려 주세요).")]
            self.log.error("SafeExecute: student %s: cell %d (%s): %s", self._student, index, test_id, failure)
            await self._settle()
            return
        except BaseException:
            await self._checker.stop()  # mid-module: a new one serves the next cell
            raise
        finally:
            await self._stop_judgements(judged)
        await self._settle()
        result = ModuleResult.from_data(message["result"])
        self.log.debug("SafeExecute: student %s: %s: %d requests, %.2f s in the kernel", self._student,
                       test_id, requests, in_kernel)
        cell.outputs = broker.cell_outputs(result)
        cell.metadata["execution"] = {"iopub.execute_input": started, "shell.execute_reply": now()}
        self.resources[VERDICTS][grade_id(cell)] = cell_score(result)
        self.nb.cells[index] = cell

    def _cell_error(self, wanted: str) -> dict | None:
        """The error output of the notebook's own run of the cell `wanted` (nbgrader's copy), or None."""
        index = cell_index(self.nb.cells, wanted)
        error = None if index is None else error_of(self.nb.cells[index])
        if error is None:
            return None
        return {"type": str(error.get("ename", ""))[:100], "message": str(error.get("evalue", ""))[:300]}

    def _check_seed(self, test_id: str) -> int:
        """The seed of `test_id`'s checks for this submission: a keyed hash of its code cells
        (nbgrader's copy), the key the course's secret (check_key) or, without one, this
        process's own."""
        if not self.check_key and not _process_key:
            _process_key.append(secrets.token_bytes(32))
            self.log.warning("SafeExecute: the course has no readable check key (%s): the checks' "
                             "random numbers are drawn from a key of this process", KEY_FILE)
        key = bytes.fromhex(self.check_key) if self.check_key else _process_key[0]
        sources = [cell.source for cell in self.nb.cells if cell.cell_type == "code"]
        return submission_seed(key, sources, test_id)

    async def _ask_agent(self, payload: bytes, deadline: float, seconds: float | None = None,
                         memory_mb: float | None = None) -> bytes | None:
        """One request to the kernel's agent; its answer (encoded), or None if it gave none.
        The request's own budget (`seconds`, `memory_mb`; dropout_kit.checks.remote.Budget)
        applies within the cell's `deadline`: past its seconds the kernel is interrupted and,
        if that does not stop it, restarted with the earlier cells replayed (the checks go on
        with the new kernel); `_over` then says which budget, for the checker. Past the cell's
        deadline the cell times out (CheckTimeout, or CellTimeoutError if the interrupt does
        not stop it). None also when the replies' limits refuse it (max_reply_bytes,
        max_submission_reply_bytes): `_refused_because` then says why, in Korean, for the
        checker's `unavailable`. A request refused mid-way stops the kernel (it may still be
        sending: nothing more of it may queue up here) and leaves it spoiled: later requests
        get no answer, and the cell loop restarts it after this cell (raise_if_spoiled)."""
        self._refused_because, self._over = "", None
        if self.kc is None:  # no kernel could be restarted
            self._refused_because = self._stopped_because or "커널을 다시 시작하지 못했습니다."
            return None
        if self._spoiled is not None:
            self._refused_because = self._spoiled.student_message
            return None
        if self._reply_bytes >= self.max_submission_reply_bytes:
            self._refused_because = REPLIES_TOO_LARGE.format(limit=f"{self.max_submission_reply_bytes / MB:g}")
            return None
        nonce = broker.new_nonce()
        self._entered, self._entered_by_request = [], []
        started = monotonic()
        budget_ends = started + seconds if isinstance(seconds, (int, float)) and seconds > 0 else math.inf
        memory = memory_mb if isinstance(memory_mb, (int, float)) and memory_mb > 0 else None
        try:
            with kernel_process.memory_budget(self._pid_of_kernel(), memory, self.log):
                replies = await self._in_kernel(broker.request_code(nonce), min(deadline, budget_ends),
                                                buffers=[payload])
        except (CheckTimeout, CellTimeoutError) as stopped:
            if budget_ends >= deadline:  # the cell's own time ran out
                raise
            restarted = isinstance(stopped, CellTimeoutError)
            self._over = {"kind": "time", "limit": seconds, "seconds": round(monotonic() - started, 2),
                          "restarted": restarted}
            self._refused_because = f"검사 요청이 {seconds:g}초 안에 끝나지 않아 중단했습니다."
            self.log.warning("SafeExecute: student %s: a request of the checks ran past its %g s budget%s",
                             self._student, seconds, "; the kernel is restarted" if restarted else "")
            if restarted:
                self._timed_out = False
                await self._restart_mid_cell()
            return None
        except RepliesTooLarge as refused:
            self._spoiled, self._refused_because = refused, refused.student_message
            self.log.warning("SafeExecute: student %s: %s; the kernel is stopped and restarted after this cell",
                             self._student, refused)
            try:  # killed now, its channels kept until the restart (a dead kernel, should a cell use it)
                await ensure_async(self.km.signal_kernel(signal.SIGKILL))
            except Exception as error:  # noqa: BLE001 - it is stopped with its channels at the restart
                self.log.warning("SafeExecute: student %s: killing the kernel: %s", self._student, error)
            return None
        found = [buffers[0] for nonce_given, buffers in replies if nonce_given == nonce and buffers]
        self._entered_by_request = [op for nonce_given, op in self._entered if nonce_given == nonce]
        return bytes(found[0]) if found else None

    def _pid_of_kernel(self) -> int | None:
        """The kernel's process id outside the sandbox (for its memory budget), looked up
        once per kernel."""
        km = self.km
        if km is None:
            return None
        if self._kernel_pid[0] is not km:
            process = getattr(getattr(km, "provisioner", None), "process", None)
            pid = getattr(process, "pid", None)
            self._kernel_pid = (km, kernel_process.kernel_pid(pid) if pid else None)
        return self._kernel_pid[1]


    async def _settle(self) -> None:
        """After a kit cell: whatever the checks changed in the kernel (bindings, seeding) is
        undone before the next cell; a kernel that does not answer within a few seconds
        (still busy with an interrupted request) is restarted and the earlier cells replayed."""
        if self.kc is None or self._spoiled is not None:
            return  # the cell loop restarts a spoiled kernel
        try:
            await self._ask_agent(broker.encoded_request("settle"), monotonic() + SETTLE_SECONDS)
        except (*KERNEL_FAILURES, CheckTimeout) as failure:
            self.log.warning("SafeExecute: student %s: the kernel did not settle after the checks (%s); "
                             "it is restarted", self._student, type(failure).__name__)
            self._timed_out = False
            await self._recover(self._replayable)

    def raise_if_spoiled(self) -> None:
        """For the cell loop, right after a kit cell is graded (its outputs written): a kernel
        stopped by the replies' limits is a kernel failure of that cell (RepliesTooLarge), so
        it is restarted and the earlier cells replayed before the next cell."""
        if self._spoiled is not None:
            raise self._spoiled

    def _count_reply(self, used: int, buffers: list) -> int:
        """`used` plus one reply message of the current request, within the limits (else
        RepliesTooLarge); the submission's total grows with it."""
        size = REPLY_OVERHEAD + sum(memoryview(b).nbytes for b in buffers)
        if used + size > self.max_reply_bytes:
            limit = self.max_reply_bytes / MB
            raise RepliesTooLarge(f"the kernel's replies to one request passed {limit:g} MB",
                                  REPLY_TOO_LARGE.format(limit=f"{limit:g}"))
        if self._reply_bytes + size > self.max_submission_reply_bytes:
            self._reply_bytes = self.max_submission_reply_bytes  # no later request either
            limit = self.max_submission_reply_bytes / MB
            raise RepliesTooLarge(f"the kernel's replies to this submission's checks passed {limit:g} MB",
                                  REPLIES_TOO_LARGE.format(limit=f"{limit:g}"))
        self._reply_bytes += size
        return used + size

    async def _in_kernel(self, code: str, deadline: float, buffers=()) -> list:
        """Runs `code` in the kernel quietly (no history, no cell hooks), with `buffers`
        attached to the request, and returns the agent's replies (nonce, buffers); the
        student's own output during it is dropped as it comes (nothing of it is kept).
        Replies beyond the limits (max_reply_bytes, max_submission_reply_bytes) raise
        RepliesTooLarge, and those kept so far are dropped. Past the deadline the kernel is
        interrupted: CheckTimeout if it stops, CellTimeoutError if not."""
        request = self.kc.session.msg("execute_request", {
            "code": code, "silent": True, "store_history": False, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": False})
        request["buffers"] = list(buffers)
        self.kc.shell_channel.send(request)
        msg_id = request["header"]["msg_id"]
        replies = []
        used = 0  # bytes of this request's replies
        interrupted_at = None
        while True:
            now = monotonic()
            if interrupted_at is None and now >= deadline:
                await ensure_async(self.km.interrupt_kernel())
                interrupted_at = now
            if interrupted_at is not None and now - interrupted_at > self.interrupt_grace:
                self._timed_out = True
                raise CellTimeoutError.error_from_timeout_and_cell(
                    "the checks' request did not stop after an interrupt", self._cell_timeout, None)
            try:
                msg = await ensure_async(self.kc.get_iopub_msg(timeout=1))
            except queue.Empty:
                if not await ensure_async(self.km.is_alive()):
                    raise DeadKernelError("the kernel died while answering the checks")
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            data = content.get("data") if kind == "display_data" else None
            if isinstance(data, dict) and REPLY_MIME in data:
                reply_buffers = msg.get("buffers") or []
                used = self._count_reply(used, reply_buffers)
                given = data[REPLY_MIME]
                nonce = given.get("nonce") if isinstance(given, dict) else None
                replies.append((nonce if isinstance(nonce, str) and len(nonce) <= 64 else None, reply_buffers))
            elif isinstance(data, dict) and isinstance(data.get(ENTERED_MIME), dict):
                told = data[ENTERED_MIME]
                self._entered.append((str(told.get("nonce"))[:64], str(told.get("op"))[:64]))
            elif kind == "status" and content.get("execution_state") == "idle":
                if interrupted_at is not None:
                    raise CheckTimeout()
                return replies

