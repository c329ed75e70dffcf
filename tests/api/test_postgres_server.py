"""The test suite's own PostgreSQL server: starts, keeps data across a restart, leaves nothing behind."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, text

from tests.postgres import PostgresServer


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    # No skip when PostgreSQL is missing: PostgresServer() raises, and the tests fail.
    with PostgresServer() as pg:
        yield pg


def _engine(pg: PostgresServer) -> Engine:
    return create_engine(pg.url, pool_pre_ping=True)


def test_engine_can_write_and_read_back(server: PostgresServer) -> None:
    assert server.url == f"postgresql+psycopg://brytupp@127.0.0.1:{server.port}/brytupp_test"
    assert server.port is not None and 20000 <= server.port < 32768
    engine = _engine(server)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE note (id serial PRIMARY KEY, body text NOT NULL)"))
            conn.execute(text("INSERT INTO note (body) VALUES (:body)"), [{"body": "första"}, {"body": "andra"}])
        with engine.connect() as conn:
            assert conn.execute(text("SELECT body FROM note ORDER BY id")).scalars().all() == ["första", "andra"]
            assert conn.execute(text("SHOW fsync")).scalar_one() == "on"
    finally:
        engine.dispose()


def test_restart_keeps_data_and_port(server: PostgresServer) -> None:
    engine = _engine(server)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE kept (n int)"))
            conn.execute(text("INSERT INTO kept VALUES (42)"))
        port, pid = server.port, server.pid
        server.restart()
        assert server.port == port
        assert server.pid is not None and server.pid != pid
        # pool_pre_ping replaces the connection the restart killed.
        with engine.connect() as conn:
            assert conn.execute(text("SELECT n FROM kept")).scalar_one() == 42
    finally:
        engine.dispose()


def test_stop_leaves_no_process_or_listener() -> None:
    pg = PostgresServer().start()
    pid, port, tmpdir = pg.pid, pg.port, pg.tmpdir
    assert pid is not None and tmpdir is not None and tmpdir.exists()
    pg.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"host=127.0.0.1 port={port} user=brytupp dbname=postgres connect_timeout=2")
    assert not tmpdir.exists()
    pg.stop()  # a second stop is harmless
