"""The grading kernel in a sandbox: a kernel manager for nbgrader's Execute step.

`nbgrader autograde` runs every student's code with the instructor's rights in the
course directory. `SandboxKernelManager` starts the kernel instead as

    bwrap [namespaces, a private file system view]  (when user namespaces work)
      setpriv [an unprivileged uid]                  (only when nbgrader runs as root)
        prlimit [memory, processes, files, CPU, file size]
          <this environment's python> -I -m ipykernel_launcher -f <connection file>

A Python kernel is, by default, not started this way but forked from a kernel template that
has imported torch, matplotlib and ipykernel once per grading process, inside a sandbox of its
own, each fork entering namespaces, limits and cgroups like those below before anything of a
student runs (dropout_kit/engine/kernel_template.py; c.SandboxKernelManager.fork_kernels).

The kernel is the one the notebook names, looked up as stock nbgrader does (NoSuchKernel
when it is not installed). A Python kernel is always this environment's python (above); a
kernel of another language runs its own program, in the same sandbox and limits.

Inside bubblewrap the kernel sees the system's read-only runtime (/usr, this Python,
this environment), its working directory (writable) and a small private /tmp. Its working
directory is a scratch copy of the submission's folder in the temporary folder, made by
SafeExecute (dropout_kit.engine.kernel_lifecycle.scratch_copy; a Dask job's own folder on a
worker), never autograded/<student>/<assignment>/ itself: nothing the student's code
writes reaches the instructor's report or the feedback. The copy is shown to the kernel at
the path of the folder it copies (`workdir_shown`), so that relative paths mean what they
mean in stock nbgrader. The course (grader_tests/,
gradebook.db, submitted/, autograded/, feedback/, release/, source/), the exchange and
home directories do not exist there. The checker process
(dropout_kit.engine.broker) is started in the same kind of sandbox by `confinement`, with the
kit's package and grader_tests/ read-only and nothing writable.
There is no network: only a loopback interface of its own. nbgrader reaches the kernel
over ZeroMQ's IPC transport, through Unix sockets in a per-kernel directory that is
the only thing the two sides share.

Modes (c.SandboxKernelManager.mode):
  auto        namespaces when bubblewrap works here, otherwise rlimits (with a warning)
  namespaces  namespaces or fail
  rlimits     resource limits and a scrubbed environment only (no isolation)
  off         the plain kernel (still this environment's python)

Why setpriv when root: Linux never applies RLIMIT_NPROC to uid 0, so a fork loop would
only be bounded by the machine. An ordinary instructor account needs nothing of the sort.

Isolation from other kernels and from people (dropout_kit.engine.kernel_cgroup): where a
pids cgroup is writable, each kernel starts in cgroups of its own (`sh` moves itself in
before the sandbox starts), with pids.max = max_processes for that kernel alone, and the
user's RLIMIT_NPROC becomes a high backstop (max_user_processes); all grading together gets
a low CPU weight (KernelCgroups.cpu_weight). Every sandboxed process (kernel, checker) runs
`nice` steps nicer.
"""
from __future__ import annotations

import asyncio
import functools
import os
import pwd
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.asyncio
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, CaselessStrEnum, Integer, List, Unicode, default

from dropout_kit import tempfolders
from dropout_kit.engine.kernel_cgroup import KernelCgroup, KernelCgroups, lower_priority_command
from dropout_kit.engine.kernel_template import PRELOADED, ForkPlan, SandboxProvisioner, TemplatePlan
from dropout_kit.engine.sandbox_layout import BwrapLayout, is_within, namespaces_available, python_runtime_paths

MODES = ("auto", "namespaces", "rlimits", "off")

# Environment variables a kernel may inherit from nbgrader; everything else (tokens,
# database URLs, the instructor's paths) stays outside.
PASSED_ENV = (
    "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "TZ",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ATEN_CPU_CAPABILITY",
    "PYTHONHASHSEED", "MPLBACKEND", "NBGRADER_EXECUTION",
)
PASSED_ENV_PREFIXES = ("DROPOUT_KIT_",)
# Set by the sandbox itself (c.SandboxKernelManager.threads), whoever started nbgrader.
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
SINGLE_THREAD_ENV = dict.fromkeys(THREAD_ENV, "1")

SANDBOX_HOME = "/tmp"


_warned: set[str] = set()
_cgroup_moves_failed: list[bool] = []


