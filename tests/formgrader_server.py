"""A real Jupyter server with nbgrader's formgrader and the kit's extension, on a course
folder, as an instructor runs it on their own machine (the hub test covers the hub)."""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

JUPYTER = Path(sys.executable).parent / "jupyter"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FormgraderServer:
    """`jupyter server` started in `course` (its nbgrader_config.py is the formgrader's),
    with a home of its own: nothing from the machine's ~/.jupyter."""

    def __init__(self, course: Path, home: Path):
        self.course, self.home = course, home
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / "server.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "FormgraderServer":
        self.home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "HOME": str(self.home), "JUPYTER_CONFIG_DIR": str(self.home / ".jupyter"),
               "JUPYTER_RUNTIME_DIR": str(self.home / "runtime")}
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [str(JUPYTER), "server", "--no-browser", "--allow-root", f"--port={self.port}",
                 "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={self.token}",
                 f"--ServerApp.root_dir={self.course}"],
                cwd=self.course, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2)
                return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"jupyter server did not start:\n{self.log.read_text()[-3000:]}")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def open(self, page, path: str):
        """`path` in `page`, logged in first through Jupyter's login form (a cookie, so
        that the page's own requests are logged in too); the page's response."""
        if not any(cookie["name"].startswith("username-") for cookie in page.context.cookies()):
            page.goto(f"{self.url}/login")
            page.fill("input[name=password]", self.token)
            page.click("#login_submit")
            page.wait_for_load_state()
        return page.goto(f"{self.url}/{path.lstrip('/')}")
