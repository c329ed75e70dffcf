"""A throwaway PostgreSQL server that the test suite starts and stops itself.

Missing PostgreSQL is an error, never a skip: CI must not go green without the database tests having run.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psycopg

SUPERUSER = "brytupp"
DATABASE = "brytupp_test"
# Below the Linux ephemeral range (32768+): a client retrying on an ephemeral port can end up connected to itself
# and keep the port from the server.
PORT_RANGE = (20000, 32000)
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
PORT_ATTEMPTS = 10
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    # Durability tests kill the server and expect committed rows to survive.
    "fsync": "on",
    "synchronous_commit": "on",
    "max_connections": "200",
    "shared_buffers": "16MB",
    "logging_collector": "off",
    # Stockholm's zone, as a production server's may be: nothing may take the server's zone for UTC.
    "timezone": "Europe/Stockholm",
}


class PostgresNotInstalled(RuntimeError):
    pass


class PostgresStartError(RuntimeError):
    pass


class _PortInUse(PostgresStartError):
    pass


def find_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres: Debian's highest version, else what pg_config says."""
    needed = ("initdb", "pg_ctl", "postgres")
    candidates: list[Path] = []
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    candidates += sorted(versions, key=lambda p: int(p.parent.name), reverse=True)
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if result.returncode == 0 and result.stdout.strip():
            candidates.append(Path(result.stdout.strip()))
    for bindir in candidates:
        if all(os.access(bindir / name, os.X_OK) for name in needed):
            return bindir
    raise PostgresNotInstalled(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found under /usr/lib/postgresql/<N>/bin "
        "or `pg_config --bindir`; install them, e.g. `apt-get install postgresql`."
    )


