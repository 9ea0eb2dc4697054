"""Fixtures shared by the project's tests: scratch courses driven by nbgrader's commands."""
from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import dropout_assignment as dropout
import on_submission_round
import pytest
from audit_round import AuditRound
from peer_round import PeerRound
from private_tempdir import private_tempdir

from dropout_kit.harness import samples
from dropout_kit.harness.course import Course, copy_course

REPO = Path(__file__).resolve().parent.parent

# Started in the background by a non-interactive shell (`.ci/run &`), pytest inherits SIGINT
# ignored, and so would every process the tests start: an ignored SIGINT survives exec, and
# Python then installs no KeyboardInterrupt. The tests that press Ctrl-C need it as a terminal
# delivers it.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The second assignment's hidden checks are course files, not tests of this project.
collect_ignore = ["second_assignment"]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def reference_answers() -> dict[str, str]:
    return samples.reference_answers(dropout.source_notebook(REPO))


@pytest.fixture(scope="session")
def release_notebook() -> Path:
    return dropout.release_notebook(REPO)


@pytest.fixture
def new_course(tmp_path):
    """A factory of scratch courses (the repository's config, source and checks)."""
    def make(name: str = "course") -> Course:
        return Course(copy_course(REPO, tmp_path / name), tmp_path / f"{name}-exchange", dropout.ASSIGNMENT)
    return make


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium for a module's tests that open pages (a context per page); closed
    with the module: Playwright's sync API allows one running instance at a time (the hub
    test starts its own)."""
    from hub import browser
    if not Path(browser.CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/system-packages.sh --tests)")
    launched = browser.Chromium()
    yield launched
    launched.close()


@pytest.fixture(autouse=True)
def own_tempdir(tmp_path_factory) -> Iterator[Path]:
    """This test's own temporary folder (TMPDIR and tempfile.tempdir while it runs): tests
    look for what grading left there, never in the machine's /tmp."""
    with private_tempdir(tmp_path_factory.mktemp("tmp")) as folder:
        yield folder


# Rounds that start when the session's tests are collected and run beside them: mostly
# kernels starting and waiting, they fill the cores that the tests in between leave idle.
BACKGROUND_ROUNDS = (on_submission_round, AuditRound, PeerRound)


def pytest_collection_modifyitems(session, config, items) -> None:
    """The modules that read a background round run last (in their usual order), so that their
    rounds overlap with the rest of the session instead of being waited for at its start."""
    waiting = {round_.MODULE for round_ in BACKGROUND_ROUNDS}
    items.sort(key=lambda item: item.path.name in waiting)  # stable: each group keeps its order


def pytest_collection_finish(session) -> None:
    if not session.config.option.collectonly:
        for round_ in BACKGROUND_ROUNDS:
            round_.start_if_selected(session.items)


def pytest_sessionfinish(session, exitstatus) -> None:
    for round_ in BACKGROUND_ROUNDS:
        round_.stop_started()
