"""Small classes graded with the kit's `grade` command, shared by test_batch and
test_report: a class of four collected submissions (the reference, a blank hand-in, a
sample mistake and a reference that prints its kernel's torch thread count)
graded serially and with two workers, each in its own scratch course and temporary folder.
"""
from __future__ import annotations

import nbformat
import pytest
from class_builder import GradedClass, class_answers, grade, new_class_course, run_cli
from private_tempdir import private_tempdir

from dropout_kit.harness import samples


@pytest.fixture(scope="session")
def class_notebooks(reference_answers, release_notebook) -> dict[str, nbformat.NotebookNode]:
    return {student: nbformat.read(release_notebook, as_version=4) if answers is None
            else samples.assemble(release_notebook, answers)
            for student, answers in class_answers(reference_answers).items()}


@pytest.fixture(scope="session")
def serial_class(tmp_path_factory, class_notebooks) -> GradedClass:
    """The class graded by one worker. Tests may add resubmissions to this course."""
    with private_tempdir(tmp_path_factory.mktemp("serial-tmp")):
        return grade(new_class_course(tmp_path_factory.mktemp("serial") / "course", class_notebooks), workers=1)


FRESH_KERNELS = "c.SandboxKernelManager.fork_kernels = False"


@pytest.fixture(scope="session")
def parallel_class(tmp_path_factory, class_notebooks) -> GradedClass:
    """The class graded by two workers on SQLite, with kernels started afresh (the serial
    class forks them from the template). Tests only read this course."""
    with private_tempdir(tmp_path_factory.mktemp("parallel-tmp")):
        return grade(new_class_course(tmp_path_factory.mktemp("parallel") / "course", class_notebooks,
                                      config_lines=FRESH_KERNELS), workers=2)


# A cell that outlives its time limit (3 s for the split cell in this course, through the
# course executor's per-cell limits; other cells keep theirs), and a notebook
# handed in under another name, which nbgrader cannot grade: both are graded a second
# time alone, then reported, never passed off as grades.
SLEEPS = "\nimport time\ntime.sleep(600)"


@pytest.fixture(scope="session")
def troubled_run(tmp_path_factory, reference_answers, release_notebook):
    """(course, completed `dropout-kit grade`) for a class of a sleeper and a renamed notebook."""
    sleeper = samples.assemble(release_notebook, {**reference_answers, "split": reference_answers["split"] + SLEEPS})
    root = new_class_course(tmp_path_factory.mktemp("troubled") / "course", {"sleeper": sleeper},
                            config_lines='c.SafeExecute.cell_timeouts = {"split": 3}',
                            renamed={"renamed": samples.assemble(release_notebook, reference_answers)})
    with private_tempdir(tmp_path_factory.mktemp("troubled-tmp")):
        return root, run_cli("grade", "--course", str(root), "--workers", "2")
