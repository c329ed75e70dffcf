"""The tables: cases, their append-only event log, the audit trail, process versions, units' routines.

A case holds a pseudonymous reference, never a name or personal identity
number.  Its facts are the current facts; how they came about is in the event
log, which is only ever appended to.  ``row_version`` is the case's ETag: every
change to the case row increments it, and a conditional update that names an
older one changes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# JSONB on PostgreSQL: indexable and compact; plain JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps in UTC on both databases: SQLite keeps no time zone, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        return value.astimezone(dt.UTC) if value is not None and value.tzinfo else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def _timestamp() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    # One open case per client reference and district; a closed client may come back
    # (re-actualisation), so closed cases do not count.
    __table_args__ = (
        Index(
            "uq_cases_open_reference",
            "district",
            "reference",
            unique=True,
            sqlite_where=text("NOT closed"),
            postgresql_where=text("NOT closed"),
        ),
        # The effect goals (api/goals/queries.py), each covering its query: closures per year, a client's
        # later cases, and a case's district for the events.
        Index("ix_cases_closed_on_client", "closed_on", "district", "reference", "id"),
        Index("ix_cases_client_opened", "district", "reference", "opened", "id"),
        Index("ix_cases_id_district", "id", "district"),
        # Open cases whose open steps could not be worked out: listed first on every worklist.
        Index("ix_cases_unsettled", "district", "steps_as_of"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    district: str = Field(index=True, max_length=64)
    reference: str = Field(max_length=64)
    facts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    opened: dt.date
    process_version: str = Field(max_length=64)
    row_version: int = Field(default=1)
    closed: bool = Field(default=False)
    closed_on: dt.date | None = None
    created_at: dt.datetime = _timestamp()
    updated_at: dt.datetime = _timestamp()
    assigned_to: str | None = Field(default=None, max_length=128, index=True, description="The caseworker (a user id).")
    # The day the open steps stored for the case were decided for; None: never (run `brytupp refresh`).
    steps_as_of: dt.date | None = None
    # The log folded as a decision needs it (api/events.py Folded), brought forward by every write;
    # None for a case from before it was kept (its log is folded instead, and `brytupp refresh` fills it).
    state: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType, nullable=True))


class CaseEvent(SQLModel, table=True):
    __tablename__ = "case_events"
    __table_args__ = (
        UniqueConstraint("case_id", "idempotency_key", name="uq_case_events_idempotency"),
        # The effect goals (api/goals/queries.py): events of a kind in a year, and a case's later events of a kind.
        Index("ix_case_events_kind_on_case_id", "kind", "on", "case_id"),
        Index("ix_case_events_case_id_kind_on", "case_id", "kind", "on"),
    )

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="cases.id", index=True)
    kind: str = Field(max_length=32)
    on: dt.date
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    # The case's facts after this event, where the event changed them: the facts history.
    facts: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType, nullable=True))
    idempotency_key: str | None = Field(default=None, max_length=128)
    request_hash: str | None = Field(default=None, max_length=64)
    recorded_at: dt.datetime = _timestamp()
    recorded_by: str = Field(max_length=128)


class OpenStep(SQLModel, table=True):
    """A case's open steps as its last decision gave them, stored in the transaction of every write
    to the case (and again by the daily refresh): what a unit's worklist and overdue list read, so
    that listing a unit's work never decides every case of the district again.  Overdue is
    ``due_on`` before today, worked out when the list is read."""

    __tablename__ = "open_steps"
    # The worklist's order, so that its first page is read from the index however large the unit.
    __table_args__ = (Index("ix_open_steps_worklist", "district", "unit", "waiting", "sort_due", "case_id", "step", "child"),)

    case_id: uuid.UUID = Field(foreign_key="cases.id", primary_key=True)
    step: str = Field(primary_key=True, max_length=64)
    # -1 for a step of the client; a per-child step's index into facts.children otherwise.
    child: int = Field(default=-1, primary_key=True)
    district: str = Field(max_length=64)
    unit: str | None = Field(default=None, max_length=64)
    phase: str = Field(max_length=64)
    guaranteed: bool = False
    opened_on: dt.date
    due_on: dt.date | None = None
    # due_on, or for a step without a due date a day after every other: never empty, so it sorts in an index.
    sort_due: dt.date
    waiting: bool = Field(default=False, description="A join reached but waiting for open branches.")


class StepPassage(SQLModel, table=True):
    """A step instance a case passed: the day it opened (from the open step it was), the day it was
    completed, and its due date then.  Written by ``store_steps`` when a completion closes an open
    step, so the live figures per step (``GET /reports/steps``) are grouped queries over this table
    instead of replaying every case's log."""

    __tablename__ = "step_passages"
    # Equality in practice asks which cases of a district passed a guaranteed step.
    __table_args__ = (Index("ix_step_passages_district", "district", "step", "case_id"),)

    # A step in a loop can be opened and done twice in a day: a passage has an id of its own.
    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="cases.id", index=True)
    step: str = Field(max_length=64)
    child: int = -1
    opened_on: dt.date
    district: str = Field(max_length=64)
    unit: str | None = Field(default=None, max_length=64)
    phase: str = Field(max_length=64)
    completed_on: dt.date
    due_on: dt.date | None = None
    days: int = Field(description="From opening to completion; 0 for a completion dated before the step opened.")
    kept: bool | None = Field(default=None, description="Completed by the due date; None without one.")


