"""A grading round asks no machine for more kernel memory than it has
(dropout_kit.cluster.memory): each kernel may grow to c.SandboxKernelManager.memory_limit_mb,
and a worker runs its submission's kernel and one started ahead."""
from __future__ import annotations

import dropout_assignment as dropout
import nbformat
import pytest
from class_builder import new_class_course, run_cli
from traitlets.config import Config

from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.cluster import memory


def test_a_worker_counts_its_kernel_and_the_one_started_ahead():
    assert memory.local_workers(2, 2, 4096, machine_mb=16_385) == (2, "")
    with pytest.raises(memory.NotEnoughMemory) as refused:
        memory.local_workers(2, 2, 4096, machine_mb=16_384)
    assert str(refused.value).startswith("--workers 2 would run up to 4 grading kernels at once")
    assert "this machine has 16384 MB of memory. Use --workers 1 or fewer, or lower " \
           "c.SandboxKernelManager.memory_limit_mb" in str(refused.value)


def test_the_default_of_one_worker_per_core_is_lowered_to_what_memory_holds():
    workers, note = memory.local_workers(None, 8, 4096, machine_mb=20_000)
    assert workers == 2
    assert note.startswith("note: 2 worker(s), not one per core (8)")


def test_a_small_machine_still_grades_with_one_worker_and_a_warning():
    for requested in (None, 1):
        workers, note = memory.local_workers(requested, 4, 4096, machine_mb=6_000)
        assert workers == 1 and note.startswith("warning: one worker runs up to 2 grading kernels")


def test_kernels_without_a_sandbox_have_no_limit_to_add_up():
    config = Config()
    config.SandboxKernelManager.mode = "off"
    assert memory.kernel_memory_mb(config) is None
    assert memory.local_workers(64, 2, None, machine_mb=1_000) == (64, "")
    assert memory.kernel_memory_mb(Config()) == 4096  # SandboxKernelManager's default


class FakeCluster:
    """Two worker processes on a 16 GB machine, one on a big one."""

    machines = {"tcp://a:1": ("small", 16_000), "tcp://a:2": ("small", 16_000), "tcp://b:1": ("big", 64_000)}

    def run(self, function):
        return self.machines

    def nthreads(self):
        return dict.fromkeys(self.machines, 1)


def test_each_machine_of_a_dask_cluster_is_checked_on_its_own():
    memory.check_cluster(FakeCluster(), 2048)
    with pytest.raises(memory.NotEnoughMemory) as refused:
        memory.check_cluster(FakeCluster(), 4096)
    message = str(refused.value)
    assert "small runs 2 worker process(es) with 2 thread(s): up to 4 grading kernels" in message
    assert "16384 MB in all, but it has 16000 MB" in message and "big" not in message


def test_grade_refuses_more_workers_than_the_machine_holds_before_grading(tmp_path, release_notebook):
    root = new_class_course(tmp_path / "course", {"someone": nbformat.read(release_notebook, as_version=4)})
    done = run_cli("grade", "--course", str(root), "--workers", "1000")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "dropout-kit grade: --workers 1000 would run up to 2000 grading kernels at once" in done.stderr
    assert "nothing was graded" in done.stderr
    assert not CoursePaths.load(root, dropout.ASSIGNMENT).state_file.exists()
