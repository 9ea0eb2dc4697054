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
trains there). So a grading process knows which cells its checks judge, per folder of
checks (`_JUDGED`: those its checks name in a call of `.fresh("<grade id>")`, read from their
source once, and those they asked for in an earlier submission), and starts their judgement
kernels with the notebook, following its run: each code cell before the judged one runs there
as soon as it has run in the notebook's kernel (a cell that broke the notebook's kernel is
left out, as its replays leave it out), on the machine's other core, so that by the time the
checks ask, the judgement kernel is ready. A judged cell whose submitted source still
raises NotImplementedError (the release's stub) is not followed: its judgement kernel starts
only when the notebook reaches that cell. Where the notebook's own run of the cell shows it
unanswered (NotImplementedError), the judgement kernel is stopped at once: the checks say so
(Notebook.cell_error) and ask nothing of it.

A judgement kernel never takes points the notebook's own run earned: a kernel that cannot
run those cells as the notebook ran them (the notebook's time or a cell's runs out, the kernel
dies, a cell that ran without an error in the notebook ends in one there) answers
"unavailable" with kind "judgement" and the check holds the part for a person (as for a
re-run past its budget: dropout_kit.checks.remote.OverBudget).
"""
from __future__ import annotations

import asyncio
import copy
import math
import re
from dataclasses import dataclass
from pathlib import Path
from time import monotonic

from nbclient import NotebookClient

from dropout_kit import tempfolders
from dropout_kit.cells import cell_index, grade_id
from dropout_kit.engine.cell_outputs import error_of
from dropout_kit.engine.kernel_lifecycle import SCRATCH_PREFIX, remove_scratch, scratch_copy, stop_in_background

# Why a judgement kernel cannot answer, for the student (the checker's `unavailable`).
NOT_PREPARED = "검사용 새 커널에서 {cell} 셀 앞의 셀들을 다시 실행하지 못했습니다 ({why})."
DIVERGED = "노트북에서는 오류 없이 실행된 {index}번째 셀이 검사용 새 커널에서는 오류로 끝났습니다"

# The cells whose judgement kernels the checks ask for, by folder of checks, in this process.
_JUDGED: dict[str, set[str]] = {}
# How a check names the cell it judges (dropout_kit.checks.remote.Notebook.fresh).
_FRESH_CALL = re.compile(r"""\.fresh\(\s*["']([^"'\\]+)["']\s*\)""")


def named_in_checks(folder: Path) -> set[str]:
    """The cells that the checks in `folder` name in a call of `.fresh(...)`: when to start
    judgement kernels, never a verdict (a cell named otherwise is learned when asked for)."""
    names: set[str] = set()
    for module in sorted(folder.glob("*.py")):
        try:
            names.update(_FRESH_CALL.findall(module.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            continue
    return names


class JudgementFailed(Exception):
    """The judgement kernel could not run the cells before its cell; the message is Korean."""


@dataclass
class Judgement:
    """A cell's judgement kernel: the task that drives it (→ its SafeExecute once it ran the
    cells before the cell, or JudgementFailed); `following`: the cells it is to run as the
    notebook runs them, None after the last (None altogether: started with all of them)."""
    cell: str
    position: int
    task: asyncio.Task
    folder: Path
    following: asyncio.Queue | None = None  # of (cell index, whether it ran without an error)


class JudgementKernels:
    """SafeExecute's judgement kernels (its traits, kernels and replay are SafeExecute's)."""

    _judgements: dict[str, Judgement] | None = None
    _is_judge = False  # this SafeExecute drives a judgement kernel (its restarts boot the agent too)
    # A judge's cells that ran without an error in the notebook, and the first of them that
    # ended in one in the judge (it then judges nothing: JudgementFailed).
    _clean_in_notebook: frozenset[int] | set[int] = frozenset()
    _diverged: int | None = None
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
        folder = f"{self.grader_tests}/{self._assignment}"
        if folder not in _JUDGED:
            _JUDGED[folder] = named_in_checks(Path(folder))
        return _JUDGED[folder]

    def _notebook_starts(self) -> None:
        """The judgement kernels of the cells the checks judge start now and follow the
        notebook's run (see the module docstring)."""
        for cell in sorted(self._judged_here()):
            position = cell_index(self.nb.cells, cell)
            if position is not None and "NotImplementedError" not in self.nb.cells[position].source:
                self._start_judgement(cell, position, follow=True)

    def _replayed(self, index: int, cell) -> None:
        """A judge's cell ran again without breaking its kernel: `cell` as it ran there."""
        if self._is_judge and self._diverged is None and index in self._clean_in_notebook \
                and error_of(cell) is not None:
            self._diverged = index

    def _before_cell(self, index: int) -> None:
        """The notebook reaches its code cell `index`: a judgement kernel following the
        notebook has all the cells it needs; one the checks asked for at this cell in an
        earlier submission and not yet started starts now."""
        cell = grade_id(self.nb.cells[index])
        judgement = (self._judgements or {}).get(cell)
        if judgement is not None and judgement.following is not None:
            judgement.following.put_nowait(None)
        elif cell and cell in self._judged_here():
            self._start_judgement(cell, index, ahead=True)

    async def _after_cell(self, index: int, ran: bool) -> None:
        """The notebook's code cell `index` ran (`ran`: and left its kernel answering): the
        judgement kernels following the notebook run it too, with whether it ended in an error;
        its own judgement kernel is stopped if it was left unanswered (its run raised
        NotImplementedError: the checks say so and ask nothing)."""
        cell = self.nb.cells[index]
        error = error_of(cell)
        for judgement in (self._judgements or {}).values():
            if ran and judgement.following is not None and index < judgement.position:
                judgement.following.put_nowait((index, error is None))
        if grade_id(cell) in (self._judgements or {}) and error is not None \
                and error.get("ename") == "NotImplementedError":
            await self._stop_judgements([grade_id(cell)])

    def _start_judgement(self, cell: str, position: int, ahead: bool = False, follow: bool = False) -> Judgement:
        """`cell`'s judgement kernel, started now with the cells the notebook ran before it, or
        (`follow`) with none yet: it runs each as the notebook's kernel has run it."""
        if self._judgements is None:
            self._judgements = {}
        if cell in self._judgements:
            return self._judgements[cell]
        folder = scratch_copy(self._submitted) if self._submitted is not None else \
            tempfolders.new_folder(SCRATCH_PREFIX) / "empty"
        folder.mkdir(exist_ok=True)
        following = asyncio.Queue() if follow else None
        cells = following if following is not None else [
            (index, error_of(self.nb.cells[index]) is None) for index in self._replayable if index < position]
        when = "as the notebook began" if follow else "when the notebook reached the cell" if ahead else \
            "when the checks asked"
        judge = type(self)(parent=self.parent, config=self.config)
        judge.log = self.log
        task = asyncio.ensure_future(judge._run_as_judge(copy.deepcopy(self.nb), folder, self._folder_shown, cells,
                                                         self._deadline, self._student, self._assignment, when))
        judgement = self._judgements[cell] = Judgement(cell, position, task, folder, following)
        return judgement

    async def _judge(self, cell: str):
        """`cell`'s judgement kernel's SafeExecute once it ran the cells before `cell` (waited
        for outside the kit cell's time), or JudgementFailed."""
        self._judged_here().add(cell)
        judgement = (self._judgements or {}).get(cell)
        if judgement is None:
            position = cell_index(self.nb.cells, cell)
            if position is None:
                return JudgementFailed(NOT_PREPARED.format(cell=cell, why="그런 셀이 없습니다"))
            judgement = self._start_judgement(cell, position)
        if judgement.following is not None:  # every cell before `cell` ran by now (an empty cell is not reached)
            judgement.following.put_nowait(None)
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

    async def _run_as_judge(self, nb, folder: Path, shown: Path | None,
                            cells: list[tuple[int, bool]] | asyncio.Queue, deadline: float | None,
                            student: str, assignment: str, when: str):
        """This SafeExecute as a judgement kernel's: a kernel started in `folder` (shown at
        `shown`), the agent booted, then the code cells `cells` of `nb` run quietly (their
        indices, each with whether it ran without an error in the notebook; a queue: each as it
        comes, until None); returns self, or raises JudgementFailed."""
        NotebookClient.__init__(self, nb, None)
        self.reset_execution_trackers()
        self.resources = {"metadata": {"path": str(folder)}}
        self._student, self._assignment = f"{student} (judgement kernel)", assignment
        self._deadline, self._restarts, self._stopped_because = deadline, 0, ""
        self._ran_out_of_time, self._grade_deadline = set(), math.inf
        given = [] if isinstance(cells, asyncio.Queue) else list(cells)
        self._replayable = [index for index, _ in given]
        self._clean_in_notebook, self._diverged = {index for index, clean in given if clean}, None
        self._workdir_shown, self._is_judge = shown, True
        began = monotonic()
        try:
            try:
                await self._start_kernel_once(boot_agent=True)
            except Exception as error:  # noqa: BLE001 - any start-up failure: no judgement kernel
                raise JudgementFailed(f"커널이 시작되지 않았습니다: {type(error).__name__}") from error
            failed = await self._replay(self._replayable)
            while failed is None and self._diverged is None and isinstance(cells, asyncio.Queue) \
                    and (item := await cells.get()) is not None:
                index, clean = item
                self._replayable.append(index)
                if clean:
                    self._clean_in_notebook.add(index)
                failed = await self._replay([index])
            if failed is not None:
                raise JudgementFailed(f"{failed}번째 셀을 다시 실행하다 커널이 멈췄습니다")
            if self._diverged is not None:
                raise JudgementFailed(DIVERGED.format(index=self._diverged))
        except BaseException:  # failed or cancelled: its kernel goes
            stop_in_background(self.km, self.kc, self.log)
            self.km = self.kc = None
            raise
        self.log.info("SafeExecute: student %s: judgement kernel ready (started %s): %d cell(s) run in %.1f s",
                      student, when, len(self._replayable), monotonic() - began)
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

