"""What the routes share: finding a case for a principal, its log, its process
version, its decision, and the audit record every read and write leaves."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import Request
from sqlmodel import Session, col, select

from engine import CaseState, CompiledProcess, Decision, DecisionError, FactsError, decide, normalize_facts
from engine.errors import BrytUppError

from .audit import AuditWriter, record
from .auth import Principal, Role
from .errors import ApiError, invalid
from .events import Folded, LoggedEvent, fold
from .models import AuditRecord, Case, CaseEvent, CurrentVersion, ProcessVersion
from .registry import Registry
from .versions import build_stored


def today(request: Request) -> dt.date:
    return dt.datetime.now(ZoneInfo(request.app.state.settings.timezone)).date()


def audit(
    session: Session,
    principal: Principal,
    action: str,
    case_id: uuid.UUID | None = None,
    outcome: str = "ok",
    case_district: str | None = None,
    target: str | None = None,
) -> None:
    """An audit record in the session's own transaction: atomic with the change it records."""
    session.add(AuditRecord(**record(principal, action, case_id, outcome, case_district, target=target)))


def may_see(principal: Principal, case: Case, managers: bool = False) -> bool:
    """A caseworker sees their district's cases; with ``managers``, so does that district's manager
    (a case's next steps, never its facts).  Nobody else sees a case, the city included."""
    if principal.role == Role.caseworker or (managers and principal.role == Role.manager):
        return principal.district is not None and case.district == principal.district
    return False


def registry(request: Request) -> Registry:
    reg: Registry = request.app.state.registry
    return reg


def current_process(request: Request, district: str, field: str = "district") -> CompiledProcess:
    compiled = registry(request).current(district)
    if compiled is None:
        known = ", ".join(registry(request).snapshot.districts)
        raise invalid({field: f"not a district; the districts are {known}"})
    return compiled


def process_version(request: Request, session: Session, version: str) -> CompiledProcess:
    """A case's process version: in memory, or built from the texts stored before it first served."""
    reg = registry(request)
    compiled = reg.version(version)
    if compiled is not None:
        return compiled
    row = session.get(ProcessVersion, version)
    if row is None:
        raise ApiError(409, "the case's process version is not stored in this database; migrate the case")
    try:
        compiled = build_stored(row)
    except BrytUppError:
        raise ApiError(409, "the case's process version can no longer be read by this service; migrate the case") from None
    reg.remember(compiled)
    return compiled


def published_process(request: Request, session: Session, district: str, field: str = "district") -> CompiledProcess:
    """The district's current version as the database has it now, in this transaction: what new
    and migrated cases are put on, whichever instance this is and however far it has followed."""
    row = session.get(CurrentVersion, district)
    if row is None:
        known = ", ".join(registry(request).snapshot.districts)
        raise invalid({field: f"not a district; the districts are {known}"})
    return process_version(request, session, row.version)


def case_for(
    session: Session,
    principal: Principal,
    case_id: uuid.UUID,
    action: str,
    lock: bool = False,
    writer: AuditWriter | None = None,
    managers: bool = False,
) -> Case:
    """The case, if this principal may see it.  Another district's case is 404, as a missing
    one: a caseworker cannot even learn that it exists.  Denials are audited too, through
    ``writer`` for read-only sessions."""
    query = select(Case).where(Case.id == case_id)
    if lock:
        query = query.with_for_update()
    case = session.exec(query).first()
    if case is None or not may_see(principal, case, managers):
        outcome, district = ("not_found", None) if case is None else ("denied", case.district)
        session.rollback()
        if writer is not None:
            writer.write(principal, action, case_id, outcome, district)
        else:
            audit(session, principal, action, case_id, outcome, district)
            session.commit()
        raise ApiError(404, "no such case in your district")
    return case


def log_of(session: Session, case_id: uuid.UUID) -> list[CaseEvent]:
    return list(session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id))))


def folded_of(session: Session, case: Case) -> Folded:
    """The case's log folded: as stored with the case, or (a case from before that) folded from the log."""
    if case.state is not None:
        return Folded.model_validate(case.state)
    return fold(case.opened, logs_of(session, [case.id])[case.id])


def logs_of(session: Session, case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[LoggedEvent]]:
    """The logs of these cases, in one statement."""
    logs: dict[uuid.UUID, list[LoggedEvent]] = {case_id: [] for case_id in case_ids}
    e = CaseEvent  # five columns: more than sqlmodel's select takes, so SQLAlchemy's, on the session's connection
    query = sa.select(col(e.case_id), col(e.kind), col(e.on), col(e.payload), col(e.facts))
    for case_id, kind, on, payload, facts in session.connection().execute(
        query.where(col(e.case_id).in_(case_ids)).order_by(col(e.id))
    ):
        logs[case_id].append(LoggedEvent(kind=kind, on=on, payload=payload, facts=facts))
    return logs


def state_now(session: Session, case: Case, on: dt.date, extra: LoggedEvent | None = None) -> tuple[CaseState, Folded]:
    """The case's state for deciding on ``on``, with ``extra`` taken in, and the fold to store with the
    case once ``extra`` is: one row read, however long the case's history."""
    folded = folded_of(session, case)
    if extra is not None:
        folded = folded.add(extra, case.opened)
    facts = extra.facts if extra is not None and extra.facts is not None else case.facts
    return folded.state(case.opened, facts, on), folded


def decision(compiled: CompiledProcess, state: CaseState) -> Decision:
    try:
        return decide(compiled, state)
    except DecisionError as exc:
        raise ApiError(409, f"the case's history does not fit process version {compiled.version}: {exc}") from None
    except FactsError as exc:
        raise ApiError(409, f"the case's facts do not fit process version {compiled.version}: {exc}") from None


def checked_facts(compiled: CompiledProcess, facts: dict[str, Any], district: str) -> dict[str, Any]:
    """The facts as stored: the district is the case's own; everything else must fit the vocabulary."""
    facts = {**facts, "district": district}
    try:
        normalize_facts(compiled.process.facts, facts)
    except FactsError as exc:
        raise invalid(exc.problems) from None
    return facts


def etag(case: Case) -> str:
    return f'"{case.row_version}"'


def if_match(header: str | None) -> int:
    if header is None:
        raise ApiError(428, 'this update is conditional: send If-Match with the case\'s ETag (e.g. If-Match: "3")')
    text = header.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise ApiError(412, f'If-Match must be the case\'s ETag, a quoted number such as "3"; got {len(header)} characters')
    return int(text)
