"""The audit's grading: every sampled mutant handed in to a scratch copy of the course and
graded there by `dropout-kit grade`'s own path (sandbox, checker, canary, Dask), then
classified from the gradebook and the autograded notebooks.

The scratch copy lives in the audit's folder (reports/<assignment>/audit/course/ by default),
with a gradebook and an exchange of its own: the course's gradebook, formgrader, exports and
class report never see a mutant. It is rebuilt when the course's checks, source, configuration
or the kit change; otherwise a second run grades only what the first did not finish (Ctrl-C
and run again).

Time limits: the reference answer is graded first in the copy, and each cell's limit for the
mutants is about 10× that cell's own time in it (at least MIN_CELL_SECONDS), so a few slow
mutants cannot decide the audit's length. A mutant is graded once: a timeout is a finding.
"""
from __future__ import annotations

import io
import json
import math
import shutil
import sys
import time
from pathlib import Path

import nbformat

from dropout_kit.assignment import Assignment
from dropout_kit.audit import mutants as mutation
from dropout_kit.audit.results import (
    BROKE,
    KILLED,
    KILLED_ELSEWHERE,
    SURVIVED,
    TIMEOUT,
    AuditResult,
    Mutant,
    MutantResult,
)
from dropout_kit.classroom.changes import GradingState
from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.classroom.gradebook import cell_grades
from dropout_kit.classroom.grade_class import default_workers, grade_class
from dropout_kit.classroom.outcome import _cell_seconds, notebook_timing
from dropout_kit.classroom.report import Damaged, autograder_reports
from dropout_kit.engine.fingerprint import grading_fingerprint
from dropout_kit.harness import samples
from dropout_kit.harness.commands import nbgrader
from dropout_kit.harness.course import copy_course, place_submission

REFERENCE = "reference"  # the scratch copy's student who hands in the instructor's answers
TIME_FACTOR = 10
MIN_CELL_SECONDS = 15
STATE = "audit-state.json"

TIME_LIMITS = "audit_time_limits.json"  # beside the copy's nbgrader_config.py
# Appended to the copy's nbgrader_config.py. The time limits are read from a file of their
# own: written after the reference's round, they do not change the configuration's
# fingerprint, so the reference graded before them stays graded.
SCRATCH_CONFIG = """
# --- dropout-kit audit: a scratch copy that grades mutants only (its own gradebook and exchange)
c.CourseDirectory.db_url = {db_url!r}
c.Exchange.root = {exchange!r}
# each cell's time limit, about {factor}x the reference answer's own time in this copy
import json as _audit_json
_audit_limits = __import__("pathlib").Path(__file__).resolve().with_name({limits!r})
if _audit_limits.is_file():
    c.SafeExecute.cell_timeouts = _audit_json.loads(_audit_limits.read_text(encoding="utf-8"))
"""


class AuditStopped(RuntimeError):
    """The audit cannot go on (the reference answer loses points in the scratch copy)."""


def default_folder(assignment: Assignment) -> Path:
    return assignment.course_root / "reports" / assignment.name / "audit"


