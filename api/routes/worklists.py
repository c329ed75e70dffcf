"""A unit's work: its worklist and overdue list, read from the open steps stored with each case
(``api/worklist.py``), and assigning a case to a caseworker.  Caseworkers see their district's
units; a district's manager the same lists without the clients' pseudonyms.  Assigning is
``api/casework.py``'s write."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from sqlmodel import Session

from engine import CompiledProcess

from ..audit import AuditWriter
from ..auth import Principal, Role, require
from ..casework import Casework
from ..errors import ApiError, invalid, problem_responses
from ..models import OpenStep
from ..pseudonym import ID_PATTERN
from ..schemas import AssignmentIn, CaseOut, OverdueStep, WorkItem, Worklist
from ..store import etag, if_match, process_version, registry, today
from ..worklist import MAX_PAGE, Cursors, Filters, Listed, position, unsettled, worklist
from .deps import audit_writer, db, reader_db

router = APIRouter(tags=["worklists"])
ReadDB = Annotated[Session, Depends(reader_db)]
DB = Annotated[Session, Depends(db)]
Writer = Annotated[AuditWriter, Depends(audit_writer)]
Staff = Annotated[Principal, require(Role.caseworker, Role.manager)]
Unit = Annotated[str, Path(pattern=ID_PATTERN)]
District = Annotated[
    str | None, Query(pattern=ID_PATTERN, description="A city-wide manager names it; others have their token's.")
]
CASE_PROBLEM = "Ärendets nästa steg har inte kunnat räknas ut med dess processversion: öppna ärendet och rätta det."


def unit_of(request: Request, principal: Principal, unit: str, district: str | None) -> tuple[str, CompiledProcess]:
    """The district and its process, if this principal may see the unit's work; 404 as if missing otherwise."""
    district = district or principal.district
    if district is None:
        raise invalid({"district": "give the district"}, where="query")
    if principal.role == Role.caseworker and district != principal.district:
        raise ApiError(404, "no such unit in your district")
    state = registry(request).snapshot.districts.get(district)
    # Another district's list is as missing as one that does not exist (OSL: separate authorities).
    if state is None or state.compiled is None or not principal.sees_district(district):
        raise ApiError(404, "no such district for you")
    if unit not in state.compiled.process.units:
        raise ApiError(404, f"no such unit in the district; the units are {', '.join(state.compiled.process.units)}")
    return district, state.compiled


