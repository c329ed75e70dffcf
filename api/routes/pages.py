"""The managers' web pages: server-rendered, Swedish, no build step.

Pages read the token from an HttpOnly, SameSite=Strict cookie set by the login
form (the API itself only takes the Authorization header, so the cookie cannot
be used to change anything through the API).  Managers and implementers see
the districts, their diagrams and the equality matrix; a caseworker sees the
path of a case of their own district and their unit's work ("Att göra", over the JSON
worklist's own route function, so its audit row and rules are the service's).  The pages for
reviewed change of the processes are routes/change_pages.py's, on this module's login, cookie and page frame.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func
from sqlmodel import Session, col, select

from engine import export_bpmn, render_case

from ..audit import AuditWriter
from ..auth import Principal, Role
from ..errors import ApiError
from ..goals import GoalSettings, GoalsReport, goals_report, units_by_district, year_range
from ..models import Case, OpenStep
from ..pseudonym import ID_PATTERN
from ..schemas import AssignmentIn, Worklist
from ..store import case_for, decision, log_of, process_version, registry, state_of, today
from ..worklist import MAX_PAGE
from .deps import db, reader_db
from .diagrams import MEDIA, diagram_bytes, district_process, equality
from .worklists import CASE_PROBLEM, assign, unit_worklist

if TYPE_CHECKING:
    from .change_pages import Posted

router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
COOKIE = "brytupp_token"
ROLES = {"caseworker": "handläggare", "implementer": "processansvarig", "manager": "chef", "process_owner": "processägare"}
# Who reads the districts' processes: their managers and process owners, and the city's process owner.
READERS = (Role.manager, Role.implementer, Role.process_owner)


class LoginNeeded(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def page_principal(request: Request, *roles: Role) -> Principal:
    token = request.cookies.get(COOKIE)
    if not token:
        raise LoginNeeded(str(request.url.path))
    try:
        principal: Principal = request.app.state.verifier.verify(token)
    except ApiError:
        raise LoginNeeded(str(request.url.path)) from None
    if roles and principal.role not in roles:
        raise ApiError(403, f"sidan kräver rollen {' eller '.join(ROLES[r] for r in roles)}")
    return principal


def page(request: Request, template: str, principal: Principal | None, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, {"principal": principal, "roles": ROLES, **context}, status_code=status)


def safe_next(value: str | None) -> str:
    # Only paths of this site: a login form must not become an open redirect.
    if value and value.startswith("/ui") and not value.startswith("//"):
        return value
    return "/ui"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return page(request, "login.html", None, next=safe_next(next))


def same_site(request: Request) -> bool:
    """Whether a form post came from one of this site's own pages.

    An Origin check rather than a CSRF token: the forms that change the session (log in, log out)
    run before there is a session to keep a token in, and every browser sends ``Origin`` on a
    POST (``Referer`` is the fallback for one that does not).  Hosts are compared, not schemes,
    as a TLS-terminating proxy forwards https requests to the service as http."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    host = request.headers.get("host")
    if not claimed or not host or claimed == "null":
        return False
    return _netloc(urllib.parse.urlsplit(claimed)) == _netloc(urllib.parse.urlsplit("//" + host))


def _netloc(url: urllib.parse.SplitResult) -> str | None:
    try:
        port = url.port
    except ValueError:
        return None
    if url.hostname is None:
        return None
    return url.hostname if port in (None, 80, 443) else f"{url.hostname}:{port}"


FOREIGN_FORM = "Formuläret skickades inte från den här webbplatsen och avvisades. Öppna inloggningssidan och försök igen."


