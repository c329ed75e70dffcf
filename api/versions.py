"""Process versions in the database: the one source of truth every instance serves from.

A version (its texts, content hash, who stored it, when) is stored before any instance
serves it, and which version each district serves is a row of ``current_versions``.
Publishing writes both in one transaction; every instance follows the rows (``Registry``),
woken at once on PostgreSQL by ``NOTIFY`` and polling as the fallback (and on SQLite).

Every version made current, or approved to become current on a later day, is a row of
``process_publications``: the district's history (who wrote it, who approved it, from which
day, the note and the diary number).  A row whose day has come (in ``timezone``) is applied by
whichever instance notices first (``promote_due``, which every follower runs); the rest follow
as they follow any publication.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select, update

from engine import CompiledProcess, compile_process, load_override, load_process, merge_override
from engine.schema import reading_stored_version

from .db import reader_of
from .models import CurrentVersion, ProcessPublication, ProcessVersion, utcnow

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


@dataclasses.dataclass(frozen=True)
class Approval:
    """Who decided that a version serves, and from when: what the history shows."""

    drafted_by: str
    approved_by: str | None = None
    effective_from: dt.date | None = None  # None: today
    note: str | None = None
    reference: str | None = None
    draft_id: uuid.UUID | None = None


class VersionStore:
    def __init__(self, engine: Engine, listen: bool = True, timezone: str = "Europe/Stockholm") -> None:
        self.engine = engine
        # Followers read every half second: on SQLite a read must not take the write lock.
        self.reader = reader_of(engine)
        # Behind a pooler in transaction mode a LISTEN is lost with its server connection: poll only.
        self.listens = listen and self.notifies
        self.zone = ZoneInfo(timezone)

    @property
    def notifies(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def today(self) -> dt.date:
        return dt.datetime.now(self.zone).date()

    def current(self) -> dict[str, CurrentVersion]:
        """Which version each district serves now."""
        with Session(self.reader) as session:
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
        with Session(self.reader) as session:
            return session.get(ProcessVersion, version)

    def publish(self, versions: Iterable[tuple[CompiledProcess, Sources]], by: str) -> list[str]:
        """Store these versions and make each its district's current one, in one transaction;
        the districts whose current version changed.  Every instance follows within moments."""
        changed: list[str] = []
        with Session(self.engine) as session:
            for compiled, sources in versions:
                if self.schedule(session, compiled, sources, Approval(drafted_by=by)):
                    changed.append(compiled.name)
            session.commit()
        if changed:
            log.info("published: %s", ", ".join(changed))
        return changed

    def schedule(self, session: Session, compiled: CompiledProcess, sources: Sources, approval: Approval) -> bool:
        """In the caller's transaction: store the version and its history row; from today, make it
        current at once (True when the district's current version changed)."""
        district = compiled.name
        if session.get(ProcessVersion, compiled.version) is None:
            session.add(
                ProcessVersion(
                    version=compiled.version, district=district, created_by=approval.drafted_by, **dataclasses.asdict(sources)
                )
            )
            session.flush()
        today = self.today()
        effective = approval.effective_from or today
        current = session.get(CurrentVersion, district)
        if effective <= today and current is not None and current.version == compiled.version:
            return False  # serving already: nothing happens, so nothing to record
        publication = ProcessPublication(
            district=district,
            version=compiled.version,
            draft_id=approval.draft_id,
            effective_from=effective,
            drafted_by=approval.drafted_by,
            approved_by=approval.approved_by,
            note=approval.note,
            reference=approval.reference,
        )
        session.add(publication)
        session.flush()
        return effective <= today and self._apply(session, publication)

    def promote_due(self) -> list[str]:
        """Make current every approved version whose day has come; the districts switched.  Any
        instance may run it at any time: a publication is applied once, by whoever claims it."""
        switched: list[str] = []
        due = (
            select(ProcessPublication)
            .where(
                col(ProcessPublication.applied_at).is_(None),
                col(ProcessPublication.withdrawn_at).is_(None),
                col(ProcessPublication.effective_from) <= self.today(),
            )
            .order_by(col(ProcessPublication.effective_from), col(ProcessPublication.id))
        )
        with Session(self.reader) as session:
            if session.exec(due.limit(1)).first() is None:
                return switched
        with Session(self.engine) as session:
            for publication in session.exec(due).all():
                if self._apply(session, publication):
                    switched.append(publication.district)
            session.commit()
        if switched:
            log.info("approved versions in force from today: %s", ", ".join(switched))
        return switched

    def _apply(self, session: Session, publication: ProcessPublication) -> bool:
        # The claim is a conditional update: of two instances applying the same row, one changes it (and a
        # withdrawal that committed first wins over both).
        claimed = session.exec(
            update(ProcessPublication)
            .where(
                col(ProcessPublication.id) == publication.id,
                col(ProcessPublication.applied_at).is_(None),
                col(ProcessPublication.withdrawn_at).is_(None),
            )
            .values(applied_at=utcnow())
        )
        if claimed.rowcount != 1:
            return False
        by = publication.approved_by or publication.drafted_by
        row = session.get(CurrentVersion, publication.district, with_for_update=True)
        if row is None:
            session.add(CurrentVersion(district=publication.district, version=publication.version, published_by=by))
        elif row.version != publication.version:
            row.version, row.since, row.published_by = publication.version, utcnow(), by
            session.add(row)
        else:
            return False
        if self.notifies:
            # Delivered at commit, to every instance listening.
            session.exec(text(f"NOTIFY {CHANNEL}"))  # type: ignore[call-overload]
        return True


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
