"""Database engine and sessions: SQLite by default, PostgreSQL through DATABASE_URL.

SQLite is set up for many threads writing one file without losing a write:
WAL (readers do not block the writer), ``synchronous=FULL`` (an acknowledged
commit survives a crash of the process and of the machine), a busy timeout, and
every transaction opened with ``BEGIN IMMEDIATE`` so that two transactions never
both read and then both try to upgrade to writing (a deadlock SQLite resolves by
failing one of them at once, whatever the busy timeout).

One pool per process serves the writer and the reader (``reader_of(engine)``): on
PostgreSQL they differ only in autocommit, on SQLite only in how a transaction
begins, and both are options of a checked-out connection, so two pools would only
double the connections a process may hold against the server's ``max_connections``.

Migrations (``migrate``) run under a lock, so that instances starting together on an
empty or outdated schema take turns instead of creating the same types at once: on
PostgreSQL a session advisory lock on a fixed key; on SQLite the migration's own
``BEGIN IMMEDIATE``, which already lets one writer in at a time.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import Session, create_engine

if TYPE_CHECKING:
    from .settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed 64-bit key will do as long as nothing else on the server uses it: the first
# eight bytes of "brytupp!" read as a signed integer.
MIGRATION_LOCK = int.from_bytes(b"brytupp!", "big", signed=True)
_DEFERRED = "brytupp_deferred"

log = logging.getLogger("brytupp.db")


def make_engine(
    url: str,
    readonly: bool = False,
    *,
    pool_size: int = 5,
    max_overflow: int = 5,
    pool_timeout: float = 10,
    transaction_pooling: bool = False,
) -> Engine:
    """An engine for ``url`` with its own pool of at most ``pool_size + max_overflow``
    connections.  ``readonly``: the reader façade of a new engine (see ``reader_of``).
    ``transaction_pooling``: the URL is a pooler in transaction mode (PgBouncer), where a
    server connection changes between transactions, so nothing may be prepared on it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, pool_size, max_overflow, pool_timeout)
    else:
        # Sessions in UTC whatever the server's zone, so that times read back as they were
        # written and as SQLite gives them (UTC).  PgBouncer refuses the `options` startup
        # parameter; behind it the role's or database's own `timezone` must be UTC (checked).
        connect_args: dict[str, Any] = {"connect_timeout": 5}
        if transaction_pooling:
            connect_args["prepare_threshold"] = None
        else:
            connect_args["options"] = "-c timezone=UTC"
        engine = create_engine(
            url,
            isolation_level="READ COMMITTED",
            # A connection the server dropped is noticed before use: the service recovers by
            # itself when the database comes back.
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            connect_args=connect_args,
        )
        if transaction_pooling:
            event.listen(engine, "connect", _require_utc)
    return reader_of(engine) if readonly else engine


def engine_for(settings: Settings, **pool: Any) -> Engine:
    """The service's engine with the settings' pool (``pool`` overrides the sizes)."""
    sizes = {"pool_size": settings.pool_size, "max_overflow": settings.max_overflow, **pool}
    return make_engine(
        settings.database_url, pool_timeout=settings.pool_timeout, transaction_pooling=settings.transaction_pooling, **sizes
    )


def migration_engine(settings: Settings) -> Engine:
    """For migrating: the server itself (``migrate_database_url``) when the service goes
    through a transaction pooler, since the advisory lock lives in a server session."""
    url = settings.migrate_database_url or settings.database_url
    pooled = settings.transaction_pooling and not settings.migrate_database_url
    return make_engine(url, pool_size=1, max_overflow=0, transaction_pooling=pooled)


