"""Judgement kernels: where a check runs a cell of the student's again (a mixin of SafeExecute).

Some checks judge a cell by running it again on other data (the dropout_net cell with
changed training targets and NaN test rows). Run in the notebook's own kernel, that re-run
would see what the notebook's run left behind: a function's default argument, a class
attribute, `os.environ`, a file in the working folder, which names the re-run dropped,
tensors shared with it. A cell could tell the two runs apart by any of these and behave well
only when judged. So such a check asks for the cell's judgement kernel
(dropout_kit.checks.remote.Notebook.fresh): a kernel of its own, forked from the template
like any other, in a fresh copy of the folder as it was submitted, that ran the notebook's
code cells before that cell from the top, as the notebook ran them, and nothing else. The
checks' requests are relayed to it as to the notebook's kernel, within the same budgets (a
second SafeExecute drives it); it is stopped once the kit cell is graded.

Running those cells again costs what they cost in the notebook (the lecture's first network
trains there). So a grading process remembers which cells its checks asked to judge, per
folder of checks (`_JUDGED`), and for the next submissions starts the judgement kernel as soon
as the notebook reaches that cell: it runs the earlier cells again while the notebook's kernel
runs the cell itself and the checks before the re-run, on the machine's other core. Where the
notebook's own run of the cell shows it unanswered (NotImplementedError, the release's stub),
the judgement kernel is stopped at once: the checks say so (Notebook.cell_error) and ask
nothing of it.

A judgement kernel never takes points the notebook's own run earned: a kernel that cannot
run those cells (the notebook's time or a cell's runs out, the kernel dies) answers
"unavailable" with kind "judgement" and the check holds the part for a person (as for a
re-run past its budget: dropout_kit.checks.remote.OverBudget).
"""
from __future__ import annotations

import asyncio
import copy
import math
from dataclasses import dataclass
from pathlib import Path
from time import monotonic

from nbclient import NotebookClient

from dropout_kit import tempfolders
from dropout_kit.cells import grade_id
from dropout_kit.engine.kernel_lifecycle import SCRATCH_PREFIX, remove_scratch, scratch_copy, stop_in_background

# Why a judgement kernel cannot answer, for the student (the checker's `unavailable`).
NOT_PREPARED = "검사용 새 커널에서 {cell} 셀 앞의 셀들을 다시 실행하지 못했습니다 ({why})."

# The cells whose judgement kernels the checks asked for, by folder of checks, in this process.
_JUDGED: dict[str, set[str]] = {}


class JudgementFailed(Exception):
    """The judgement kernel could not run the cells before its cell; the message is Korean."""


@dataclass
class Judgement:
    """A cell's judgement kernel: the task that drives it (→ its SafeExecute once it ran the
    cells before the cell, or JudgementFailed)."""
    cell: str
    task: asyncio.Task
    folder: Path