class StepMonth(SQLModel, table=True):
    """The passages of a district's step completed in one month, counted by days from opening to
    completion: what the live figures per step sum over a period.  Kept up to date with every
    passage (``store_steps``, an upsert in the same transaction), so a report over 100,000 cases
    reads a few thousand rows (bench/reports.py) instead of every passage.  No case in it: the
    counts outlive the purge of the cases they came from, as statistics do."""

    __tablename__ = "step_months"

    district: str = Field(primary_key=True, max_length=64)
    step: str = Field(primary_key=True, max_length=64)
    month: dt.date = Field(primary_key=True, description="The first day of the month the steps were completed in.")
    days: int = Field(primary_key=True)
    passed: int = 0
    with_due: int = 0
    kept: int = 0


class PendingIntervention(SQLModel, table=True):
    """A guaranteed intervention the case's last decision says the client qualifies for but has not
    been offered (``Decision.pending_guarantees``), stored beside its open steps by ``store_steps``:
    with the steps opened and passed, what equality in practice counts (who was eligible, who was
    offered) without deciding every case again."""

    __tablename__ = "pending_interventions"
    __table_args__ = (Index("ix_pending_interventions_district", "district", "intervention", "case_id"),)

    case_id: uuid.UUID = Field(foreign_key="cases.id", primary_key=True)
    step: str = Field(primary_key=True, max_length=64)
    intervention: str = Field(max_length=64)
    district: str = Field(max_length=64)


class AuditRecord(SQLModel, table=True):
    """Who read or changed which case, or tried to, and what came of it.

    Append-only in the database itself: a trigger refuses UPDATE, DELETE and TRUNCATE
    (migration 0003), so that not even the service's own role can change the trail.
    """

    __tablename__ = "audit_records"

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    subject: str = Field(max_length=128, index=True)
    role: str = Field(max_length=32)
    # The district of the token (a caseworker's, a district manager's); none for the city.
    district: str | None = Field(default=None, max_length=64)
    case_id: uuid.UUID | None = Field(default=None, index=True)
    # The district the case belonged to when it was accessed, where there was such a case:
    # a district manager sees the attempts on their district's cases, from wherever.
    case_district: str | None = Field(default=None, max_length=64, index=True)
    action: str = Field(max_length=32)
    outcome: str = Field(default="ok", max_length=32)
    request_id: str | None = Field(default=None, max_length=64)
    source: str | None = Field(default=None, max_length=64, description="The client's network address.")
    token_id: str | None = Field(default=None, max_length=64)
    target: str | None = Field(
        default=None, max_length=64, description="What else the action was on: a process draft's id or a version."
    )
    case_ids: list[str] | None = Field(
        default=None, sa_column=Column(JSONType, nullable=True), description="The cases a list answered with (one row per list)."
    )


class Revocation(SQLModel, table=True):
    """A token taken back before it expires: one token (logout), or every token of a subject
    issued up to a moment (``brytupp revoke --subject``).  A row is needed only until the tokens
    it refuses have expired anyway (``until``)."""

    __tablename__ = "revocations"

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    token_id: str | None = Field(default=None, max_length=64, index=True, unique=True)
    subject: str | None = Field(default=None, max_length=128, index=True)
    issued_before: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    until: dt.datetime = Field(sa_type=UTCDateTime)
    revoked_at: dt.datetime = _timestamp()
    revoked_by: str = Field(max_length=128)