@router.post("/login")
async def login(request: Request) -> Response:
    if not same_site(request):
        return page(request, "login.html", None, status=403, error=FOREIGN_FORM, next="/ui")
    # The form is the page's own: a body of any other type is not read as one, so that nothing sent in
    # some other shape ends up on the page.
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        error = "Inloggningen tar bara emot inloggningssidans formulär (application/x-www-form-urlencoded)."
        return page(request, "login.html", None, status=415, error=error, next="/ui")
    form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    target = safe_next((form.get("next") or [""])[0])
    try:
        principal: Principal = request.app.state.verifier.verify(token)
    except ApiError as exc:
        # A failed login does not repeat the address it was sent: it is text the sender chose.
        return page(request, "login.html", None, status=401, error=f"Token godtogs inte: {exc.message}", next="/ui")
    if principal.role == Role.caseworker and target == "/ui":
        target = "/ui/cases"
    if principal.role == Role.process_owner and target == "/ui":
        target = "/ui/proposals"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https", max_age=12 * 3600, path="/ui"
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    if not same_site(request):
        return page(request, "login.html", None, status=403, error=FOREIGN_FORM, next="/ui")
    token = request.cookies.get(COOKIE)
    if token:
        # Logging out takes the token back everywhere, not only from this browser's cookie.
        try:
            principal: Principal = request.app.state.verifier.verify(token)
        except ApiError:
            pass  # expired or revoked already
        else:
            request.app.state.revocations.revoke_token(principal, by=principal.subject)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