class ScratchCourse:
    """The scratch copy of the course in which mutants are handed in and graded."""

    def __init__(self, assignment: Assignment, folder: Path):
        self.assignment = assignment
        self.root = folder / "course"
        self.state_file = folder / STATE
        self.fingerprint = grading_fingerprint(assignment.course_root, assignment.name)

    def state(self) -> dict:
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return state if state.get("fingerprint") == self.fingerprint and self.root.is_dir() else {}

    def save_state(self, state: dict) -> None:
        self.state_file.write_text(json.dumps({**state, "fingerprint": self.fingerprint}, indent=1),
                                   encoding="utf-8")

    def prepare(self) -> dict:
        """The copy as the course is now (rebuilt if anything grading depends on changed); its state."""
        state = self.state()
        if state:
            return state
        copy_course(self.assignment.course_root, self.root)
        with (self.root / "nbgrader_config.py").open("a", encoding="utf-8") as config:
            config.write(SCRATCH_CONFIG.format(db_url=f"sqlite:///{self.root / 'gradebook.db'}",
                                               exchange=str(self.root / "exchange"), factor=TIME_FACTOR,
                                               limits=TIME_LIMITS))
        nbgrader("generate_assignment", self.assignment.name, "--force", cwd=self.root)
        self.save_state({})
        return {}

    @property
    def paths(self) -> CoursePaths:
        return CoursePaths.load(self.root, self.assignment.name)

    @property
    def release_notebook(self) -> Path:
        return self.root / "release" / self.assignment.name / self.assignment.notebook_name

    def hand_in(self, student: str, answers: dict[str, str]) -> None:
        """`answers` on the released notebook as `student`'s collected submission (rewritten
        only when it changed, so that grading's record of it stays valid)."""
        notebook = samples.assemble(self.release_notebook, answers)
        path = self.root / "submitted" / student / self.assignment.name / self.assignment.notebook_name
        if path.is_file() and path.read_text(encoding="utf-8").rstrip() == nbformat.writes(notebook).rstrip():
            return
        place_submission(self.root, student, notebook, assignment=self.assignment.name)

    def withdraw_ungraded_but(self, students: set[str]) -> None:
        """Removes the submissions of mutants not in this run that were never graded (an
        interrupted run with another sample); graded ones stay, for a later run to reuse."""
        for folder in (self.root / "submitted").glob("*"):
            if folder.name not in students and not self.autograded_notebook(folder.name).is_file():
                shutil.rmtree(folder, ignore_errors=True)

    def autograded_notebook(self, student: str) -> Path:
        return self.root / "autograded" / student / self.assignment.name / self.assignment.notebook_name

    def set_time_limits(self, timeouts: dict[str, int]) -> None:
        (self.root / TIME_LIMITS).write_text(json.dumps(timeouts, indent=1), encoding="utf-8")


def cell_time_limits(notebook: Path) -> dict[str, int]:
    """grade_id → about TIME_FACTOR × the cell's time in the reference's autograded notebook."""
    limits = {}
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid and cell.get("cell_type") == "code":
            limits[gid] = math.ceil(max(MIN_CELL_SECONDS, TIME_FACTOR * _cell_seconds(cell)))
    return limits


def grade_reference(scratch: ScratchCourse, state: dict, workers, scheduler, out) -> dict:
    """The reference answer graded alone in the copy: its time (a submission's grading time)
    and each cell's time limit for the mutants."""
    if "timeouts" in state:
        return state
    scratch.withdraw_ungraded_but({REFERENCE})
    scratch.hand_in(REFERENCE, samples.reference_answers(scratch.assignment.source_notebook))
    print("audit: grading the reference answer in the scratch copy (its time sets the mutants' limits)",
          file=out)
    run = grade_class(scratch.root, scratch.assignment.name, workers=1, scheduler=scheduler,
                      out=io.StringIO(), force=True)
    outcome = run.outcomes.get(REFERENCE)
    if outcome is None or outcome.status != "graded" or outcome.auto_score < outcome.auto_max:
        raise AuditStopped("the reference answer does not get full marks in the audit's scratch copy: "
                           f"{outcome}")
    state = {"timeouts": cell_time_limits(scratch.autograded_notebook(REFERENCE)),
             "reference_seconds": outcome.seconds}
    scratch.set_time_limits(state["timeouts"])
    scratch.save_state(state)
    return state


