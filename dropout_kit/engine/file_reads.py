"""Which submitted files the graded run read, cell by cell, seen from outside the kernel.

A reviewer's grade of a part applies to what the part's result depended on
(dropout_kit.engine.hold_for_review): the student's cells and the files handed in with the
notebook that the run read before it wrote them. Which files those are is not asked of the
kernel (its code could say anything): the grading process watches the kernel's working
folder with Linux inotify, which the kernel's code can neither see nor switch off, and
drains the events after every cell.

A file counts as read in the cell where its first event is a read (opened and read, or
opened and not yet closed: a memory map reads without further events); a file whose first
event is a write (created, truncated, written, moved or deleted) was written by the run
itself, and what was handed in under that name never reached it. If the kernel reads so
much that the event queue overflows, every submitted file counts as read from that cell on.
Where inotify is unavailable (another OS) the same holds from the first cell: every
submitted file is part of every fingerprint, which can only clear a review, never keep one.

Only the folders handed in are watched (subfolders the run creates hold what it wrote).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import os
import struct
from pathlib import Path

IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE = 0x1, 0x2, 0x4, 0x8
IN_CLOSE_NOWRITE, IN_OPEN, IN_MOVED_FROM, IN_MOVED_TO = 0x10, 0x20, 0x40, 0x80
IN_CREATE, IN_DELETE, IN_Q_OVERFLOW, IN_ISDIR = 0x100, 0x200, 0x4000, 0x40000000
IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000
READS = IN_ACCESS | IN_CLOSE_NOWRITE
WRITES = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
MASK = READS | WRITES | IN_OPEN
EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then the name, NUL-padded
UNWATCHED = -1  # the cell index for "from before the first cell": nothing was watched


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1, libc.inotify_add_watch  # noqa: B018 - present on Linux only
        return libc
    except (OSError, AttributeError):
        return None


def submitted_files(folder: Path) -> dict[str, str]:
    """Relative path → sha256 of every file in `folder` (links and notebooks left out, as
    nbgrader and the kit leave them out of what the kernel sees)."""
    found = {}
    for dirname, _, filenames in os.walk(folder):
        for name in filenames:
            path = Path(dirname) / name
            if path.suffix == ".ipynb" or path.is_symlink() or not path.is_file():
                continue
            digest = hashlib.sha256()
            with open(path, "rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
            found[str(path.relative_to(folder))] = digest.hexdigest()
    return found


class FileReads:
    """Watches `folder` (the kernel's working folder, holding the submitted files) from now on."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.submitted = submitted_files(folder)
        self.first_read: dict[str, int] = {}  # relative path → index of the cell that first read it
        self.written: set[str] = set()  # written by the run before any read
        self._opened: set[str] = set()  # opened, not yet known for what
        self._all_read_from: int | None = None
        self._dirs: dict[int, str] = {}
        self._fd = -1
        libc = _libc()
        if libc is None:
            self._all_read_from = UNWATCHED
            return
        self._fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            self._all_read_from = UNWATCHED
            return
        for dirname, dirnames, _ in os.walk(folder):
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirname, d))]
            wd = libc.inotify_add_watch(self._fd, os.fsencode(dirname), MASK)
            if wd < 0:
                self._all_read_from = UNWATCHED
                break
            relative = os.path.relpath(dirname, folder)
            self._dirs[wd] = "" if relative == "." else relative

    def after_cell(self, index: int) -> None:
        """Attributes what happened since the last call to cell `index`."""
        for wd, mask, name in self._events():
            if mask & IN_Q_OVERFLOW:
                self._all_read_from = index if self._all_read_from is None else self._all_read_from
                continue
            if mask & IN_ISDIR or wd not in self._dirs or not name:
                continue
            path = os.path.join(self._dirs[wd], name) if self._dirs[wd] else name
            if path in self.first_read or path in self.written:
                continue
            if mask & READS:
                self.first_read[path] = index
            elif mask & WRITES:
                self.written.add(path)
                self._opened.discard(path)
            elif mask & IN_OPEN:
                self._opened.add(path)
        for path in self._opened:  # opened, never read nor written: mapped, or still open
            self.first_read.setdefault(path, index)
        self._opened.clear()

    def as_data(self) -> dict:
        """What was seen, as data for later steps (see read_through)."""
        return {"submitted": dict(self.submitted), "first_read": dict(self.first_read),
                "all_read_from": self._all_read_from}

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _events(self):
        while self._fd >= 0:
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno == errno.EINTR:
                    continue
                raise
            offset = 0
            while offset + EVENT.size <= len(data):
                wd, mask, _, length = EVENT.unpack_from(data, offset)
                offset += EVENT.size
                name = data[offset:offset + length].rstrip(b"\0")
                offset += length
                yield wd, mask, os.fsdecode(name)


def read_through(data: dict | None, index: int) -> dict[str, str]:
    """Submitted files the run read in cells up to `index` (before writing them), from
    FileReads.as_data(): relative path → sha256 of what was handed in. No data (a run the
    kit did not watch): nothing is known to have been read."""
    if not data:
        return {}
    submitted, all_from = data.get("submitted", {}), data.get("all_read_from")
    if all_from is not None and all_from <= index:
        return dict(submitted)
    first_read = data.get("first_read", {})
    return {path: digest for path, digest in submitted.items() if first_read.get(path, index + 1) <= index}
