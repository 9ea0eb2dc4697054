"""A cell judged again runs in a judgement kernel of its own (issue 32, item 1): a fresh kernel
that ran only the notebook's cells before that cell, in a fresh copy of the submitted folder
(dropout_kit/engine/judgement_kernel.py). Driven through SafeExecute itself (the real sandboxed
kernels, the real checker process) on a small notebook whose cell leaves a mark in
`os.environ`, in a list an earlier cell made and in a file of the working folder each time it
runs, and records the marks it found.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from nbformat.v4 import new_notebook
from test_bounded_replies import answer_cell, kit_cell, text_of
from test_engine_messages import KERNELSPEC, run

from dropout_kit.checks.runner import CHECKS_MIME
from dropout_kit.engine import judgement_kernel

REPO = Path(__file__).resolve().parent.parent
BEFORE = "import os\nmarks = []"
MARKING = """\
found = (os.environ.get("MARK", ""), len(marks), open("mark.txt").read() if os.path.exists("mark.txt") else "")
os.environ["MARK"] = os.environ.get("MARK", "") + "x"
marks.append(1)
with open("mark.txt", "a") as f:
    f.write("x")
"""
CHECKS = '''\
import pytest

from dropout_kit.checking import Budget, OverBudget

FIRST_RUN = ["", 0, ""]  # what the cell finds on its first run in a kernel: no mark anywhere
JUDGED = "mark" + "ing"  # named at run time: the engine cannot read it from this source


def found(notebook):
    return list(notebook.rerun(notebook.source("marking"), budget=Budget(seconds=20)).get("found"))


@pytest.mark.points(1)
def test_the_judgement_kernel_sees_no_mark(student):
    """the judgement kernel's re-run starts where the notebook's run of the cell started"""
    judge = student.fresh(JUDGED)
    assert judge.is_fresh
    assert found(judge) == FIRST_RUN
    assert judge.get("marks") == []  # an earlier cell's list, as that cell left it


@pytest.mark.points(1)
def test_the_notebooks_own_kernel_shows_its_marks(student):
    """a re-run in the notebook's own kernel finds the marks of the notebook's run"""
    assert found(student) == ["x", 1, "x"]


@pytest.mark.points(1)
def test_a_judgement_kernel_past_its_budget(student):
    """the judgement kernel's request stopped at its budget"""
    judge = student.fresh(JUDGED)
    with pytest.raises(OverBudget) as over:
        judge.rerun("import time\\ntime.sleep(100)", budget=Budget(seconds=1))
    assert over.value.kind == "time"


@pytest.mark.points(1)
def test_no_judgement_kernel_for_a_cell_that_is_not_there(student):
    """a judgement kernel that cannot be had says so as an OverBudget of kind judgement"""
    with pytest.raises(OverBudget) as over:
        student.fresh("no-such-cell").has("marks")
    assert over.value.kind == "judgement"
'''


# A cell that runs without an error in the notebook and ends in one where cells run quietly
# (no history: IPython's execution count stays 1), as in a judgement kernel.
COUNTS_ON_HISTORY = "assert get_ipython().execution_count > 1, 'run quietly'"
DIVERGED_CHECKS = '''\
import pytest

from dropout_kit.checking import OverBudget


@pytest.mark.points(1)
def test_a_cell_that_ran_otherwise_there_is_an_over_budget(student):
    """a judgement kernel that ran a cell otherwise than the notebook says so"""
    with pytest.raises(OverBudget) as over:
        student.fresh("mark" + "ing").has("marks")
    assert over.value.kind == "judgement" and "오류로 끝났습니다" in str(over.value), str(over.value)
