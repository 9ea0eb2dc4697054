"""Runs one module of hidden checks with pytest and scores its autograder cell.

`run_checks("test_split", notebook, folder)` runs `<folder>/test_split.py` against the
student's notebook (the `student` fixture, a dropout_kit.checks.remote.Notebook) and
returns a `ModuleResult`: every check with its points, its Korean title (the check's
docstring) and, when it failed, the message a student reads. During `nbgrader autograde`
this runs in the checker process, never in the student's kernel.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from dropout_kit.checks.remote import KernelUnavailable, Notebook, describe_error

# A check's message is the student's to read, not a channel: a longer one is cut.
MAX_MESSAGE_CHARS = 600


@dataclass
class CheckResult:
    name: str
    title: str
    points: float
    passed: bool
    message: str = ""
    gate: bool = False


@dataclass
class ModuleResult:
    test_id: str
    checks: list[CheckResult] = field(default_factory=list)
    error: str = ""
    # Evidence for a person (construct, cell, line): what a check could not judge from
    # data. A part with evidence is held for review (dropout_kit.engine.review).
    flags: list[str] = field(default_factory=list)
    # Requests that ran past their time or memory budget (dropout_kit.checks.remote.Budget),
    # for the instructor's report: {"check", "kind", "limit", "seconds", "message"}.
    budgets: list[dict] = field(default_factory=list)

    @property
    def max_points(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def gated(self) -> bool:
        return any(c.gate and not c.passed for c in self.checks)

    @property
    def score(self) -> float:
        if self.error or self.gated:
            return 0.0
        return sum(c.points for c in self.checks if c.passed)

    def as_data(self) -> dict:
        """The verdicts as data (the display output of MIME CHECKS_MIME in the cell)."""
        return {"test_id": self.test_id, "score": self.score, "max_points": self.max_points,
                "error": self.error, "checks": [asdict(c) for c in self.checks],
                "flags": list(self.flags), "budgets": list(self.budgets)}

    @classmethod
    def from_data(cls, data: dict) -> "ModuleResult":
        return cls(data["test_id"], [CheckResult(**c) for c in data["checks"]], data.get("error", ""),
                   [str(f) for f in data.get("flags", [])], [dict(b) for b in data.get("budgets", [])])


# The result being filled while a module's checks run (one at a time per checker).
_running: list[ModuleResult] = []


def flag(evidence: str) -> None:
    """Routes the current part to a person with `evidence` (which construct, cell, line):
    for what a check cannot judge from data. The check itself neither passes nor fails by it."""
    if _running:
        _running[-1].flags.append(_bounded(evidence))


CHECKS_MIME = "application/vnd.dropout-kit.checks+json"
HANGUL = re.compile("[\uac00-\ud7a3]")


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + " …"


def _student_message(excinfo: pytest.ExceptionInfo) -> str:
    """What the student reads for a failed check: our message, never a traceback."""
    error = excinfo.value
    if isinstance(error, KernelUnavailable):
        why = str(error)  # nbgrader's side says why in Korean when it refused the answer
        return _bounded(why) if HANGUL.search(why) else "커널이 응답하지 않아 검사하지 못했습니다."
    if isinstance(error, (AssertionError, pytest.fail.Exception)):
        return _bounded(str(error).strip() or "검사를 통과하지 못했습니다.")
    return _bounded(f"실행 중 오류가 났습니다: {describe_error(error)}")


class _CheckerPlugin:
    """Provides the `student` fixture and records each check's verdict."""

    def __init__(self, notebook: Notebook, result: ModuleResult):
        self.notebook = notebook
        self.result = result
        self._by_nodeid: dict[str, CheckResult] = {}

    @pytest.fixture(scope="session")
    def student(self) -> Notebook:
        return self.notebook

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        seen = len(self.notebook.over_budget)
        try:
            return (yield)
        finally:
            kinds = set()
            for over in self.notebook.over_budget[seen:]:
                if over.kind not in kinds:  # once per check and kind (a batch of calls may repeat it)
                    kinds.add(over.kind)
                    self.result.budgets.append({"check": item.name, "kind": over.kind, "limit": over.limit,
                                                "seconds": round(over.seconds, 2), "message": _bounded(str(over))})

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        check = self._by_nodeid.get(item.nodeid)
        if check is None:
            marker = item.get_closest_marker("points")
            doc = (getattr(item, "function", None).__doc__ or item.name).strip()
            check = CheckResult(
                name=item.name,
                title=doc.splitlines()[0],
                points=float(marker.args[0]) if marker else 0.0,
                passed=True,
                gate=item.get_closest_marker("gate") is not None,
            )
            self._by_nodeid[item.nodeid] = check
            self.result.checks.append(check)
        if report.failed and check.passed:
            check.passed = False
            check.message = _student_message(call.excinfo) if call.excinfo else "검사 실패"
        elif report.skipped and report.when == "call":
            check.passed = False
            check.message = "검사하지 못했습니다."
        return report

    def pytest_configure(self, config):
        # The kit's markers, registered here so that an assignment's checks need no pytest.ini.
        config.addinivalue_line("markers", "points(n): points this check is worth in its autograder cell")
        config.addinivalue_line("markers", "gate: if this check fails, the whole cell scores 0")

    def pytest_collectreport(self, report):
        if report.failed:
            self.result.error = "채점 모듈을 불러오지 못했습니다 (강사에게 알려 주세요)."


