"""Retention (gallring): closed cases are erased once their retention period is over.

Input: a database engine, a day and who runs the purge; output: how many cases and events
went (``PurgeResult``).  ``brytupp purge`` calls ``purge_closed``.

The law: socialtjänstlagen (2001:453) 12 kap. 1 § has the records about an individual
(personakt) gallrade five years after the last note was made in them; 12 kap. 2 § and
socialtjänstförordningen (2001:937) 7 kap. 1 § make exceptions, chiefly records kept for
research (in named municipalities, and everywhere for persons born on the 5th, 15th or
25th of a month) and records in matters such as paternity, adoption and custody.  The
default period is therefore five years (``Settings.retention_years``).  The service cannot
apply the exceptions itself, as it holds no birth dates or names (references are
pseudonymous); whoever runs the purge applies the city's document management plan
(dokumenthanteringsplan), e.g. with a later ``--closed-before``.

What goes: a case is purged when it is closed, closed before the day, and its last note is
before the day too: no event of it is dated on or after the day, or was recorded on or after
it (a note made late, about an old date, restarts the period, as the law counts from when it
was made).  An open case is never purged, whatever its dates.  With the case go its events
(``case_events``: payloads and the facts history), its open steps, the steps it passed and
the interventions it was owed (``open_steps``, ``step_passages``, ``pending_interventions``).  No
other table holds anything per case but the audit trail: ``unit_routines`` and
``process_versions`` are per unit and per process version, ``step_months`` counts per district,
step and month.

What stays: the audit trail, which has a retention of its own and is append-only in the
database (migration 0003).  Its rows carry the case id, never the reference or facts.  Each
purged case gains one audit row: action ``purged``, the case id, when, and the operator as
subject (an operator id given to ``--by``, never an OS user name, which may be a person's
name), with role ``operator`` as the column needs one.

How: in batches of ``batch_size`` cases, one transaction each, so a purge of years of cases
neither holds one long transaction nor loses what it has done if stopped.  On PostgreSQL the
batch's cases are locked (``FOR UPDATE SKIP LOCKED``: a case being written to just now is left
for the next purge).

Deleted rows must not linger in the files.  SQLite: the purge runs with ``secure_delete``
(what it deletes is overwritten with zeros), but the service writes without it, so older copies
of a row (from before the case was closed, say) can still sit in free space: the file is then
VACUUMed, rebuilt from the live rows (holding the write lock as long as the copy takes), and
the WAL checkpointed and truncated.  PostgreSQL leaves deleted and updated rows as dead tuples:
VACUUM runs on the tables that held the cases afterwards, outside a transaction as it must.  It makes them
unreachable and frees their space for reuse, but the bytes stay in the pages until overwritten;
only ``VACUUM FULL`` rewrites the files, under an exclusive lock, which is left to the operator.
Backups and archived WAL keep what they hold until their own retention ends.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from .models import AuditRecord, Case, CaseEvent, OpenStep, PendingIntervention, StepPassage, utcnow
from .pseudonym import REFERENCE_PATTERN, looks_like_pin

ACTION = "purged"
ROLE = "operator"
BATCH_SIZE = 500


@dataclass(frozen=True)
class PurgeResult:
    closed_before: dt.date
    cases: int
    events: int
    dry_run: bool


def retention_cutoff(today: dt.date, years: int) -> dt.date:
    """The day ``years`` years before ``today`` (29 February goes to 28 February)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def _purgeable(day: dt.date) -> list[ColumnElement[bool]]:
    since = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    noted_since = (
        select(col(CaseEvent.id))
        .where(
            col(CaseEvent.case_id) == col(Case.id),
            or_(col(CaseEvent.on) >= day, col(CaseEvent.recorded_at) >= since),
        )
        .exists()
    )
    return [col(Case.closed).is_(True), col(Case.closed_on) < day, ~noted_since]


def purge_closed(engine: Engine, day: dt.date, by: str, dry_run: bool = False, batch_size: int = BATCH_SIZE) -> PurgeResult:
    """Erase the closed cases whose last note is before ``day`` (see the module docstring);
    ``by``: the operator's id, for the audit rows.  ``dry_run``: count them, change nothing."""
    if not re.fullmatch(REFERENCE_PATTERN, by) or looks_like_pin(by):
        raise ValueError("--by: the operator's id, 3 to 64 letters, digits and _.:- (never a name or personal identity number)")
    where = _purgeable(day)
    if dry_run:
        with engine.connect() as conn:
            purged = select(col(Case.id)).where(*where).scalar_subquery()
            cases = conn.execute(select(func.count()).select_from(Case).where(*where)).scalar_one()
            events = conn.execute(select(func.count()).where(col(CaseEvent.case_id).in_(purged))).scalar_one()
            conn.rollback()
        return PurgeResult(day, int(cases), int(events), dry_run=True)
    cases = events = 0
    while True:
        with engine.begin() as conn:
            _prepare(conn)
            batch = select(col(Case.id)).where(*where).order_by(col(Case.closed_on), col(Case.id)).limit(batch_size)
            if conn.dialect.name == "postgresql":
                batch = batch.with_for_update(skip_locked=True)
            ids = list(conn.execute(batch).scalars())
            if not ids:
                break
            conn.execute(delete(OpenStep).where(col(OpenStep.case_id).in_(ids)))
            conn.execute(delete(StepPassage).where(col(StepPassage.case_id).in_(ids)))
            conn.execute(delete(PendingIntervention).where(col(PendingIntervention.case_id).in_(ids)))
            events += conn.execute(delete(CaseEvent).where(col(CaseEvent.case_id).in_(ids))).rowcount
            cases += conn.execute(delete(Case).where(col(Case.id).in_(ids))).rowcount
            at = utcnow()
            conn.execute(
                insert(AuditRecord),
                [{"at": at, "subject": by, "role": ROLE, "case_id": case_id, "action": ACTION} for case_id in ids],
            )
    if cases:
        _reclaim(engine)
    return PurgeResult(day, cases, events, dry_run=False)


def _prepare(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        # Per connection, whatever the build's default (Debian's is on, others' off).
        conn.exec_driver_sql("PRAGMA secure_delete=ON")


def _reclaim(engine: Engine) -> None:
    """After the purge: no copy of the deleted rows left in the files (see the module docstring).
    Neither VACUUM runs inside a transaction."""
    if engine.dialect.name == "sqlite":
        # The driver's connection as it is: through SQLAlchemy every use would begin a transaction.
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("VACUUM")
            # Unless a reader elsewhere is still on an older snapshot; the next purge retries.
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.close()
        finally:
            raw.close()
    elif engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            tables = (CaseEvent, OpenStep, StepPassage, PendingIntervention, Case)
            conn.exec_driver_sql("VACUUM " + ", ".join(str(t.__tablename__) for t in tables))