class UnitRoutine(SQLModel, table=True):
    """Effect goal 1: a unit that has adopted a routine for asking every client about violence.
    Units are declared in the district files; a unit id is unique within its district only."""

    __tablename__ = "unit_routines"

    district: str = Field(primary_key=True, max_length=64)
    unit: str = Field(primary_key=True, max_length=64)
    adopted: dt.date
    recorded_by: str = Field(max_length=128)
    recorded_at: dt.datetime = _timestamp()


class ProcessVersion(SQLModel, table=True):
    """Every process version a district ever served, with the texts it is built from: stored
    before any instance serves it, so that every instance can build it and a case keeps its
    version across restarts and file changes until it is migrated explicitly.  ``version`` is
    the content hash of the effective process."""

    __tablename__ = "process_versions"

    version: str = Field(primary_key=True, max_length=64)
    district: str = Field(max_length=64, index=True)
    central_path: str
    central_text: str = Field(sa_type=Text)
    district_path: str
    district_text: str = Field(sa_type=Text)
    first_loaded_at: dt.datetime = _timestamp()
    created_by: str | None = Field(default=None, max_length=128, description="Who stored it (a user id, or the service).")
    status: str = Field(default="published", max_length=16)


class CurrentVersion(SQLModel, table=True):
    """Which version each district serves now: one row per district, the one source of truth
    every instance follows (not the files on any one machine)."""

    __tablename__ = "current_versions"

    district: str = Field(primary_key=True, max_length=64)
    version: str = Field(foreign_key="process_versions.version", max_length=64)
    since: dt.datetime = _timestamp()
    published_by: str = Field(max_length=128)


class ProcessDraft(SQLModel, table=True):
    """A proposed change to a district's process (or, with ``district`` = ``central``, to the
    central process), as its author wrote it: the file's text with its comments, the findings it
    had when stored, and where it is in the review (draft → proposed → approved or rejected).
    ``row_version`` is its ETag: replacing the text or deciding on it names the version it saw."""

    __tablename__ = "process_drafts"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    district: str = Field(max_length=64, index=True)
    path: str = Field(max_length=255)
    text: str = Field(sa_type=Text)
    # The district's newest version (in force or scheduled) when the text was stored: approval
    # refuses a draft written against a version that has since been replaced.
    base_version: str | None = Field(default=None, max_length=64)
    version: str | None = Field(default=None, max_length=64, description="The effective process's hash, when it builds.")
    findings: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    status: str = Field(default="draft", max_length=16, index=True)
    row_version: int = Field(default=1)
    created_by: str = Field(max_length=128)
    created_at: dt.datetime = _timestamp()
    updated_by: str = Field(max_length=128)
    updated_at: dt.datetime = _timestamp()
    proposed_by: str | None = Field(default=None, max_length=128)
    proposed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: str | None = Field(default=None, max_length=128)
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str | None = Field(default=None, sa_type=Text, description="The proposer's or the decider's note.")
    reference: str | None = Field(default=None, max_length=64, description="The city's diary number (diarienummer).")
    effective_from: dt.date | None = None


class ProcessPublication(SQLModel, table=True):
    """The history of what each district served: one row per version made (or scheduled to be
    made) current, with who wrote and who approved it, from which day, and why.  A row whose
    ``effective_from`` has come and whose ``applied_at`` is empty is switched to by the first
    instance that notices; every other instance follows."""

    __tablename__ = "process_publications"

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    district: str = Field(max_length=64, index=True)
    version: str = Field(foreign_key="process_versions.version", max_length=64)
    draft_id: uuid.UUID | None = Field(default=None, foreign_key="process_drafts.id")
    effective_from: dt.date
    applied_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    drafted_by: str = Field(max_length=128)
    approved_by: str | None = Field(default=None, max_length=128)
    created_at: dt.datetime = _timestamp()
    note: str | None = Field(default=None, sa_type=Text)
    reference: str | None = Field(default=None, max_length=64)
    withdrawn_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_by: str | None = Field(default=None, max_length=128)
    withdrawal_note: str | None = Field(default=None, sa_type=Text)
