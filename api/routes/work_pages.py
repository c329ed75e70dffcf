"""A caseworker's pages: their unit's work ("Att göra"), their district's open cases and a case.

"Att göra" lists over the JSON worklist's own route function and takes a case through the JSON
assignment route, so the audit rows, filters, cursor and the row version's check are the service's.
Login, the cookie and the page frame are routes/pages.py's; a posted form is read as
routes/change_pages.py reads its own.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func
from sqlmodel import Session, col, select

from engine import render_case

from ..audit import AuditWriter
from ..auth import Principal, Role
from ..errors import ApiError
from ..models import Case, OpenStep
from ..schemas import AssignmentIn, Worklist
from ..store import case_for, decision, log_of, process_version, registry, state_of, today
from ..worklist import MAX_PAGE
from .change_pages import Form, Refused, refusal
from .deps import db, reader_db
from .pages import inline_svg, page, page_principal, safe_next
from .worklists import CASE_PROBLEM, assign, unit_worklist

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request, session: Annotated[Session, Depends(reader_db)]) -> HTMLResponse:
    principal = page_principal(request, Role.caseworker)
    rows = list(
        session.exec(
            select(Case).where(Case.district == principal.district, col(Case.closed).is_(False)).order_by(col(Case.opened))
        )
    )
    state = registry(request).snapshot.districts.get(principal.district or "")
    writer: AuditWriter = request.app.state.audit_writer
    for case in rows:
        writer.write(principal, "list", case.id)
    return page(request, "cases.html", principal, cases=rows, label=state.label if state else principal.district)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request, case_id: uuid.UUID, session: Annotated[Session, Depends(reader_db)], today_: dt.date | None = None
) -> HTMLResponse:
    principal = page_principal(request, Role.caseworker)
    writer: AuditWriter = request.app.state.audit_writer
    case = case_for(session, principal, case_id, "case_path", writer=writer)
    compiled = process_version(request, session, case.process_version)
    events = log_of(session, case.id)
    session.close()
    state = state_of(case, events, today_ or today(request))
    result = decision(compiled, state)
    svg = inline_svg(render_case(compiled, result, state))
    writer.write(principal, "case_path", case.id)
    label = compiled.process.district.label if compiled.process.district else case.district
    return page(
        request,
        "case.html",
        principal,
        reference=case.reference,
        label=label,
        opened=case.opened,
        version=case.process_version,
        today=state.today,
        decision=result,
        svg=svg,
    )


# --- a caseworker's work: "Att göra" ----------------------------------------------------------

WORK_PAGE = 25
STALE_TAKE = (
    "Ärendet har ändrats sedan du öppnade sidan, kanske har någon annan redan tagit det. "
    "Ingenting har ändrats av dig: se hur det ser ut nu och försök igen om ärendet fortfarande ska vara ditt."
)
TAKE_REFUSALS = {
    404: "Ärendet finns inte, eller hör inte till din stadsdel.",
    409: "Ärendet är avslutat och kan inte tas.",
}


@dataclass(frozen=True)
class WorkView:
    """What the "Att göra" page shows: its query string, read once, for the list and for its links."""

    unit: str | None = None
    overdue: bool = False
    due_before: dt.date | None = None
    mine: bool = False
    cursor: str | None = None
    limit: int = WORK_PAGE

    @classmethod
    def of(cls, params: dict[str, str]) -> WorkView:
        due = params.get("due_before", "").strip()
        limit = params.get("limit", "")
        try:
            due_before = dt.date.fromisoformat(due) if due else None
        except ValueError:
            raise ApiError(422, "Ange datumet för ”Förfaller före” som ÅÅÅÅ-MM-DD.") from None
        return cls(
            unit=params.get("unit") or None,
            overdue=params.get("overdue") == "1",
            due_before=due_before,
            mine=params.get("mine") == "1",
            cursor=params.get("cursor") or None,
            limit=min(int(limit), MAX_PAGE) if limit.isdigit() and int(limit) > 0 else WORK_PAGE,
        )

    def query(self, **changed: Any) -> str:
        """The query string of this view with ``changed`` (a new page, another unit); empty values left out."""
        values = {
            "unit": self.unit,
            "overdue": "1" if self.overdue else None,
            "due_before": self.due_before.isoformat() if self.due_before else None,
            "mine": "1" if self.mine else None,
            "limit": str(self.limit) if self.limit != WORK_PAGE else None,
            "cursor": self.cursor,
        } | changed
        return urllib.parse.urlencode({k: v for k, v in values.items() if v})


def open_steps_by_unit(session: Session, district: str) -> dict[str, int]:
    """How many open steps each of the district's units has: the page opens on the busiest."""
    query = (
        select(OpenStep.unit, func.count())
        .join(Case, col(Case.id) == col(OpenStep.case_id))
        .where(col(OpenStep.district) == district, col(OpenStep.waiting).is_(False), col(Case.closed).is_(False))
        .group_by(col(OpenStep.unit))
    )
    return {unit: count for unit, count in session.exec(query) if unit is not None}


