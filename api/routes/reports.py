"""For managers: the audit trail, the workload and the live figures per step (a unit's lists are in
``worklists.py``)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Iterable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import String, cast, or_
from sqlmodel import Session, col, select

from ..audit import AuditWriter
from ..auth import Principal, Role, require
from ..equality_practice import EqualityPractice, equality_practice
from ..errors import ApiError, invalid, problem_responses
from ..models import AuditRecord
from ..pseudonym import ID_PATTERN
from ..schemas import AuditOut
from ..step_figures import MONTH, StepsReport, period_of, steps_report
from ..store import registry, today
from ..workload import Workload, workload
from .deps import audit_writer, db, reader_db

router = APIRouter(tags=["reports"])
DB = Annotated[Session, Depends(db)]
ReadDB = Annotated[Session, Depends(reader_db)]
Writer = Annotated[AuditWriter, Depends(audit_writer)]


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
        # A list names the cases it showed in one row (case_ids): those rows are about this case too.
        listed = cast(col(AuditRecord.case_ids), String).contains(str(case_id))
        query = query.where(or_(col(AuditRecord.case_id) == case_id, listed))
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


def csv_answer(rows: Iterable[list[str]], name: str) -> Response:
    """A report as a CSV download named ``name`` (the reports' ``format=csv``)."""
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=disposition)


@router.get(
    "/reports/workload",
    response_model=Workload,
    responses=problem_responses(401, 403, 404, 422) | {200: {"content": {"text/csv": {}}}},
)
def workload_report(
    request: Request,
    principal: Annotated[Principal, require(Role.manager)],
    session: ReadDB,
    writer: Writer,
    district: Annotated[str | None, Query(pattern=ID_PATTERN, description="One district; default every one you see.")] = None,
    format: Literal["json", "csv"] = "json",
) -> Workload | Response:
    """Open cases, and open and overdue steps by unit and by phase, per district: a district's
    manager sees their own, the city's every district.  Counts only; outside the district 1–4 are
    shown as "<5" and the others rounded to 5 (api/workload.py)."""
    report = workload_for(request, principal, session, district)
    writer.write(principal, "workload_report", case_district=district or principal.district)
    if format == "csv":
        name = f"arbetslage-{district or principal.district or 'staden'}-{report.today.isoformat()}.csv"
        return csv_answer(report.to_csv_rows(), name)
    return report


def workload_for(request: Request, principal: Principal, session: Session, district: str | None) -> Workload:
    """The workload of the districts this manager sees that serve a process (``district``: only that one)."""
    states = registry(request).snapshot.districts
    seen = {d: s for d, s in states.items() if s.compiled is not None and principal.sees_district(d)}
    if district is not None:
        if district not in seen:  # another district's figures are as missing as an unknown district's
            raise ApiError(404, "no such district for you")
        seen = {district: seen[district]}
    processes = {d: s.compiled for d, s in seen.items() if s.compiled is not None}
    report = workload(session, principal, processes, {d: s.label for d, s in seen.items()}, today(request))
    session.close()
    return report


@router.get(
    "/reports/steps",
    response_model=StepsReport,
    responses=problem_responses(401, 403, 404, 422) | {200: {"content": {"text/csv": {}}}},
)
def steps_figures(
    request: Request,
    principal: Annotated[Principal, require(Role.manager, Role.implementer, Role.process_owner)],
    session: ReadDB,
    writer: Writer,
    district: Annotated[str | None, Query(pattern=ID_PATTERN, description="One district; without it, the city.")] = None,
    period_from: Annotated[str | None, Query(alias="from", pattern=MONTH, description="YYYY-MM; default 11 before `to`.")] = None,
    period_to: Annotated[str | None, Query(alias="to", pattern=MONTH, description="YYYY-MM; default this month.")] = None,
    format: Literal["json", "csv"] = "json",
) -> StepsReport | Response:
    """Per step of the district's process (or the central one, for the city), over whole months: step
    instances completed, median days from opening to completion, the share done within the
    deadline, open and overdue now; a district's report has the city's median beside each step.
    Outside the district (and in the city's figures) counts of 1-4 are "<5", the others rounded to 5,
    and a median or share is shown only where none of its counts is 1-4."""
    report = steps_for(request, principal, session, district, period_from, period_to)
    writer.write(principal, "steps_report", case_district=district)
    if format == "csv":
        name = f"steg-{district or 'staden'}-{report.period_from:%Y-%m}-{report.period_to:%Y-%m}.csv"
        return csv_answer(report.to_csv_rows(), name)
    return report


