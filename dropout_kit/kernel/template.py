"""The kernel template: a Python that has imported what a grading kernel imports, and forks
every grading kernel from that state (issue 33). It runs inside the sandbox that
dropout_kit.engine.kernel_template builds for it, with its source passed by `-c`: the kit's
package is not in the sandbox, so this file uses the standard library and what it preloads.

The template itself never runs anything of a student. Each fork enters namespaces of its own
(user, mount, PID, network, IPC, host name), sees a file system in which only its own folders
are writable and nothing of other kernels exists, drops its privileges and resource limits to
those of a kernel started by bubblewrap, and only then becomes an IPython kernel.

Control socket (the file descriptor in argv[1], from the grading process):
  template → grading process: one JSON line once preloaded: what fork_safety reports, or
    {"error": ...} when an import failed (the template then ends).
  grading process → template: one byte with one descriptor (SCM_RIGHTS), a channel for one
  kernel. The template forks and closes its copy: it never reads a kernel's settings, so
  nothing of one submission (not even a student's name in a path) stays in its memory.
A kernel's channel, from the fork's side:
  ← one JSON line: its settings (what `prepare` and `run_kernel` read)
  → "pid" with SCM_CREDENTIALS: Linux translates the pid into the grading process's
    namespace, which places that process in the kernel's cgroups
  ← "go"
  → "ok" once ready to start the kernel, or "error <text>"
  → "exit <code>" from the fork's first process once the kernel has ended
"""
import ctypes
import gc
import json
import os
import random
import signal
import socket
import struct
import sys

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 0x4000, 1 << 18
SYS_OPEN_TREE, SYS_MOVE_MOUNT = 428, 429  # the same number on every architecture (Linux 5.2)
OPEN_TREE_CLONE, AT_RECURSIVE, MOVE_MOUNT_F_EMPTY_PATH, AT_FDCWD = 1, 0x8000, 4, -100
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
CAP_LAST = 63
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 1

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def check(result, what):
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def mount(source, target, fstype, flags, data=None):
    check(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                     ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def clone_tree(path):
    """A detached copy of the mount at `path`, kept while what covers `path` is mounted."""
    return check(libc.syscall(SYS_OPEN_TREE, AT_FDCWD, path.encode(),
                              OPEN_TREE_CLONE | AT_RECURSIVE | os.O_CLOEXEC), f"open_tree {path}")


def attach_tree(tree, target):
    check(libc.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, target.encode(), MOVE_MOUNT_F_EMPTY_PATH),
          f"move_mount {target}")
    os.close(tree)


