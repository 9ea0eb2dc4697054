"""The canary: the instructor's own solutions graded before any student is.

A broken grading set-up (two copies of the kit in one environment, a checks folder the
sandbox cannot read, a torch upgrade that changes behaviour) would otherwise grade a whole
class 0 — silently. Before grading, the source notebook (solutions and hidden checks as the
instructor wrote them) goes through the same pipeline as a submission: SafeExecute in the
sandbox, the checker process, GuardGradeCells. Anything short of full marks in every kit
autograder cell stops grading with a message naming the cause.

`dropout-kit grade` runs it before every class; stock `nbgrader autograde` runs it from the
pre-convert hook, once per environment, kit version, torch version and checks fingerprint
(a passed canary is remembered in ~/.cache/dropout-kit/canary/).
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import nbformat

import dropout_kit
from dropout_kit import tempfolders
from dropout_kit.engine.fingerprint import grading_fingerprint
from dropout_kit.process_exit import stop_on_sigterm

CACHE_ENV = "DROPOUT_KIT_CACHE"


class CanaryFailed(RuntimeError):
    """Grading is not set up right; the message says why and what to do."""


@dataclass
class Canary:
    passed: bool
    problems: list[str]
    seconds: float


def kit_folder() -> Path:
    return Path(dropout_kit.__file__).resolve().parent


def environment_kit_folder() -> Path | None:
    """The dropout_kit that this environment's python imports when started on its own
    (as the grading kernel is, with -I): an installed or editable copy, not the cwd's."""
    done = subprocess.run([sys.executable, "-I", "-c", "import dropout_kit, os; "
                           "print(os.path.dirname(os.path.realpath(dropout_kit.__file__)))"],
                          capture_output=True, text=True, cwd="/", timeout=120)
    return Path(done.stdout.strip()) if done.returncode == 0 else None


def kit_copy_problem() -> str | None:
    """Two copies of the kit that disagree (e.g. an editable install of another clone)."""
    here, installed = kit_folder(), environment_kit_folder()
    if installed is None:
        return (f"this environment's python ({sys.executable}) cannot import dropout_kit on its own, "
                f"but nbgrader imported it from {here} (its working directory). Install this course's "
                f"kit into the environment: pip install -e {here.parent}")
    if installed != here:
        return (f"nbgrader imported dropout_kit from {here} (its working directory comes first), but "
                f"this environment's python imports another copy, {installed}. Two copies of the kit "
                f"grade differently. Install the course's own copy (pip install -e {here.parent}) or run "
                f"nbgrader from the course whose kit is installed ({installed.parent}).")
    return None


def fingerprint(grader_tests: Path, source_notebook: Path) -> str:
    """What a passed canary stays valid for: this environment, kit, torch and checks
    (`grader_tests`: the course's folder of all assignments' checks)."""
    return grading_fingerprint(grader_tests.parent, source_notebook.parent.name,
                               sys.prefix, str(kit_folder()), _version("dropout-kit"))[:32]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def cache_folder() -> Path:
    base = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "dropout-kit")
    return Path(base) / "canary"


def run(config, source_notebook: Path) -> Canary:
    """Grades the source notebook as a submission with the course's configuration."""
    import time

    from dropout_kit.engine.broker import kit_test_id
    from dropout_kit.engine.guard_grade_cells import GuardGradeCells
    from dropout_kit.engine.integrity_scan import IntegrityScan
    from dropout_kit.engine.kit_cells import VERDICTS
    from dropout_kit.engine.review import HELD
    from dropout_kit.engine.safe_execute import SafeExecute

    started = time.perf_counter()
    problem = kit_copy_problem()
    if problem:
        return Canary(False, [problem], time.perf_counter() - started)
    nb = nbformat.read(source_notebook, as_version=4)
    folder = tempfolders.new_folder("dropout-kit-canary-")
    try:
        folder.chmod(0o755)
        resources = {"metadata": {"path": str(folder)},
                     "nbgrader": {"student": "canary", "assignment": source_notebook.parent.name}}
        nb, resources = IntegrityScan(config=copy.deepcopy(config)).preprocess(nb, resources)
        nb, resources = SafeExecute(config=copy.deepcopy(config)).preprocess(nb, resources)
        nb, resources = GuardGradeCells(config=copy.deepcopy(config)).preprocess(nb, resources)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    problems = [f"the instructor's solution is held for review before {grade_id}: {'; '.join(evidence[:3])}"
                for grade_id, evidence in resources[HELD].items()]
    for cell in nb.cells:
        test_id = kit_test_id(cell)
        if test_id is None:
            continue
        points = float(cell.metadata.nbgrader["points"])
        score = resources[VERDICTS].get(cell.metadata.nbgrader["grade_id"])
        if score != points:
            problems.append(f"the instructor's solution gets {score if score is not None else 'no score'}"
                            f" / {points:g} in {test_id}: {_first_complaint(cell)}")
    return Canary(not problems, problems, time.perf_counter() - started)


