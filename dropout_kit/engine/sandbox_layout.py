"""What a sandboxed process sees: bubblewrap's arguments for a file system of the system's
read-only runtime, this Python environment and the paths it is given, and whether
bubblewrap works here. Used by the grading kernels and the checker
(sandbox_kernel_manager.py) and by the kernel template (kernel_template.py)."""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

# What of /etc a Python kernel needs (dynamic linker, users, time zone, alternatives).
ETC_FILES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "passwd",
    "group", "nsswitch.conf", "alternatives", "mime.types", "fonts", "ssl",
)
SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")


def launch_kept(popen_args: dict) -> subprocess.Popen:
    """subprocess.Popen(**popen_args) from a thread that lives as long as the process: a
    sandbox ends its processes when the *thread* that started it ends (bubblewrap's
    --die-with-parent is PR_SET_PDEATHSIG), and the threads of an event loop's executor come
    and go (asyncio.run ends its executor's threads)."""
    launched: list = []
    ready = threading.Event()

    def keeper():
        try:
            launched.append(subprocess.Popen(**popen_args))
        except BaseException as error:  # noqa: BLE001 - raised in the caller's thread
            launched.append(error)
            return
        finally:
            ready.set()
        launched[0].wait()

    threading.Thread(target=keeper, name="dropout-kit-sandbox-keeper", daemon=True).start()
    ready.wait()
    if isinstance(launched[0], BaseException):
        raise launched[0]
    return launched[0]


@functools.lru_cache(maxsize=None)
def kernel_sys_path() -> tuple[str, ...]:
    """sys.path of a fresh `python -I` of this environment: what the kernel imports from.
    (This process's own sys.path may hold more, e.g. course folders added by tools.)"""
    done = subprocess.run([sys.executable, "-I", "-c", "import json, sys; print(json.dumps(sys.path))"],
                          capture_output=True, text=True, cwd="/", timeout=60, check=True)
    return tuple(json.loads(done.stdout))


def python_runtime_paths() -> list[Path]:
    """Directories a python of this environment needs to read: interpreter, stdlib and
    site-packages. Not the kit's own source tree (an editable install lives in a clone of the
    course, next to its grader_tests/): the kernel gets the agent's source sent in, and the
    checker process is given the package folder alone."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent}
    for entry in kernel_sys_path():
        if entry and os.path.isabs(entry) and os.path.exists(entry):
            paths.add(Path(entry))
    resolved = set()
    for path in paths:
        resolved.add(path)
        resolved.add(path.resolve())
    return sorted(resolved)


def is_within(path: Path, ancestor: Path) -> bool:
    return path == ancestor or ancestor in path.parents


@dataclass
class BwrapLayout:
    """The file system the kernel sees, as bubblewrap arguments."""
    read_only: list[Path]
    writable: list[Path]
    workdir: Path
    tmp_size_mb: int
    hidden_roots: list[Path] = field(default_factory=list)
    user_namespace: bool = True
    # A writable path → where the sandbox shows it (by default, at its own path).
    shown_at: dict[Path, Path] = field(default_factory=dict)
    # The kernel template's sandbox (engine/kernel_template.py): its forks may make one more
    # level of namespaces, and when root it keeps what they need to (then they drop it all).
    nested_namespaces: bool = False
    empty_dirs: list[Path] = field(default_factory=list)

    TEMPLATE_CAPABILITIES = ("CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETFCAP")

    def visible_read_only(self) -> list[Path]:
        """Read-only paths, minus any that would expose a hidden root (the course itself)."""
        kept = []
        for path in self.read_only:
            if not path.exists():
                continue
            if any(is_within(hidden, path) for hidden in self.hidden_roots):
                continue
            kept.append(path)
        return kept

    def args(self) -> list[str]:
        args = [shutil.which("bwrap") or "bwrap",
                "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent", "--new-session",
                "--hostname", "grader"]
        if self.user_namespace:
            args += ["--unshare-user"] if self.nested_namespaces else ["--unshare-user", "--disable-userns"]
        else:
            kept = self.TEMPLATE_CAPABILITIES if self.nested_namespaces else ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")
            args += ["--cap-drop", "ALL"]
            for capability in kept:
                args += ["--cap-add", capability]
        symlinks, mounts = [], []
        for name in SYSTEM_DIRS:
            host = Path("/") / name
            if host.is_symlink():
                symlinks += ["--symlink", os.readlink(host), str(host)]
            elif host.is_dir():
                mounts.append((host, "--ro-bind"))
        mounts += [(Path("/etc") / name, "--ro-bind") for name in ETC_FILES
                   if (Path("/etc") / name).exists()]
        if Path("/sys/devices/system/cpu").is_dir():  # torch reads the CPU topology
            mounts.append((Path("/sys/devices/system/cpu"), "--ro-bind"))
        mounts += [(p, "--ro-bind") for p in self.visible_read_only()]
        mounts += [(p, "--bind") for p in self.writable]
        mounts += [(p, "--dir") for p in self.empty_dirs]
        mounts = [(self.shown_at.get(path, path), path, kind) for path, kind in mounts]  # (inside, source, kind)
        args += symlinks
        args += ["--proc", "/proc", "--dev", "/dev",
                 "--perms", "1777", "--size", str(self.tmp_size_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        # bubblewrap would create missing parents as 0700 root-owned directories.
        created: set[Path] = {Path("/"), Path("/tmp"), Path("/proc"), Path("/dev")}
        mounted: list[Path] = []
        for path, source, kind in sorted(mounts, key=lambda m: str(m[0])):
            for parent in reversed(path.parents):
                if parent not in created and not any(is_within(parent, m) for m in mounted):
                    args += ["--perms", "0755", "--dir", str(parent)]
                    created.add(parent)
            args += [kind, str(path)] if kind == "--dir" else [kind, str(source), str(path)]
            mounted.append(path)
        args += ["--remount-ro", "/", "--chdir", str(self.shown_at.get(self.workdir, self.workdir)), "--"]
        return args


@functools.lru_cache(maxsize=None)
def namespaces_available(user_namespace: bool) -> tuple[bool, str]:
    """Whether bubblewrap can build a sandbox here; with the reason when it cannot."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False, "bubblewrap (bwrap) is not installed"
    probe = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--die-with-parent",
             "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    if user_namespace:
        probe += ["--unshare-user", "--disable-userns"]
    try:
        done = subprocess.run([*probe, "--", "true"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"bwrap could not run: {error}"
    if done.returncode != 0:
        return False, f"bwrap failed: {done.stderr.strip() or done.returncode}"
    return True, ""
