"""For managers and caseworkers' work lists: overdue steps per unit, and the audit trail."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import or_
from sqlmodel import Session, col, select

from engine import CompiledProcess

from ..audit import AuditWriter
from ..auth import Principal, Role, require
from ..errors import ApiError, invalid, problem_responses
from ..models import AuditRecord, Case, CaseEvent
from ..pseudonym import ID_PATTERN
from ..schemas import AuditOut, OverdueStep
from ..store import decision, process_version, registry, state_of, today
from .deps import audit_writer, db, reader_db

CASE_PROBLEM = "Ärendets historik går inte att avgöra med dess processversion: öppna ärendet och rätta det."

router = APIRouter(tags=["reports"])
DB = Annotated[Session, Depends(db)]
ReadDB = Annotated[Session, Depends(reader_db)]
Writer = Annotated[AuditWriter, Depends(audit_writer)]


@router.get("/units/{unit}/overdue", response_model=list[OverdueStep], responses=problem_responses(401, 403, 404, 409, 422))
def overdue(
    unit: Annotated[str, Path(pattern=ID_PATTERN)],
    request: Request,
    principal: Annotated[Principal, require(Role.caseworker, Role.manager)],
    session: ReadDB,
    writer: Writer,
    district: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="Required for managers; a caseworker's own by default.")
    ] = None,
) -> list[OverdueStep]:
    """Steps past their due date that this unit is responsible for, over the district's open cases.

    A case whose history does not fit its process version is listed with a ``problem`` (and no
    step), first: one such case never takes the list down for the rest of the district."""
    district = district or principal.district
    if district is None:
        raise invalid({"district": "give the district"}, where="query")
    if principal.role == Role.caseworker and district != principal.district:
        raise ApiError(403, "a caseworker sees their own district's work only")
    state = registry(request).snapshot.districts.get(district)
    # Another district's list is as missing as one that does not exist (OSL: separate authorities).
    if state is None or state.compiled is None or not principal.sees_district(district):
        raise ApiError(404, "no such district for you")
    if unit not in state.compiled.process.units:
        raise ApiError(404, f"no such unit in the district; the units are {', '.join(state.compiled.process.units)}")
    on = today(request)
    out: list[OverdueStep] = []
    open_cases = select(Case).where(Case.district == district, col(Case.closed).is_(False))
    cases = list(session.exec(open_cases.order_by(col(Case.opened))))
    # One query for the logs of all these cases, not one per case.
    logs: dict[uuid.UUID, list[CaseEvent]] = {case.id: [] for case in cases}
    in_district = select(Case.id).where(Case.district == district, col(Case.closed).is_(False))
    for event in session.exec(select(CaseEvent).where(col(CaseEvent.case_id).in_(in_district)).order_by(col(CaseEvent.id))):
        logs.setdefault(event.case_id, []).append(event)
    versions: dict[str, CompiledProcess | ApiError] = {}
    for version in {case.process_version for case in cases}:
        try:
            versions[version] = process_version(request, session, version)
        except ApiError as exc:  # a version that cannot be read: its cases are listed as problems
            versions[version] = exc
    session.close()
    for case in cases:
        try:
            compiled = versions[case.process_version]
            if isinstance(compiled, ApiError):
                raise compiled
            found = decision(compiled, state_of(case, logs[case.id], on))
        except ApiError:
            out.append(OverdueStep(case_id=case.id, problem=CASE_PROBLEM))
            continue
        for step in found.next_steps:
            if step.overdue and step.due is not None and step.unit is not None and step.unit.id == unit:
                out.append(
                    OverdueStep(
                        case_id=case.id,
                        step=step.step,
                        label=step.label,
                        child=step.child,
                        due=step.due,
                        days_overdue=(on - step.due).days,
                    )
                )
    writer.write_many(principal, "overdue_list", [case.id for case in cases], case_district=district)
    return sorted(out, key=lambda s: (s.problem is None, s.due or on, str(s.case_id)))


@router.get("/audit", response_model=list[AuditOut], responses=problem_responses(401, 403, 422))
def audit_trail(
    principal: Annotated[Principal, require(Role.manager)],
    session: ReadDB,
    writer: Writer,
    case_id: uuid.UUID | None = None,
    subject: Annotated[str | None, Query(max_length=128, pattern=r"^[^\x00]*$")] = None,
    since: Annotated[dt.datetime | None, Query(description="From this time on; without a time zone, UTC.")] = None,
    until: Annotated[dt.datetime | None, Query(description="Before this time; without a time zone, UTC.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """Who read or changed which case, or tried to, when: newest first.  A district's manager sees
    what was done in their district and to its cases; the city's sees everything.  Reading the
    trail is on the trail too."""
    since, until = _utc(since, "since"), _utc(until, "until")
    query = select(AuditRecord)
    if not principal.city_wide:
        mine = principal.district
        query = query.where(or_(col(AuditRecord.district) == mine, col(AuditRecord.case_district) == mine))
    if case_id is not None:
        query = query.where(AuditRecord.case_id == case_id)
    if subject is not None:
        query = query.where(AuditRecord.subject == subject)
    if since is not None:
        query = query.where(col(AuditRecord.at) >= since)
    if until is not None:
        query = query.where(col(AuditRecord.at) < until)
    rows = list(session.exec(query.order_by(col(AuditRecord.id).desc()).limit(limit)))
    session.close()
    writer.write(principal, "audit_read", case_id, case_district=principal.district)
    out = [AuditOut.model_validate(r, from_attributes=True) for r in rows]
    if not principal.city_wide:
        for row in out:
            # Their own staff's attempt on another district's case: the manager learns of the attempt,
            # not that the case exists nor where it is now, as the caseworker did not (404 either way).
            if row.case_district not in (None, principal.district):
                row.case_district = None
                row.outcome = "not_found" if row.outcome == "denied" else row.outcome
    return out


def _utc(value: dt.datetime | None, name: str) -> dt.datetime | None:
    """A bound in UTC, as the timestamps are stored; one without a time zone is taken as UTC
    (as the trail shows its times), not as the database server's zone; one that leaves years
    1–9999 there is refused."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise invalid({name: "out of range: in UTC it falls outside the years 1–9999"}, where="query") from None
