"""The kit's temporary folders (dropout_kit.tempfolders): a sweep removes what ended processes
left and never a live one's; a grading round stopped by Ctrl-C or SIGTERM leaves nothing.

Every test works in its own temporary folder (tests/conftest.py: own_tempdir), never in the
machine's /tmp, where other graders may run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dropout_assignment as dropout
import pytest
from class_builder import new_class_course

from dropout_kit import tempfolders
from dropout_kit.engine.sandbox_kernel_manager import SINGLE_THREAD_ENV
from dropout_kit.harness import samples
from dropout_kit.harness.commands import BIN, environment

DAY = 24 * 3600

# A process that makes a kit folder, says where, and waits for its stdin to close.
OWNER = """\
import sys
from dropout_kit import tempfolders
print(tempfolders.new_folder("dropout-kit-job-"), flush=True)
sys.stdin.read()
"""


def start_owner() -> tuple[subprocess.Popen, Path]:
    """A live owner (another grader) and the folder it made in this test's temporary folder."""
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    return owner, Path(owner.stdout.readline().strip())


def kit_entries(tempdir: Path) -> list[str]:
    return sorted(p.name for p in tempdir.iterdir() if p.name.startswith("dropout-kit-"))


def test_a_killed_owners_folder_is_swept_with_its_record(own_tempdir):
    owner, folder = start_owner()
    (folder / "submission").mkdir()
    (folder / "submission" / "mark").write_text("left")
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    assert folder.is_dir()
    assert tempfolders.sweep() == [folder]
    assert kit_entries(own_tempdir) == []  # the owner's lock file and the lock folder too


def test_a_live_owners_folder_is_kept_and_removed_by_the_owner_when_it_ends(own_tempdir):
    owner, folder = start_owner()
    try:
        assert tempfolders.sweep() == []
        assert folder.is_dir()
    finally:
        owner.stdin.close()
        owner.wait(timeout=30)
    assert kit_entries(own_tempdir) == []


def test_a_sweep_by_another_process_keeps_this_live_process_folders(own_tempdir):
    """As a sweep by another grader (or another test's round) sees this test's grader."""
    folder = tempfolders.new_folder("dropout-kit-kernel-")
    sweep = "from dropout_kit import tempfolders; print(len(tempfolders.sweep()))"
    done = subprocess.run([sys.executable, "-c", sweep], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0" and folder.is_dir()
    folder.rmdir()


def test_a_forked_child_is_an_owner_of_its_own(own_tempdir):
    parents = tempfolders.new_folder("dropout-kit-job-")
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # ends without clean-up, as a killed process does
        os.write(writing, str(tempfolders.new_folder("dropout-kit-job-")).encode())
        os._exit(0)
    os.close(writing)
    os.waitpid(child, 0)
    childs = Path(os.read(reading, 4096).decode())
    os.close(reading)
    assert tempfolders.owner_of(childs.name) != tempfolders.owner_of(parents.name)
    assert tempfolders.sweep() == [childs]
    assert parents.is_dir()
    parents.rmdir()


def test_folders_without_an_owner_record_go_only_when_a_day_old(own_tempdir):
    old_kit = own_tempdir / "dropout-kit-kernel-abc12_yz"  # made by a kit from before owner records
    (old_kit / "home").mkdir(parents=True)
    fresh_old_kit = own_tempdir / "dropout-kit-job-k2j3h4g5"
    fresh_old_kit.mkdir()
    owner, record_lost = start_owner()
    for lock in own_tempdir.glob("dropout-kit-owners-*/*.lock"):
        lock.unlink()  # a cleaner of /tmp deleted the record
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    assert tempfolders.sweep() == []
    two_days_ago = time.time() - 2 * DAY
    for path in (old_kit / "home", old_kit, record_lost):
        os.utime(path, (two_days_ago, two_days_ago))
    assert sorted(tempfolders.sweep()) == sorted([old_kit, record_lost])
    assert fresh_old_kit.is_dir()


def test_what_a_sweep_cannot_judge_or_should_not_follow_is_left_alone(own_tempdir, tmp_path):
    # A lock folder that is not the account's its name gives: anyone could have put an
    # unlocked file there.
    foreign = own_tempdir / "dropout-kit-owners-54321"
    foreign.mkdir()
    (foreign / "0badc0de.lock").write_text("")
    unjudged = own_tempdir / "dropout-kit-job-u54321.0badc0de-abcdefgh"
    unjudged.mkdir()
    # A link named like a dead owner's folder, to a folder that must survive.
    target = tmp_path / "instructor-files"
    target.mkdir()
    (target / "keep").write_text("keep")
    link = own_tempdir / "dropout-kit-job-u0.0000beef-linklink"
    link.symlink_to(target)
    assert tempfolders.sweep() == []
    assert unjudged.is_dir() and link.is_symlink() and (target / "keep").read_text() == "keep"


def test_a_folder_made_unwritable_inside_is_still_removed(own_tempdir):
    owner, folder = start_owner()
    locked = folder / "submission" / "locked"
    locked.mkdir(parents=True)
    (locked / "file").write_text("x")
    locked.chmod(0)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    assert tempfolders.sweep() == [folder]


# -- a grading round stopped midway --------------------------------------------------------
SLEEPS = "\nimport time\ntime.sleep(90)"


@pytest.fixture(scope="module")
def sleepy_course(tmp_path_factory, reference_answers, release_notebook) -> Path:
    """A course with one collected submission that sleeps in its first graded cell."""
    sleeper = samples.assemble(release_notebook, {**reference_answers, "split": reference_answers["split"] + SLEEPS})
    return new_class_course(tmp_path_factory.mktemp("sleepy") / "course", {"sleeper": sleeper})


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_a_stopped_autograde_leaves_nothing_in_its_temporary_folder(sleepy_course, own_tempdir, stop):
    log_path = own_tempdir.parent / f"{own_tempdir.name}-autograde.log"
    with log_path.open("w") as log:
        grading = subprocess.Popen([str(BIN / "nbgrader"), "autograde", dropout.ASSIGNMENT, "--force"],
                                   cwd=sleepy_course, stdout=log, stderr=subprocess.STDOUT,
                                   env=environment(dict(SINGLE_THREAD_ENV)), start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        # A notebook is being graded (the canary's or the student's): its kernel and checker run.
        while not all(list(own_tempdir.glob(f"dropout-kit-{kind}-*")) for kind in ("kernel", "checker")):
            assert time.monotonic() < deadline and grading.poll() is None, log_path.read_text()
            time.sleep(0.2)
        time.sleep(1)
        if stop == "ctrl-c":
            os.killpg(grading.pid, signal.SIGINT)  # as the terminal sends it
        else:
            grading.terminate()
        grading.wait(timeout=60)
    finally:
        if grading.poll() is None:
            os.killpg(grading.pid, signal.SIGKILL)
            grading.wait()
    assert grading.returncode != 0
    assert kit_entries(own_tempdir) == [], log_path.read_text()[-3000:]