def pytest_arguments(module: Path, folder: Path) -> list[str]:
    return [
        str(module),
        "-c", str(folder / "pytest.ini") if (folder / "pytest.ini").is_file() else os.devnull,
        "--rootdir", str(folder),
        "--confcutdir", str(folder),
        "--import-mode=importlib",
        "--strict-markers",
        "-p", "no:cacheprovider",
        # Its clean-up runs gc.collect() several times over the whole heap (torch).
        "-p", "no:unraisableexception",
        "--assert=plain",
        "--capture=no",
        "-q",
    ]


def run_checks(test_id: str, notebook: Notebook, folder: Path) -> ModuleResult:
    """Runs <folder>/<test_id>.py against the student's notebook; never raises an Exception."""
    result = ModuleResult(test_id)
    try:
        module = folder / f"{test_id}.py"
        if not module.is_file():
            raise FileNotFoundError(module)
        if str(folder) not in sys.path:  # the checks' own helper modules
            sys.path.insert(0, str(folder))
        plugin = _CheckerPlugin(notebook, result)
        _running.append(result)
        pytest_output = io.StringIO()
        old_autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        old_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(pytest_output), \
                    contextlib.redirect_stderr(pytest_output):
                warnings.simplefilter("ignore")
                try:
                    exit_code = pytest.main(pytest_arguments(module, folder), plugins=[plugin])
                finally:
                    with contextlib.suppress(KernelUnavailable):  # the checks reported it already
                        notebook.flush()
        finally:
            _running.remove(result)
            sys.dont_write_bytecode = old_bytecode
            if old_autoload is None:
                os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
            else:
                os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = old_autoload
        fail_gate_on_entered(result, notebook)
        if exit_code == pytest.ExitCode.INTERRUPTED:
            result.error = "시간 초과로 검사가 중단되었습니다."
        elif exit_code == pytest.ExitCode.USAGE_ERROR:
            result.error = "채점 모듈을 불러오지 못했습니다 (강사에게 알려 주세요)."
        elif not result.checks and not result.error:
            result.error = "실행된 검사가 없습니다 (강사에게 알려 주세요)."
    except Exception as error:  # the cell must still get a report and a number
        result.error = f"채점을 실행하지 못했습니다: {type(error).__name__}"
    return result


def fail_gate_on_entered(result: ModuleResult, notebook: Notebook) -> None:
    """A forbidden torch operator entered while the checks called the student's function
    (Notebook.forbid) fails the module's gate, whichever check's call entered it and whatever
    the student's code did with the error; a module without a gate sends it to a person."""
    gate = next((check for check in result.checks if check.gate), None)
    for name, ops in notebook.entered.items():
        if gate is None:
            result.flags.append(_bounded(f"{name} entered torch operators forbidden in it: {', '.join(ops)}"))
        elif gate.passed:
            gate.passed, gate.message = False, _bounded(notebook.forbid_message(name, ops))


def report(result: ModuleResult) -> str:
    """The Korean report printed in the autograder cell."""
    lines = [f"[{result.test_id}] {result.score:g} / {result.max_points:g}점"]
    for check in result.checks:
        mark = "✅" if check.passed else "❌"
        lines.append(f"  {mark} {check.title} ({check.points:g}점)")
        if not check.passed:
            lines.append(f"     → {check.message}")
    if result.gated:
        lines.append("  이 부분은 위의 ❌ 조건 때문에 0점입니다.")
    if result.error:
        lines.append(f"  ⚠ {result.error}")
    return "\n".join(lines)


def cell_score(result: ModuleResult) -> float:
    """What nbgrader records: the score, never above the cell's points."""
    return float(round(min(result.score, result.max_points), 6))
