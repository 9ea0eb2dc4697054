"""The peer round of tests/test_nbgrader_peer.py: nbgrader's own test modules run through the
kit's engine, started when the session's collection finishes and run beside the other tests
(its tests mostly start kernels and wait for them; conftest.py runs test_nbgrader_peer.py
last, so that the round overlaps with the rest of the session).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import nbgrader

from dropout_kit import engine

MODULE = "test_nbgrader_peer.py"
REPO = Path(__file__).resolve().parent.parent
NBGRADER_TESTS = Path(nbgrader.__file__).resolve().parent / "tests" / "apps"
MODULES = ("test_nbgrader_autograde.py", "test_nbgrader_generate_feedback.py", "test_nbgrader_validate.py")
TIMEOUT = 1800


def subprocess_env(folder: Path) -> dict[str, str]:
    """The environment of the peer suite: the engine as the only global nbgrader config, and
    a temporary folder of its own."""
    env = dict(os.environ)
    env["JUPYTER_CONFIG_DIR"] = str(engine.global_config(folder / "jupyter-config", REPO).parent)
    # nbgrader runs `alembic` and the kernelspec's `python` from PATH.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["DROPOUT_KIT_CACHE"] = str(folder / "cache")
    (folder / "tmp").mkdir(exist_ok=True)
    env["TMPDIR"] = str(folder / "tmp")
    env.pop("PYTEST_ADDOPTS", None)
    return env


def loaded_engine(env: dict[str, str], cwd: Path) -> list[str]:
    """The autograde preprocessors nbgrader reads with `env` (proves the config is injected)."""
    probe = ("from nbgrader.apps.nbgraderapp import NbGraderApp\n"
             "app = NbGraderApp()\napp.load_config_file()\n"
             "print('\\n'.join(app.config.Autograde.autograde_preprocessors))")
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=cwd, capture_output=True,
                          text=True, check=True)
    return done.stdout.split()


@dataclass
class PeerRun:
    engine: list[str]  # the autograde preprocessors nbgrader read in the suite's environment
    report: Path  # pytest's JUnit XML report of nbgrader's tests
    log: str  # their pytest output


class PeerRound:
    def __init__(self):
        self.dest = Path(tempfile.mkdtemp(prefix="dk-nbgrader-peer-"))
        self.error: BaseException | None = None
        self.run: PeerRun | None = None
        self._thread = threading.Thread(target=self._run, name="peer-round", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            env = subprocess_env(self.dest)
            report = self.dest / "report.xml"
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2", f"--junitxml={report}",
                 "-o", "junit_family=xunit1", *(str(NBGRADER_TESTS / m) for m in MODULES)],
                env=env, cwd=self.dest, capture_output=True, text=True, timeout=TIMEOUT)
            self.run = PeerRun(loaded_engine(env, self.dest), report, done.stdout[-6000:] + done.stderr[-3000:])
        except BaseException as error:  # noqa: BLE001 - reported by the test that waits
            self.error = error

    def wait(self) -> PeerRun:
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.run

    def stop(self) -> None:
        self._thread.join()
        shutil.rmtree(self.dest, ignore_errors=True)


_started: PeerRound | None = None


def start_if_selected(items) -> None:
    """pytest_collection_finish: the round starts if test_nbgrader_peer.py is to run."""
    global _started
    if any(item.path.name == MODULE for item in items):
        _started = PeerRound()


def started_round() -> PeerRound:
    return _started if _started is not None else PeerRound()


def stop_started() -> None:
    if _started is not None:
        _started.stop()