class JudgementKernels:
    """SafeExecute's judgement kernels (its traits, kernels and replay are SafeExecute's)."""

    _judgements: dict[str, Judgement] | None = None
    _is_judge = False  # this SafeExecute drives a judgement kernel (its restarts boot the agent too)
    # The folder as submitted (copied before the notebook's run where the kernel works in
    # the folder itself), and the path the notebook's kernel sees as its working folder.
    _submitted: Path | None = None
    _submitted_is_copy = False
    _folder_shown: Path | None = None

    # -- the submitted folder ---------------------------------------------------------
    def _keep_submitted(self, folder: Path | None, untouched: bool) -> None:
        """Remembers the submission's folder as nbgrader wrote it, for judgement kernels:
        `folder` itself when the notebook's kernel works elsewhere (`untouched`), else a copy
        made now, before any cell runs."""
        self._submitted, self._submitted_is_copy = folder, False
        if folder is not None and not untouched and folder.is_dir():
            self._submitted, self._submitted_is_copy = scratch_copy(folder), True

    def _forget_submitted(self) -> None:
        if self._submitted_is_copy and self._submitted is not None:
            remove_scratch(self._submitted, background=False)
        self._submitted, self._submitted_is_copy, self._folder_shown = None, False, None

    # -- following the notebook's run -------------------------------------------------
    def _judged_here(self) -> set[str]:
        return _JUDGED.setdefault(f"{self.grader_tests}/{self._assignment}", set())

    def _position(self, cell: str) -> int | None:
        return next((i for i, c in enumerate(self.nb.cells) if grade_id(c) == cell), None)

    def _before_cell(self, index: int) -> None:
        """The notebook reaches its code cell `index`: a judgement kernel the checks asked for
        at this cell in an earlier submission starts now (see the module docstring)."""
        cell = grade_id(self.nb.cells[index])
        if cell and cell in self._judged_here():
            self._start_judgement(cell, index, ahead=True)

    async def _after_cell(self, index: int) -> None:
        """The notebook's code cell `index` ran: its judgement kernel is stopped if it was left
        unanswered (its run raised NotImplementedError: the checks say so and ask nothing)."""
        cell = self.nb.cells[index]
        if grade_id(cell) in (self._judgements or {}) and any(
                o.output_type == "error" and o.get("ename") == "NotImplementedError" for o in cell.outputs):
            await self._stop_judgements([grade_id(cell)])

    def _start_judgement(self, cell: str, position: int, ahead: bool = False) -> Judgement:
        """`cell`'s judgement kernel, started now with the cells the notebook ran before it."""
        if self._judgements is None:
            self._judgements = {}
        if cell in self._judgements:
            return self._judgements[cell]
        folder = scratch_copy(self._submitted) if self._submitted is not None else \
            tempfolders.new_folder(SCRATCH_PREFIX) / "empty"
        folder.mkdir(exist_ok=True)
        cells = [index for index in self._replayable if index < position]
        judge = type(self)(parent=self.parent, config=self.config)
        judge.log = self.log
        task = asyncio.ensure_future(judge._run_as_judge(copy.deepcopy(self.nb), folder, self._folder_shown, cells,
                                                         self._deadline, self._student, self._assignment, ahead))
        judgement = self._judgements[cell] = Judgement(cell, task, folder)
        return judgement

    async def _judge(self, cell: str):
        """`cell`'s judgement kernel's SafeExecute once it ran the cells before `cell` (waited
        for outside the kit cell's time), or JudgementFailed."""
        self._judged_here().add(cell)
        judgement = (self._judgements or {}).get(cell)
        if judgement is None:
            position = self._position(cell)
            if position is None:
                return JudgementFailed(NOT_PREPARED.format(cell=cell, why="그런 셀이 없습니다"))
            judgement = self._start_judgement(cell, position)
        if not judgement.task.done():
            began = monotonic()
            await asyncio.wait([judgement.task])
            self._grade_deadline += monotonic() - began
        if judgement.task.cancelled():
            return JudgementFailed(NOT_PREPARED.format(cell=cell, why="중단됨"))
        error = judgement.task.exception()
        if error is not None:
            return error if isinstance(error, JudgementFailed) else \
                JudgementFailed(NOT_PREPARED.format(cell=cell, why=type(error).__name__))
        return judgement.task.result()

    async def _run_as_judge(self, nb, folder: Path, shown: Path | None, cells: list[int],
                            deadline: float | None, student: str, assignment: str, ahead: bool):
        """This SafeExecute as a judgement kernel's: a kernel started in `folder` (shown at
        `shown`), the agent booted, then the code cells `cells` of `nb` run quietly; returns
        self, or raises JudgementFailed."""
        NotebookClient.__init__(self, nb, None)
        self.reset_execution_trackers()
        self.resources = {"metadata": {"path": str(folder)}}
        self._student, self._assignment = f"{student} (judgement kernel)", assignment
        self._deadline, self._restarts, self._stopped_because = deadline, 0, ""
        self._ran_out_of_time, self._replayable, self._grade_deadline = set(), list(cells), math.inf
        self._workdir_shown, self._is_judge = shown, True
        began = monotonic()
        try:
            try:
                await self._start_kernel_once(boot_agent=True)
            except Exception as error:  # noqa: BLE001 - any start-up failure: no judgement kernel
                raise JudgementFailed(f"커널이 시작되지 않았습니다: {type(error).__name__}") from error
            failed = await self._replay(self._replayable)
            if failed is not None:
                raise JudgementFailed(f"{failed}번째 셀을 다시 실행하다 커널이 멈췄습니다")
        except BaseException:  # failed or cancelled: its kernel goes
            stop_in_background(self.km, self.kc, self.log)
            self.km = self.kc = None
            raise
        self.log.info("SafeExecute: student %s: judgement kernel ready%s: %d cell(s) run in %.1f s", student,
                      " (started with the notebook's run of the cell)" if ahead else "", len(cells),
                      monotonic() - began)
        return self

    async def _stop_judgements(self, cells=None) -> None:
        """Stops the judgement kernels of `cells` (all without), in the background, and
        removes their folders."""
        judgements = self._judgements or {}
        for cell in list(judgements) if cells is None else [cell for cell in cells if cell in judgements]:
            judgement = judgements.pop(cell)
            if not judgement.task.done():
                judgement.task.cancel()
                await asyncio.wait([judgement.task])
            judge = None if judgement.task.cancelled() or judgement.task.exception() else judgement.task.result()
            if judge is not None:
                stop_in_background(judge.km, judge.kc, self.log)
                judge.km = judge.kc = None
            remove_scratch(judgement.folder, background=True)
