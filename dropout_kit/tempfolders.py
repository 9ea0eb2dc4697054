"""The kit's folders in the temporary folder, and the sweep that removes those of ended runs.

Every folder the kit makes in the temporary folder (tempfile.gettempdir()) comes from
`new_folder`: the kernels' workspaces and working copies, the checker server's scratch, a
Dask job's folder, a worker's unpacked checks, the canary's folder. A process removes its
folders when done with them, and whatever it still owns when it ends normally (Ctrl-C
included, and SIGTERM for the grading commands: process_exit.stop_on_sigterm). A
process killed outright (SIGKILL, the OOM killer, a Dask worker whose nanny died) leaves its
folders behind: `sweep` removes the folders whose owner has ended. It runs at the start and
at the end of every grading round (`dropout-kit grade`, each Dask worker's first task,
`nbgrader autograde`).

Owner: the process that made the folder, named in the folder's name,
dropout-kit-<what>-u<uid>.<owner id>-<random>. It holds an flock-ed lock file,
<tmp>/dropout-kit-owners-<uid>/<owner id>.lock, from before its first folder until it ends; the
operating system drops the lock when the process dies, however it dies. A sweep that can take the lock
knows the owner has ended. Chosen over a pid and its start time from /proc, because a lock
  - is not fooled by a reused pid, nor by pid namespaces: a grader in a container, or one
    seen from another container that shares the temporary folder, has pids this /proc does
    not show (or shows as someone else);
  - needs no /proc (macOS has flock too).
An owner id is random and made with O_EXCL, so it never names two live processes; a forked
child gets an id of its own at its first folder.

Where the owner record lives: not in the folder, which the sandboxed kernel or checker may
write (it is their working folder or home, handed to their account when nbgrader runs as
root), but in its name (the temporary folder is sticky: only the folder's owner or root may
rename it) and in a lock folder that only the owner's account can write (0700, checked
before it is trusted). A sandboxed process does not see it (namespaces) or cannot write it
(another account). Without namespaces and as the grading account itself (mode rlimits or
off, nbgrader not run as root), student code can do whatever that account can: see the
README's threat model.

A sweep never touches a folder whose owner lives, nor what it cannot judge (a lock folder or
file it cannot read, or one not owned by the account the folder's name gives) or remove
(another account's folder, unless the sweep runs as root), nor anything but a real folder (a
symbolic link is left alone). Folders without an owner record — made by a kit from before
this module, or whose lock file was deleted (a cleaner of /tmp) — cannot be judged, but
leaving them forever is what this module is against: they are removed once nothing in them
changed for a day (STALE_SECONDS), far longer than the grading of one submission
(c.SafeExecute.notebook_timeout is 15 minutes). The one folder of an older kit that a live
process may leave unchanged that long is an idle Dask worker's checker scratch (the checker
server's log, and its home without namespaces): that worker's next checks may fail.
"""
from __future__ import annotations

import fcntl
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from dropout_kit.process_exit import on_process_exit

PREFIX = "dropout-kit-"
OWNERS_PREFIX = "dropout-kit-owners-"  # + the owner's uid
STALE_SECONDS = 24 * 3600
# How many entries of an unrecorded folder are looked at for its last change; a bigger one
# is left alone (judging it would cost more than it saves).
STALE_SCAN_LIMIT = 10_000
# <prefix>u<uid>.<owner id>-<mkdtemp's random part>
OWNED_NAME = re.compile(r"-u(\d+)\.([0-9a-f]{8})-[a-z0-9_]+$")

_log = logging.getLogger(__name__)


@dataclass
class _Owner:
    parent: str  # the temporary folder the owner's folders are made in
    uid: int
    id: str
    lock: Path
    fd: int  # open and flock-ed while this process lives
    pid: int

    @property
    def tag(self) -> str:
        return f"u{self.uid}.{self.id}"


_registry_lock = threading.Lock()
_current: dict[str, _Owner] = {}  # temporary folder → this process's owner there
_held: list[_Owner] = []  # every owner this process registered (an id is replaced if its record is lost)
_warned_untrusted: set[str] = set()


def new_folder(prefix: str, dir: str | os.PathLike | None = None) -> Path:  # noqa: A002 - mkdtemp's name
    """A new folder, as tempfile.mkdtemp(prefix=prefix, dir=dir) makes it (private to this
    account, in the temporary folder by default), named after this process as its owner.
    `prefix` should start with "dropout-kit-" (only those are swept)."""
    parent = os.path.abspath(dir if dir is not None else tempfile.gettempdir())
    owner = _owner_in(parent)
    tag = f"{owner.tag}-" if owner is not None else ""
    return Path(tempfile.mkdtemp(prefix=prefix + tag, dir=parent))


