"""A temporary folder of one's own, for a test or a grading round started by a fixture: what
it and the processes it starts leave there is its own, and a sweep there
(dropout_kit.tempfolders) judges nobody else's folders."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def private_tempdir(folder: Path) -> Iterator[Path]:
    """TMPDIR (for the processes started meanwhile) and tempfile.tempdir (for this one) point
    to `folder` while the context lasts."""
    saved_env, saved_tempdir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = tempfile.tempdir = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = saved_tempdir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
