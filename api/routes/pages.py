"""The managers' web pages: server-rendered, Swedish, no build step.

Pages read the token from an HttpOnly, SameSite=Strict cookie set by the login
form (the API itself only takes the Authorization header, so the cookie cannot
be used to change anything through the API).  Managers and implementers see
the districts, their diagrams and the equality matrix; a caseworker sees the
path of a case of their own district.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import urllib.parse
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from sqlmodel import Session, col, select

from engine import export_bpmn, render_case

from .. import changes
from ..audit import AuditWriter
from ..auth import Principal, Role
from ..errors import ApiError
from ..goals import GoalSettings, GoalsReport, goals_report, units_by_district, year_range
from ..impact import Impact, MigrationReport
from ..models import Case, ProcessDraft
from ..preview import compare_versions, comparison_diagram, draft_diagram, migrate, preview
from ..pseudonym import ID_PATTERN, problems
from ..schemas import ApproveIn, ProposeIn, RejectIn
from ..store import case_for, decision, log_of, process_version, registry, state_of, today
from .deps import db, reader_db
from .diagrams import MEDIA, diagram_bytes, district_process, equality
from .drafts import publications

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
                "loaded_at": _when(state.loaded_at),
                "local": len(process.local_steps) if process else 0,
                "changed": len(process.changed_steps) if process else 0,
                "removed": len(process.removed_steps) if process else 0,
                "redirects": len(process.redirects) if process else 0,
            }
        )
    return page(request, "overview.html", principal, districts=rows, problems=[str(f) for f in snapshot.problems])


def _when(moment: dt.datetime | None, zone: str = "Europe/Stockholm") -> str | None:
    return None if moment is None else moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def _svg(content: bytes) -> str:
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
        loaded_at=_when(state.loaded_at, request.app.state.settings.timezone),
        local=len(process.local_steps),
        changed=len(process.changed_steps),
        findings=[str(f) for f in state.findings],
        view=view,
        svg=_svg(diagram_bytes(request, district, view, "svg")),
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
    svg = _svg(render_case(compiled, result, state))
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


# --- reviewed change of the processes -----------------------------------------------------
# The pages over api/changes.py and api/preview.py: the same functions the JSON routes in
# routes/drafts.py call, so the roles, four eyes and the row version's check are the service's.

District = Annotated[str, PathParam(pattern=ID_PATTERN)]
Version = Annotated[str, PathParam(pattern=r"^[0-9a-f]{8,64}$")]
VersionQuery = Annotated[str | None, Query(pattern=r"^[0-9a-f]{8,64}$")]
WriterDB = Annotated[Session, Depends(db)]
STATUS = {"draft": "utkast", "proposed": "föreslaget", "approved": "godkänt", "rejected": "avslaget"}
IN_FORCE = {"scheduled": "schemalagd", "in_force": "gäller", "replaced": "ersatt"}
IMPACT_COUNTS = {
    "next_steps": "Nästa steg ändras",
    "units": "Annan ansvarig enhet",
    "due_dates": "Annat datum för senast",
    "becomes_overdue": "Blir försenade",
    "cannot_migrate": "Kan inte flyttas",
    "unchanged": "Oförändrade",
    "before_unknown": "Läget före okänt",
    "already_on_target": "Redan på versionen",
}
ACTIONS = {"propose": "draft_proposed", "approve": "draft_approved", "reject": "draft_rejected"}
REFUSALS = {
    403: "Det här får du inte göra.",
    404: "Finns inte, eller hör inte till dina stadsdelar.",
    409: "Det går inte just nu.",
    412: "Utkastet har ändrats sedan du öppnade sidan. Ladda om sidan och försök igen.",
    413: "Filen är för stor.",
    415: "Sidan tar bara emot sina egna formulär.",
    422: "Uppgifterna godtogs inte.",
}
# The service's refusals as staff say them; any other is shown after the status's sentence as the service wrote it.
SAYINGS = (
    ("four eyes", "Ingen beslutar om ett utkast som hen själv har skrivit eller föreslagit (fyra ögon)."),
    (
        "changed since this draft was written",
        "Stadsdelens process har ändrats sedan utkastet skrevs (en annan ändring har godkänts). "
        "Skriv utkastet på nytt utifrån den version som gäller.",
    ),
    ("has changed since you read it", REFUSALS[412]),
    ("at the same moment", "Någon annan ändrade eller beslutade om utkastet i samma stund. Ladda om sidan."),
    ("findings", "Utkastet har fel som måste rättas innan det kan föreslås."),
    ("effective_from", "Dagen då ändringen börjar gälla måste vara i dag eller senare."),
)
FIELD_RULES = {
    "effective_from": "Ange dagen då ändringen börjar gälla (ÅÅÅÅ-MM-DD).",
    "note": f"Anteckningen får vara högst {changes.NOTE_LENGTH} tecken; ett avslag behöver en.",
    "reference": "Diarienumret får ha högst 64 tecken: bokstäver, siffror, mellanslag och . / : _ -",
}
FOREIGN_POST = "Formuläret skickades inte från den här webbplatsen och avvisades. Ladda om sidan och försök igen."


class Refused(ApiError):
    """A refusal the pages word themselves, in Swedish: shown as it is."""


def refusal(exc: ApiError) -> str:
    if isinstance(exc, Refused):
        return exc.message
    said = next((swedish for english, swedish in SAYINGS if english in exc.message), None)
    headline = REFUSALS.get(exc.status, "Det gick inte.")
    return said or f"{headline} (Tjänstens svar: {exc.message})"


class Posted:
    """A page form's fields: URL-encoded, or multipart where it carries the draft's file (read with the
    standard library's parser: the service does not depend on python-multipart).  A form from another
    site, or a body of another kind, is a refusal the route shows on its page (``check``)."""

    def __init__(self, fields: dict[str, str], problem: ApiError | None) -> None:
        self.fields = fields
        self.problem = problem

    def check(self) -> None:
        if self.problem is not None:
            raise self.problem

    def get(self, name: str) -> str:
        return self.fields.get(name, "").strip()

    def optional(self, name: str) -> str | None:
        return self.get(name) or None

    def row_version(self) -> int:
        seen = self.get("row_version")
        if not seen.isdigit():
            raise Refused(422, "Formuläret saknar utkastets version. Ladda om sidan och försök igen.")
        return int(seen)


PIN_REFUSAL = (
    "Formuläret innehåller något som ser ut som ett personnummer eller samordningsnummer. "
    "En klient anges bara med sin pseudonym, och en processfil nämner ingen klient."
)


async def posted_form(request: Request) -> Posted:
    if not same_site(request):
        return Posted({}, Refused(403, FOREIGN_POST))
    kind = request.headers.get("content-type", "")
    main = kind.split(";")[0].strip().lower()
    body = await request.body()
    try:
        if main == "application/x-www-form-urlencoded":
            return Posted(dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)), None)
        if main == "multipart/form-data":
            head = b"Content-Type: " + kind.encode("latin-1") + b"\r\n\r\n"
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
            fields = {}
            for part in message.walk():
                name = part.get_param("name", header="content-disposition")
                if isinstance(name, str):
                    payload = part.get_payload(decode=True)
                    fields[name] = payload.decode("utf-8") if isinstance(payload, bytes) else ""
            # The guard read the body as sent; a part's transfer encoding (base64, quoted-printable) hid it.
            if any(True for _ in problems(fields)):
                return Posted({}, Refused(422, PIN_REFUSAL))
            return Posted(fields, None)
    except UnicodeDecodeError:
        return Posted({}, Refused(422, "Formuläret och filen ska vara text i UTF-8."))
    return Posted({}, Refused(415, REFUSALS[415]))


Form = Annotated[Posted, Depends(posted_form)]


def valid(model: type[BaseModel], **values: object) -> Any:
    """The form's fields checked by the JSON route's own model."""
    try:
        return model(**values)
    except ValidationError as exc:
        names = [str(error["loc"][0]) for error in exc.errors() if error["loc"]]
        raise Refused(422, " ".join(dict.fromkeys(FIELD_RULES.get(n, f"{n}: ogiltigt värde.") for n in names))) from None


def release(session: Session) -> None:
    """End the page's transaction before its answer goes out: on SQLite every transaction holds the write
    lock from its start (``BEGIN IMMEDIATE``), and a refusal's audit record (``AuditRefusals``) is written
    as the answer starts, before the request's session would be closed."""
    session.close()


def refused_page(request: Request, principal: Principal, exc: ApiError) -> HTMLResponse:
    return page(request, "refused.html", principal, exc.status, error=refusal(exc))


def label_of(request: Request, district: str) -> str:
    if district == changes.CENTRAL:
        return "Stadens process"
    state = registry(request).snapshot.districts.get(district)
    return state.label if state else district


def newest_text(session: Session, district: str) -> str:
    """What a new draft starts from: the text the district will serve once all that is approved is in force."""
    if district == changes.CENTRAL:
        rows = changes.live_rows(session)
        return next(iter(rows.values())).central_text if rows else ""
    version = changes.newest_version(session, district)
    return changes.stored_version(session, district, version).district_text if version else ""


def draft_row(request: Request, draft: ProcessDraft) -> dict[str, Any]:
    zone = request.app.state.settings.timezone
    return {
        "id": draft.id,
        "district": draft.district,
        "label": label_of(request, draft.district),
        "status": draft.status,
        "status_text": STATUS.get(draft.status, draft.status),
        "created_by": draft.created_by,
        "updated_at": _when(draft.updated_at, zone),
        "proposed_by": draft.proposed_by,
        "proposed_at": _when(draft.proposed_at, zone),
        "findings": len(draft.findings),
        "note": draft.note,
    }


@router.get("/drafts/{district}", response_class=HTMLResponse)
def drafts_page(request: Request, district: District, session: WriterDB) -> HTMLResponse:
    return drafts_view(request, session, page_principal(request, *READERS), district)


def drafts_view(
    request: Request, session: Session, principal: Principal, district: str, status: int = 200, **context: Any
) -> HTMLResponse:
    try:
        drafts = [draft_row(request, d) for d in changes.list_drafts(session, principal, district)]
        may_write = changes.may_write(principal, district)
        text = context.pop("text", None) or (newest_text(session, district) if may_write else "")
    except ApiError as exc:
        return refused_page(request, principal, exc)
    finally:
        release(session)
    label = label_of(request, district)
    return page(
        request,
        "drafts.html",
        principal,
        status,
        district=district,
        label=label,
        drafts=drafts,
        may_write=may_write,
        text=text,
        **context,
    )


@router.post("/drafts/{district}")
def draft_create(request: Request, district: District, session: WriterDB, form: Form) -> Response:
    principal = page_principal(request, *READERS)
    upload = form.fields.get("file", "")
    # A textarea sends its lines with CRLF whatever the author wrote: the file keeps its own endings.
    text = upload if upload.strip() else form.fields.get("text", "").replace("\r\n", "\n")
    try:
        form.check()
        if not text.strip():
            raise Refused(422, "Klistra in processfilens text eller välj filen.")
        if "\x00" in text:
            raise Refused(422, "Filen ska vara text, utan NUL-tecken.")
        draft = changes.create(session, principal, district, text)
    except ApiError as exc:
        session.rollback()
        return drafts_view(request, session, principal, district, exc.status, error=refusal(exc), text=text)
    return RedirectResponse(f"/ui/drafts/{district}/{draft.id}", status_code=303)


@router.get("/drafts/{district}/{draft_id}", response_class=HTMLResponse)
def draft_page(request: Request, district: District, draft_id: uuid.UUID, session: WriterDB) -> HTMLResponse:
    return draft_view(request, session, page_principal(request, *READERS), district, draft_id)


def draft_view(
    request: Request,
    session: Session,
    principal: Principal,
    district: str,
    draft_id: uuid.UUID,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    try:
        draft = changes.get_draft(session, principal, district, draft_id, "draft_read")
        shown = preview(request, session, principal, draft)
        drawn = draft.version is not None and district != changes.CENTRAL
        svg = _svg(draft_diagram(request, session, draft)) if drawn else None
    except ApiError as exc:
        return refused_page(request, principal, exc)
    finally:
        release(session)
    wrote = principal.subject in (draft.created_by, draft.updated_by, draft.proposed_by)
    may_propose = changes.may_write(principal, district) and draft.status == changes.Status.draft and draft.version is not None
    may_decide = principal.role == Role.process_owner and draft.status == changes.Status.proposed and not wrote
    return page(
        request,
        "draft.html",
        principal,
        status,
        district=district,
        label=label_of(request, district),
        draft=draft_row(request, draft),
        row_version=draft.row_version,
        decided={
            "by": draft.decided_by,
            "at": _when(draft.decided_at, request.app.state.settings.timezone),
            "from": draft.effective_from,
            "reference": draft.reference,
        },
        findings=draft.findings,
        preview=shown,
        several=len(shown.districts) > 1,
        count_labels=IMPACT_COUNTS,
        svg=svg,
        may_propose=may_propose,
        may_decide=may_decide,
        today=request.app.state.registry.store.today().isoformat(),
        entered=context.pop("entered", {}),
        **context,
    )


@router.post("/drafts/{district}/{draft_id}/{action}")
def draft_action(
    request: Request,
    district: District,
    draft_id: uuid.UUID,
    action: Literal["propose", "approve", "reject"],
    session: WriterDB,
    form: Form,
) -> Response:
    principal = page_principal(request, *READERS)
    try:
        form.check()
        draft = changes.get_draft(session, principal, district, draft_id, ACTIONS[action])
        seen = form.row_version()
        if action == "propose":
            changes.propose(session, principal, draft, seen, valid(ProposeIn, note=form.optional("note")).note)
        elif action == "approve":
            body = valid(
                ApproveIn,
                effective_from=form.get("effective_from"),
                note=form.optional("note"),
                reference=form.optional("reference"),
            )
            store = request.app.state.registry.store
            changes.approve(session, store, principal, draft, seen, body.effective_from, body.note, body.reference)
            request.app.state.registry.follow()
        else:
            changes.reject(session, principal, draft, seen, valid(RejectIn, note=form.get("note")).note)
    except ApiError as exc:
        session.rollback()
        return draft_view(request, session, principal, district, draft_id, exc.status, error=refusal(exc), entered=form.fields)
    return RedirectResponse(f"/ui/drafts/{district}/{draft_id}", status_code=303)


@router.get("/proposals", response_class=HTMLResponse)
def proposals_page(request: Request, session: Annotated[Session, Depends(reader_db)]) -> HTMLResponse:
    principal = page_principal(request, Role.process_owner)
    return page(request, "proposals.html", principal, drafts=[draft_row(request, d) for d in changes.queue(session, principal)])


@router.get("/districts/{district}/history", response_class=HTMLResponse)
def history_page(
    request: Request,
    district: District,
    session: WriterDB,
    base: Annotated[str | None, Query(alias="from", pattern=r"^[0-9a-f]{8,64}$")] = None,
    to: VersionQuery = None,
) -> HTMLResponse:
    return history_view(request, session, page_principal(request, *READERS), district, base=base, to=to)


def history_view(
    request: Request,
    session: Session,
    principal: Principal,
    district: str,
    status: int = 200,
    base: str | None = None,
    to: str | None = None,
    **context: Any,
) -> HTMLResponse:
    zone = request.app.state.settings.timezone
    try:
        rows = publications(session, principal, district)
        live = changes.live_row(session, district).version
    except ApiError as exc:
        release(session)
        return refused_page(request, principal, exc)
    versions = [
        {
            **row.model_dump(),
            "status_text": IN_FORCE.get(row.status, row.status),
            "in_force_since": _when(row.in_force_since, zone),
        }
        for row in rows
    ]
    comparison = svg = None
    if base and to:
        try:
            comparison = compare_versions(session, district, base, to)
            svg = _svg(comparison_diagram(session, district, base, to))
        except ApiError as exc:
            status, context["error"] = exc.status, refusal(exc)
    release(session)
    return page(
        request,
        "history.html",
        principal,
        status,
        district=district,
        label=label_of(request, district),
        versions=versions,
        live=live,
        base=base or (rows[1].version if len(rows) > 1 else live),
        to=to or live,
        comparison=comparison,
        svg=svg,
        may_restore=changes.may_write(principal, district),
        may_migrate=principal.role in (Role.implementer, Role.manager) and principal.district == district,
        count_labels=IMPACT_COUNTS,
        **context,
    )


@router.post("/districts/{district}/versions/{version}/restore")
def restore_version(request: Request, district: District, version: Version, session: WriterDB, form: Form) -> Response:
    principal = page_principal(request, *READERS)
    try:
        form.check()
        draft = changes.restore(session, principal, district, version)
    except ApiError as exc:
        session.rollback()
        return history_view(request, session, principal, district, exc.status, error=refusal(exc))
    return RedirectResponse(f"/ui/drafts/{district}/{draft.id}", status_code=303)


@router.post("/districts/{district}/migrations", response_class=HTMLResponse)
def migrate_cases(request: Request, district: District, session: WriterDB, form: Form) -> HTMLResponse:
    """The open cases onto the version in force: a dry run lists them, then the move reports what it did."""
    principal = page_principal(request, *READERS)
    try:
        form.check()
        result: Impact | MigrationReport = migrate(
            request, session, principal, district, form.get("version"), form.get("do") != "move"
        )
    except ApiError as exc:
        session.rollback()
        return history_view(request, session, principal, district, exc.status, error=refusal(exc))
    dry_run = result if isinstance(result, Impact) else None
    report = result if isinstance(result, MigrationReport) else None
    return history_view(request, session, principal, district, dry_run=dry_run, report=report)