def sweep(log: logging.Logger | None = None, tempdir: str | os.PathLike | None = None) -> list[Path]:
    """Removes the kit's folders in `tempdir` (the temporary folder) whose owner process has
    ended, and those without an owner record that are stale (see the module docstring).
    Returns the folders removed."""
    log = log or _log
    parent = os.path.abspath(tempdir if tempdir is not None else tempfile.gettempdir())
    mine = _own_tags(parent)
    verdicts: dict[tuple[int, str], str] = {}
    kept: set[tuple[int, str]] = set()  # owners with a folder left: their lock file stays
    removed: list[Path] = []
    for folder in _kit_folders(parent):
        try:
            info = os.lstat(folder)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or not _may_remove(info):
            continue
        owner = owner_of(folder.name)
        if owner is not None and f"u{owner[0]}.{owner[1]}" in mine:
            continue
        if owner is not None and owner not in verdicts:
            verdicts[owner] = _judge(parent, *owner)
        verdict = verdicts[owner] if owner is not None else UNRECORDED
        if verdict == ENDED or (verdict == UNRECORDED and _stale(folder)):
            if _remove(folder):
                removed.append(folder)
                log.debug("removed %s (%s)", folder, "its owner ended" if verdict == ENDED else "stale")
                continue
        if owner is not None:
            kept.add(owner)
    _forget_ended_owners(parent, mine, kept)
    if removed:
        log.info("Removed %d folder(s) that ended grading processes left in %s", len(removed), parent)
    return removed


_swept_at_exit: set[str] = set()


def sweep_now_and_at_exit(log: logging.Logger | None = None) -> None:
    """For a grading round that lasts as long as this process (`nbgrader autograde`): a sweep
    of the temporary folder now, and another when the process ends. Only the first call per
    temporary folder does anything."""
    parent = os.path.abspath(tempfile.gettempdir())
    with _registry_lock:
        if parent in _swept_at_exit:
            return
        _swept_at_exit.add(parent)
    sweep(log, parent)
    on_process_exit(lambda: sweep(None, parent))


def owner_of(name: str) -> tuple[int, str] | None:
    """(uid, owner id) a kit folder's name records, or None (a folder made without one)."""
    found = OWNED_NAME.search(name)
    return (int(found.group(1)), found.group(2)) if found else None


# -- verdicts -------------------------------------------------------------------------------
ENDED, ALIVE, UNKNOWN, UNRECORDED = "ended", "alive", "unknown", "unrecorded"


def _owners_folder(parent: str, uid: int) -> Path:
    return Path(parent) / f"{OWNERS_PREFIX}{uid}"


def _trusted(info: os.stat_result, uid: int, kind: int) -> bool:
    """A lock folder or file that only `uid` (or root) can have made or changed."""
    return stat.S_IFMT(info.st_mode) == kind and info.st_uid == uid and not info.st_mode & 0o022