def steps_for(
    request: Request,
    principal: Principal,
    session: Session,
    district: str | None,
    start: str | None,
    end: str | None,
) -> StepsReport:
    """The steps report this principal may read: their own district's, the city's, or (the city's
    managers and the process owner) any district's with small numbers hidden."""
    on = today(request)
    try:
        period = period_of(start, end, on)
    except ValueError as exc:
        raise invalid({"from": str(exc)}, where="query") from None
    snapshot = registry(request).snapshot
    if district is None:
        if snapshot.central is None:
            raise ApiError(404, "the central process does not build just now")
        # Not exact even for the city: the city minus the districts shown would give a masked one back.
        process, label, exact = snapshot.central, "Staden", False
    else:
        state = snapshot.districts.get(district)
        outside = principal.role == Role.process_owner or principal.city_wide
        if state is None or state.compiled is None or not (outside or principal.district == district):
            raise ApiError(404, "no such district for you")
        process, label, exact = state.compiled, state.label, principal.district == district
    report = steps_report(session, district, label, process, period, on, exact)
    session.close()
    return report


@router.get("/reports/equality-practice", response_model=EqualityPractice, responses=problem_responses(401, 403, 404, 422))
def equality_practice_report(
    request: Request,
    principal: Annotated[Principal, require(Role.manager)],
    session: ReadDB,
    writer: Writer,
    district: Annotated[str | None, Query(pattern=ID_PATTERN, description="One district; default every one you see.")] = None,
    period_from: Annotated[dt.date | None, Query(alias="from", description="Cases opened on or after this day.")] = None,
    period_to: Annotated[dt.date | None, Query(alias="to", description="Cases opened on or before this day.")] = None,
) -> EqualityPractice:
    """Equality in practice: per district, of the clients eligible for each guaranteed intervention
    (offered it, or qualifying and not yet offered), the share that were offered it, beside the
    city's share; a district more than 10 percentage points from the city with at least 5 eligible
    is flagged.  A district's manager sees their own district exactly and the city's figures; the
    city's managers every district, with counts of 1-4 as "<5" and the others rounded to 5
    (api/equality_practice.py)."""
    report = equality_practice_for(request, principal, session, district, period_from, period_to)
    writer.write(principal, "equality_practice", case_district=district or principal.district)
    return report


def equality_practice_for(
    request: Request,
    principal: Principal,
    session: Session,
    district: str | None,
    start: dt.date | None,
    end: dt.date | None,
) -> EqualityPractice:
    """The figures this manager may read: their own district's (a district's manager), every
    district's (the city's) or the one ``district`` of those, each beside the city's."""
    if start is not None and end is not None and start > end:
        raise invalid({"from": "must be on or before to"}, where="query")
    snapshot = registry(request).snapshot
    processes = {d: s.compiled for d, s in snapshot.districts.items() if s.compiled is not None}
    seen = {d: snapshot.districts[d].label for d in processes if principal.sees_district(d)}
    if district is not None:
        if district not in seen:  # another district's figures are as missing as an unknown district's
            raise ApiError(404, "no such district for you")
        seen = {district: seen[district]}
    exact_for = None if principal.city_wide else principal.district
    report = equality_practice(session, processes, snapshot.central, seen, exact_for, (start, end))
    session.close()
    return report
