"""The demo's Unix users: one per person, created and removed by `make hub`.

Every user this module makes carries MARKER in its GECOS field; it never removes a user
without it, so an existing account of the same name is never touched.
"""
import os
import pwd
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MARKER = "dropout-kit hub demo"


@dataclass(frozen=True)
class Person:
    user: str
    password: str
    role: str  # "instructor" or "student"

    @property
    def home(self) -> Path:
        return Path(pwd.getpwnam(self.user).pw_dir)

    @property
    def uid(self) -> int:
        return pwd.getpwnam(self.user).pw_uid

    @property
    def gid(self) -> int:
        return pwd.getpwnam(self.user).pw_gid


def new_people(instructor: str, students: list[str]) -> list[Person]:
    """People with fresh random passwords."""
    people = [Person(instructor, secrets.token_urlsafe(12), "instructor")]
    people += [Person(s, secrets.token_urlsafe(12), "student") for s in students]
    return people


def is_ours(user: str) -> bool:
    try:
        return MARKER in pwd.getpwnam(user).pw_gecos
    except KeyError:
        return False


def exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
        return True
    except KeyError:
        return False


def create(person: Person) -> None:
    """A Unix user with a private home (0700) and the person's password (for PAM)."""
    if exists(person.user):
        if not is_ours(person.user):
            raise SystemExit(f"user {person.user!r} exists and was not made by `make hub`; "
                             "choose other names (HUB_INSTRUCTOR / HUB_STUDENTS)")
        remove(person.user)
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--comment", MARKER,
                    person.user], check=True)
    subprocess.run(["chpasswd"], input=f"{person.user}:{person.password}\n", text=True,
                   check=True)
    os.chmod(person.home, 0o700)


def kill_processes(user: str, timeout: float = 10.0) -> None:
    """End what still runs as `user` (a server the hub could not stop): TERM, then KILL."""
    uid = pwd.getpwnam(user).pw_uid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = processes_of(uid)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while processes_of(uid) and time.monotonic() < deadline:
            time.sleep(0.2)


def processes_of(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except FileNotFoundError:
                pass
    return pids


def remove(user: str) -> None:
    """Remove one of our users, its processes and its home."""
    if not is_ours(user):
        return
    kill_processes(user)
    subprocess.run(["userdel", "--remove", user], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
