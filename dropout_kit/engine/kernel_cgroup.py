"""Each grading kernel in cgroups of its own (its own process limit, a low CPU weight), and
niced: grading kernels neither starve one another of processes nor people of the CPU.

RLIMIT_NPROC counts every process of a Unix user, so kernels graded at the same moment under
one account share it: a fork bomb in one submission kept the others from starting threads.
Here every kernel gets a fresh child cgroup under a parent (`KernelCgroups.parent_cgroup`):

    <mount>/dropout-kit/                  cpu weight of all grading together (cpu.shares, cpu.weight)
    <mount>/dropout-kit/kernel-<pid>-<n>/ one kernel: pids.max = SandboxKernelManager.max_processes

with cgroup v1 (one mount per controller, e.g. /sys/fs/cgroup/pids and /sys/fs/cgroup/cpu)
or v2 (one mount, usually /sys/fs/cgroup), whichever holds the controller. The kernel's
outermost launched process moves itself in (`entering_command`, a `sh` in front of the
sandbox) before it starts anything, so bubblewrap, the kernel and everything the student's
code forks inherit the cgroup; nothing inside the sandbox can reach the cgroup files. The
child is emptied (SIGKILL) and removed when the kernel ends; children of processes that
died without removing theirs are removed when a grading process first uses the parent.

The parent must be writable by the account nbgrader runs as: root creates it; for an
instructor, root prepares it at boot with `delegate(parent, user)` (or `python -m
dropout_kit.engine.kernel_cgroup delegate USER`). With cgroup v2 a process may only move
between cgroups whose common ancestor it may write, so a non-root grading process must
itself run inside the delegated subtree: in `<parent>/service`, which `delegate` makes, or
in a systemd service with Delegate=yes and DelegateSubgroup=, the parent then given from the
process's own cgroup (e.g. "../kernels"). When nothing works the grading goes on as before
(the shared RLIMIT_NPROC), with one warning.

Every sandboxed process of grading (kernels, the checker) also runs `nice` steps nicer
(`lower_priority_command`, SandboxKernelManager.nice), with its session's autogroup; that
alone is advisory (student code can start a new session), the cpu cgroup is not.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from traitlets import Bool, Integer, List, Unicode
from traitlets.config import LoggingConfigurable

CONTROLLERS = ("pids", "cpu")
DEFAULT_PARENT = "dropout-kit"
DEFAULT_CPU_WEIGHT = 20  # cgroup v2 scale: 100 is an ordinary process or service
SERVICE_CGROUP = "service"  # cgroup v2: where a delegated user's grading process runs
CHILD_NAME = re.compile(r"kernel-(\d+)-(\w+)$")
PROC = Path("/proc")

# The kernel's outermost process moves itself into each cgroup.procs given before "--",
# then becomes the sandbox. A failed move is not fatal: the kernel still starts (with the
# shared RLIMIT_NPROC) and the manager warns.
ENTER_SCRIPT = 'while [ "$1" != -- ]; do { echo $$ >"$1"; } 2>/dev/null; shift; done; shift; exec "$@"'

_sequence = itertools.count()


@dataclass(frozen=True)
class Hierarchy:
    """One mounted cgroup hierarchy, with the controllers of CONTROLLERS it provides."""
    mount: Path
    version: int
    controllers: tuple[str, ...]
    own: str  # this process's cgroup in it, e.g. "/" or "/system.slice/grader.service"

    def resolve(self, parent: str) -> Path:
        """`parent` from the hierarchy's root, or from this process's own cgroup when it
        starts with ./ or ../ (a delegated systemd service)."""
        if parent.startswith(("./", "../")):
            relative = os.path.normpath(os.path.join(self.own, parent))
        else:
            relative = os.path.normpath("/" + parent)
        return self.mount / relative.lstrip("/")

    def cgroup_of(self, proc_cgroup: str) -> Path | None:
        """Where in this hierarchy a process is, from its /proc/<pid>/cgroup text."""
        for line in proc_cgroup.splitlines():
            number, names, path = line.split(":", 2)
            mine = number == "0" and not names if self.version == 2 else self.controllers[0] in names.split(",")
            if mine:
                return self.mount / path.lstrip("/")
        return None

    def delegated_files(self) -> tuple[str, ...]:
        """What the owner of a delegated cgroup must be able to write besides the directory."""
        if self.version == 1:
            return ("cgroup.procs", "tasks")
        return ("cgroup.procs", "cgroup.subtree_control", "cgroup.threads")


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per v1 controller, and "" for the v2 hierarchy."""
    own = {}
    for line in (PROC / "self" / "cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            own[name] = path
    return own


def hierarchies() -> dict[str, Hierarchy]:
    """The hierarchy holding each of CONTROLLERS that is mounted here (v1 first)."""
    own = _own_cgroups()
    found: dict[str, Hierarchy] = {}
    unified = None
    for line in (PROC / "self" / "mountinfo").read_text().splitlines():
        fields, _, after = line.partition(" - ")
        parts, after_parts = fields.split(), after.split()
        if len(parts) < 5 or len(after_parts) < 3:
            continue
        mount, fstype, options = Path(parts[4]), after_parts[0], after_parts[2].split(",")
        if fstype == "cgroup":
            names = tuple(name for name in CONTROLLERS if name in options)
            if names and not any(name in found for name in names):  # a mount seen twice: the first
                hierarchy = Hierarchy(mount, 1, names, own.get(names[0], "/"))
                found.update(dict.fromkeys(names, hierarchy))
        elif fstype == "cgroup2" and unified is None:
            try:
                available = (mount / "cgroup.controllers").read_text().split()
            except OSError:
                continue
            names = tuple(name for name in CONTROLLERS if name in available)
            unified = Hierarchy(mount, 2, names, own.get("", "/")) if names else None
    if unified is not None:
        found.update({name: unified for name in unified.controllers if name not in found})
    return found


def cpu_setting(hierarchy: Hierarchy, weight: int) -> tuple[str, str]:
    """The file and value that give a cgroup `weight` (v2 scale, 100 = default)."""
    if hierarchy.version == 1:
        return "cpu.shares", str(max(2, weight * 1024 // 100))
    return "cpu.weight", str(min(10000, max(1, weight)))


def _write(path: Path, text: str) -> None:
    with open(path, "w") as file:
        file.write(text)


def _enable_controllers(hierarchy: Hierarchy, cgroup: Path, names: tuple[str, ...]) -> None:
    """cgroup v2: `names` made available to `cgroup`'s children, enabling them on the way
    down from the highest ancestor this process may write (best effort)."""
    if hierarchy.version != 2:
        return
    chain = [cgroup, *cgroup.parents]
    chain = list(reversed(chain[: chain.index(hierarchy.mount) + 1])) if hierarchy.mount in chain else [cgroup]
    for level in chain:
        for name in names:
            try:
                _write(level / "cgroup.subtree_control", f"+{name}")
            except OSError:
                pass


def _processes(cgroup: Path) -> list[int]:
    try:
        return [int(pid) for pid in (cgroup / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _kill_all(cgroup: Path) -> None:
    """SIGKILL to every process left in `cgroup` (a forked child that outlived its kernel)."""
    if (cgroup / "cgroup.kill").exists():
        try:
            _write(cgroup / "cgroup.kill", "1")
            return
        except OSError:
            pass
    for _ in range(20):  # a fork loop refills what is killed until its parent is gone
        pids = _processes(cgroup)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _try_rmdir(cgroup: Path) -> bool:
    try:
        cgroup.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def _remove_now(cgroup: Path, seconds: float = 2.0) -> bool:
    _kill_all(cgroup)
    deadline = time.monotonic() + seconds
    while not _try_rmdir(cgroup):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_children(parent: Path) -> list[Path]:
    """Removes the kernel cgroups whose grading process is gone; the ones removed."""
    removed = []
    try:
        children = [child for child in parent.iterdir() if child.is_dir()]
    except OSError:
        return removed
    for child in children:
        match = CHILD_NAME.match(child.name)
        if match and not _alive(int(match.group(1))) and _remove_now(child, seconds=0.5):
            removed.append(child)
    return removed


@dataclass
class KernelCgroup:
    """The cgroups of one kernel (one per hierarchy), until `remove`."""
    children: dict[Hierarchy, Path]

    def entering_command(self) -> list[str]:
        """The command prefix that starts the kernel inside these cgroups."""
        sh = shutil.which("sh") or "/bin/sh"
        return [sh, "-c", ENTER_SCRIPT, "dropout-kit-cgroup",
                *(str(child / "cgroup.procs") for child in self.children.values()), "--"]

    def admit(self, pid: int) -> None:
        """Moves process `pid` (a kernel forked from the template) into these cgroups."""
        for child in self.children.values():
            _write(child / "cgroup.procs", str(pid))

    def holds(self, proc_cgroup: str) -> bool:
        """Whether the process of this /proc/<pid>/cgroup text is in every one of them."""
        return all(hierarchy.cgroup_of(proc_cgroup) == child for hierarchy, child in self.children.items())

    def holds_process(self, pid: int) -> bool:
        try:
            return self.holds((PROC / str(pid) / "cgroup").read_text())
        except OSError:
            return False

    async def remove(self, seconds: float = 3.0) -> bool:
        """Kills what is left in the cgroups and removes them (False: one is still busy)."""
        deadline = time.monotonic() + seconds
        left = list(self.children.values())
        while True:
            for child in left:
                _kill_all(child)
            left = [child for child in left if not _try_rmdir(child)]
            if not left or time.monotonic() > deadline:
                return not left
            await asyncio.sleep(0.02)


@dataclass(frozen=True)
class Prepared:
    """The parents this process places kernels under, per working controller."""
    parents: dict[Hierarchy, Path]
    controllers: frozenset[str]
    problems: tuple[str, ...]


_prepared: dict[tuple, Prepared] = {}


class KernelCgroups(LoggingConfigurable):
    """Where grading kernels get their cgroups (see the module docstring)."""

    enabled = Bool(True, help="put each grading kernel in cgroups of its own").tag(config=True)
    parent_cgroup = Unicode(DEFAULT_PARENT, help="the parent cgroup of the kernels' cgroups, from the root of "
                     "each cgroup hierarchy, or from this process's own cgroup when it starts with ./ "
                     "or ../ (a systemd service with Delegate=yes)").tag(config=True)
    controllers = List(Unicode(), default_value=list(CONTROLLERS),
                       help="pids (a process limit per kernel), cpu (grading's CPU weight)").tag(config=True)
    cpu_weight = Integer(DEFAULT_CPU_WEIGHT, help="CPU weight of all grading kernels together on the "
                         "cgroup v2 scale (100: an ordinary process; cpu.shares = weight × 10.24 on v1); "
                         "0 leaves the parent's weight as it is").tag(config=True)

    def prepared(self) -> Prepared:
        """The parents, made and checked once per process (stale children removed)."""
        key = (self.enabled, self.parent_cgroup, tuple(self.controllers), self.cpu_weight)
        if key not in _prepared:
            _prepared[key] = self._prepare()
        return _prepared[key]

    @property
    def limits_processes(self) -> bool:
        """Whether every kernel gets its own pids.max (so RLIMIT_NPROC need not be the limit)."""
        return "pids" in self.prepared().controllers

    def place(self, pids_max: int) -> KernelCgroup | None:
        """Fresh cgroups for one kernel (None when no controller works here)."""
        prepared = self.prepared()
        return self._place(prepared.parents, pids_max if "pids" in prepared.controllers else None)

    def _place(self, parents: dict[Hierarchy, Path], pids_max: int | None) -> KernelCgroup | None:
        if not parents:
            return None
        name = f"kernel-{os.getpid()}-{next(_sequence)}"
        children: dict[Hierarchy, Path] = {}
        try:
            for hierarchy, parent in parents.items():
                children[hierarchy] = parent / name
                children[hierarchy].mkdir()
                if pids_max is not None and "pids" in hierarchy.controllers:
                    _write(children[hierarchy] / "pids.max", str(pids_max))
        except OSError as error:
            for child in children.values():
                _try_rmdir(child)
            self.log.warning("Kernel cgroup %s not made (%s): this kernel shares its user's process limit",
                             name, error)
            return None
        return KernelCgroup(children)

    def _prepare(self) -> Prepared:
        if not self.enabled:
            return Prepared({}, frozenset(), ())
        wanted = tuple(name for name in CONTROLLERS if name in self.controllers)
        try:
            found = hierarchies()
        except OSError as error:
            found, reason = {}, f"cannot read /proc/self: {error}"
        else:
            reason = "not mounted"
        parents: dict[Hierarchy, Path] = {}
        working: set[str] = set()
        problems = []
        for name in wanted:
            hierarchy = found.get(name)
            if hierarchy is None:
                problems.append(f"no {name} cgroup controller here ({reason})")
                continue
            parent = hierarchy.resolve(self.parent_cgroup)
            trouble = self._prepare_parent(hierarchy, parent, name)
            if trouble:
                problems.append(f"{name} controller: {trouble}")
                continue
            parents[hierarchy] = parent
            working.add(name)
        if parents:
            trouble = self._probe(parents)
            if trouble:
                return Prepared({}, frozenset(), (*problems, trouble))
        return Prepared(parents, frozenset(working), tuple(problems))

    def _prepare_parent(self, hierarchy: Hierarchy, parent: Path, name: str) -> str | None:
        """Makes `parent` usable for `name`; the problem when it is not."""
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            return f"cannot create {parent} ({error.strerror})"
        _enable_controllers(hierarchy, parent, (name,))
        if hierarchy.version == 2:
            try:
                enabled = (parent / "cgroup.subtree_control").read_text().split()
            except OSError:
                enabled = []
            if name not in enabled:
                return f"{parent} does not pass the {name} controller to its children (cgroup.subtree_control)"
        if not os.access(parent, os.W_OK) or not os.access(parent / "cgroup.procs", os.W_OK):
            return f"{parent} is not writable by {pwd.getpwuid(os.geteuid()).pw_name}"
        if name == "cpu" and self.cpu_weight > 0:
            file, value = cpu_setting(hierarchy, self.cpu_weight)
            try:
                if (parent / file).read_text().strip() != value:
                    _write(parent / file, value)
            except OSError as error:
                self.log.info("Kernel cgroups: %s left as it is (%s)", parent / file, error.strerror)
        removed = remove_stale_children(parent)
        if removed:
            self.log.info("Kernel cgroups: removed %d left by ended grading runs in %s", len(removed), parent)
        return None

    def _probe(self, parents: dict[Hierarchy, Path]) -> str | None:
        """Whether a process started here really moves into a kernel cgroup (cgroup v2 also
        asks for write access to the common ancestor of where it is and where it goes)."""
        placement = self._place(parents, pids_max=None)
        if placement is None:
            return "kernel cgroups cannot be made"
        try:
            done = subprocess.run([*placement.entering_command(), "cat", "/proc/self/cgroup"],
                                  capture_output=True, text=True, timeout=30)
            moved = placement.holds(done.stdout)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            moved = False
        finally:
            for child in placement.children.values():
                _remove_now(child)
        if not moved:
            return (f"a process of {pwd.getpwuid(os.geteuid()).pw_name} cannot move into "
                    f"{', '.join(str(p) for p in parents.values())} (with cgroup v2 the grading process "
                    "must itself be in the delegated subtree)")
        return None


def delegate(parent: str, user: str, cpu_weight: int = DEFAULT_CPU_WEIGHT) -> list[Path]:
    """Root, at every boot (cgroups do not outlive one; calling it again changes nothing):
    makes `parent` in the hierarchy of each controller (CONTROLLERS), sets its CPU weight
    (which the delegated user must not change) and hands it to `user` (the directory and the
    files a delegated cgroup's owner writes). With cgroup v2 it also makes `<parent>/service`,
    the cgroup the grading process of `user` must be started in (see the module docstring).
    The cgroups made."""
    entry = pwd.getpwnam(user)

    def hand_over(hierarchy: Hierarchy, path: Path) -> None:
        os.chown(path, entry.pw_uid, entry.pw_gid)
        for name in hierarchy.delegated_files():
            if (path / name).exists():
                os.chown(path / name, entry.pw_uid, entry.pw_gid)

    made = []
    for hierarchy in dict.fromkeys(hierarchies().values()):
        path = hierarchy.resolve(parent)
        path.mkdir(parents=True, exist_ok=True)
        _enable_controllers(hierarchy, path, hierarchy.controllers)
        if "cpu" in hierarchy.controllers and cpu_weight > 0:
            file, value = cpu_setting(hierarchy, cpu_weight)
            _write(path / file, value)
        hand_over(hierarchy, path)
        made.append(path)
        if hierarchy.version == 2:
            (path / SERVICE_CGROUP).mkdir(exist_ok=True)
            hand_over(hierarchy, path / SERVICE_CGROUP)
            made.append(path / SERVICE_CGROUP)
    return made


# Runs just before the kernel's program, after bubblewrap's setsid. With autogroup scheduling
# (kernel.sched_autogroup_enabled) the processes of a session share one weight against other
# sessions, so a niced kernel in a session of its own gains nothing unless its session's
# nice (/proc/self/autogroup) is raised too. Linux allows an unprivileged process that write
# once per 100 ms on the whole machine, hence the few tries.
PRIORITY_SCRIPT = ('n=$1; nice=$2; shift 2; if [ -e /proc/self/autogroup ]; then '
                   'for _ in 1 2 3 4 5 6 7 8 9 10; do { echo "$n" >/proc/self/autogroup; } 2>/dev/null '
                   '&& break; sleep 0.1; done; fi; exec "$nice" -n "$n" "$@"')


def lower_priority_command(nice: int) -> list[str]:
    """The command prefix that runs a kernel `nice` steps nicer, its session too."""
    if nice <= 0:
        return []
    return [shutil.which("sh") or "/bin/sh", "-c", PRIORITY_SCRIPT, "dropout-kit-nice", str(nice),
            shutil.which("nice") or "nice"]


def main(argv: list[str]) -> int:
    """python -m dropout_kit.engine.kernel_cgroup delegate USER [PARENT]  (as root)"""
    if len(argv) not in (2, 3) or argv[0] != "delegate":
        print(main.__doc__, file=sys.stderr)
        return 2
    for path in delegate(argv[2] if len(argv) == 3 else DEFAULT_PARENT, argv[1]):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