@router.get("", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    principal = page_principal(request, *READERS)
    snapshot = registry(request).snapshot
    rows = []
    for name, state in snapshot.districts.items():
        process = state.compiled.process if state.compiled else None
        rows.append(
            {
                "name": name,
                "label": state.label,
                "version": state.compiled.version if state.compiled else None,
                "status": "errors" if state.findings else "ok",
                "findings": [str(f) for f in state.findings],
                "loaded_at": local_time(state.loaded_at),
                "local": len(process.local_steps) if process else 0,
                "changed": len(process.changed_steps) if process else 0,
                "removed": len(process.removed_steps) if process else 0,
                "redirects": len(process.redirects) if process else 0,
            }
        )
    return page(request, "overview.html", principal, districts=rows, problems=[str(f) for f in snapshot.problems])


def local_time(moment: dt.datetime | None, zone: str = "Europe/Stockholm") -> str | None:
    return None if moment is None else moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def inline_svg(content: bytes) -> str:
    # Inline: the page's pan/zoom works on the drawing itself; drop the XML prologue and DOCTYPE.
    text = content.decode("utf-8")
    return text[text.index("<svg") :]


@router.get("/districts/{district}", response_class=HTMLResponse)
def district_page(
    request: Request, district: Annotated[str, PathParam(pattern=ID_PATTERN)], view: str = "process"
) -> HTMLResponse:
    principal = page_principal(request, *READERS)
    view = view if view in ("process", "diff") else "process"
    state = registry(request).snapshot.districts.get(district)
    if state is None or state.compiled is None:
        raise ApiError(404, "ingen process för den stadsdelen")
    process = state.compiled.process
    return page(
        request,
        "district.html",
        principal,
        name=district,
        label=state.label,
        version=state.compiled.version,
        loaded_at=local_time(state.loaded_at, request.app.state.settings.timezone),
        local=len(process.local_steps),
        changed=len(process.changed_steps),
        findings=[str(f) for f in state.findings],
        view=view,
        svg=inline_svg(diagram_bytes(request, district, view, "svg")),
    )


@router.get("/districts/{district}/diagram.{format}")
def district_download(
    request: Request,
    district: Annotated[str, PathParam(pattern=ID_PATTERN)],
    format: Literal["svg", "png", "pdf"],
    view: Literal["process", "diff"] = "process",
) -> Response:
    page_principal(request, *READERS)
    content = diagram_bytes(request, district, view, format)
    name = f"bryt_upp_{district}{'_andringar' if view == 'diff' else ''}.{format}"
    return Response(content, media_type=MEDIA[format], headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/districts/{district}/bpmn")
def district_bpmn(request: Request, district: Annotated[str, PathParam(pattern=ID_PATTERN)]) -> Response:
    page_principal(request, *READERS)
    compiled = district_process(request, district)
    return Response(
        export_bpmn(compiled),
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="bryt_upp_{district}.bpmn"'},
    )


@router.get("/equality", response_class=HTMLResponse)
def equality_page(request: Request) -> HTMLResponse:
    principal = page_principal(request, *READERS)
    matrix = equality(request)
    rows = []
    for row in matrix.districts:
        cells = []
        for cell in row.cells:
            units = ", ".join(u.label for u in cell.units) or "–"
            title = "; ".join(f"{u.role_label}: {u.label}" for u in cell.units)
            if cell.differs:
                title += " · avviker från flertalet: " + ", ".join(cell.differs)
            cells.append({"text": units, "title": title, "differs": bool(cell.differs), "tightened": bool(cell.tightened)})
        rows.append({"district": row.district, "label": row.label, "cells": cells, "local": [s.label for s in row.local_steps]})
    return page(request, "equality.html", principal, columns=matrix.columns, rows=rows)


@router.get("/equality.json")
def equality_json(request: Request) -> Response:
    page_principal(request, *READERS)
    return Response(equality(request).model_dump_json(indent=2), media_type="application/json")


@router.get("/equality.csv")
def equality_csv(request: Request) -> Response:
    page_principal(request, *READERS)
    return Response(
        equality(request).to_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="likstallighet.csv"'},
    )


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


@router.get("/goals", response_class=HTMLResponse)
def goals_page(request: Request, years: str | None = None) -> HTMLResponse:
    principal = page_principal(request, Role.manager)
    chosen, report = _goals(request, years, principal)
    goals = [
        {**g.model_dump(), "target_text": f"{g.target:.0%}" if g.kind == "share" else f"{g.target:g} × basåret"}
        for g in report.goals
    ]
    text = f"{chosen[0]}-{chosen[-1]}" if len(chosen) > 1 else str(chosen[0])
    return page(request, "goals.html", principal, goals=goals, years=chosen, years_text=text, data=report.model_dump(mode="json"))


@router.get("/goals.csv")
def goals_csv(request: Request, years: str | None = None) -> Response:
    principal = page_principal(request, Role.manager)
    chosen, report = _goals(request, years, principal)
    return Response(
        report.to_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="effektmal-{chosen[0]}-{chosen[-1]}.csv"'},
    )


def _goals(request: Request, years: str | None, principal: Principal) -> tuple[list[int], GoalsReport]:
    this_year = dt.datetime.now(ZoneInfo(request.app.state.settings.timezone)).year
    try:
        chosen = year_range(years) if years else [this_year - 2, this_year - 1, this_year]
    except ValueError as exc:
        raise ApiError(422, f"år: {exc}") from None
    config: GoalSettings = request.app.state.settings.goals
    units, labels = units_by_district(registry(request).snapshot.districts, config)
    # The engine, not a session: the report's queries then run at once on their own connections.
    # A district's manager sees their own district's figures only.
    district = None if principal.city_wide else principal.district
    report = goals_report(request.app.state.reader, chosen, district, config, units, labels)
    request.app.state.audit_writer.write(principal, "goals_report", case_district=district)
    return chosen, report


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


async def _posted(request: Request) -> Posted:
    # Imported when a form arrives: change_pages builds on this module, so a module-level import would be circular.
    from .change_pages import posted_form

    return await posted_form(request)


@router.post("/work/take")
def take_case(
    request: Request,
    session: Annotated[Session, Depends(db)],
    reader: Annotated[Session, Depends(reader_db)],
    posted: Annotated[Any, Depends(_posted)],
) -> Response:
    """Assign a listed case to oneself, through the JSON route's own assignment (If-Match: the form's row version)."""
    from .change_pages import Refused, refusal

    principal = page_principal(request, Role.caseworker)
    form: Posted = posted
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