def _first_complaint(cell) -> str:
    for output in cell.outputs:
        if output.output_type == "error":
            return f"{output.ename}: {output.evalue}"
        text = output.get("text", "")
        for line in text.splitlines():
            if line.strip().startswith(("❌", "→", "⚠")):
                return line.strip()
    return ""


def ensure(config, grader_tests: Path, source_notebook: Path, log, cached: bool = True) -> Canary:
    """Runs the canary (or finds it passed before); raises CanaryFailed if it fails."""
    marker = cache_folder() / f"{fingerprint(grader_tests, source_notebook)}.json"
    if cached and marker.is_file():
        return Canary(True, [], 0.0)
    log.info("Canary: grading the instructor's solutions before any student (%s)", source_notebook)
    canary = run(config, source_notebook)
    if not canary.passed:
        raise CanaryFailed("Grading stopped before any student was graded:\n  " + "\n  ".join(canary.problems))
    log.info("Canary passed in %.1f s", canary.seconds)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"seconds": canary.seconds, "source": str(source_notebook)}))
    except OSError:
        pass  # no cache: the canary runs again next time
    return canary


_passed_in_this_process: set[str] = set()  # source folders


def has_kit_cells(notebook: Path) -> bool:
    """Whether a source notebook has the kit's autograder cells (only those have a canary)."""
    from dropout_kit.engine.broker import kit_test_id

    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception:  # noqa: BLE001 - nbgrader itself reports an unreadable source
        return False
    return any(kit_test_id(cell) for cell in nb.cells)


def pre_convert_hook(assignment=None, student=None, notebooks=(), **kwargs):
    """c.Autograde.pre_convert_hook: the canary before the first student (then nbgrader's
    unsafe-files guard, dropout_kit.engine.submission_files.skip_unsafe_files). A failed canary ends the
    whole `nbgrader autograde` run before anything is written to the gradebook. Also sweeps
    the temporary folder (dropout_kit.tempfolders) at the round's start and end."""
    from dropout_kit.engine.submission_files import (
        _running_converter,
        skip_unsafe_files,
    )

    converter = _running_converter()
    # The start of an `nbgrader autograde` round (a sweep now and when it ends); SIGTERM ends
    # it as Ctrl-C does, so that its clean-up runs.
    tempfolders.sweep_now_and_at_exit(converter.log if converter is not None else None)
    stop_on_sigterm()
    grader_tests = converter.config.SafeExecute.get("grader_tests") if converter is not None else None
    source = None
    if grader_tests:
        coursedir = converter.coursedir
        source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment)).resolve()
    if source is not None and str(source) not in _passed_in_this_process:
        try:
            for notebook in sorted(source.glob("*.ipynb")):
                if has_kit_cells(notebook):
                    ensure(converter.config, Path(grader_tests), notebook, converter.log)
        except CanaryFailed as failure:
            converter.log.error("%s", failure)
            raise SystemExit(2) from failure
        _passed_in_this_process.add(str(source))
    return skip_unsafe_files(assignment=assignment, student=student, notebooks=notebooks, **kwargs)