def _free_port() -> int:
    for _ in range(200):
        port = random.randint(*PORT_RANGE)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise PostgresStartError(f"no free TCP port in {PORT_RANGE} on 127.0.0.1")


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # A zombie has released its port and files; whoever inherited it (a container's init, say) may be slow to reap it.
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class PostgresServer:
    """``with PostgresServer() as pg: create_engine(pg.url)``; or ``start()`` / ``stop()``."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.port: int | None = None
        self.pid: int | None = None
        self.tmpdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        # PostgreSQL refuses to run as root, so root hands the server to the Debian package's system user.
        self._as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        if self.port is None:
            raise PostgresStartError("server not started")
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def datadir(self) -> Path:
        return self._tmp / "data"

    @property
    def logfile(self) -> Path:
        return self._tmp / "server.log"

    @property
    def _tmp(self) -> Path:
        if self.tmpdir is None:
            raise PostgresStartError("server not started")
        return self.tmpdir

    def start(self) -> PostgresServer:
        if self.tmpdir is not None:
            raise PostgresStartError("server already started")
        self.tmpdir = Path(tempfile.mkdtemp(prefix="brytupp-pg-"))
        atexit.register(self.stop)
        try:
            (self._tmp / "sock").mkdir()
            if self._as_postgres:
                for path in (self._tmp, self._tmp / "sock"):
                    shutil.chown(path, "postgres", "postgres")
            self._initdb()
            for attempt in range(PORT_ATTEMPTS):
                try:
                    self._launch(_free_port())
                    break
                except _PortInUse:
                    if attempt == PORT_ATTEMPTS - 1:
                        raise
            with psycopg.connect(self._conninfo("postgres"), autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {DATABASE}")
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self) -> None:
        """Stop the server and start it again on the same port and data dir, as if the database came back."""
        if self.port is None:
            raise PostgresStartError("server not started")
        port = self.port
        self._shutdown()
        self._launch(port)

    def pause(self) -> None:
        """Stop the server but keep its port and data dir: the database is down until ``resume()``."""
        if self.port is None:
            raise PostgresStartError("server not started")
        self._shutdown()

    def resume(self) -> None:
        """Start a paused server again on the same port and data dir; a no-op when it is running."""
        if self.port is None:
            raise PostgresStartError("server not started")
        if self._proc is None:
            self._launch(self.port)

    def stop(self) -> None:
        """Stop the server and delete its data; safe to call twice."""
        atexit.unregister(self.stop)
        try:
            self._shutdown()
        finally:
            if self.tmpdir is not None:
                shutil.rmtree(self.tmpdir, ignore_errors=True)
                self.tmpdir = None
            self.port = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bindir / program), *args]
        return ["runuser", "-u", "postgres", "--", *command] if self._as_postgres else command

    def _env(self) -> dict[str, str]:
        # English messages, so the log can be searched for "Address already in use".
        return {**os.environ, "LC_ALL": "C", "LANG": "C"}

    def _conninfo(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={dbname} connect_timeout=2"

    def _initdb(self) -> None:
        args = ["-D", str(self.datadir), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C"]
        # Only initdb's own fsyncs are skipped: a half-written cluster from a crashed host is never reused.
        args.append("--no-sync")
        # cwd in the temp dir: the postgres user may not be able to enter the caller's working directory.
        result = subprocess.run(
            self._command("initdb", *args), cwd=self._tmp, env=self._env(), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise PostgresStartError(f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    def _launch(self, port: int) -> None:
        self.port = port
        args = ["-D", str(self.datadir), "-p", str(port), "-k", str(self._tmp / "sock")]
        for name, value in SETTINGS.items():
            args += ["-c", f"{name}={value}"]
        with self.logfile.open("ab") as log:
            offset = log.tell()
            # Own session: the SIGKILL fallback can take out runuser, the postmaster and its backends together.
            self._proc = subprocess.Popen(
                self._command("postgres", *args),
                cwd=self._tmp,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready(offset)
        except BaseException:
            self._shutdown()
            raise

    def _wait_ready(self, log_offset: int) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                log = self._log_since(log_offset)
                if "Address already in use" in log:
                    raise _PortInUse(f"port {self.port} taken")
                raise PostgresStartError(f"postgres exited with {self._proc.returncode}; log:\n{self._tail(log)}")
            try:
                with psycopg.connect(self._conninfo("postgres")) as conn:
                    row = conn.execute("SHOW data_directory").fetchone()
                # Another server may own this port; only ours counts as ready.
                if row is None or Path(str(row[0])).resolve() != self.datadir.resolve():
                    raise _PortInUse(f"port {self.port} is served by another PostgreSQL ({row})")
                self.pid = self._read_pid()
                return
            except psycopg.OperationalError as error:
                last_error = error
                time.sleep(0.05)
        raise PostgresStartError(
            f"postgres not accepting connections on port {self.port} after {START_TIMEOUT:.0f}s ({last_error}); "
            f"log:\n{self._tail(self._log_since(log_offset))}"
        )

    def _read_pid(self) -> int:
        # Under runuser the Popen child is runuser, not the postmaster; the postmaster writes its own pid here.
        return int((self.datadir / "postmaster.pid").read_text().split("\n", 1)[0])

    def _log_since(self, offset: int) -> str:
        try:
            with self.logfile.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    @staticmethod
    def _tail(log: str, lines: int = 30) -> str:
        return "\n".join(log.rstrip().splitlines()[-lines:])

    def _shutdown(self) -> None:
        proc, pid = self._proc, self.pid
        self._proc = self.pid = None
        if proc is None:
            return
        if proc.poll() is None and pid is not None:
            # SIGINT is PostgreSQL's fast shutdown: roll back open transactions, checkpoint, exit.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                # runuser waits for the postmaster, so its exit means the postmaster is gone too.
                proc.wait(timeout=STOP_TIMEOUT)
        if proc.poll() is None:
            # A failed start (pid unknown) or a hung shutdown: nothing worth shutting down cleanly.
            if pid is not None:
                # Killing the postmaster first lets runuser reap it; a container's init may never reap orphans.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=2)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if pid is not None:
            deadline = time.monotonic() + STOP_TIMEOUT
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)


__all__ = ["DATABASE", "SUPERUSER", "PostgresNotInstalled", "PostgresServer", "PostgresStartError", "find_bindir"]