def _judge(parent: str, uid: int, owner_id: str) -> str:
    """ENDED, ALIVE, UNKNOWN (cannot tell: leave its folders alone) or UNRECORDED."""
    folder = _owners_folder(parent, uid)
    try:
        if not _trusted(os.lstat(folder), uid, stat.S_IFDIR):
            return UNKNOWN
    except FileNotFoundError:
        return UNRECORDED
    except OSError:
        return UNKNOWN
    try:
        fd = os.open(folder / f"{owner_id}.lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return UNRECORDED
    except OSError:
        return UNKNOWN
    try:
        if not _trusted(os.fstat(fd), uid, stat.S_IFREG):
            return UNKNOWN
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return ALIVE
        except OSError:
            return UNKNOWN
        return ENDED
    finally:
        os.close(fd)  # releases the lock if taken


def _forget_ended_owners(parent: str, mine: set[str], kept: set[tuple[int, str]]) -> None:
    """Deletes the lock files of ended owners that have no folder left (holding the lock
    while doing so), then the lock folders left empty."""
    uid = os.geteuid()
    folders = [_owners_folder(parent, uid)]
    if uid == 0:
        folders = sorted(Path(parent).glob(f"{OWNERS_PREFIX}*"))
    for folder in folders:
        try:
            owner_uid = int(folder.name.removeprefix(OWNERS_PREFIX))
            if not _trusted(os.lstat(folder), owner_uid, stat.S_IFDIR):
                continue
            locks = sorted(folder.glob("*.lock"))
        except (ValueError, OSError):
            continue
        for lock in locks:
            owner_id = lock.name.removesuffix(".lock")
            if f"u{owner_uid}.{owner_id}" in mine or (owner_uid, owner_id) in kept:
                continue
            _delete_if_unlocked(lock)
        try:
            folder.rmdir()  # only when empty; an owner that registers meanwhile makes it again
        except OSError:
            pass


def _delete_if_unlocked(lock: Path) -> None:
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if _same_file(lock, fd):
            lock.unlink()
    except OSError:
        pass
    finally:
        os.close(fd)


def _same_file(path: Path, fd: int) -> bool:
    try:
        on_disk, held = os.lstat(path), os.fstat(fd)
    except OSError:
        return False
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def _kit_folders(parent: str) -> list[Path]:
    try:
        names = sorted(entry.name for entry in os.scandir(parent))
    except OSError:
        return []
    return [Path(parent) / name for name in names
            if name.startswith(PREFIX) and not name.startswith(OWNERS_PREFIX)]


def _may_remove(info: os.stat_result) -> bool:
    return os.geteuid() in (0, info.st_uid)


def _stale(folder: Path) -> bool:
    """Nothing in `folder` changed for STALE_SECONDS (False when that cannot be told)."""
    unreadable: list[OSError] = []
    try:
        newest, seen = os.lstat(folder).st_mtime, 0
        for root, dirs, files in os.walk(folder, onerror=unreadable.append):
            for name in dirs + files:
                seen += 1
                if seen > STALE_SCAN_LIMIT:
                    return False
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
    except OSError:
        return False
    return not unreadable and time.time() - newest > STALE_SECONDS


def _remove(folder: Path) -> bool:
    """Removes `folder` (never following symbolic links); True if it is gone."""
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return False
    except FileNotFoundError:
        return True
    except OSError:
        return False
    shutil.rmtree(folder, ignore_errors=True)
    if os.path.lexists(folder) and os.geteuid() != 0:
        # Student code running as the grading account (a user namespace maps it there) can
        # make a folder of its own unreadable or unwritable: open them up, try once more.
        _open_up(folder)
        shutil.rmtree(folder, ignore_errors=True)
    return not os.path.lexists(folder)


OPEN_UP_DEPTH = 64


def _open_up(folder: Path) -> None:
    """chmod 0700 on `folder` and the folders in it, never through a symbolic link."""
    try:
        parent = os.open(folder.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        _open_up_in(parent, folder.name, OPEN_UP_DEPTH)
    finally:
        os.close(parent)


def _open_up_in(parent_fd: int, name: str, depth: int) -> None:
    try:  # fchmodat without following: a folder swapped for a link meanwhile is refused
        os.chmod(name, 0o700, dir_fd=parent_fd, follow_symlinks=False)
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
    except (OSError, ValueError, NotImplementedError):
        return
    try:
        if depth > 0:
            for entry in os.scandir(fd):
                if entry.is_dir(follow_symlinks=False):
                    _open_up_in(fd, entry.name, depth - 1)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- this process as an owner ---------------------------------------------------------------
def _own_tags(parent: str) -> set[str]:
    with _registry_lock:
        return {owner.tag for owner in _held if owner.parent == parent and owner.pid == os.getpid()}


def _owner_in(parent: str) -> _Owner | None:
    """This process's owner record in `parent`, registered at its first folder there (and
    again if the record was deleted); None if no trusted record can be kept there."""
    with _registry_lock:
        owner = _current.get(parent)
        if owner is not None and _same_file(owner.lock, owner.fd):
            return owner
        owner = _register(parent)
        if owner is None:
            _current.pop(parent, None)
            return None
        _current[parent] = owner
        _held.append(owner)
        return owner


def _register(parent: str) -> _Owner | None:
    uid = os.geteuid()
    folder = _owners_folder(parent, uid)
    for _ in range(10):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
        except OSError:
            return None
        try:
            trusted = _trusted(os.lstat(folder), uid, stat.S_IFDIR)
        except FileNotFoundError:  # removed by a sweep while empty
            continue
        if not trusted:
            _warn_untrusted(folder)
            return None
        owner_id = secrets.token_hex(4)
        lock = folder / f"{owner_id}.lock"
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except (FileExistsError, FileNotFoundError):  # the id is taken, or the folder was just removed
            continue
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a sweep holds it for a moment: it takes the file for an ended owner's
            os.close(fd)
            continue
        if not _same_file(lock, fd):  # a sweep deleted it before the lock was ours
            os.close(fd)
            continue
        return _Owner(parent, uid, owner_id, lock, fd, os.getpid())
    return None


def _warn_untrusted(folder: Path) -> None:
    if str(folder) not in _warned_untrusted:
        _warned_untrusted.add(str(folder))
        _log.warning("%s is not a folder that only this account can write: the kit's temporary "
                     "folders are made without an owner record (a sweep removes them only when "
                     "they are a day old). Remove it if nobody should have made it.", folder)


def _remove_own_folders() -> None:
    """At the end of this process: its folders that are left, then its lock files."""
    with _registry_lock:
        owners = [owner for owner in _held if owner.pid == os.getpid()]
        _held.clear()
        _current.clear()
    for owner in owners:
        for folder in _kit_folders(owner.parent):
            if owner_of(folder.name) == (owner.uid, owner.id):
                _remove(folder)
        if _same_file(owner.lock, owner.fd):
            try:
                owner.lock.unlink()
            except OSError:
                pass
        os.close(owner.fd)
        try:
            owner.lock.parent.rmdir()
        except OSError:
            pass


def _forget_after_fork() -> None:
    """A forked child is an owner of its own (its parent's lock stays the parent's: closing
    the child's copy of the descriptor does not release it)."""
    global _registry_lock
    _registry_lock = threading.Lock()
    for owner in _held:
        try:
            os.close(owner.fd)
        except OSError:
            pass
    _held.clear()
    _current.clear()
    _swept_at_exit.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
# Registered at import, before the clean-up of whatever works in these folders (kernels,
# the checker server), so that it runs after it.
on_process_exit(_remove_own_folders)
