"""Database engine and sessions: SQLite by default, PostgreSQL through DATABASE_URL.

SQLite is set up for many threads writing one file without losing a write:
WAL (readers do not block the writer), ``synchronous=FULL`` (an acknowledged
commit survives a crash of the process and of the machine), a busy timeout, and
every transaction opened with ``BEGIN IMMEDIATE`` so that two transactions never
both read and then both try to upgrade to writing (a deadlock SQLite resolves by
failing one of them at once, whatever the busy timeout).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import Session, create_engine


def make_engine(url: str, readonly: bool = False) -> Engine:
    """An engine for ``url``.  ``readonly``: for reads that are one statement each.  On SQLite
    transactions start deferred, so readers run beside the one writer (WAL); on PostgreSQL
    statements run in autocommit, which saves the BEGIN and ROLLBACK round trips."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, immediate=not readonly)
    return create_engine(
        url,
        isolation_level="AUTOCOMMIT" if readonly else "READ COMMITTED",
        # A connection the server dropped is noticed before use: the service recovers by
        # itself when the database comes back.
        pool_pre_ping=True,
        pool_size=16,
        max_overflow=48,
        pool_timeout=10,
        # Sessions in UTC whatever the server's zone, so that times read back as they were
        # written and as SQLite gives them (UTC).
        connect_args={"connect_timeout": 5, "options": "-c timezone=UTC"},
    )


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling would issue a deferred BEGIN; take it over.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic, scripts in api/migrations)."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def sessions(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session
