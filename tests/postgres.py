"""A real, throwaway PostgreSQL server for the test session (loaded by tests/conftest.py).

The server comes from Debian's `postgresql` package (`make system-deps` installs it): `initdb`
a data directory in a temporary folder, start it on 127.0.0.1 on a free port with trust auth,
and stop it when the session ends. PostgreSQL refuses to run as root, so as root the server
runs as the `postgres` user. It starts only when a test asks for it, and each test that asks
for `postgres_url` gets a database of its own.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

START_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def find_bindir() -> Path | None:
    """The newest installed server's bin folder: $ASSAY_PG_BINDIR, Debian's layout, or PATH."""
    if override := os.environ.get("ASSAY_PG_BINDIR"):
        return Path(override) if (Path(override) / "initdb").exists() else None

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", Path(path).parent.parent.name))

    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if debian:
        return Path(debian[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PostgresServer:
    """One postgres process with its data directory; `url(db)` gives SQLAlchemy URLs.

    Every role is trusted except `PASSWORD_USER`, which must give its password, so tests can
    see what a wrong password looks like.
    """

    PASSWORD_USER = "assay_password"

    def __init__(self, bindir: Path, *, durable: bool = False) -> None:
        self.bindir = bindir
        # Not durable: commits return before their WAL is written (fast). A durable server keeps
        # every commit through a crash of the server (`stop("immediate")`).
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="assay-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "server.log"
        self.port = 0
        self.user = "postgres"
        self._as: list[str] = []
        if os.geteuid() == 0:  # postgres will not run as root
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("as root, postgres needs a 'postgres' user to run as") from None
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        else:
            self.user = pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as, *args], capture_output=True, text=True, timeout=timeout, check=False
        )

    def _tail(self) -> str:
        try:
            return self.log.read_text()[-2000:]
        except OSError:
            return "(no server log)"

    def start(self) -> None:
        self._run("mkdir", "-p", str(self.sockets))
        made = self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed: {made.stderr.strip() or made.stdout.strip()}")
        hba = self.data / "pg_hba.conf"
        hba.write_text(
            f"host all {self.PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n"
            "local all all trust\n"
            "host all all 127.0.0.1/32 trust\n"
        )
        if self._as:
            shutil.chown(hba, "postgres", "postgres")
        for _attempt in range(3):  # a free port can be taken between choosing and binding it
            self.port = free_port()
            if self.resume():
                return
            self.stop()
        raise RuntimeError(f"PostgreSQL did not start; server log:\n{self._tail()}")

    def resume(self) -> bool:
        """Start the (initialised) server on its port; True once it accepts connections."""
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sockets} "
            "-c fsync=off -c full_page_writes=off"
        )
        if not self.durable:
            options += " -c synchronous_commit=off"
        started = self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            str(int(START_SECONDS)),
            "start",
        )
        return started.returncode == 0 and self._wait_ready()

    def _wait_ready(self) -> bool:
        """pg_ctl -w waits for the postmaster; connect once over TCP to be sure, bounded."""
        import psycopg

        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        return False

    def dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={database}"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_role(self, name: str, password: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; `immediate` is a crash (no checkpoint, clients cut off)."""
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    yield from _server()


@pytest.fixture
def private_postgres_server() -> Iterator[PostgresServer]:
    """A durable server of the test's own, for tests that crash and restart it."""
    yield from _server(durable=True)


def _server(*, durable: bool = False) -> Iterator[PostgresServer]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("PostgreSQL tests need psycopg: pip install -e '.[postgres]'")
    bindir = find_bindir()
    if bindir is None:
        pytest.fail(
            "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb, no "
            "initdb on PATH, no $ASSAY_PG_BINDIR): install them with `make system-deps` "
            "or `apt-get install -y postgresql`"
        )
    server = PostgresServer(bindir, durable=durable)
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        server.remove()
        pytest.fail(f"could not start a PostgreSQL server from {bindir}: {exc}")
    yield server
    server.remove()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    return postgres_server.create_database(f"t_{uuid.uuid4().hex[:12]}")