def reader_of(engine: Engine) -> Engine:
    """The same pool as ``engine``, for reads that are one statement each (SQLAlchemy's
    ``Engine.execution_options`` makes a façade that shares its parent's pool and events).
    On SQLite its transactions start deferred, so readers run beside the one writer (WAL);
    on PostgreSQL its statements run in autocommit, which saves the BEGIN and ROLLBACK round
    trips (the pool puts the connection back to READ COMMITTED when it is returned)."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{_DEFERRED: True})
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _require_utc(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("SHOW timezone")
    zone = cursor.fetchone()[0]
    cursor.close()
    # psycopg left a transaction open for the SHOW; the pool expects an idle connection.
    dbapi_connection.rollback()
    if zone not in ("UTC", "Etc/UTC"):
        raise RuntimeError(
            f"behind a transaction pooler the server's timezone must be UTC, not {zone}: "
            "ALTER ROLE <user> SET timezone = 'UTC' (or ALTER DATABASE)"
        )


def _sqlite_engine(url: str, pool_size: int, max_overflow: int, pool_timeout: float) -> Engine:
    database = make_url(url).database
    pool: dict[str, Any] = {}
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        # A file database gets a queue pool; an in-memory one one connection per thread, unsized.
        pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)

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
        deferred = connection.get_execution_options().get(_DEFERRED, False)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    return engine


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@functools.cache
def _revisions() -> tuple[frozenset[str], frozenset[str]]:
    # The scripts ship with the release: read once, not on every readiness check.
    script = ScriptDirectory.from_config(_config())
    return frozenset(script.get_heads()), frozenset(r.revision for r in script.walk_revisions())


def schema_at_head(engine: Engine) -> bool:
    """Whether the schema is at this release's newest migration, or past it: a revision this
    release does not know is a newer release's migrate job during a rolling upgrade, and
    the migrations only ever add.  Raises SQLAlchemy's OperationalError when the database
    cannot be reached."""
    with engine.connect() as connection:
        found = frozenset(MigrationContext.configure(connection).get_current_heads())
    heads, known = _revisions()
    return found == heads or bool(found - known)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic, scripts in api/migrations).

    On PostgreSQL under a session advisory lock: whoever comes second waits for the first
    to commit and then finds nothing to do.  The lock lives in the server session, so the
    connection must reach the server itself or through session pooling (behind a
    transaction pooler, point ``brytupp migrate --database-url`` at the server)."""
    if schema_at_head(engine):
        return
    config = _config()
    with engine.connect() as connection:
        locking = connection.dialect.name == "postgresql"
        if locking:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            if locking:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
        except BaseException:
            # Closing the server session is what surely releases the lock; the pool opens a new one.
            connection.invalidate()
            raise


def wait_for_head(engine: Engine, stop: threading.Event, interval: float = 1.0) -> bool:
    """Poll until the schema is at head (True; the migrate job has run) or ``stop`` is set
    (False).  An unreachable database is one more reason to keep waiting."""
    from sqlalchemy.exc import SQLAlchemyError

    while not stop.is_set():
        try:
            if schema_at_head(engine):
                return True
        except SQLAlchemyError:
            pass
        stop.wait(interval)
    return False


def start_when_migrated(
    engine: Engine, settings: Settings, start: Callable[[], None], stop: threading.Event
) -> threading.Thread | None:
    """At an instance's start: migrate (when ``migrate_on_start``) and call ``start`` once
    the schema is at head.  An instance left to the migrate job on an older schema must not
    fail, or a deploy that starts instances before the job would crash-loop: ``start`` then
    runs in a thread when polling finds the job has run (the thread, to join after ``stop``);
    until then the instance serves /health and is not ready."""
    if settings.migrate_on_start:
        migrator = migration_engine(settings)
        try:
            migrate(migrator)
        finally:
            migrator.dispose()
    if schema_at_head(engine):
        start()
        return None
    log.warning("schema behind this release: not ready until `brytupp migrate` has run")

    def wait() -> None:
        if wait_for_head(engine, stop):
            log.info("schema at head: starting")
            start()

    waiter = threading.Thread(target=wait, name="schema-wait", daemon=True)
    waiter.start()
    return waiter


def sessions(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session