'''


def grade(tmp, name: str, before: str = BEFORE, module: str = "test_judged", checks: str = CHECKS):
    folder = tmp / "grader_tests" / "judged"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(checks, encoding="utf-8")
    for path in (tmp, folder.parent, folder):
        path.chmod(0o755)
    cells = [answer_cell("before", before), answer_cell("marking", MARKING), kit_cell(module),
             answer_cell("after", "print('after:', found, os.environ['MARK'], len(marks))")]
    nb, _ = run(new_notebook(cells=cells, metadata=KERNELSPEC), tmp / name, "judged",
                SafeExecute__grader_tests=str(folder.parent),
                SafeExecute__cell_timeouts={module: 120}, Execute__timeout=60)
    [verdicts] = [o.data[CHECKS_MIME] for o in nb.cells[2].outputs if CHECKS_MIME in o.get("data", {})]
    return nb, {check["name"]: check for check in verdicts["checks"]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The notebook graded twice in this process: the first time the judgement kernel starts
    when the checks ask for it (they name its cell at run time), the second time with the
    notebook, which it follows."""
    judgement_kernel._JUDGED.clear()
    tmp = tmp_path_factory.mktemp("judged")
    logger = logging.getLogger("traitlets")
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        first = grade(tmp, "first")
        between = len(records)
        second = grade(tmp, "second")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return first, second, records[:between], records[between:]


@pytest.mark.parametrize("run", [0, 1], ids=["asked-for", "started-ahead"])
def test_the_rerun_finds_none_of_the_notebooks_marks(graded, run):
    _, checks = graded[run]
    assert checks["test_the_judgement_kernel_sees_no_mark"]["passed"], checks


def test_a_rerun_in_the_notebooks_own_kernel_finds_them(graded):
    """The contrast: the same request without a judgement kernel sees the notebook's run."""
    _, checks = graded[0]
    assert checks["test_the_notebooks_own_kernel_shows_its_marks"]["passed"], checks


def test_nothing_of_the_judgement_kernel_reaches_the_notebooks_kernel(graded):
    """The next cell sees the notebook's mark and the contrast check's (a re-run in the
    notebook's own kernel leaves its mark in os.environ: why judgement kernels exist), not
    the judgement kernel's, nor its two re-runs'."""
    nb, _ = graded[0]
    assert "after: ('', 0, '') xx 1" in text_of(nb.cells[3]), text_of(nb.cells[3])


@pytest.mark.parametrize("check", ["test_a_judgement_kernel_past_its_budget",
                                   "test_no_judgement_kernel_for_a_cell_that_is_not_there"])
def test_what_a_judgement_kernel_cannot_do_is_an_over_budget(graded, check):
    _, checks = graded[0]
    assert checks[check]["passed"], checks[check]


def test_a_judgement_kernel_asked_for_once_starts_with_the_next_notebooks_run(graded):
    _, _, first_log, second_log = graded
    ready = [line for line in second_log if "judgement kernel ready" in line]
    assert ready and all("started as the notebook began): 1 cell(s)" in line for line in ready), second_log
    first = [line for line in first_log if "judgement kernel ready" in line]
    assert first and all("started when the checks asked" in line for line in first), first_log


def test_the_cells_the_checks_name_are_known_before_any_is_asked_for(tmp_path):
    """The assignment's checks name `dropout_net` (its judgement kernel then follows every
    notebook from the first); a name built at run time is not read."""
    assert judgement_kernel.named_in_checks(REPO / "grader_tests" / "dropout") == {"dropout_net"}
    (tmp_path / "test_a.py").write_text('a = s.fresh("one")\nb = s.fresh( \'two\' )\nc = s.fresh(NAME)\n'
                                        'd = s.fresh("th" + "ree")\n', encoding="utf-8")
    assert judgement_kernel.named_in_checks(tmp_path) == {"one", "two"}


def test_a_judgement_kernel_that_ran_a_cell_otherwise_takes_nothing(graded, tmp_path):
    """A cell before the judged one that ran without an error in the notebook ends in one in the
    judgement kernel (which followed the notebook: `graded` taught the process the cell): the
    judgement kernel does not answer, as an OverBudget of kind judgement (the check holds the
    part), rather than judge a state the notebook never had."""
    _, checks = grade(tmp_path, "diverging", before=f"{BEFORE}\n{COUNTS_ON_HISTORY}", module="test_diverged",
                      checks=DIVERGED_CHECKS)
    assert checks["test_a_cell_that_ran_otherwise_there_is_an_over_budget"]["passed"], checks
