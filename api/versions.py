"""Process versions in the database: the one source of truth every instance serves from.

A version (its texts, content hash, who stored it, when) is stored before any instance
serves it, and which version each district serves is a row of ``current_versions``.
Publishing writes both in one transaction; every instance follows the rows (``Registry``),
woken at once on PostgreSQL by ``NOTIFY`` and polling as the fallback (and on SQLite).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from engine import CompiledProcess, compile_process, load_override, load_process, merge_override
from engine.schema import reading_stored_version

from .models import CurrentVersion, ProcessVersion, utcnow

log = logging.getLogger("brytupp.processes")

CHANNEL = "brytupp_versions"


@dataclasses.dataclass(frozen=True)
class Sources:
    """The two files a district's effective process is built from, as they were read."""

    central_path: str
    central_text: str
    district_path: str
    district_text: str

    def compile(self) -> CompiledProcess:
        central = load_process(self.central_path, self.central_text)
        override = load_override(self.district_path, self.district_text)
        return compile_process(merge_override(central, override))


class VersionStore:
    def __init__(self, engine: Engine, listen: bool = True) -> None:
        self.engine = engine
        # Behind a pooler in transaction mode a LISTEN is lost with its server connection: poll only.
        self.listens = listen and self.notifies

    @property
    def notifies(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def current(self) -> dict[str, CurrentVersion]:
        """Which version each district serves now."""
        with Session(self.engine) as session:
            return {row.district: row for row in session.exec(select(CurrentVersion))}

    @contextmanager
    def listen(self) -> Iterator[Callable[[float], Iterator[object]]]:
        """PostgreSQL only: a connection of its own that hears every publication; the callable
        yields a notification as it arrives, for at most the given seconds."""
        import psycopg

        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            yield lambda seconds: iter(connection.notifies(timeout=seconds))

    def texts(self, version: str) -> ProcessVersion | None:
        with Session(self.engine) as session:
            return session.get(ProcessVersion, version)

    def publish(self, versions: Iterable[tuple[CompiledProcess, Sources]], by: str) -> list[str]:
        """Store these versions and make each its district's current one, in one transaction;
        the districts whose current version changed.  Every instance follows within moments."""
        changed: list[str] = []
        with Session(self.engine) as session:
            for compiled, sources in versions:
                district = compiled.name
                if session.get(ProcessVersion, compiled.version) is None:
                    session.add(
                        ProcessVersion(
                            version=compiled.version, district=district, created_by=by, **dataclasses.asdict(sources)
                        )
                    )
                    session.flush()
                row = session.get(CurrentVersion, district, with_for_update=True)
                if row is None:
                    session.add(CurrentVersion(district=district, version=compiled.version, published_by=by))
                elif row.version != compiled.version:
                    row.version, row.since, row.published_by = compiled.version, utcnow(), by
                    session.add(row)
                else:
                    continue
                changed.append(district)
            if changed and self.notifies:
                # Delivered at commit, to every instance listening.
                session.exec(text(f"NOTIFY {CHANNEL}"))  # type: ignore[call-overload]
            session.commit()
        if changed:
            log.info("published: %s", ", ".join(changed))
        return changed


def build_stored(row: ProcessVersion) -> CompiledProcess:
    """A stored version, built from its texts in the language of its day, under its own id."""
    sources = Sources(row.central_path, row.central_text, row.district_path, row.district_text)
    with reading_stored_version():
        compiled = sources.compile()
    # The stored row is the version's identity: the process language may have gained fields since,
    # and they are part of what a version's hash is computed from.
    return dataclasses.replace(compiled, version=row.version)


def build_central(row: ProcessVersion) -> CompiledProcess:
    """The central process a stored version was built with (what the diff views compare against)."""
    with reading_stored_version():
        return compile_process(merge_override(load_process(row.central_path, row.central_text)))
