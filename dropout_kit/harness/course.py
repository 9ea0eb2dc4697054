"""A course directory and its exchange, driven with nbgrader's own commands the way an
instructor and students would on JupyterHub (students named with --student)."""
from __future__ import annotations

import datetime
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.harness.commands import nbgrader

# What a course directory needs from this repository.
COURSE_FILES = ("nbgrader_config.py", "source", "grader_tests")


def copy_course(repo_root: Path, dest: Path) -> Path:
    """A fresh course directory at `dest` with the repository's config, source and checks."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in COURSE_FILES:
        src = repo_root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy2(src, dest / name)
    return dest


@dataclass
class Course:
    root: Path
    exchange: Path
    assignment: str
    course_id: str = ""  # default: the course configuration's

    def __post_init__(self):
        self.exchange.mkdir(parents=True, exist_ok=True)
        self.exchange.chmod(0o777)
        if not self.course_id:
            self.course_id = CoursePaths.load(self.root, self.assignment).course_id

    @property
    def notebook(self) -> str:
        return f"{self.assignment}.ipynb"

    @property
    def _exchange_args(self) -> list[str]:
        return [f"--Exchange.root={self.exchange}", f"--CourseDirectory.course_id={self.course_id}"]

    def instructor(self, command: str, *args: str):
        return nbgrader(command, *args, *self._exchange_args, cwd=self.root)

    def student(self, student_id: str, home: Path, command: str, *args: str):
        """A student's command, in their own home (nbgrader keeps a submission cache there)."""
        home.mkdir(parents=True, exist_ok=True)
        return nbgrader(command, *args, *self._exchange_args, f"--student={student_id}",
                        cwd=home, env={"HOME": str(home)})

    # -- the weekly steps -------------------------------------------------------------
    def release(self) -> None:
        self.instructor("generate_assignment", self.assignment, "--force")
        self.instructor("release_assignment", self.assignment, "--force")

    def hand_in(self, student_id: str, home: Path, notebook: nbformat.NotebookNode | None) -> Path:
        """Student side: fetch the assignment, put `notebook` in place (None: as released), submit."""
        self.student(student_id, home, "fetch_assignment", self.assignment)
        path = home / self.assignment / self.notebook
        if notebook is not None:
            nbformat.write(notebook, path)
        self.student(student_id, home, "submit", self.assignment)
        return path

    def grade(self) -> None:
        self.instructor("collect", self.assignment, "--update")
        self.instructor("autograde", self.assignment, "--force")
        self.instructor("generate_feedback", self.assignment, "--force")

    def return_feedback(self) -> None:
        self.instructor("release_feedback", self.assignment)

    def fetch_feedback(self, student_id: str, home: Path) -> list[Path]:
        self.student(student_id, home, "fetch_feedback", self.assignment)
        return sorted((home / self.assignment / "feedback").rglob("*.html"))

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"

    def feedback_file(self, student_id: str) -> Path:
        return self.root / "feedback" / student_id / self.assignment / f"{self.assignment}.html"


def place_submission(course_root: Path, student: str, notebook, *, assignment: str,
                     when: datetime.datetime | None = None, filename: str | None = None) -> Path:
    """Puts a submission where `nbgrader collect` leaves it: submitted/<student>/<assignment>/
    with the notebook (a NotebookNode, or raw text) and timestamp.txt."""
    folder = Path(course_root) / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (filename or f"{assignment}.ipynb")
    if isinstance(notebook, str):
        path.write_text(notebook, encoding="utf-8")
    else:
        nbformat.write(notebook, path)
    stamp = when or datetime.datetime.now(datetime.timezone.utc)
    (folder / "timestamp.txt").write_text(stamp.strftime("%Y-%m-%d %H:%M:%S.%f %Z"), encoding="utf-8")
    return path