@router.get("/units/{unit}/worklist", response_model=Worklist, responses=problem_responses(401, 403, 404, 422))
def unit_worklist(
    unit: Unit,
    request: Request,
    principal: Staff,
    session: ReadDB,
    writer: Writer,
    district: District = None,
    due_before: Annotated[dt.date | None, Query(description="Only steps due before this day.")] = None,
    overdue: Annotated[bool, Query(description="Only steps past their due date.")] = False,
    step: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    assigned_to: Annotated[str | None, Query(max_length=128, description="A user id, or `me`.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Worklist:
    """The unit's open steps over its district's open cases, overdue first, then by due date."""
    district, _ = unit_of(request, principal, unit, district)
    on = today(request)
    cursors: Cursors = request.app.state.cursors
    after = cursors.decode(cursor) if cursor is not None else None
    mine = principal.subject if assigned_to == "me" else assigned_to
    filters = Filters(district, unit, due_before, on if overdue else None, step, mine)
    rows = list(worklist(session, filters, limit + 1, after))
    problems = unsettled(session, district)[:MAX_PAGE] if after is None else []
    compiled = _versions(request, session, rows)
    session.close()
    page, more = rows[:limit], len(rows) > limit
    problems += [case.id for _, case in page if compiled[case.process_version] is None and case.id not in problems]
    items = [
        _item(row, case.process_version, case.reference, case.assigned_to, compiled, principal, on)
        for row, case in page
        if compiled[case.process_version] is not None
    ]
    shown = [row.case_id for row, _ in page]
    writer.write_list(principal, "worklist", list(dict.fromkeys([*problems, *shown])), district)
    as_of = min((case.steps_as_of for _, case in page if case.steps_as_of is not None), default=None)
    return Worklist(
        unit=unit,
        district=district,
        today=on,
        as_of=as_of,
        items=items,
        next_cursor=cursors.encode(position(page[-1][0])) if more else None,
        problems=problems,
    )


def _versions(request: Request, session: Session, rows: list[tuple[OpenStep, Listed]]) -> dict[str, CompiledProcess | None]:
    """The listed cases' process versions, for the steps' labels; None for one this service cannot read
    (its cases are listed as problems: one such case never takes a list down)."""
    out: dict[str, CompiledProcess | None] = {}
    for version in {case.process_version for _, case in rows}:
        try:
            out[version] = process_version(request, session, version)
        except ApiError:
            out[version] = None
    return out


def _item(
    row: OpenStep,
    version: str,
    reference: str,
    assigned: str | None,
    compiled: dict[str, CompiledProcess | None],
    principal: Principal,
    on: dt.date,
) -> WorkItem:
    process = compiled[version]
    steps = process.process.steps if process is not None else {}
    overdue = row.due_on is not None and row.due_on < on
    return WorkItem(
        case_id=row.case_id,
        reference=reference if principal.role == Role.caseworker else None,
        step=row.step,
        label=steps[row.step].label if row.step in steps else row.step,
        phase=row.phase,
        child=None if row.child < 0 else row.child,
        guaranteed=row.guaranteed,
        opened_on=row.opened_on,
        due=row.due_on,
        overdue=overdue,
        days_overdue=(on - row.due_on).days if overdue and row.due_on is not None else None,
        assigned_to=assigned,
    )


@router.get("/units/{unit}/overdue", response_model=list[OverdueStep], responses=problem_responses(401, 403, 404, 409, 422))
def overdue(
    unit: Unit, request: Request, principal: Staff, session: ReadDB, writer: Writer, district: District = None
) -> list[OverdueStep]:
    """Steps past their due date that this unit is responsible for, over the district's open cases.

    A case whose steps could not be worked out is listed with a ``problem`` (and no step), first:
    one such case never takes the list down for the rest of the district."""
    district, _ = unit_of(request, principal, unit, district)
    on = today(request)
    rows = list(worklist(session, Filters(district, unit, overdue_on=on), 100_000, None))
    problems = unsettled(session, district)
    compiled = _versions(request, session, rows)
    session.close()
    problems += [case.id for _, case in rows if compiled[case.process_version] is None and case.id not in problems]
    out = [OverdueStep(case_id=case_id, problem=CASE_PROBLEM) for case_id in problems]
    for row, case in rows:
        if compiled[case.process_version] is None:
            continue
        item = _item(row, case.process_version, case.reference, case.assigned_to, compiled, principal, on)
        out.append(
            OverdueStep(
                case_id=row.case_id,
                step=row.step,
                label=item.label,
                child=item.child,
                due=row.due_on,
                days_overdue=item.days_overdue,
            )
        )
    writer.write_list(principal, "overdue_list", list(dict.fromkeys(o.case_id for o in out)), district)
    return out


@router.put(
    "/cases/{case_id}/assignment",
    response_model=CaseOut,
    tags=["cases"],
    responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 422, 428),
)
def assign(
    case_id: uuid.UUID,
    body: AssignmentIn,
    request: Request,
    response: Response,
    principal: Annotated[Principal, require(Role.caseworker)],
    session: DB,
    if_match_header: Annotated[str | None, Header(alias="If-Match", max_length=64)] = None,
) -> CaseOut:
    """Take the case (`me`), or leave it to nobody (null); needs If-Match."""
    case = Casework(request.app, session, principal).assign(case_id, body, if_match(if_match_header))
    response.headers["ETag"] = etag(case)
    return CaseOut.model_validate(case, from_attributes=True)
