"""`dropout-kit grade --scheduler`: a class graded on a real Dask cluster (a scheduler and
workers started with Dask's own commands on 127.0.0.1), faults included; Ctrl-C on a run;
kernels started ahead on a worker, one per student."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dropout_assignment as dropout
import nbformat
import pytest
from class_builder import new_class_course, run_cli, start_cli
from distributed import Client

from dropout_kit import tempfolders
from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.cluster.payload import Payload, WorkerMismatch
from dropout_kit.harness import samples
from dropout_kit.harness.commands import nbgrader

pytest_plugins = ["grading_fixtures"]
pytestmark = pytest.mark.slow

DASK = Path(sys.executable).parent / "dask"
# A reference submission whose plot cell waits first: long enough to be killed mid-run (a cell
# after dropout_net that no check runs again, so that no re-run and no judgement kernel waits too).
WAIT_SECONDS = 10
WAITS = f"import time\ntime.sleep({WAIT_SECONDS})\n"


def waiting(reference_answers: dict) -> dict:
    return {**reference_answers, "plot_modes": WAITS + reference_answers["plot_modes"]}


class Cluster:
    """A Dask scheduler and `workers` single-threaded workers, each its own process group."""

    def __init__(self, folder: Path, workers: int):
        folder.mkdir(parents=True, exist_ok=True)
        address_file = folder / "scheduler.json"
        self.processes: dict[str, subprocess.Popen] = {}
        self.processes["scheduler"] = self._start(folder, "scheduler", "scheduler", "--host", "127.0.0.1",
                                                  "--port", "0", "--no-dashboard",
                                                  "--scheduler-file", str(address_file))
        deadline = time.monotonic() + 60
        while not address_file.exists():
            assert time.monotonic() < deadline, (folder / "scheduler.log").read_text()
            time.sleep(0.2)
        self.address = json.loads(address_file.read_text())["address"]
        for n in range(1, workers + 1):
            self.processes[f"w{n}"] = self._start(folder, f"w{n}", "worker", self.address, "--nthreads", "1",
                                                  "--no-dashboard", "--name", f"w{n}")

    @staticmethod
    def _start(folder: Path, name: str, *args: str) -> subprocess.Popen:
        with (folder / f"{name}.log").open("w") as log:
            return subprocess.Popen([str(DASK), *args], stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def kill(self, name: str) -> None:
        os.killpg(self.processes[name].pid, signal.SIGKILL)
        self.processes[name].wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def cluster(tmp_path):
    running = Cluster(tmp_path / "dask", workers=2)
    yield running
    running.stop()


def recorded(root: Path) -> dict[str, dict]:
    return json.loads(CoursePaths.load(root, dropout.ASSIGNMENT).state_file.read_text())["students"]


def test_class_on_a_scheduler_gets_stock_nbgrader_grades(cluster, tmp_path, class_notebooks):
    root = new_class_course(tmp_path / "course", class_notebooks)
    stock = shutil.copytree(root, tmp_path / "stock")
    done = run_cli("grade", "--course", str(root), "--scheduler", cluster.address)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 worker(s)" in done.stdout
    assert {record["worker"] for record in recorded(root).values()} == {"w1", "w2"}
    nbgrader("autograde", dropout.ASSIGNMENT, "--force", cwd=stock)
    assert dropout.cell_grades(f"sqlite:///{root}/gradebook.db") == \
        dropout.cell_grades(f"sqlite:///{stock}/gradebook.db")


def test_a_killed_worker_loses_no_submission_and_grades_none_twice(cluster, tmp_path, reference_answers,
                                                                  release_notebook, own_tempdir):
    waits = samples.assemble(release_notebook, waiting(reference_answers))
    class_ = {f"student{n}": waits for n in range(1, 4)}  # two on the workers, one waiting
    root = new_class_course(tmp_path / "course", class_)
    grading = start_cli("grade", "--course", str(root), "--scheduler", cluster.address)
    with Client(cluster.address, timeout=10) as observer:
        deadline = time.monotonic() + 300
        while sum(map(len, observer.processing().values())) < 2:
            assert time.monotonic() < deadline and grading.poll() is None
            time.sleep(0.5)
    time.sleep(5)  # both workers are inside a notebook, before its wait ends
    cluster.kill("w1")
    stdout, stderr = grading.communicate(timeout=900)
    assert grading.returncode == 0, stdout + stderr
    records = recorded(root)
    assert set(records) == set(class_)
    assert all(r["status"] == "graded" and r["auto_score"] == 15 and r["attempts"] == 1 for r in records.values())
    assert {r["worker"] for r in records.values()} >= {"w2"}
    assert sum(f" {student}: graded " in stdout for student in class_) == len(class_)
    grades = dropout.cell_grades(f"sqlite:///{root}/gradebook.db")
    assert set(grades) == set(class_)
    assert not tempfolders.sweep(tempdir=own_tempdir), "the round's last sweep left a killed worker's folders"
    # The live worker's own folders (unpacked checks, checker scratch) last as long as it does;
    # stopped by a signal, it leaves them to the next round's first sweep.
    cluster.stop()
    tempfolders.sweep(tempdir=own_tempdir)
    assert not kit_leftovers(own_tempdir)


# Prints the marks an earlier student's code left (in the kernel, its folder, its /tmp),
# then leaves its own.
MARKS = """
import glob
print("marks found:", [n for n in globals() if n.startswith("mark_")], glob.glob("mark-*"), glob.glob("/tmp/mark-*"))
mark_left = 1
open("mark-here", "w").close()
open("/tmp/mark-here", "w").close()"""


def kit_leftovers(tempdir: Path) -> set[str]:
    """What the kit left in a test's own temporary folder (TMPDIR of the processes it started):
    kernel workspaces, job folders, checker scratch, unpacked checks, owner records."""
    return {p.name for p in tempdir.glob("dropout-kit-*")}


def test_a_kernel_started_ahead_serves_one_student_and_nothing_is_left(tmp_path, reference_answers,
                                                                       release_notebook, own_tempdir):
    marks = samples.assemble(release_notebook, {**reference_answers, "split": reference_answers["split"] + MARKS})
    class_ = {f"student{n}": marks for n in range(1, 4)}
    root = new_class_course(tmp_path / "course", class_)
    done = run_cli("grade", "--course", str(root), "--workers", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert all(r["status"] == "graded" and r["auto_score"] == 15 for r in recorded(root).values())
    paths = CoursePaths.load(root, dropout.ASSIGNMENT)
    started_ahead = 0
    for student in class_:
        graded = nbformat.read(paths.autograded_dir(student) / dropout.NOTEBOOK, as_version=4)
        split = next(c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "split")
        assert "marks found: [] [] []" in "".join(o.get("text", "") for o in split.outputs)
        started_ahead += "a kernel started ahead" in (paths.log_dir / f"{student}.log").read_text()
    assert started_ahead == 2  # all but the first
    assert not kit_leftovers(own_tempdir)


def test_an_unreachable_scheduler_is_reported_within_15_seconds(tmp_path, class_notebooks):
    root = new_class_course(tmp_path / "course", {"reference": class_notebooks["reference"]})
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    done = run_cli("grade", "--course", str(root), "--scheduler", f"tcp://127.0.0.1:{port}")
    assert time.monotonic() - started < 15
    assert done.returncode == 2
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in done.stderr
    assert "nothing was graded" in done.stderr
    assert not CoursePaths.load(root, dropout.ASSIGNMENT).state_file.exists()
    assert dropout.cell_grades(f"sqlite:///{root}/gradebook.db") == {}


def test_a_worker_with_another_kit_refuses_the_payload(tmp_path):
    grader_tests = tmp_path / "grader_tests"
    (grader_tests / "some").mkdir(parents=True)
    (grader_tests / "some" / "test_x.py").write_text("def test_x():\n    pass\n")
    payload = Payload.build({}, tmp_path, grader_tests, "some")
    payload.check_worker("here")
    assert (payload.unpacked() / "some" / "test_x.py").read_text().startswith("def test_x")
    payload.kit_digest = "0" * 64
    with pytest.raises(WorkerMismatch, match="worker there refuses to grade: its dropout-kit"):
        payload.check_worker("there")


def test_ctrl_c_keeps_what_finished_and_the_next_run_grades_the_rest(tmp_path, reference_answers,
                                                                     release_notebook, own_tempdir):
    waits = samples.assemble(release_notebook, waiting(reference_answers))
    quick = samples.assemble(release_notebook, reference_answers)
    root = new_class_course(tmp_path / "course", {"a-quick": quick, "b-waits": waits, "c-waits": waits})
    grading = subprocess.Popen([sys.executable, "-m", "dropout_kit.cli", "grade", "--course", str(root),
                                "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    line = ""
    while "a-quick: graded" not in line:
        line = grading.stdout.readline()
        assert line or grading.poll() is None, grading.stderr.read()
    time.sleep(3)  # a waiting notebook runs, before its wait ends (Dask may have run one before a-quick)
    os.killpg(grading.pid, signal.SIGINT)  # Ctrl-C in the instructor's terminal
    _, stderr = grading.communicate(timeout=120)
    assert grading.returncode == 130, stderr
    assert "run the same command again" in stderr
    finished = set(recorded(root))
    assert "a-quick" in finished and len(finished) < 3
    graded = {s for s, cells in dropout.cell_grades(f"sqlite:///{root}/gradebook.db").items()
              if any(g.auto and g.score is not None for g in cells.values())}
    assert graded == finished
    assert not kit_leftovers(own_tempdir)

    again = run_cli("grade", "--course", str(root), "--workers", "2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{3 - len(finished)} to grade" in again.stdout and f"{len(finished)} unchanged" in again.stdout
    assert {s: r["auto_score"] for s, r in recorded(root).items()} == {"a-quick": 15, "b-waits": 15, "c-waits": 15}
    assert not kit_leftovers(own_tempdir)
