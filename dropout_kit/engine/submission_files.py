"""`SubmissionFiles` and `skip_unsafe_files` (c.Autograde.pre_convert_hook): oversized files
and symbolic links in a submission folder are not copied next to the notebook.
"""
from __future__ import annotations

import glob
import inspect
import os
from pathlib import Path

from traitlets import Integer
from traitlets.config import LoggingConfigurable


class SubmissionFiles(LoggingConfigurable):
    """Limits on the files a submission folder may bring into autograded/."""

    max_file_mb = Integer(20, help="larger submitted files are not copied").tag(config=True)
    max_total_mb = Integer(100, help="files beyond this total are not copied").tag(config=True)

    def unsafe(self, folder: Path, student: str) -> list[Path]:
        """Files of `folder` not to copy: symbolic links, oversized files, overflow."""
        skipped, total = [], 0
        for dirname, dirnames, filenames in os.walk(folder):
            for name in sorted(dirnames):
                if os.path.islink(os.path.join(dirname, name)):
                    self.log.error("Student %s: %s is a symbolic link; not copied", student,
                                   os.path.join(dirname, name))
            for name in sorted(filenames):
                path = Path(dirname) / name
                if path.suffix == ".ipynb":  # nbgrader never copies notebooks
                    continue
                if path.is_symlink():
                    reason = "a symbolic link"
                else:
                    size = path.stat().st_size
                    if size > self.max_file_mb * 1024 * 1024:
                        reason = f"{size / 1024 / 1024:.0f} MB > {self.max_file_mb} MB"
                    elif total + size > self.max_total_mb * 1024 * 1024:
                        reason = f"the folder's files exceed {self.max_total_mb} MB"
                    else:
                        total += size
                        continue
                self.log.error("Student %s: submitted file %s not copied (%s)", student, path, reason)
                skipped.append(path)
        return skipped


def _running_converter():
    """The nbgrader converter calling the hook (nbgrader passes the hook no handle to it)."""
    from nbgrader.converters import BaseConverter

    frame = inspect.currentframe()
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, BaseConverter):
            return candidate
        frame = frame.f_back
    return None


def skip_unsafe_files(assignment=None, student=None, notebooks=(), **_):
    """pre_convert_hook: keeps unsafe submitted files out of autograded/.

    nbgrader copies every non-notebook file of the submission folder, following links,
    and offers no size limit there; its CourseDirectory.ignore globs are matched against
    full paths, so the exact paths of the unsafe files are added to them for this run.
    """
    converter = _running_converter()
    checker = SubmissionFiles(parent=converter)
    for folder in sorted({Path(nb).parent for nb in notebooks}):
        who = folder.parent.name
        unsafe = checker.unsafe(folder, who)
        if unsafe and converter is None:
            checker.log.error("Student %s: cannot keep unsafe files out (no nbgrader converter found)", who)
        elif unsafe:
            coursedir = converter.coursedir
            coursedir.ignore = [*coursedir.ignore, *(glob.escape(str(p)) for p in unsafe)]
