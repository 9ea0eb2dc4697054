"""The peer round of tests/test_nbgrader_peer.py: nbgrader's own test modules run through the
kit's engine, started when the session's collection finishes and run beside the other tests
(its tests mostly start kernels and wait for them; conftest.py runs test_nbgrader_peer.py
last, so that the round overlaps with the rest of the session).
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbgrader
from background_round import BackgroundRound

from dropout_kit import engine

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


class PeerRound(BackgroundRound):
    MODULE = "test_nbgrader_peer.py"
    PREFIX = "dk-nbgrader-peer-"

    def run(self) -> PeerRun:
        env = subprocess_env(self.dest)
        report = self.dest / "report.xml"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2", f"--junitxml={report}",
             "-o", "junit_family=xunit1", *(str(NBGRADER_TESTS / m) for m in MODULES)],
            env=env, cwd=self.dest, capture_output=True, text=True, timeout=TIMEOUT)
        return PeerRun(loaded_engine(env, self.dest), report, done.stdout[-6000:] + done.stderr[-3000:])
