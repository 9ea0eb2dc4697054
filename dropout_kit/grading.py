"""Runs one module of hidden checks inside the grading kernel and scores its cell.

An autograder cell of the assignment ends with a hidden region such as

    from dropout_kit.grading import grade
    grade("test_split")

`grade` runs `grader_tests/test_split.py` with pytest, in this process, against the
notebook's live namespace (the `ns` fixture), prints a short report in Korean and
returns the points earned. nbgrader reads that number as the cell's partial credit.

What nbgrader does with a test cell dictates three rules kept here: nothing may reach
stderr (any stderr output scores the cell 0), the last expression must be a number
(anything else earns FULL credit), and the number must not exceed the cell's points
(that aborts the whole submission).
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dropout_kit import settings
from dropout_kit.checking import describe_error


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

    @property
    def all_passed(self) -> bool:
        return not self.error and bool(self.checks) and all(c.passed for c in self.checks)


# Results of the cells graded so far in this kernel, by test id. Later parts read it
# to tell whether the parts they build on are right (see grader_tests/conftest.py).
RESULTS: dict[str, ModuleResult] = {}


def grader_tests_dir() -> Path:
    """The folder of hidden checks: from the course config, else found above the cwd."""
    configured = os.environ.get(settings.GRADER_TESTS_ENV)
    if configured:
        return Path(configured)
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "nbgrader_config.py").is_file() and (folder / "grader_tests").is_dir():
            return folder / "grader_tests"
    raise FileNotFoundError(
        f"grader_tests/ not found: set {settings.GRADER_TESTS_ENV} or run from the course"
    )


def _student_message(excinfo: pytest.ExceptionInfo) -> str:
    """What the student reads for a failed check: our message, never a traceback."""
    error = excinfo.value
    if isinstance(error, (AssertionError, pytest.fail.Exception)):
        text = str(error).strip()
        return text or "검사를 통과하지 못했습니다."
    return f"실행 중 오류가 났습니다: {describe_error(error)}"


class _KernelPlugin:
    """Exposes the live namespace as the `ns` fixture and records each check."""

    def __init__(self, namespace: dict, result: ModuleResult):
        self.namespace = namespace
        self.result = result
        self._by_nodeid: dict[str, CheckResult] = {}

    @pytest.fixture(scope="session")
    def ns(self) -> dict:
        return self.namespace

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
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

    def pytest_collectreport(self, report):
        if report.failed:
            self.result.error = "채점 모듈을 불러오지 못했습니다 (강사에게 알려 주세요)."


def run_checks(test_id: str, namespace: dict) -> ModuleResult:
    """Runs grader_tests/<test_id>.py against `namespace`; never raises an Exception."""
    result = ModuleResult(test_id)
    try:
        folder = grader_tests_dir()
        module = folder / f"{test_id}.py"
        if not module.is_file():
            raise FileNotFoundError(module)
        args = [
            str(module),
            "-c", str(folder / "pytest.ini"),
            "--rootdir", str(folder),
            "--confcutdir", str(folder),
            "--import-mode=importlib",
            "-p", "no:cacheprovider",
            # Its clean-up runs gc.collect() several times over the kernel's whole heap (torch):
            # about 0.7 s per cell, most of what a cell's checks cost.
            "-p", "no:unraisableexception",
            "--assert=plain",
            "--capture=fd",
            "-q",
        ]
        plugin = _KernelPlugin(namespace, result)
        pytest_output = io.StringIO()
        old_autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        old_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(pytest_output), \
                    contextlib.redirect_stderr(pytest_output):
                warnings.simplefilter("ignore")
                exit_code = pytest.main(args, plugins=[plugin])
        finally:
            sys.dont_write_bytecode = old_bytecode
            if old_autoload is None:
                os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
            else:
                os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = old_autoload
        if exit_code == pytest.ExitCode.INTERRUPTED:
            result.error = "시간 초과로 검사가 중단되었습니다."
        elif not result.checks and not result.error:
            result.error = "실행된 검사가 없습니다 (강사에게 알려 주세요)."
    except Exception as error:  # the cell must still print a report and a number
        result.error = f"채점을 실행하지 못했습니다: {type(error).__name__}"
    RESULTS[test_id] = result
    return result


def report(result: ModuleResult) -> str:
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


def grade(test_id: str, namespace: dict | None = None) -> float:
    """Grades one autograder cell; returns its score (the cell's last expression)."""
    if namespace is None:
        namespace = _notebook_namespace()
    result = run_checks(test_id, namespace)
    print(report(result))
    return round(min(result.score, result.max_points), 6)


def _notebook_namespace() -> dict:
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        return shell.user_ns
    return sys._getframe(2).f_globals
