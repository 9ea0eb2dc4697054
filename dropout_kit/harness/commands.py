"""Runs nbgrader's own commands (the ones instructors type) from this environment."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dropout_kit.engine.config import path_with_environment_bin

BIN = Path(sys.executable).parent


class CommandFailed(RuntimeError):
    pass


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ with this environment's bin/ first on PATH (nbgrader calls alembic)."""
    env = dict(os.environ)
    env["PATH"] = path_with_environment_bin(env.get("PATH", ""))
    env.update(extra or {})
    return env


def nbgrader(*args: str, cwd: Path, env: dict[str, str] | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    """`nbgrader ARGS` in `cwd`; raises CommandFailed with its log if it fails."""
    done = subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=environment(env),
                          capture_output=True, text=True)
    if check and done.returncode != 0:
        raise CommandFailed(f"nbgrader {' '.join(args)} exited {done.returncode}:\n"
                            f"{done.stdout}{done.stderr}")
    return done
