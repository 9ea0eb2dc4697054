"""The SQLite gradebook's lock.

SQLite allows one writer at a time and nbgrader gives up on "database is locked", so with
SQLite the grading workers take turns for everything except running the notebook (the lock
is held around each autograde and released while the kernel executes). It is a flock(2) on a
file beside the grading record: the operating system drops it when its holder dies, so a
worker killed while holding it cannot stall the others, and two `dropout-kit grade` runs on
one gradebook take turns too. PostgreSQL takes concurrent writers as they come.
"""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path


class GradebookLock:
    """The SQLite gradebook's lock (see the module's notes), counting how long this
    process waited for it. Closed, it is released."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        # Not inherited (O_CLOEXEC): a kernel started while it is held must not keep it.
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.waited = 0.0

    def acquire(self) -> None:
        started = time.perf_counter()
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        self.waited += time.perf_counter() - started

    def release(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def released_while_executing(preprocessor, lock: GradebookLock):
    """A subclass of an execution preprocessor that lets other workers use the database
    while this one's kernel runs the notebook."""
    from nbconvert.preprocessors import ExecutePreprocessor
    from traitlets.utils.importstring import import_item

    cls = import_item(preprocessor) if isinstance(preprocessor, str) else preprocessor
    if not (isinstance(cls, type) and issubclass(cls, ExecutePreprocessor)):
        return preprocessor

    class ReleasesDatabaseLock(cls):
        def preprocess(self, nb, resources, *args, **kwargs):
            lock.release()
            try:
                return super().preprocess(nb, resources, *args, **kwargs)
            finally:
                lock.acquire()

    return ReleasesDatabaseLock
