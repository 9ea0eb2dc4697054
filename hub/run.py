"""`make hub`: the course on a JupyterHub at 127.0.0.1, with an instructor and three
students (Unix users made for the run), the assignment released.

Writes <state>/logins.json, prints the URL and the logins, and runs until SIGINT or
SIGTERM; then stops every server and process it started and removes the users it made.
SIGHUP restarts the hub process alone (the students' servers and the proxy keep
running, so open notebooks stay connected; the hub finds the servers again), which is
what an upgrade or a crash of the hub looks like.

Run as root with the hub's environment: <prefix>/bin/python hub/run.py --state build/hub
"""
import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import course
import users

HERE = Path(__file__).resolve().parent
START_TIMEOUT = 60.0


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", type=Path, default=HERE.parent / "build" / "hub")
    ap.add_argument("--port", type=int, default=int(os.environ.get("HUB_PORT", "8000")))
    ap.add_argument("--instructor", default=os.environ.get("HUB_INSTRUCTOR", "kit-prof"))
    ap.add_argument("--students", default=os.environ.get("HUB_STUDENTS",
                                                         "kit-stu-a,kit-stu-b,kit-stu-c"))
    return ap.parse_args(argv)


class Proxy:
    """Debian's configurable-http-proxy as its own process, so that a restart of the hub
    does not cut the students' connections to their servers (JupyterHub then only
    updates its routes: ConfigurableHTTPProxy.should_start = False)."""

    def __init__(self, state: Path, port: int):
        self.state, self.port = state, port
        self.token = secrets.token_hex(32)
        self.proc = None

    def start(self) -> None:
        env = {"PATH": "/usr/bin:/bin", "NODE_PATH": "/usr/share/nodejs",
               "CONFIGPROXY_AUTH_TOKEN": self.token}
        self.proc = subprocess.Popen(
            ["/usr/bin/configurable-http-proxy", "--ip", "127.0.0.1", "--port", str(self.port),
             "--api-ip", "127.0.0.1", "--api-port", str(self.port + 2),
             "--error-target", f"http://127.0.0.1:{self.port + 1}/hub/error"],
            env=env, stdout=open(self.state / "proxy.log", "ab"), stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not port_open(self.port + 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the proxy did not start; see {self.state / 'proxy.log'}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Hub:
    """The jupyterhub process, started in its own session, behind `proxy`."""

    def __init__(self, state: Path, port: int, logins: Path, proxy: Proxy, on_submission: str = ""):
        self.state, self.port, self.logins, self.proxy = state, port, logins, proxy
        self.on_submission = on_submission
        self.token = secrets.token_hex(32)
        self.url = f"http://127.0.0.1:{port}"
        self.proc = None

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start jupyterhub without waiting for it (it starts while the course is set up)."""
        env = dict(os.environ, DROPOUT_HUB_STATE=str(self.state / "jupyterhub"),
                   DROPOUT_HUB_PORT=str(self.port), DROPOUT_HUB_AUTH="demo",
                   DROPOUT_HUB_LOGINS=str(self.logins), DROPOUT_HUB_PREFIX=sys.prefix,
                   DROPOUT_HUB_ADMIN_TOKEN=self.token, DROPOUT_HUB_PROXY="external",
                   CONFIGPROXY_AUTH_TOKEN=self.proxy.token,
                   DROPOUT_HUB_GRADE_ON_SUBMISSION=self.on_submission,
                   PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin")
        log = open(self.state / "jupyterhub.log", "ab")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "jupyterhub"), "-f",
             str(HERE / "jupyterhub_config.py")],
            cwd=self.state, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"jupyterhub exited ({self.proc.returncode}); "
                         f"see {self.state / 'jupyterhub.log'}")
            try:
                with urllib.request.urlopen(f"{self.url}/hub/api", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        sys.exit(f"jupyterhub did not answer at {self.url} within {START_TIMEOUT:.0f} s; "
                 f"see {self.state / 'jupyterhub.log'}")

    def api(self, method: str, path: str) -> None:
        req = urllib.request.Request(f"{self.url}/hub/api{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        try:
            urllib.request.urlopen(req, timeout=30).close()
        except urllib.error.HTTPError as e:
            if e.code != 404:  # 404: the user never logged in
                print(f"hub API {method} {path}: {e}", file=sys.stderr)
        except OSError as e:
            print(f"hub API {method} {path}: {e}", file=sys.stderr)

    def stop_servers(self, names) -> None:
        for name in names:
            self.api("DELETE", f"/users/{name}/server")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the hub (it leaves the servers and the proxy running), then KILL."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def write_logins(path: Path, url: str, people) -> None:
    inst = next(p for p in people if p.role == "instructor")
    data = {
        "url": url,
        "formgrader": formgrader_url(url, inst.user),
        "instructor": {"user": inst.user, "password": inst.password},
        "students": [{"user": p.user, "password": p.password}
                     for p in people if p.role == "student"],
    }
    path.touch(mode=0o600)
    path.write_text(json.dumps(data, indent=2) + "\n")


def formgrader_url(url: str, instructor: str) -> str:
    return f"{url}/user/{instructor}/formgrader"


def remember_users(state: Path, names) -> None:
    (state / "users.json").write_text(json.dumps(sorted(names)))


def forget_leftovers(state: Path) -> None:
    """Users and the course exchange left by a run that was killed with SIGKILL."""
    record = state / "users.json"
    if record.exists():
        for name in json.loads(record.read_text()):
            users.remove(name)
        record.unlink()
    course.remove_course_exchange()


def main(argv=None) -> int:
    if os.geteuid() != 0:
        sys.exit("make hub runs as root: it creates Unix users and spawns their servers")
    args = parse_args(argv)
    t0 = time.monotonic()
    state = args.state.resolve()
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)
    logins = state / "logins.json"
    forget_leftovers(state)
    prefix = Path(sys.prefix)
    people = users.new_people(args.instructor, [s for s in args.students.split(",") if s])
    names = [p.user for p in people]
    remember_users(state, names)
    proxy = Proxy(state, args.port)
    hub = Hub(state, args.port, logins, proxy)
    stop = {"now": False}
    restart = {"now": False}

    def on_stop(signum, frame):
        stop["now"] = True

    def on_hup(signum, frame):
        restart["now"] = True

    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGHUP, on_hup)
    try:
        course.install_hub_settings(prefix)
        course.prepare_exchange()
        for p in people:
            users.create(p)
        hub.on_submission = course.on_submission_setting(people[0])
        course.delegate_kernel_cgroups(people[0])
        write_logins(logins, hub.url, people)
        # The hub starts while the course is set up; nobody is told the URL before both.
        proxy.start()
        hub.launch()
        students = [p for p in people if p.role == "student"]
        for p in students:
            course.set_up_student(p)
        course.set_up_instructor(people[0], prefix, students)
        hub.wait_ready()
        print(f"JupyterHub for the course: {hub.url}  (ready in {time.monotonic() - t0:.1f} s)")
        print(f"formgrader (instructor): {formgrader_url(hub.url, people[0].user)}")
        print(f"logins: {logins}")
        for p in people:
            print(f"  {p.role:<10} {p.user:<12} {p.password}")
        print("Ctrl-C stops the hub and removes these users.", flush=True)
        (state / "ready").write_text(hub.url)
        while not stop["now"]:
            if restart["now"]:
                restart["now"] = False
                (state / "ready").unlink(missing_ok=True)
                hub.stop()
                hub.start()
                print("hub restarted", flush=True)
                (state / "ready").write_text(hub.url)
            elif hub.proc.poll() is not None:
                print(f"jupyterhub exited ({hub.proc.returncode}); stopping", file=sys.stderr)
                break
            time.sleep(0.2)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping: servers, hub, users", flush=True)
        (state / "ready").unlink(missing_ok=True)
        if hub.proc is not None and hub.proc.poll() is None:
            hub.stop_servers(names)
        hub.stop()
        proxy.stop()
        for name in names:
            users.remove(name)
        course.remove_course_exchange()
        course.remove_login_profile()
        (state / "users.json").unlink(missing_ok=True)
        logins.unlink(missing_ok=True)
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
