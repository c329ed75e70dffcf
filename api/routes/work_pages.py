"""A caseworker's pages: their unit's work ("Att göra"), their district's open cases, and a case with
its whole decision and the forms that act on it.

"Att göra" lists over the JSON worklist's own route function.  "Ta ärendet", "Markera som gjort"
(a ``step_completed`` event) and "Ändra uppgifter" are the API's own writes (``api/casework.py``),
with the form's row version as If-Match and the form's key as Idempotency-Key: the audit rows, the
validation and those checks are the service's, the pages only say its refusals in Swedish.  What a
case's decision and facts read as is routes/case_words.py's.  Login, the cookie and the page frame
are routes/pages.py's; a posted form is read as routes/change_pages.py reads its own.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func
from sqlmodel import Session, col, select

from engine import render_case
from engine.schema import FactSpec

from ..audit import AuditWriter
from ..auth import Principal, Role
from ..casework import Casework
from ..errors import ApiError
from ..events import StepCompleted
from ..models import Case, OpenStep
from ..schemas import AssignmentIn, FactsUpdate, Worklist
from ..store import case_for, decision, process_version, registry, state_now, today
from ..worklist import MAX_PAGE
from .case_words import EDITABLE, fact_fields, reason_view, step_view
from .change_pages import Form, Posted, Refused, refusal, release
from .deps import db, reader_db
from .pages import inline_svg, page, page_principal, safe_next
from .worklists import CASE_PROBLEM, unit_worklist

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
    """Assign a listed case to oneself, if it is still at the form's row version."""
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
        Casework(request.app, session, principal).assign(case_id, AssignmentIn(assigned_to="me"), int(seen))
    except ApiError as exc:
        session.rollback()
        session.close()
        said = STALE_TAKE if exc.status == 412 else TAKE_REFUSALS.get(exc.status) or refusal(exc)
        return work_view(request, reader, principal, view, exc.status, said)
    return RedirectResponse(back, status_code=303)


# --- a case: the whole decision, and what a caseworker records on it ----------------------------

ReaderDB = Annotated[Session, Depends(reader_db)]
WriterDB = Annotated[Session, Depends(db)]
STALE_FACTS = (
    "Ärendet har ändrats sedan du öppnade sidan (någon har registrerat ett steg eller ändrat uppgifterna). "
    "Dina ändringar har inte sparats: se uppgifterna som de är nu och gör om ändringen."
)
CASE_REFUSALS = {
    403: "Det här får du inte göra.",
    404: "Ärendet finns inte, eller hör inte till din stadsdel.",
    409: "Ärendet är avslutat: ingenting mer kan registreras i det (ett nytt ärende är en ny aktualisering).",
    412: STALE_FACTS,
}
EVENT_FIELDS = {
    "step": "Steget finns inte i ärendets process. Ladda om sidan och försök igen.",
    "child": "Barnet finns inte bland ärendets barn, eller steget görs inte per barn. Ladda om sidan och försök igen.",
    "outcome": "Välj ett av stegets utfall.",
    "on": "Ange dagen då steget gjordes som ÅÅÅÅ-MM-DD.",
}
IDEMPOTENCY_KEY = re.compile(r"[0-9a-f]{32}")


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: uuid.UUID, session: ReaderDB, today_: dt.date | None = None) -> HTMLResponse:
    return case_view(request, session, page_principal(request, Role.caseworker), case_id, today_)


