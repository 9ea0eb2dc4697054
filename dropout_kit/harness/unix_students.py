"""Students as real Unix users, handing in through nbgrader's own fetch and submit, as on a
JupyterHub (each submission folder in inbound/ owned by its student). Root only: used by the
grading-on-submission tests and benchmark.

Every user made here carries MARKER in its GECOS field and is the only kind removed.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import nbformat

MARKER = "dropout-kit test student"
# Students run nbgrader from an environment every user can run: the hub's (make test builds
# it); a clone's own environment may be built on a Python under /root.
STUDENT_BIN = Path(os.environ.get("HUB_PREFIX", "/opt/dropout-kit-hub/venv")) / "bin"


@dataclass(frozen=True)
class UnixStudent:
    user: str
    home: Path

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.user).pw_uid

    @property
    def gid(self) -> int:
        return pwd.getpwnam(self.user).pw_gid


class UnixStudents:
    def __init__(self, names: list[str], homes: Path, exchange: Path, course_id: str, assignment: str):
        self.exchange, self.course_id, self.assignment = exchange, course_id, assignment
        homes.mkdir(parents=True, exist_ok=True)
        os.chmod(homes, 0o755)
        self.students = [self._create(name, homes / name) for name in names]

    def _create(self, name: str, home: Path) -> UnixStudent:
        remove_user(name)
        subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--comment", MARKER,
                        "--shell", "/usr/sbin/nologin", name], check=True)
        home.mkdir(parents=True, exist_ok=True)
        student = UnixStudent(name, home)
        os.chown(home, student.uid, student.gid)
        os.chmod(home, 0o700)
        return student

    def remove(self) -> None:
        for student in self.students:
            remove_user(student.user)

    def run(self, student: UnixStudent, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`nbgrader ARGS` as the student, in their home."""
        env = {"HOME": str(student.home), "USER": student.user, "PATH": f"{STUDENT_BIN}:/usr/bin:/bin",
               "LANG": "C.UTF-8"}
        done = subprocess.run([str(STUDENT_BIN / "nbgrader"), *args, f"--Exchange.root={self.exchange}",
                               f"--CourseDirectory.course_id={self.course_id}"],
                              cwd=student.home, env=env, user=student.uid, group=student.gid,
                              extra_groups=[], capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(f"nbgrader {' '.join(args)} as {student.user}: {done.stdout}{done.stderr}")
        return done

    def submit(self, student: UnixStudent, notebook: nbformat.NotebookNode) -> None:
        """Fetch (first time), write the notebook, submit: as the student would in JupyterLab."""
        folder = student.home / self.assignment
        if not folder.exists():
            self.run(student, "fetch_assignment", self.assignment)
        path = folder / f"{self.assignment}.ipynb"
        nbformat.write(notebook, path)
        os.chown(path, student.uid, student.gid)
        self.run(student, "submit", self.assignment)

    def fetch_feedback(self, student: UnixStudent) -> dict[str, Path]:
        """Fetch Feedback; submission timestamp → its feedback page."""
        self.run(student, "fetch_feedback", self.assignment)
        root = student.home / self.assignment / "feedback"
        return {page.parent.name: page for page in sorted(root.glob("*/*.html"))}


def remove_user(name: str) -> None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return
    if MARKER not in entry.pw_gecos:
        raise RuntimeError(f"user {name} exists and is not a test student; choose other names")
    subprocess.run(["pkill", "-KILL", "-u", name], check=False)
    subprocess.run(["userdel", name], check=False, capture_output=True)
    shutil.rmtree(entry.pw_dir, ignore_errors=True)