def classify(mutant: Mutant, assignment: Assignment, cells: dict, notebook: Path, seconds: float) -> MutantResult:
    """A graded mutant's status from its scores and its autograded notebook."""
    own = set(assignment.parts[mutant.part])
    result = MutantResult(mutant, SURVIVED, seconds=seconds,
                          scores={c: float(cells[c].score or 0.0) for c in assignment.auto_cells if c in cells},
                          maxima={c: float(cells[c].max_score) for c in assignment.auto_cells if c in cells})
    try:
        reports = autograder_reports(notebook, assignment.auto_cells)
    except Damaged as damage:
        reports = {}
        result.error = f"autograded notebook not readable: {damage}"
    result.failed_checks = [f"{cell}: {verdict.title}" for cell, report in reports.items()
                            for verdict in report.verdicts if not verdict.passed]
    if not cells or not notebook.is_file():  # nbgrader could not grade it: never a survivor
        result.status, result.error = BROKE, result.error or "not graded (see the grading log)"
        return result
    timed_out, _ = notebook_timing(notebook)
    raised = error_in_cell(notebook, mutant.part)
    lost = set(result.lost_in)
    if timed_out:
        result.status, result.error = TIMEOUT, ", ".join(timed_out)
    elif raised:
        result.status, result.error = BROKE, raised
    elif lost & own:
        result.status = KILLED
    elif lost:
        result.status = KILLED_ELSEWHERE
    return result


def error_in_cell(notebook: Path, part: str) -> str:
    """The error the part's own cell raised in the autograded notebook, or ''."""
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == part:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    return f"{output.get('ename')}: {output.get('evalue')}"[:500]
    return ""


def audit(assignment: Assignment, *, per_part: int = 20, seed: int = 0, parts: list[str] | None = None,
          only: list[str] | None = None, workers: int | None = None, scheduler: str | None = None,
          folder: Path | None = None, out=None) -> AuditResult:
    """Grades a seeded sample of mutants of `assignment` (`parts`: only these parts; `only`:
    only these mutant ids) and classifies each; the survivors are then compared with the
    reference (dropout_kit.audit.differential)."""
    from dropout_kit.audit import differential

    out = out or sys.stdout
    started = time.perf_counter()
    folder = Path(folder or default_folder(assignment))
    folder.mkdir(parents=True, exist_ok=True)
    found = mutation.candidates(assignment)
    if parts:
        unknown = set(parts) - set(found)
        if unknown:
            raise AuditStopped(f"not automatically graded parts: {', '.join(sorted(unknown))} "
                               f"(parts: {', '.join(found)})")
        found = {part: found[part] for part in parts}
    chosen = mutation.sample(found, per_part, seed)
    if only:
        chosen = {part: [m for m in ms if m.id in only] for part, ms in found.items()}
    graded = [m for ms in chosen.values() for m in ms]
    print(f"audit: {sum(map(len, found.values()))} candidate mutants in {len(found)} parts, "
          f"{len(graded)} to grade (seed {seed})", file=out)

    scratch = ScratchCourse(assignment, folder)
    state = grade_reference(scratch, scratch.prepare(), workers, scheduler, out)
    scratch.withdraw_ungraded_but({m.id for m in graded} | {REFERENCE})
    reference = samples.reference_answers(assignment.source_notebook)
    for mutant in graded:
        scratch.hand_in(mutant.id, {**reference, mutant.part: mutant.source})
    print(f"audit: grading {len(graded)} mutants (cell time limits: {TIME_FACTOR}x the reference's)", file=out)
    run = grade_class(scratch.root, assignment.name, workers=workers, scheduler=scheduler, out=out,
                      second_try=False)

    paths = scratch.paths
    grades = cell_grades(paths.db_url, assignment.name, paths.course_id)
    record = GradingState(paths).students
    results = [classify(m, assignment, grades.get(m.id, {}), scratch.autograded_notebook(m.id),
                        float(record.get(m.id, {}).get("seconds", 0.0))) for m in graded]
    workers = run.workers or workers or default_workers()
    differential.judge_survivors(assignment, scratch, results, workers=workers, out=out)
    result = AuditResult(assignment.name, seed, {p: list(c) for p, c in assignment.parts.items() if p in found},
                         mutation.counts(found), results, workers=workers,
                         seconds=time.perf_counter() - started,
                         reference_seconds=float(state.get("reference_seconds", 0.0)))
    result.save(folder / "audit.json")
    return result