def case_view(
    request: Request,
    session: Session,
    principal: Principal,
    case_id: uuid.UUID,
    today_: dt.date | None = None,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    writer: AuditWriter = request.app.state.audit_writer
    case = case_for(session, principal, case_id, "case_path", writer=writer)
    compiled = process_version(request, session, case.process_version)
    state, _ = state_now(session, case, today_ or today(request))
    session.close()
    result = decision(compiled, state)
    svg = inline_svg(render_case(compiled, result, state))
    writer.write(principal, "case_path", case.id)
    process = compiled.process
    label = process.district.label if process.district else case.district
    editable, shown = fact_fields(process.facts, case.facts)
    return page(
        request,
        "case.html",
        principal,
        status,
        error=error,
        case=case,
        reference=case.reference,
        label=label,
        opened=case.opened,
        version=case.process_version,
        today=state.today,
        on=today(request),
        decision=result,
        steps=[step_view(process, step, state.today) for step in result.next_steps],
        waiting=[step_view(process, step, state.today) for step in result.waiting],
        guarantees=[{"item": g, "reasons": [reason_view(process, r) for r in g.reasons]} for g in result.pending_guarantees],
        editable=editable,
        shown=shown,
        svg=svg,
    )


@router.post("/cases/{case_id}/steps")
def complete_step(request: Request, case_id: uuid.UUID, session: WriterDB, reader: ReaderDB, form: Form) -> Response:
    """ "Markera som gjort": a ``step_completed`` event, stored once however often the form is sent."""
    principal = page_principal(request, Role.caseworker)
    try:
        form.check()
        key = form.get("key")
        if not IDEMPOTENCY_KEY.fullmatch(key):
            raise Refused(422, "Formuläret är ofullständigt. Ladda om sidan och försök igen.")
        try:
            event = StepCompleted(
                kind="step_completed",
                step=form.get("step"),
                child=form.optional("child"),
                outcome=form.optional("outcome"),
                on=form.optional("on") or today(request),
            )
        except ValidationError as exc:
            raise event_refusal({str(e["loc"][0]) for e in exc.errors() if e["loc"]}) from None
        try:
            Casework(request.app, session, principal).record(case_id, event, idempotency_key=key)
        except ApiError as exc:
            if exc.status == 422 and exc.fields:
                raise event_refusal({str(f["loc"][-1]) for f in exc.fields}) from None
            raise
    except ApiError as exc:
        release(session)
        return case_view(request, reader, principal, case_id, status=exc.status, error=case_refusal(exc))
    return RedirectResponse(f"/ui/cases/{case_id}", status_code=303)


def event_refusal(fields: set[str]) -> Refused:
    said = [EVENT_FIELDS[f] for f in EVENT_FIELDS if f in fields] or ["Steget gick inte att registrera."]
    return Refused(422, " ".join(said))


def case_refusal(exc: ApiError) -> str:
    if isinstance(exc, Refused):
        return exc.message
    if exc.status == 409 and "Idempotency-Key" in exc.message:
        return "Formuläret har redan skickats med andra uppgifter. Ladda om sidan och försök igen."
    return CASE_REFUSALS.get(exc.status) or refusal(exc)


@router.post("/cases/{case_id}/facts")
def change_facts(request: Request, case_id: uuid.UUID, session: WriterDB, reader: ReaderDB, form: Form) -> Response:
    """ "Ändra uppgifter": the case's facts, if it is still at the form's row version."""
    principal = page_principal(request, Role.caseworker)
    try:
        form.check()
        seen = form.get("row_version")
        if not seen.isdigit():
            raise Refused(422, "Formuläret saknar ärendets version. Ladda om sidan och försök igen.")
        # The facts as they are, with the form's fields over them: what the form does not edit stays as it is.
        # The row is read unlocked here; the update locks it and refuses the form unless it is still
        # at the form's version, so the facts kept are those the form was shown with.
        case = case_for(session, principal, case_id, "update_facts")
        compiled = process_version(request, session, case.process_version)
        facts = posted_facts(form, compiled.process.facts, case.facts)
        session.rollback()  # expires the case read here: the locked read below loads the row afresh
        try:
            Casework(request.app, session, principal).update_facts(case_id, FactsUpdate(facts=facts), int(seen))
        except ApiError as exc:
            if exc.status == 422 and exc.fields:
                raise facts_refusal(compiled.process.facts, exc.fields) from None
            raise
    except ApiError as exc:
        release(session)
        return case_view(request, reader, principal, case_id, status=exc.status, error=case_refusal(exc))
    return RedirectResponse(f"/ui/cases/{case_id}", status_code=303)


def posted_facts(form: Posted, vocabulary: dict[str, FactSpec], current: dict[str, Any]) -> dict[str, Any]:
    """The case's facts with the form's fields over them.  An empty field leaves the fact unknown; the
    values are checked by the case service (the same vocabulary check as an API client's facts)."""
    facts = dict(current)
    for name, spec in vocabulary.items():
        if name == "district" or spec.type not in EDITABLE:
            continue
        field = f"fact.{name}"
        text = form.get(field)
        if spec.type == "set":
            chosen = [v for v in spec.values or [] if form.get(f"{field}.{v}") == "1"]
            if chosen or name in facts:
                facts[name] = chosen
            continue
        if not text:
            facts.pop(name, None)
        elif spec.type == "boolean":
            if text not in ("ja", "nej"):
                raise Refused(422, f"{spec.label}: välj ja, nej eller okänt.")
            facts[name] = text == "ja"
        elif spec.type == "integer":
            try:
                facts[name] = int(text)
            except ValueError:
                raise Refused(422, f"{spec.label}: ange ett heltal.") from None
        else:
            facts[name] = text
    return facts


def facts_refusal(vocabulary: dict[str, FactSpec], fields: list[dict[str, Any]]) -> Refused:
    """The case service's refusal of the facts, field by field, in the form's words."""
    said = []
    for problem in fields:
        loc = [p for p in problem["loc"] if p not in ("body", "facts")]
        spec = vocabulary.get(str(loc[0])) if loc else None
        if spec is None:
            said.append("Uppgifterna godtogs inte. Ladda om sidan och försök igen.")
        elif spec.type == "integer" and spec.min is not None:
            said.append(f"{spec.label}: ange ett heltal från {spec.min} till {spec.max}.")
        elif spec.type in ("enum", "set"):
            said.append(f"{spec.label}: välj bland alternativen.")
        else:
            said.append(f"{spec.label}: uppgiften godtogs inte.")
    return Refused(422, " ".join(dict.fromkeys(said)))
