"""`make hub`'s own program (hub/run.py) started by the test, with bounded waits."""
from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HUB_PREFIX = Path(os.environ.get("HUB_PREFIX", "/opt/dropout-kit-hub/venv"))
HUB_PYTHON = HUB_PREFIX / "bin" / "python"
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 90.0


@dataclass(frozen=True)
class Login:
    user: str
    password: str

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.user).pw_uid

    @property
    def home(self) -> Path:
        return Path(pwd.getpwnam(self.user).pw_dir)


class HubRun:
    """hub/run.py in the background: start, restart (SIGHUP), stop (SIGTERM)."""

    def __init__(self, state: Path, port: int):
        self.state, self.port = state, port
        self.log = state / "run.log"
        self.proc: subprocess.Popen | None = None
        self.logins: dict = {}
        self.start_seconds = 0.0

    def start(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        (self.state / "ready").unlink(missing_ok=True)
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [str(HUB_PYTHON), str(REPO / "hub" / "run.py"), "--state", str(self.state),
             "--port", str(self.port)],
            cwd=REPO, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True)
        self.wait_ready()
        self.start_seconds = time.monotonic() - t0
        self.logins = json.loads((self.state / "logins.json").read_text())

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not (self.state / "ready").exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub/run.py exited ({self.proc.returncode}):\n"
                                   f"{self.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the hub was not ready in {READY_TIMEOUT:.0f} s:\n"
                                   f"{self.log.read_text()[-3000:]}")
            time.sleep(0.3)

    def restart_hub(self) -> None:
        """Stop and start the jupyterhub process alone (servers keep running)."""
        (self.state / "ready").unlink(missing_ok=True)
        os.kill(self.proc.pid, signal.SIGHUP)
        time.sleep(0.5)
        self.wait_ready()

    def stop(self) -> str:
        if self.proc is None or self.proc.poll() is not None:
            return self.log.read_text()
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise TimeoutError(f"hub/run.py did not stop in {STOP_TIMEOUT:.0f} s")
        return self.log.read_text()

    @property
    def url(self) -> str:
        return self.logins["url"]

    @property
    def instructor(self) -> Login:
        return Login(**self.logins["instructor"])

    @property
    def students(self) -> list[Login]:
        return [Login(**s) for s in self.logins["students"]]


def run_as(login: Login, args: list[str], cwd: Path | None = None, timeout: float = 300,
           env: dict | None = None) -> subprocess.CompletedProcess:
    """A command as that person's Unix user, as from their own terminal on the hub."""
    base = {"HOME": str(login.home), "USER": login.user, "LOGNAME": login.user,
            "PATH": f"{HUB_PREFIX / 'bin'}:/usr/bin:/bin", "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1"}  # as in the hub's servers (Spawner.environment)
    pw = pwd.getpwnam(login.user)
    return subprocess.run(args, cwd=cwd or login.home, env={**base, **(env or {})},
                          user=pw.pw_uid, group=pw.pw_gid, extra_groups=[],
                          capture_output=True, text=True, timeout=timeout)