def within(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def preload(imports):
    """What every kernel would import, imported once here. Matplotlib's backend as ipykernel
    sets it, before matplotlib reads it; pyplot and the inline backend stay unimported (they
    register with the running kernel when a student's cell imports them)."""
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    done = []
    for name in imports:
        __import__(name)
        done.append(name)
    gc.collect()
    gc.freeze()  # a fork's collections then never write to (and so copy) the template's pages
    return done


def serve(control):
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # each fork's first process is reaped by Linux
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(control, 1, 1)
        except ConnectionError:
            return
        if not fds:  # the grading process closed its end
            return
        if os.fork() == 0:
            status = 1
            try:
                control.close()
                status = fork_kernel(fds[0])
            except BaseException as error:  # noqa: BLE001 - told to the grading process, which falls back
                os.write(fds[0], f"error {type(error).__name__}: {error}\n".encode())
            finally:
                os._exit(status)
        os.close(fds[0])


def fork_kernel(channel_fd):
    """The fork's first process: enters the namespaces, forks the process that becomes the
    kernel (the first of a new PID namespace, so that it sees no other process) and tells the
    grading process how that one ended."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    root = os.geteuid() == 0
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    if root:  # its user namespace comes last (see prepare)
        check(libc.unshare(flags), "unshare")
    else:
        uid, gid = os.getuid(), os.getgid()
        check(libc.unshare(flags | CLONE_NEWUSER), "unshare")
        write("/proc/self/setgroups", "deny")
        write("/proc/self/uid_map", f"{uid} {uid} 1")
        write("/proc/self/gid_map", f"{gid} {gid} 1")
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            status = become_kernel(channel_fd, root)
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    try:
        os.write(channel_fd, f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
    except OSError:
        pass
    return 0


def unshare_mapped_from_outside(flags):
    """As root, once the mounts are made (a mount namespace owned by a new user namespace
    could not mount a fresh /proc under the template's sandbox): a user namespace of root's,
    every id mapped to itself, written by a helper still outside (only a process with
    CAP_SETUID and CAP_SETFCAP there may map root). Root outside then holds every capability
    over the kernel by owning its namespace, so the grading process can set the kernel's
    memory budget (prlimit) without CAP_SYS_RESOURCE, which containers often drop."""
    unshared_r, unshared_w = os.pipe()
    mapped_r, mapped_w = os.pipe()
    if os.fork() == 0:
        status = 1
        try:
            os.close(unshared_w)
            os.close(mapped_r)
            if os.read(unshared_r, 1) == b"1":
                for name in ("uid_map", "gid_map"):
                    write(f"/proc/{os.getppid()}/{name}", "0 0 4294967295")
                os.write(mapped_w, b"1")
                status = 0
        except OSError as error:
            print(f"kernel template: {error}", file=sys.stderr)
        finally:
            os._exit(status)
    os.close(unshared_r)
    os.close(mapped_w)
    try:
        check(libc.unshare(flags), "unshare")
        os.write(unshared_w, b"1")
        if os.read(mapped_r, 1) != b"1":
            raise PermissionError("the new user namespace's ids could not be mapped")
    finally:
        os.close(unshared_w)
        os.close(mapped_r)
        os.wait()


def become_kernel(channel_fd, root):
    channel = socket.socket(fileno=channel_fd)
    try:
        settings = {**json.loads(read_line(channel)), "channel_fd": channel_fd}
        channel.sendmsg([b"pid\n"], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS,
                                      struct.pack("3i", os.getpid(), os.getuid(), os.getgid()))])
        if read_line(channel) != "go":
            return 1
        prepare(settings, root)
    except BaseException as error:  # noqa: BLE001 - told to the grading process, which falls back
        channel.sendall(f"error {type(error).__name__}: {error}\n".encode())
        return 1
    channel.sendall(b"ok\n")
    channel.close()
    run_kernel(settings)
    return 0


def read_line(channel):
    data = b""
    while not data.endswith(b"\n"):
        chunk = channel.recv(65536)
        if not chunk:
            raise ConnectionError("the grading process closed the channel")
        data += chunk
    return data.decode().strip()


def write(path, text):
    with open(path, "w") as file:
        file.write(text)


def prepare(settings, root):
    """The kernel's own view, privileges and limits, as a kernel started by bubblewrap has them."""
    libc.unshare(CLONE_NEWCGROUP)  # rooted at its cgroups (as --unshare-cgroup-try: may fail)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    workspace, workdir = settings["workspace"], settings["workdir"]
    shown = settings.get("shown") or workdir
    trees = [(clone_tree(workspace), workspace), (clone_tree(workdir), shown),
             *((clone_tree(path), path) for path in settings["keep"])]  # the runtime under /tmp
    tmp_options = f"mode=1777,size={settings['tmp_size_mb']}m"
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmp_options)
    for hidden in settings["hidden"]:  # the grading process's temporary folder, the course
        if not within(hidden, "/tmp"):
            mount("tmpfs", hidden, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    for tree, target in trees:
        os.makedirs(target, mode=0o755, exist_ok=True)
        attach_tree(tree, target)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    private_dev()
    check(libc.sethostname(b"grader", 6), "sethostname")
    loopback_up()
    os.chdir(shown)
    os.closerange(3, settings["channel_fd"])
    os.closerange(settings["channel_fd"] + 1, 1 << 16)
    if root:
        unshare_mapped_from_outside(CLONE_NEWUSER)
    write("/proc/sys/user/max_user_namespaces", "0")  # no further level, as bubblewrap's --disable-userns
    limit(settings)
    drop_privileges(settings, root)
    os.environ.clear()
    os.environ.update(settings["env"])
    for name in ("HOME", "MPLCONFIGDIR"):
        if name in os.environ:
            os.makedirs(os.environ[name], mode=0o700, exist_ok=True)
    reseed()


DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEVICE_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"))


def private_dev():
    """A /dev of this kernel's own, read-only, with the template's device nodes: the
    template's /dev is shared by every fork (and writable by them without root), its
    /dev/shm and pseudo-terminals too."""
    nodes = [(clone_tree(f"/dev/{name}"), name) for name in DEVICES if os.path.exists(f"/dev/{name}")]
    mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
    for tree, name in nodes:
        open(f"/dev/{name}", "w").close()  # the mount point
        attach_tree(tree, f"/dev/{name}")
    for name, target in DEVICE_LINKS:
        os.symlink(target, f"/dev/{name}")
    os.mkdir("/dev/shm")
    os.mkdir("/dev/pts")
    mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m")
    try:
        mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    except OSError:
        pass  # no pseudo-terminals, as in a sandbox without them
    mount(None, "/dev", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC)


def loopback_up():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        import fcntl
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(probe, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def limit(settings):
    import resource
    for name, value in settings["rlimits"].items():
        which = getattr(resource, name)
        hard = resource.getrlimit(which)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))
    nice = settings.get("nice", 0)
    if nice > 0:
        os.nice(nice)
        try:  # the new session's autogroup (see kernel_cgroup.PRIORITY_SCRIPT)
            write("/proc/self/autogroup", str(nice))
        except OSError:
            pass


def drop_privileges(settings, root):
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    for cap in range(CAP_LAST + 1):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 and ctypes.get_errno() != 22:  # EINVAL: no such cap
            check(-1, "capbset")
    if root and settings.get("uid") is not None:
        os.setgroups([])
        os.setresgid(settings["gid"], settings["gid"], settings["gid"])
        os.setresuid(settings["uid"], settings["uid"], settings["uid"])  # clears every capability
    else:
        header = struct.pack("Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
        check(libc.capset(ctypes.c_char_p(header), ctypes.c_char_p(bytes(24))), "capset")
    if cap_effective() != 0:
        raise PermissionError("capabilities left after dropping them")


def cap_effective():
    for line in open("/proc/self/status"):
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return -1


def reseed():
    """What forks would otherwise share: the generators a fresh Python seeds from the system
    (the random module, numpy's global one, torch's default generator)."""
    random.seed()
    for name, reseed_generator in (("numpy", lambda numpy: numpy.random.seed()),
                                   ("torch", lambda torch: torch.seed())):
        if name in sys.modules:
            reseed_generator(sys.modules[name])


def run_kernel(settings):
    """As `python -I -m ipykernel_launcher -f <connection file>` would, in this process."""
    from ipykernel import kernelapp
    launcher = os.path.join(os.path.dirname(os.path.dirname(kernelapp.__file__)), "ipykernel_launcher.py")
    sys.argv = [launcher, "-f", settings["connection_file"], "--IPKernelApp.parent_handle=1"]
    kernelapp.launch_new_instance()


def fork_safety(imported):
    """What the grading process checks before it lets this process fork kernels: forking
    copies one thread only, and a ZeroMQ context, an event loop or a kernel application made
    here would be shared by every fork."""
    import asyncio
    zmq, kernelapp = sys.modules.get("zmq"), sys.modules.get("ipykernel.kernelapp")
    return {"tasks": len(os.listdir("/proc/self/task")),
            "zmq context": zmq is not None and zmq.Context._instance is not None,
            "event loop": asyncio.get_event_loop_policy()._local._loop is not None,
            "kernel app": kernelapp is not None and kernelapp.IPKernelApp.initialized(),
            "imported": imported}


def main():
    control = socket.socket(fileno=int(sys.argv[1]))
    try:
        report = fork_safety(preload(json.loads(sys.argv[2])))
    except BaseException as error:  # noqa: BLE001 - told to the grading process; the template ends
        report = {"error": f"{type(error).__name__}: {error}"}
    control.sendall((json.dumps(report) + "\n").encode())
    if "error" not in report:
        serve(control)


if __name__ == "__main__":
    main()
