"""The case service under test, on SQLite or PostgreSQL: in process (TestClient)
or as a real server process (uvicorn via ``brytupp serve``) for crash, concurrency
and reload tests."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from api.app import create_app
from api.auth import Role, mint
from api.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
KEY = "test-key-" + "x" * 40
_counter = itertools.count()


def copy_processes(into: Path) -> list[Path]:
    """A private copy of the process files, so a test may break one."""
    shutil.copytree(ROOT / "processes", into / "processes")
    shutil.copytree(ROOT / "local_overrides", into / "local_overrides")
    return [into / "processes", into / "local_overrides"]


def fresh_database(kind: str, tmp: Path, postgres_url: str | None) -> str:
    """An empty database of the given kind."""
    if kind == "sqlite":
        return f"sqlite:///{tmp}/brytupp.sqlite"
    assert postgres_url is not None
    url = make_url(postgres_url)
    name = f"t{os.getpid()}_{next(_counter)}"
    conninfo = f"host={url.host} port={url.port} user={url.username} dbname={url.database}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def settings_for(database_url: str, processes: list[Path], **extra: Any) -> Settings:
    # The process files are published at start (what development does); a test of production passes watch_files=False.
    return Settings(database_url=database_url, jwt_key=KEY, processes=processes, reload_interval=0, **{"watch_files": True, **extra})


class Service:
    """An in-process service with token helpers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = TestClient(create_app(settings), raise_server_exceptions=False)

    def __enter__(self) -> Service:
        self.client.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(*exc)

    @property
    def registry(self) -> Any:
        return self.client.app.state.registry  # type: ignore[attr-defined]

    def headers(self, role: Role = Role.caseworker, district: str | None = "farsta", subject: str = "anna") -> dict[str, str]:
        if role != Role.caseworker and district == "farsta":
            district = None
        return {"Authorization": "Bearer " + mint(self.settings, subject, role, district)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``brytupp serve`` in its own process, as an operator runs it."""

    def __init__(self, settings: Settings, workdir: Path, reload_interval: float = 0) -> None:
        self.settings = settings
        self.workdir = workdir
        self.reload_interval = reload_interval
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        env = {
            **os.environ,
            "BRYTUPP_DATABASE_URL": self.settings.database_url,
            "BRYTUPP_JWT_KEY": KEY,
            "BRYTUPP_PROCESSES": "[" + ",".join(f'"{p}"' for p in self.settings.processes) + "]",
            "BRYTUPP_RELOAD_INTERVAL": str(self.reload_interval),
            "BRYTUPP_BENCH_ENDPOINTS": "1",
            # The tests' and benches' servers publish their own copy of the process files at start.
            "BRYTUPP_WATCH_FILES": "true" if self.settings.reads_files else "false",
        }
        command = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(command, cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """kill -9: no shutdown, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def headers(self, role: Role = Role.caseworker, district: str | None = "farsta", subject: str = "anna") -> dict[str, str]:
        return {"Authorization": "Bearer " + mint(self.settings, subject, role, district)}


def running(server: ServerProcess) -> Iterator[ServerProcess]:
    server.start()
    try:
        yield server
    finally:
        server.stop()
