"""A throwaway PgBouncer in transaction mode in front of the tests' PostgreSQL server.

Missing PgBouncer is an error, never a skip (as for PostgreSQL): `make test` installs Debian's package.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psycopg
from sqlalchemy.engine import make_url

from .postgres import SUPERUSER
from .service import free_port

START_TIMEOUT = 15.0
# Fewer server connections than the service's pool: the clients must take turns on them, as in production.
SERVER_POOL = 3


def find_pgbouncer() -> str:
    # Debian puts it in /usr/sbin, which is not on an ordinary user's PATH.
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise RuntimeError("pgbouncer not found; install it, e.g. `apt-get install pgbouncer` (make test does)")
    return found


class PgBouncer:
    """``with PgBouncer(server_port) as bouncer: bouncer.url_for(database_url)``."""

    def __init__(self, server_port: int) -> None:
        self.binary = find_pgbouncer()
        self.server_port = server_port
        self.port = free_port()
        self.tmp: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        # PgBouncer refuses to run as root, like PostgreSQL: root hands it to the package's system user.
        self._as_postgres = os.geteuid() == 0

    def url_for(self, database_url: str) -> str:
        """The same database, through the bouncer."""
        return make_url(database_url).set(port=self.port).render_as_string(hide_password=False)

    @property
    def log(self) -> str:
        assert self.tmp is not None
        path = self.tmp / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> PgBouncer:
        self.tmp = Path(tempfile.mkdtemp(prefix="brytupp-pgbouncer-"))
        (self.tmp / "userlist.txt").write_text(f'"{SUPERUSER}" ""\n')
        (self.tmp / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.server_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.tmp / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {SERVER_POOL}\n"
            "max_client_conn = 200\n"
            f"logfile = {self.tmp / 'pgbouncer.log'}\n"
            f"pidfile = {self.tmp / 'pgbouncer.pid'}\n"
        )
        command = [self.binary, str(self.tmp / "pgbouncer.ini")]
        if self._as_postgres:
            shutil.chown(self.tmp, "postgres", "postgres")
            command = ["runuser", "-u", "postgres", "--", *command]
        self._proc = subprocess.Popen(
            command, cwd=self.tmp, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited with {self._proc.returncode}:\n{self.log[-3000:]}")
            try:
                conninfo = f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres connect_timeout=2"
                with psycopg.connect(conninfo, autocommit=True, prepare_threshold=None) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                time.sleep(0.05)
        raise RuntimeError(f"pgbouncer not accepting connections after {START_TIMEOUT:g} s:\n{self.log[-3000:]}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            # SIGINT is PgBouncer's safe shutdown; the pid file names pgbouncer itself, not runuser.
            pid = int((self.tmp / "pgbouncer.pid").read_text()) if self.tmp and (self.tmp / "pgbouncer.pid").exists() else proc.pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                proc.wait(5)
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __enter__(self) -> PgBouncer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