@router.get("/work", response_class=HTMLResponse)
def work_page(request: Request, session: Annotated[Session, Depends(reader_db)]) -> HTMLResponse:
    principal = page_principal(request, Role.caseworker)
    try:
        view = WorkView.of(dict(request.query_params))
    except ApiError as exc:
        return work_view(request, session, principal, WorkView(), exc.status, exc.message)
    return work_view(request, session, principal, view)


def work_view(
    request: Request, session: Session, principal: Principal, view: WorkView, status: int = 200, error: str | None = None
) -> HTMLResponse:
    district = principal.district or ""
    state = registry(request).snapshot.districts.get(district)
    if state is None or state.compiled is None:
        raise ApiError(404, "ingen process för din stadsdel")
    units = state.compiled.process.units
    counts = open_steps_by_unit(session, district)
    unit = view.unit or max(units, key=lambda u: counts.get(u, 0))
    if unit not in units:
        return page(request, "refused.html", principal, 404, error="Enheten finns inte i din stadsdel.")
    view = WorkView(unit, view.overdue, view.due_before, view.mine, view.cursor, view.limit)
    try:
        # The JSON route's own function: its filters, its cursor and its one audit row for what the page shows.
        listed = unit_worklist(
            unit, request, principal, session, request.app.state.audit_writer,
            due_before=view.due_before, overdue=view.overdue, assigned_to="me" if view.mine else None,
            limit=view.limit, cursor=view.cursor,
        )  # fmt: skip
    except ApiError as exc:
        if exc.status != 422:
            raise
        # Only the cursor is the JSON route's to refuse here: a link was changed or is from before a restart with a new key.
        listed = Worklist(unit=unit, district=district, today=today(request), as_of=None, items=[], next_cursor=None)
        status, error = 422, "Sidan i listan gick inte att visa (länken har ändrats). Börja om från första sidan."
    cases = _listed_cases(session, [*listed.problems, *(item.case_id for item in listed.items)])
    session.close()
    rows = [
        {
            "item": item,
            "child": None if item.child is None else item.child + 1,
            "assigned": cases[item.case_id].assigned_to if item.case_id in cases else item.assigned_to,
            "row_version": cases[item.case_id].row_version if item.case_id in cases else None,
        }
        for item in listed.items
    ]
    problems = [cases[c] for c in listed.problems if c in cases]
    return page(
        request,
        "worklist.html",
        principal,
        status,
        error=error,
        label=state.label,
        units=[{"id": u, "label": units[u].label, "count": counts.get(u, 0)} for u in units],
        unit=unit,
        unit_label=units[unit].label,
        view=view,
        listed=listed,
        rows=rows,
        problems=problems,
        problem_note=CASE_PROBLEM,
        here=f"/ui/work?{view.query()}",
        first=f"/ui/work?{view.query(cursor=None)}" if view.cursor else None,
        next=f"/ui/work?{view.query(cursor=listed.next_cursor)}" if listed.next_cursor else None,
        all_url=f"/ui/work?{view.query(cursor=None, mine=None)}",
        mine_url=f"/ui/work?{view.query(cursor=None, mine='1')}",
    )


def _listed_cases(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, Case]:
    """The listed cases as they are now: who has each, and the row version a "Ta ärendet" form carries
    (read after the list, so a case changed in between is refused as stale rather than taken blind)."""
    if not ids:
        return {}
    return {case.id: case for case in session.exec(select(Case).where(col(Case.id).in_(set(ids))))}


@router.post("/work/take")
def take_case(
    request: Request,
    session: Annotated[Session, Depends(db)],
    reader: Annotated[Session, Depends(reader_db)],
    form: Form,
) -> Response:
    """Assign a listed case to oneself, through the JSON route's own assignment (If-Match: the form's row version)."""
    principal = page_principal(request, Role.caseworker)
    back = safe_next(form.get("back"))
    back = back if back == "/ui/work" or back.startswith("/ui/work?") else "/ui/work"
    try:
        view = WorkView.of(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query)))
    except ApiError:
        back, view = "/ui/work", WorkView()
    try:
        form.check()
        try:
            case_id = uuid.UUID(form.get("case_id"))
        except ValueError:
            raise Refused(422, "Formuläret saknar ärendet. Ladda om sidan och försök igen.") from None
        seen = form.get("row_version")
        if not seen.isdigit():
            raise Refused(422, "Formuläret saknar ärendets version. Ladda om sidan och försök igen.")
        assign(case_id, AssignmentIn(assigned_to="me"), Response(), principal, session, f'"{seen}"')
    except ApiError as exc:
        session.rollback()
        session.close()
        said = STALE_TAKE if exc.status == 412 else TAKE_REFUSALS.get(exc.status) or refusal(exc)
        return work_view(request, reader, principal, view, exc.status, said)
    return RedirectResponse(back, status_code=303)