def warn_once(log, message: str, *args) -> None:
    """A warning per grading run, not per kernel (one starts per submission)."""
    text = message % args if args else message
    if text not in _warned:
        _warned.add(text)
        log.warning(text)


def course_python_kernelspec() -> KernelSpec:
    """This environment's python as an IPython kernel, whatever kernelspecs are installed.

    -I keeps the working directory (the student's folder) off sys.path while the kernel
    starts, so a submitted `ipykernel_launcher.py` cannot replace the kernel. Interrupts
    go as messages over the control channel: a signal would hit bubblewrap, not python.
    """
    return KernelSpec(
        argv=[sys.executable, "-I", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="Python 3 (dropout-kit grading)",
        language="python",
        interrupt_mode="message",
        metadata={},
        env={},
    )


def runs_course_python(spec: KernelSpec) -> bool:
    """Whether a notebook's kernelspec asks for Python: the kit grades it in this
    environment's python (course_python_kernelspec), whichever python the spec names."""
    return (spec.language or "").lower() == "python"


def kernelspec_paths(spec: KernelSpec) -> list[Path]:
    """What a kernel of another language needs to read besides the system: its kernelspec
    folder and the environment of its program (the folder above its bin/)."""
    paths = [Path(spec.resource_dir)] if spec.resource_dir else []
    program = shutil.which(spec.argv[0]) if spec.argv else None
    if program:
        paths.append(Path(os.path.realpath(program)).parent.parent)
    return paths


@dataclass
class Limits:
    memory_mb: int
    processes: int
    open_files: int
    cpu_seconds: int
    file_size_mb: int

    def prlimit(self) -> list[str]:
        mib = 1024 * 1024
        return [
            shutil.which("prlimit") or "prlimit",
            f"--as={self.memory_mb * mib}",
            f"--nproc={self.processes}",
            f"--nofile={self.open_files}",
            f"--cpu={self.cpu_seconds}",
            f"--fsize={self.file_size_mb * mib}",
            "--core=0",
            "--",
        ]

    def rlimits(self) -> dict[str, int]:
        """The same limits for a forked kernel, which sets them itself (resource names)."""
        mib = 1024 * 1024
        return {"RLIMIT_AS": self.memory_mb * mib, "RLIMIT_NPROC": self.processes,
                "RLIMIT_NOFILE": self.open_files, "RLIMIT_CPU": self.cpu_seconds,
                "RLIMIT_FSIZE": self.file_size_mb * mib, "RLIMIT_CORE": 0}


@dataclass(frozen=True)
class Identity:
    """The unprivileged account a root-run nbgrader hands the kernel to."""
    uid: int
    gid: int
    name: str

    def setpriv(self) -> list[str]:
        return [shutil.which("setpriv") or "setpriv", f"--reuid={self.uid}", f"--regid={self.gid}",
                "--clear-groups", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]


def identity_for(user: str) -> Identity | None:
    """Who the kernel runs as when nbgrader is root (None: nbgrader is not root)."""
    if os.geteuid() != 0 or not user:
        return None
    entry = pwd.getpwnam(user)
    if entry.pw_uid == 0:
        return None
    return Identity(entry.pw_uid, entry.pw_gid, entry.pw_name)


@functools.lru_cache(maxsize=None)
def can_run_python_as(identity: Identity) -> bool:
    """Whether `identity` can start this environment's python outside a sandbox
    (it cannot when python lives in a private home such as /root/.pyenv)."""
    try:
        probe = [*identity.setpriv(), shutil.which("prlimit") or "prlimit", "--",
                 sys.executable, "-I", "-c", "import asyncio, ipykernel"]
        done = subprocess.run(probe,
                              capture_output=True, cwd="/", timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def kernel_environment(home: str, tmp: str) -> dict[str, str]:
    """The kernel's environment: a short list passed from nbgrader, the rest fixed."""
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    env.update({k: v for k, v in os.environ.items() if k.startswith(PASSED_ENV_PREFIXES)})
    env.update({
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": home,
        "TMPDIR": tmp,
        "MPLCONFIGDIR": os.path.join(tmp, "matplotlib"),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


def single_threaded(env: dict[str, str], threads: int) -> dict[str, str]:
    """`env` with the math libraries' thread counts set (0 leaves them as they are)."""
    if threads > 0:
        env.update({name: str(threads) for name in THREAD_ENV})
    return env


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """Hands `root` and what lies in it to uid:gid, never following symbolic links."""
    os.chown(root, uid, gid, follow_symlinks=False)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            try:
                os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)
            except FileNotFoundError:
                pass


class SandboxKernelManager(AsyncKernelManager):
    """Starts each grading kernel sandboxed and limited (see the module docstring)."""

    mode = CaselessStrEnum(MODES, default_value="auto",
                           help="auto, namespaces, rlimits or off").tag(config=True)
    memory_limit_mb = Integer(4096, help="address space of each kernel process (RLIMIT_AS)").tag(config=True)
    max_processes = Integer(256, help="processes and threads of one kernel (its pids cgroup's pids.max; "
                                      "without one, RLIMIT_NPROC: of all kernels of its user)").tag(config=True)
    max_user_processes = Integer(4096, help="RLIMIT_NPROC while every kernel has its own pids cgroup: "
                                            "a backstop for all processes of the kernels' user").tag(config=True)
    nice = Integer(10, help="how much nicer than nbgrader grading kernels run, so that people "
                            "working on the machine keep the CPU (0: as nbgrader)").tag(config=True)
    max_open_files = Integer(1024, help="open files per process (RLIMIT_NOFILE)").tag(config=True)
    cpu_time_limit = Integer(3600, help="CPU seconds per kernel process (RLIMIT_CPU)").tag(config=True)
    max_file_size_mb = Integer(256, help="largest file the kernel may write (RLIMIT_FSIZE)").tag(config=True)
    tmp_size_mb = Integer(256, help="size of the kernel's private /tmp").tag(config=True)
    read_only_paths = List(Unicode(), help="course paths the kernel may read, e.g. grader_tests/").tag(config=True)
    course_root = Unicode("", help="never made visible as a whole (only the paths above and "
                                   "the student's own folder)").tag(config=True)
    max_message_mb = Integer(64, help="largest ZeroMQ message nbgrader accepts from the kernel "
                                      "(a bigger one drops the connection)").tag(config=True)
    threads = Integer(1, help="torch/OpenMP/MKL threads per kernel (0: the libraries' default, one "
                              "per core: kernels started together then oversubscribe the cores)").tag(config=True)
    run_as_user = Unicode("nobody", help="account the kernel runs as when nbgrader runs as root "
                                         "(empty: stay root, no process limit)").tag(config=True)
    fork_kernels = Bool(True, help="fork each Python kernel from a template that imported torch, matplotlib "
                                   "and ipykernel once per grading process (namespaces mode only; "
                                   "dropout_kit/engine/kernel_template.py)").tag(config=True)
    template_imports = List(Unicode(), default_value=list(PRELOADED),
                            help="what the kernel template imports before it forks kernels").tag(config=True)

    # Set by the caller before the start (SafeExecute): where the sandbox shows the kernel its
    # working directory, e.g. the autograded folder that directory is a scratch copy of, so
    # that paths relative to it mean what they mean in stock nbgrader (with namespaces only;
    # nothing is written there: the copy is what is bound).
    workdir_shown: Path | None = None

    _workspace: Path | None = None
    _launch_prefix: list[str] = []
    _launch_env: dict[str, str] | None = None
    _identity: Identity | None = None
    _handed_over: tuple[Path, int, int] | None = None
    _cgroup: KernelCgroup | None = None
    fork_plan: ForkPlan | None = None  # this launch's, when the kernel is forked from a template

    @default("context")
    def _context_default(self) -> zmq.asyncio.Context:
        self._created_context = True
        context = zmq.asyncio.Context()
        # Every socket nbgrader opens to this kernel refuses oversized messages, so a
        # kernel cannot make nbgrader buffer gigabytes.
        context.setsockopt(zmq.MAXMSGSIZE, self.max_message_mb * 1024 * 1024)
        return context

    def client(self, **kwargs):
        kwargs.setdefault("context", self.context)  # with the message size limit
        return super().client(**kwargs)

    @property
    def kernel_spec(self) -> KernelSpec:
        """The notebook's kernel, as stock nbgrader finds it by name (NoSuchKernel if it is
        not installed); a Python one is this environment's python (see course_python_kernelspec)."""
        if self._kernel_spec is None:
            named = self.kernel_spec_manager.get_kernel_spec(self.kernel_name)
            self._kernel_spec = course_python_kernelspec() if runs_course_python(named) else named
        return self._kernel_spec

    @property
    def other_language(self) -> bool:
        return not runs_course_python(self.kernel_spec)

    @property
    def limits(self) -> Limits:
        processes = self.max_processes
        if self.kernel_cgroups().limits_processes:  # then max_processes is each kernel's pids.max
            hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
            processes = self.max_user_processes if hard == resource.RLIM_INFINITY else \
                min(self.max_user_processes, hard)
        return Limits(self.memory_limit_mb, processes, self.max_open_files,
                      self.cpu_time_limit, self.max_file_size_mb)

    def kernel_cgroups(self) -> KernelCgroups:
        """The kernels' cgroups here (with one warning per grading run if some do not work)."""
        cgroups = KernelCgroups(parent=self)
        prepared = cgroups.prepared()
        if prepared.problems:
            without = []
            if "pids" not in prepared.controllers:
                without.append("all grading kernels of one user share its process limit (RLIMIT_NPROC), "
                               "so a fork loop in one submission can stop the others from starting threads")
            if "cpu" not in prepared.controllers:
                without.append("grading yields the CPU by its nice value alone")
            warn_once(self.log, "Kernel cgroups: %s. Grading goes on: %s (README: isolation of grading kernels).",
                      "; ".join(prepared.problems), "; ".join(without))
        return cgroups

    def effective_mode(self) -> str:
        """The mode actually used: auto resolves to namespaces or rlimits."""
        if self.mode == "off":
            warn_once(self.log, "SANDBOX OFF: student code runs unconfined, with the grading "
                      "account's rights (c.SandboxKernelManager.mode = 'off').")
            return "off"
        reason = "c.SandboxKernelManager.mode = 'rlimits'"
        if self.mode != "rlimits":
            works, reason = namespaces_available(user_namespace=os.geteuid() != 0)
            if works:
                return "namespaces"
            if self.mode == "namespaces":
                raise RuntimeError(f"sandbox mode 'namespaces' requested but {reason}")
        warn_once(
            self.log,
            "SANDBOX DEGRADED (%s): grading kernels run with resource limits only; student "
            "code can read and write whatever the grading account can (gradebook, other "
            "submissions) and use the network. See the README's threat model.", reason)
        return "rlimits"

    async def _async_pre_start_kernel(self, **kw):
        self._release_workspace()
        await self._release_cgroup()
        self._workspace = tempfolders.new_folder("dropout-kit-kernel-")
        # Unix sockets in a directory both sides see: the only channel out of the sandbox.
        self.transport = "ipc"
        self.cache_ports = False
        self.ip = str(self._workspace / "ipc")
        self.connection_file = str(self._workspace / "kernel.json")
        self._plan_launch(Path(kw.get("cwd") or os.getcwd()))
        if self.provisioner is None:  # (kept on restarts) forks from a template or launches
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
            self.provisioner = SandboxProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)

    def _plan_launch(self, workdir: Path) -> None:
        course = Path(self.course_root).resolve() if self.course_root else None
        if course is not None and is_within(workdir.resolve(), course):
            warn_once(self.log, "Sandbox: the kernel's working folder %s is inside the course: the "
                      "student's code can write there (SafeExecute gives its kernels a scratch copy)", workdir)
        self._launch_prefix, self._launch_env, self._identity = self.confinement(
            workdir=workdir.resolve(), scratch=self._workspace,
            read_only=[*python_runtime_paths(), *map(Path, self.read_only_paths),
                       *(kernelspec_paths(self.kernel_spec) if self.other_language else [])],
            writable=[workdir.resolve(), self._workspace],
            shown=Path(self.workdir_shown).resolve() if self.workdir_shown else None)
        if self._identity is not None:
            self._hand_over(workdir.resolve())
        if self.effective_mode() != "off":
            self._cgroup = self.kernel_cgroups().place(pids_max=self.max_processes)
        self.fork_plan = self._plan_fork(workdir.resolve())

    def _plan_fork(self, workdir: Path) -> ForkPlan | None:
        """How this kernel is forked from the template, or None: started as before (another
        language, no namespaces, folders outside the temporary folder the template sees, a
        working folder shown where the template has no place for it)."""
        if not self.fork_kernels or self.other_language or self.effective_mode() != "namespaces":
            return None
        tmp_root = Path(tempfile.gettempdir()).resolve()
        if not (is_within(workdir, tmp_root) and is_within(self._workspace.resolve(), tmp_root)):
            return None
        course = Path(self.course_root).resolve() if self.course_root else None
        runtime = [*python_runtime_paths(), *map(Path, self.read_only_paths)]
        # Where forks may show their folder (nbgrader's autograded/ in the course): a mount
        # point the template's sandbox makes empty, unless the runtime lies inside it.
        shown_base = course / "autograded" if course is not None else None
        if shown_base is not None and any(is_within(p.resolve(), shown_base) for p in runtime):
            shown_base = None
        # A fork makes its shown folder inside a tmpfs of its own (see template.prepare).
        shown = Path(self.workdir_shown).resolve() if self.workdir_shown else None
        own_tmpfs = [Path("/tmp"), tmp_root, *([shown_base] if shown_base else [])]
        if shown is not None and not any(is_within(shown, root) and shown != root for root in own_tmpfs):
            return None
        layout = BwrapLayout(read_only=runtime, writable=[tmp_root], workdir=tmp_root,
                             tmp_size_mb=self.tmp_size_mb, hidden_roots=[course] if course else [],
                             user_namespace=os.geteuid() != 0, nested_namespaces=True,
                             empty_dirs=[shown_base] if shown_base else [])
        # What the fork covers with its own empty file systems must not take the runtime
        # along (a Python environment in a clone under /tmp): those mounts are brought back.
        under_covers = [p for p in layout.visible_read_only() if any(is_within(p, root) for root in own_tmpfs)]
        keep = [p for p in under_covers if not any(q != p and is_within(p, q) for q in under_covers)]
        template_env = single_threaded(kernel_environment(SANDBOX_HOME, "/tmp"), self.threads)
        return ForkPlan(
            template=TemplatePlan(prefix=tuple(layout.args()), env=tuple(sorted(template_env.items())),
                                  imports=tuple(self.template_imports)),
            settings={
                "workspace": str(self._workspace.resolve()), "workdir": str(workdir),
                "shown": str(shown) if shown else None,
                "hidden": [str(tmp_root), *([str(shown_base)] if shown_base else [])],
                "keep": sorted(map(str, keep)),
                "tmp_size_mb": self.tmp_size_mb, "rlimits": self.limits.rlimits(), "nice": self.nice,
                "uid": self._identity.uid if self._identity else None,
                "gid": self._identity.gid if self._identity else None,
                "env": {**(self._launch_env or {}), **(self.kernel_spec.env or {})},
                "connection_file": self.connection_file,
            },
            admit=self._cgroup.admit if self._cgroup is not None else (lambda pid: None))

    def confinement(self, workdir: Path, scratch: Path, read_only: list[Path], writable: list[Path],
                    shown: Path | None = None) -> tuple[list[str], dict[str, str], Identity | None]:
        """How to start a process of student code or of the checks in this sandbox: the
        command prefix, the environment and the account it runs as. Also used for the
        checker process (dropout_kit.engine.broker), with other paths. `shown`: where the
        namespaces show `workdir` (one of the writable paths), if not at its own path."""
        mode = self.effective_mode()
        if mode == "off":
            return [], single_threaded(dict(os.environ), self.threads), None
        identity = identity_for(self.run_as_user)
        if identity is not None and mode == "rlimits" and not can_run_python_as(identity):
            warn_once(self.log, "User %s cannot run %s outside a sandbox; it stays root.",
                      identity.name, sys.executable)
            identity = None
        if identity is None and os.geteuid() == 0:
            warn_once(self.log, "Grading kernels run as root: the process limit does not apply to root.")
        prefix: list[str] = []
        if mode == "namespaces":
            layout = BwrapLayout(
                read_only=read_only,
                writable=writable,
                workdir=workdir,
                tmp_size_mb=self.tmp_size_mb,
                hidden_roots=[Path(self.course_root).resolve()] if self.course_root else [],
                user_namespace=os.geteuid() != 0,
                shown_at={workdir: shown} if shown is not None else {},
            )
            prefix += layout.args()
            env = kernel_environment(SANDBOX_HOME, "/tmp")
        else:
            home = scratch / "home"
            home.mkdir(exist_ok=True)
            env = kernel_environment(str(home), str(scratch))
        if identity is not None:
            self._check_readable(identity, read_only)
            prefix += identity.setpriv()
            if (scratch / "home").exists():
                os.chown(scratch / "home", identity.uid, identity.gid)
            os.chown(scratch, identity.uid, identity.gid)
        prefix += self.limits.prlimit()
        prefix += lower_priority_command(self.nice)  # inside, after bubblewrap's new session
        self.log.info("Sandbox: mode=%s, user=%s, limits=%s", mode,
                      identity.name if identity else pwd.getpwuid(os.geteuid()).pw_name, self.limits)
        return prefix, single_threaded(env, self.threads), identity

    def _check_readable(self, identity: Identity, paths: list[Path]) -> None:
        """The unprivileged account must read the course paths it is given (the checks),
        or every student scores 0."""
        course = Path(self.course_root).resolve() if self.course_root else None
        for path in paths:
            if course is None or not is_within(path.resolve(), course):
                continue
            mode = path.stat().st_mode
            if not (mode & stat.S_IROTH and (not path.is_dir() or mode & stat.S_IXOTH)):
                raise PermissionError(
                    f"{path} is not readable by others, so the sandboxed process (user "
                    f"{identity.name}) cannot read it: chmod o+rX it, or set "
                    "c.SandboxKernelManager.run_as_user")

    def _hand_over(self, workdir: Path) -> None:
        """Gives the kernel's account its folder; _release_workspace gives it back."""
        owner = workdir.stat()
        self._handed_over = (workdir, owner.st_uid, owner.st_gid)
        chown_tree(workdir, self._identity.uid, self._identity.gid)

    def hand_over_again(self) -> None:
        """Files added to the kernel's folder after its start become its account's too."""
        if self._handed_over is not None and self._identity is not None:
            chown_tree(self._handed_over[0], self._identity.uid, self._identity.gid)

    def write_connection_file(self, **kwargs) -> None:
        super().write_connection_file(**kwargs)
        if self._identity is not None and os.path.exists(self.connection_file):
            os.chown(self.connection_file, self._identity.uid, self._identity.gid)

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if self._launch_prefix and "--unshare-pid" in self._launch_prefix and not self.other_language:
            # In a PID namespace the kernel's parent is pid 1; bubblewrap's
            # --die-with-parent replaces ipykernel's parent polling.
            cmd = [*cmd, "--IPKernelApp.parent_handle=1"]
        # The cgroups are entered first, outside the sandbox, where their files are.
        entering = self._cgroup.entering_command() if self._cgroup is not None else []
        return [*entering, *self._launch_prefix, *cmd]

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if self._launch_env is not None:
            kw["env"] = {**self._launch_env, **(self.kernel_spec.env or {})}
        if self.other_language and "--unshare-pid" in self._launch_prefix:
            # Its parent's pid (JPY_PARENT_PID) does not exist in the PID namespace: no
            # polling; bubblewrap's --die-with-parent ends the kernel with nbgrader.
            kw["independent"] = True
        await super()._async_launch_kernel(kernel_cmd, **kw)
        if self._cgroup is not None and not _cgroup_moves_failed:
            await self._check_in_cgroup()

    async def _check_in_cgroup(self, seconds: float = 2.0) -> None:
        """Warns if the launched process did not get into its cgroups (it moves itself in
        within milliseconds of its start); after one such failure, stops checking."""
        process = getattr(self.provisioner, "process", None)
        deadline = time.monotonic() + seconds
        while process is not None and process.poll() is None:
            if self._cgroup.holds_process(process.pid):
                return
            if time.monotonic() > deadline:
                _cgroup_moves_failed.append(True)
                warn_once(self.log, "Kernel cgroups: a kernel did not move into %s: kernels may have "
                          "no process limit of their own", ", ".join(map(str, self._cgroup.children.values())))
                return
            await asyncio.sleep(0.01)

    _launch_kernel = _async_launch_kernel

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        await self._release_cgroup()  # the kernel has ended, restart or not
        if not restart:
            self._release_workspace()

    cleanup_resources = _async_cleanup_resources

    async def _release_cgroup(self) -> None:
        if self._cgroup is not None:
            cgroup, self._cgroup = self._cgroup, None
            if not await cgroup.remove():
                self.log.info("Kernel cgroups: %s still busy; removed by a later grading run",
                              ", ".join(map(str, cgroup.children.values())))

    def _release_workspace(self) -> None:
        if self._handed_over is not None:
            workdir, uid, gid = self._handed_over
            self._handed_over = None
            if workdir.exists():
                chown_tree(workdir, uid, gid)
        if self._workspace is not None:
            shutil.rmtree(self._workspace, ignore_errors=True)
            self._workspace = None
