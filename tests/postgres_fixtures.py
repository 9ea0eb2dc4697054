"""A real PostgreSQL server for the tests (Debian's postgresql package), started in a
temporary folder on a Unix socket only (no TCP port), and one fresh database per use.

PostgreSQL refuses to run as root: when the tests run as root (CI does), the server runs
as the `postgres` system user that Debian's package creates.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from class_builder import unavailable

PACKAGE_HINT = "install Debian's postgresql package (apt-get install -y postgresql)"

# The machine's temporary folder, read before any test points TMPDIR at a folder of its own.
MACHINE_TMP = tempfile.gettempdir()


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                      key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    return Path(versions[-1]).parent if versions else None


@dataclass
class PostgresServer:
    bin_dir: Path
    socket_dir: Path
    user: str

    def database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg2

        name = "grades_" + uuid.uuid4().hex[:12]
        connection = psycopg2.connect(host=str(self.socket_dir), user="postgres", dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        return f"postgresql+psycopg2://postgres@/{name}?host={self.socket_dir}"


def _run_as(user: pwd.struct_passwd | None, *command: str) -> None:
    kwargs = {}
    if user is not None:
        kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [],
                  "env": {**os.environ, "HOME": user.pw_dir}}
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}")


@pytest.fixture(scope="session")
def postgres_server():
    pytest.importorskip("psycopg2", reason="psycopg2-binary is a dependency in pyproject.toml")
    bin_dir = _bin_dir()
    if bin_dir is None:
        unavailable(f"PostgreSQL server programs not found: {PACKAGE_HINT}")
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            unavailable(f"running as root without a `postgres` user: {PACKAGE_HINT}")
    # Not under pytest's tmp_path (nor the test's own temporary folder, which is under it): its
    # folders are private to root, and a Unix socket path must stay short (about 100 bytes).
    base = Path(tempfile.mkdtemp(prefix="dk-pg-", dir=MACHINE_TMP))
    data, sockets = base / "data", base / "s"
    sockets.mkdir()
    if owner is not None:
        for path in (base, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    _run_as(owner, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C", "--no-sync")
    _run_as(owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-w",
            "-o", f"-k {sockets} -c listen_addresses='' -c fsync=off -c max_connections=50", "start")
    try:
        yield PostgresServer(bin_dir, sockets, "postgres")
    finally:
        _run_as(owner, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)
