# JupyterHub configuration for one nbgrader course (the dropout kit).
#
# Adopt it as it is: `jupyterhub -f hub/jupyterhub_config.py`, run as root (LocalProcessSpawner
# starts each person's server as that person's Unix user). The settings a department
# changes are read from the environment, with the defaults below:
#
#   DROPOUT_HUB_IP / DROPOUT_HUB_PORT   where the hub listens (127.0.0.1:8000)
#   DROPOUT_HUB_STATE                   the hub's own files: database, cookie secret (./hub-state)
#   DROPOUT_HUB_AUTH                    "pam" (real use, the default) or "demo" (tests only)
#   DROPOUT_HUB_USERS                   allowed users, comma-separated (PAM only)
#   DROPOUT_HUB_ADMIN_TOKEN             optional: API token of the `dropout-kit-admin` service
#                                       (`make hub` uses it to stop servers on Ctrl-C)
#   DROPOUT_HUB_PREFIX                  the Python environment of the hub and of every server
#   DROPOUT_HUB_PROXY                   "external": the proxy is a service of its own (below)
#   DROPOUT_HUB_GRADE_ON_SUBMISSION     optional: "INSTRUCTOR:COURSE_FOLDER:ASSIGNMENT[,ASSIGNMENT]":
#                                       grade each submission at once (README: "Grading on
#                                       submission"), a service run as the instructor
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # demo_auth.py, formgrader_links.py

ip = os.environ.get("DROPOUT_HUB_IP", "127.0.0.1")
port = int(os.environ.get("DROPOUT_HUB_PORT", "8000"))
state = Path(os.environ.get("DROPOUT_HUB_STATE", "hub-state")).resolve()
prefix = Path(os.environ.get("DROPOUT_HUB_PREFIX", sys.prefix))
state.mkdir(parents=True, exist_ok=True, mode=0o700)

# --- Network: the public proxy on ip:port; the hub and the proxy's API on loopback only.
# One origin for the hub and every user's server. JupyterHub recommends per-user subdomains
# (c.JupyterHub.subdomain_host, with wildcard DNS and a certificate) where users do not trust
# each other, so that no server shares an origin with another; a department that can have
# them should set them. They would not protect the instructor from students here: nbgrader
# copies students' notebooks into the instructor's own course and shows them from the
# instructor's own server (README: "Student content is inert on every page").
c.JupyterHub.bind_url = f"http://{ip}:{port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = port + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{port + 2}"
# Debian's node-configurable-http-proxy (/usr/bin/configurable-http-proxy): the proxy
# JupyterHub is developed and tested against (README: why not the Python port).
c.ConfigurableHTTPProxy.command = ["/usr/bin/configurable-http-proxy"]
# DROPOUT_HUB_PROXY=external: the proxy runs as its own service (make hub starts it;
# CONFIGPROXY_AUTH_TOKEN shared with it), so restarting the hub does not interrupt users.
if os.environ.get("DROPOUT_HUB_PROXY") == "external":
    c.ConfigurableHTTPProxy.should_start = False
    c.ConfigurableHTTPProxy.auth_token = os.environ["CONFIGPROXY_AUTH_TOKEN"]
# Debian's node modules live in /usr/share/nodejs; Debian's nodejs looks there, a nodejs
# from elsewhere (e.g. NodeSource's, which replaces Debian's package) does not.
os.environ["NODE_PATH"] = ":".join(
    p for p in ["/usr/share/nodejs", os.environ.get("NODE_PATH", "")] if p)

# The formgrader's links to notebooks and folders (/notebooks/..., /tree/...) reach the
# instructor's own JupyterLab (hub/formgrader_links.py).
import formgrader_links  # noqa: E402

c.JupyterHub.extra_handlers = formgrader_links.HANDLERS

# --- The hub's own state (root-only folder).
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")

# --- One Unix user per person; each server runs as that user in their home.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(prefix / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
c.Spawner.environment = {
    # One torch thread per kernel: a class shares the machine's cores.
    "OMP_NUM_THREADS": "1",
    "PATH": f"{prefix / 'bin'}:/usr/local/bin:/usr/bin:/bin",
}
# Servers outlive a hub restart (upgrade, crash): the hub finds them again on start.
c.JupyterHub.cleanup_servers = False

# --- Who may log in.
if os.environ.get("DROPOUT_HUB_AUTH", "pam") == "demo":
    # Test-only: passwords from `make hub`'s root-only logins file (hub/demo_auth.py).
    c.JupyterHub.authenticator_class = "demo_auth.DemoAuthenticator"
    c.DemoAuthenticator.logins_file = os.environ["DROPOUT_HUB_LOGINS"]
    c.Authenticator.allow_all = True  # the logins file is the list of users
else:
    c.JupyterHub.authenticator_class = "pam"
    c.Authenticator.allowed_users = {
        u.strip() for u in os.environ.get("DROPOUT_HUB_USERS", "").split(",") if u.strip()
    }

c.JupyterHub.services = []

# --- Grading on submission: one hub-managed service per assignment, run as the instructor
# (who alone can list the exchange's inbound/), restarted by the hub if it exits; its
# journal lets it resume where it stopped.
if os.environ.get("DROPOUT_HUB_GRADE_ON_SUBMISSION"):
    instructor, course_folder, names = os.environ["DROPOUT_HUB_GRADE_ON_SUBMISSION"].split(":")
    for name in names.split(","):
        c.JupyterHub.services.append({
            "name": f"grade-on-submission-{name}",
            "user": instructor,
            "cwd": str(Path(course_folder).parent),  # the course folder may not exist yet
            "command": [str(prefix / "bin" / "dropout-kit"), "on-submission", "run",
                        "--course", course_folder, "--assignment", name],
            "environment": {"OMP_NUM_THREADS": "1", "LANG": "C.UTF-8",
                            "PATH": f"{prefix / 'bin'}:/usr/local/bin:/usr/bin:/bin"},
        })

# --- A service token for the command that runs the hub (stop every server on exit).
if os.environ.get("DROPOUT_HUB_ADMIN_TOKEN"):
    c.JupyterHub.services.append(
        {"name": "dropout-kit-admin", "api_token": os.environ["DROPOUT_HUB_ADMIN_TOKEN"]}
    )
    c.JupyterHub.load_roles = [
        {
            "name": "dropout-kit-admin",
            "scopes": ["list:users", "read:users", "read:servers", "admin:servers"],
            "services": ["dropout-kit-admin"],
        }
    ]
