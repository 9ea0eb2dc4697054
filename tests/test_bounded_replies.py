"""A kernel that floods the checks' requests with replies costs its cell, not the grading
process's memory (issue 22, item 5).

The kernel answers a request of the hidden checks with display messages of the agent's
REPLY_MIME carrying binary buffers (dropout_kit/kernel/agent.py `serve`). A student's cell
can replace the agent (`__dropout_kit_agent__` in the kernel's namespace) by a function that
answers one request with hundreds of large replies. SafeExecute keeps at most
`max_reply_bytes` of one request's replies and `max_submission_reply_bytes` of one
submission's: past a limit the request fails (the checker is told the kernel's answer is
unavailable, so the part's checks score 0), the kernel is restarted and the earlier cells
replayed before the next cell.

Driven here through SafeExecute itself (the real sandboxed kernel and checker process) on a
small notebook with hidden checks of its own; the grading process's resident memory is
sampled while it runs.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from tampering.working_folder import FLOOD, FLOOD_COUNT, FLOOD_MB

from dropout_kit.engine.kit_cells import VERDICTS
from dropout_kit.engine.safe_execute import SafeExecute

MB = 1024 * 1024
ASSIGNMENT = "flood"
CHECK = '''\
import pytest
import torch

from dropout_kit.checking import defined


@pytest.mark.points(1)
def test_defined(student):
    """x = torch.ones(3)"""
    assert torch.equal(defined(student, "x", torch.Tensor), torch.ones(3))
'''


def kit_cell(test_id: str):
    """An autograder cell of the kit: its hidden region is one grade() call."""
    return new_code_cell(
        f'### BEGIN HIDDEN TESTS\nfrom dropout_kit.grading import grade\ngrade("{test_id}")\n'
        "### END HIDDEN TESTS",
        metadata={"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1,
                               "grade_id": test_id, "schema_version": 3}})


def answer_cell(grade_id: str, source: str):
    return new_code_cell(source, metadata={"nbgrader": {"grade": False, "solution": True, "locked": False,
                                                        "grade_id": grade_id, "schema_version": 3}})


def notebook(flood: bool = True):
    cells = [answer_cell("answer", "import torch\nx = torch.ones(3)"),
             kit_cell("test_before")]  # answered by the agent: full points
    if flood:
        cells += [answer_cell("attack", FLOOD),
                  kit_cell("test_flooded")]  # answered by the flood: 0, kernel restarted
    cells.append(answer_cell("after", "print('after the restart:', float(x.sum()))"))
    return new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


class PeakMemory:
    """The resident memory of this process, sampled every few milliseconds."""

    def __init__(self):
        self.start = self.peak = self._rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.002)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / MB


@pytest.fixture
def short_tmp() -> Path:
    """SafeExecute's scratch folders for these tests: the kernel's IPC sockets live there, and
    a Unix socket's path holds at most 107 bytes, which tmp_path passes once pytest's run
    counter (pytest-of-<user>/pytest-<n>) has three digits."""
    folder = Path(tempfile.mkdtemp(prefix="dk-replies-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def grader_tests(tmp_path) -> Path:
    folder = tmp_path / "grader_tests"
    (folder / ASSIGNMENT).mkdir(parents=True)
    for test_id in ("test_before", "test_flooded"):
        (folder / ASSIGNMENT / f"{test_id}.py").write_text(CHECK, encoding="utf-8")
    for path in (tmp_path, folder, folder / ASSIGNMENT):  # the sandbox's account reads them
        path.chmod(0o755)
    return folder


def run(grader_tests: Path, work: Path, flood: bool = True, **limits):
    config = Config()
    config.SafeExecute.grader_tests = str(grader_tests)
    config.SafeExecute.warm_imports = []
    config.Execute.timeout = 120
    config.SandboxKernelManager.mode = "namespaces"
    for name, value in limits.items():
        setattr(config.SafeExecute, name, value)
    work.mkdir(mode=0o755)
    resources = {"metadata": {"path": str(work)}, "nbgrader": {"student": "flooder", "assignment": ASSIGNMENT}}
    with PeakMemory() as memory:
        nb, resources = SafeExecute(config=config).preprocess(notebook(flood), resources)
    return nb, resources, memory


def text_of(cell) -> str:
    return "\n".join(str(o.get("text", "")) + str(o.get("evalue", "")) + str(o.get("data", {}).get("text/plain", ""))
                     for o in cell.outputs)


def test_a_flood_of_replies_costs_its_cell_and_little_memory(grader_tests, tmp_path, short_tmp, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(short_tmp))  # where SafeExecute's scratch folders go
    nb, resources, memory = run(grader_tests, tmp_path / "submission")
    flood = FLOOD_COUNT * FLOOD_MB
    print(f"resident memory: {memory.start / MB:.0f} MB before, +{memory.growth_mb:.0f} MB at most "
          f"while a kernel sent {flood} MB of replies to one request")
    verdicts = resources[VERDICTS]
    assert verdicts["test_before"] == 1.0, text_of(nb.cells[1])
    assert verdicts.get("test_flooded", 0.0) == 0.0, text_of(nb.cells[3])
    assert "너무 커서" in text_of(nb.cells[3]), text_of(nb.cells[3])  # the student is told why
    # The kernel was restarted and the earlier cells replayed: the next cell ran as usual.
    assert "after the restart: 3.0" in text_of(nb.cells[4]), text_of(nb.cells[4])
    # At most one request's limit of replies (and a message in transit) is held at once.
    assert memory.growth_mb < 250, f"grading memory grew by {memory.growth_mb:.0f} MB"
    assert not list(short_tmp.glob("dropout-kit-kernel-*")), "the kernel's folders are left behind"


def test_replies_past_the_submissions_total_are_refused(grader_tests, tmp_path, short_tmp, monkeypatch):
    """An honest agent, a submission total below one reply: the part scores 0, and the
    notebook goes on (the next cell runs in a kernel that has the earlier cells' state)."""
    monkeypatch.setattr(tempfile, "tempdir", str(short_tmp))
    nb, resources, _ = run(grader_tests, tmp_path / "submission", flood=False, max_submission_reply_bytes=16)
    assert resources[VERDICTS] == {"test_before": 0.0}, text_of(nb.cells[1])
    assert "너무 커서" in text_of(nb.cells[1])
    assert "after the restart: 3.0" in text_of(nb.cells[2]), text_of(nb.cells[2])


# -- the kernel's working folder (issue 22, item 4) ------------------------------------------------
# Reads a file of the submission, writes files beside it and tries the course's gradebook by
# the relative path that led there from autograded/<student>/<assignment>/.
WRITES = '''\
import json, os
print("cwd:", os.getcwd())
print("data:", open("data.txt").read())
for name in ("forged.ipynb", "out.json", "data.txt"):
    with open(name, "w") as f:
        f.write("{}")
try:
    open("../../../gradebook.db", "w").close()
    print("GRADEBOOK WRITTEN")
except OSError as error:
    print("gradebook:", type(error).__name__)
'''


@pytest.mark.parametrize("mode", ["namespaces", "off"])
def test_the_kernel_works_in_a_scratch_copy_of_its_folder(tmp_path, monkeypatch, mode):
    """Nothing the kernel writes reaches the folder nbgrader gave (autograded/<s>/<a>/); with
    namespaces the copy is shown at that folder's path, so relative paths mean what they did."""
    # The temporary folder: a short path (the kernel's Unix sockets live there), two levels
    # down in a folder of this test's (the relative path to the gradebook ends there).
    base = Path(tempfile.mkdtemp(prefix="dk-wf-"))
    scratch = base / "t" / "k"
    scratch.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    try:
        run_writes(tmp_path, scratch, mode)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run_writes(tmp_path: Path, scratch: Path, mode: str) -> None:
    course = tmp_path / "course"
    folder = course / "autograded" / "s" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / "data.txt").write_text("given")
    (course / "gradebook.db").write_text("grades")
    for path in (tmp_path, scratch.parent.parent, scratch.parent, scratch, course, course / "autograded",
                 folder.parent, folder):
        path.chmod(0o755)
    config = Config()
    config.SandboxKernelManager.mode = mode
    config.SandboxKernelManager.course_root = str(course)
    config.Execute.timeout = 120
    nb = new_notebook(cells=[new_code_cell(WRITES)], metadata=notebook().metadata)
    resources = {"metadata": {"path": str(folder)}, "nbgrader": {"student": "s", "assignment": ASSIGNMENT}}
    nb, resources = SafeExecute(config=config).preprocess(nb, resources)
    printed = text_of(nb.cells[0])
    assert "data: given" in printed, printed
    if mode == "namespaces":  # without namespaces the kernel may write what the grader may
        assert f"cwd: {folder}\n" in printed and "GRADEBOOK WRITTEN" not in printed, printed
    assert sorted(p.name for p in folder.iterdir()) == ["data.txt"] and (folder / "data.txt").read_text() == "given"
    assert (course / "gradebook.db").read_text() == "grades"
    assert resources["metadata"]["path"] == str(folder)  # nbgrader's later steps see its folder
    assert not list(scratch.glob("dropout-kit-kernel-*")), "the kernel's folders are left behind"
