"""Where nbgrader keeps a course's files, read from the course's own configuration exactly
as `cd COURSE; nbgrader autograde ASSIGNMENT` reads it."""
from __future__ import annotations

import contextlib
import glob
import os
from dataclasses import dataclass
from pathlib import Path


@contextlib.contextmanager
def working_directory(path: Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def environment_kept():
    """Undoes what loading a course config does to os.environ (nbgrader_config.py sets the
    hidden checks' folder and PATH for its grading kernels): a process that reads several
    courses' configs must not hand one course's settings to another's workers."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def load_autograde_app(course_root: Path, assignment: str):
    """nbgrader's `autograde` application configured as `cd COURSE; nbgrader autograde
    ASSIGNMENT` would be: Jupyter config paths, then the course's nbgrader_config.py
    (which may set environment variables for the kernels, as in `nbgrader autograde`)."""
    from nbgrader.apps import AutogradeApp

    with working_directory(course_root):
        app = AutogradeApp()
        app.initialize([assignment])
    app.coursedir.assignment_id = assignment
    return app


@dataclass(frozen=True)
class CoursePaths:
    """Where nbgrader keeps things for this course (read from its configuration)."""
    root: Path
    assignment: str
    db_url: str
    course_id: str
    submitted: str
    autograded: str

    @classmethod
    def from_app(cls, app) -> "CoursePaths":
        coursedir = app.coursedir
        return cls(Path(coursedir.root), coursedir.assignment_id, coursedir.db_url, coursedir.course_id,
                   coursedir.submitted_directory, coursedir.autograded_directory)

    @classmethod
    def load(cls, course_root: Path, assignment: str) -> "CoursePaths":
        with environment_kept():
            return cls.from_app(load_autograde_app(course_root, assignment))

    def submission_dir(self, student: str) -> Path:
        return self.root / self.submitted / student / self.assignment

    def autograded_dir(self, student: str) -> Path:
        return self.root / self.autograded / student / self.assignment

    @property
    def kit_dir(self) -> Path:
        """The kit's own records, beside nbgrader's autograded/ (hidden: not a student)."""
        return self.root / self.autograded / ".dropout-kit"

    @property
    def state_file(self) -> Path:
        return self.kit_dir / f"{self.assignment}-grading.json"

    @property
    def log_dir(self) -> Path:
        return self.kit_dir / "logs" / self.assignment

    def students(self) -> list[str]:
        """Students with a collected submission holding at least one notebook."""
        pattern = str(self.root / self.submitted / "*" / self.assignment)
        return sorted(Path(folder).parent.name for folder in glob.glob(pattern)
                      if any(Path(folder).glob("*.ipynb")))
