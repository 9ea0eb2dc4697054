"""Each failure message of the grading engine is produced only by the cause it names, and a
request of the checks that runs past its budget costs its own check (issue 24).

Driven through SafeExecute itself (the real sandboxed kernel, the real checker process) on
small notebooks: one notebook makes every kind of kernel failure in turn, one cell each, so
each cell must carry its own message and no other; a second one has hidden checks of its own
whose requests run past their time budget (stopped by the interrupt, or not: the kernel is
then restarted in the middle of the checks) and their memory budget.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook
from test_bounded_replies import answer_cell, kit_cell, text_of
from traitlets.config import Config

from dropout_kit.checks.runner import CHECKS_MIME
from dropout_kit.engine.kit_cells import VERDICTS
from dropout_kit.engine.safe_execute import SafeExecute

KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}

# The engine's messages, by the error name it gives them, with words that belong to it alone.
MESSAGES = {
    "CellTimeoutError": "제한 시간 안에 끝나지 않아 중단했습니다",
    "KernelUnresponsive": "중단 요청에도 응답하지 않아",
    "KernelDied": "커널이 종료되었습니다",
    "KernelExited": "exit()/quit()",
    "KernelChannelBroken": "메시지가 깨졌습니다",
    "OutputTimeout": "출력이 1초 안에 다 전달되지 않았습니다",
    "NotExecuted": "실행하지 않았습니다",
}

# One cell per cause, in this order; the last one shows the notebook went on.
CAUSES = {
    "CellTimeoutError": "import time\ntime.sleep(1000)",
    "KernelUnresponsive": "import time\nwhile True:\n    try:\n        time.sleep(1000)\n"
                          "    except KeyboardInterrupt:\n        pass",
    "KernelDied": "import os\nos._exit(3)",
    "KernelExited": "exit()",
    "KernelChannelBroken": "get_ipython().kernel.session.key = b'forged'\nprint('signed with another key')",
    "OutputTimeout": "import sys\nsys.stdout.write('x' * 100_000_000)\nsys.stdout.flush()",
}


def run(nb, work: Path, assignment: str = "budgets", **settings):
    config = Config()
    config.SafeExecute.warm_imports = []
    config.SandboxKernelManager.mode = "namespaces"
    config.SafeExecute.interrupt_grace = 2
    for name, value in settings.items():
        owner, _, trait = name.partition("__")
        setattr(getattr(config, owner), trait, value)
    work.mkdir(mode=0o755)
    resources = {"metadata": {"path": str(work)}, "nbgrader": {"student": "s", "assignment": assignment}}
    return SafeExecute(config=config).preprocess(nb, resources)


def error_names(cell) -> list[str]:
    return [o.ename for o in cell.outputs if o.output_type == "error"]


@pytest.fixture(scope="module")
def failures(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("failures")
    tmp.chmod(0o755)
    cells = [answer_cell(ename, source) for ename, source in CAUSES.items()]
    cells.append(new_code_cell("print('the notebook went on')"))
    nb, _ = run(new_notebook(cells=cells, metadata=KERNELSPEC), tmp / "submission",
                Execute__timeout=2, SafeExecute__max_kernel_restarts=10, Execute__iopub_timeout=1,
                SafeExecute__cell_timeouts={"OutputTimeout": 60})  # it ends; its output is late
    return nb


@pytest.mark.parametrize("index, ename", list(enumerate(CAUSES)))
def test_each_failure_has_its_own_message_only(failures, index, ename):
    cell = failures.cells[index]
    assert ename in error_names(cell), text_of(cell)
    text = text_of(cell)
    assert MESSAGES[ename] in text
    others = [name for name, words in MESSAGES.items() if name != ename and words in text]
    assert not others, text
    assert "너무 커서" not in text  # "too large" only where a size was measured (RepliesTooLarge)


def test_the_notebook_goes_on_after_every_failure(failures):
    assert "the notebook went on" in text_of(failures.cells[-1])


def test_cells_past_the_restart_limit_are_marked_not_executed(tmp_path):
    tmp_path.chmod(0o755)
    cells = [new_code_cell("import os\nos._exit(3)"), new_code_cell("print('never')")]
    nb, _ = run(new_notebook(cells=cells, metadata=KERNELSPEC), tmp_path / "submission",
                SafeExecute__max_kernel_restarts=0)
    assert error_names(nb.cells[0]) == ["KernelDied"]
    assert error_names(nb.cells[1]) == ["NotExecuted"]
    assert MESSAGES["NotExecuted"] in text_of(nb.cells[1]) and "never" not in text_of(nb.cells[1])


# -- the requests' budgets -----------------------------------------------------------------------
ANSWERS = '''\
import time
x = 3
def slow(n):
    time.sleep(1000)
def stubborn(n):
    while True:
        try:
            time.sleep(1000)
        except KeyboardInterrupt:
            pass
def hungry(n):
    return bytearray(n * 1024 * 1024)
'''

CHECKS = '''\
import pytest

from dropout_kit.checking import Budget, defined, function


@pytest.mark.points(1)
def test_slow(student):
    """slow"""
    with student.bound("x", 7):
        function(student, "slow").call(1, budget=Budget(seconds=1))


@pytest.mark.points(1)
def test_slow_again(student):
    """slow, not called again"""
    function(student, "slow").call(1, budget=Budget(seconds=1))


@pytest.mark.points(1)
def test_stubborn(student):
    """stubborn"""
    with student.bound("x", 5):  # bound again in the restarted kernel, then taken back
        function(student, "stubborn").call(1, budget=Budget(seconds=1))


@pytest.mark.points(1)
def test_after_the_restart(student):
    """x, in the restarted kernel"""
    assert defined(student, "x") == 3


@pytest.mark.points(1)
def test_hungry(student):
    """hungry"""
    function(student, "hungry")(1536, budget=Budget(seconds=20, memory_mb=512))  # within the kernel's 4 GB


@pytest.mark.points(1)
def test_hungry_within_budget(student):
    """hungry, within its budget"""
    assert function(student, "hungry")(64, budget=Budget(seconds=20, memory_mb=512)) is not None
'''


@pytest.fixture(scope="module")
def budgets(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("budgets")
    folder = tmp / "grader_tests" / "budgets"
    folder.mkdir(parents=True)
    (folder / "test_budgets.py").write_text(CHECKS, encoding="utf-8")
    for path in (tmp, folder.parent, folder):
        path.chmod(0o755)
    cells = [answer_cell("answers", ANSWERS), kit_cell("test_budgets"),
             answer_cell("after", "print('after the checks:', x, 'bound:', [n for n in globals() if n.startswith('__dropout')])")]
    nb, resources = run(new_notebook(cells=cells, metadata=KERNELSPEC), tmp / "submission",
                        SafeExecute__grader_tests=str(folder.parent), Execute__timeout=120)
    verdicts = next(o.data[CHECKS_MIME] for o in nb.cells[1].outputs if CHECKS_MIME in o.get("data", {}))
    return nb, resources, {c["name"]: c for c in verdicts["checks"]}, verdicts["budgets"]


def test_a_request_past_its_time_budget_fails_its_check_with_the_time(budgets):
    _, _, checks, _ = budgets
    assert not checks["test_slow"]["passed"]
    assert re.search(r"slow 이 .*1초 넘게 걸려서 중단했습니다\.$", checks["test_slow"]["message"])
    # not called again: each call would cost its whole budget
    assert "다시 부르지 않았습니다" in checks["test_slow_again"]["message"]


def test_a_request_the_interrupt_cannot_stop_restarts_the_kernel_and_the_checks_go_on(budgets):
    nb, _, checks, _ = budgets
    assert "커널을 다시 시작하고" in checks["test_stubborn"]["message"]
    assert checks["test_after_the_restart"]["passed"], checks["test_after_the_restart"]
    assert "after the checks: 3" in text_of(nb.cells[2])  # the replayed kernel runs the next cell
    assert not error_names(nb.cells[1]) and not error_names(nb.cells[2])


def test_a_request_past_its_memory_budget_fails_its_check_only(budgets):
    _, _, checks, _ = budgets
    assert "메모리를 512 MB 넘게 쓰려고 해서" in checks["test_hungry"]["message"]
    assert checks["test_hungry_within_budget"]["passed"], checks["test_hungry_within_budget"]


def test_the_budgets_run_past_are_recorded_for_the_report(budgets):
    _, resources, _, recorded = budgets
    assert [(b["check"], b["kind"], b["limit"]) for b in recorded] == [
        ("test_slow", "time", 1), ("test_stubborn", "time", 1), ("test_hungry", "memory", 512)]
    assert all(b["seconds"] >= 1 for b in recorded if b["kind"] == "time")
    assert resources[VERDICTS]["test_budgets"] == 2.0  # the two checks that stayed within budget


def test_nothing_of_the_checks_stays_in_the_kernel(budgets):
    """What the checks bound or seeded is undone before the next cell (the agent alone stays)."""
    nb, _, _, _ = budgets
    assert "bound: ['__dropout_kit_agent__']" in text_of(nb.cells[2]), text_of(nb.cells[2])

