"""The pages for reviewed change of the processes: a district's drafts, a draft's preview with
propose/approve/reject, the process owner's queue, a district's versions with comparison, restore
and moving open cases.

The pages over api/changes/ and api/preview.py: the same functions the JSON routes in
routes/drafts.py call, so the roles, four eyes and the row version's check are the service's.
Login, the cookie and the page frame are routes/pages.py's.
"""

from __future__ import annotations

import email.parser
import email.policy
import urllib.parse
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from .. import changes
from ..auth import Principal, Role
from ..errors import ApiError
from ..impact import Impact, MigrationReport
from ..models import ProcessDraft
from ..preview import compare_versions, comparison_diagram, draft_diagram, migrate, preview
from ..pseudonym import ID_PATTERN, problems
from ..schemas import ApproveIn, ProposeIn, RejectIn
from ..store import registry
from .deps import db, reader_db
from .drafts import publications

# Refused is re-exported: the work pages word their refusals with it too.
from .pages import READERS, REFUSALS, inline_svg, local_time, page, page_principal, same_site
from .pages import Refused as Refused

router = APIRouter(prefix="/ui", include_in_schema=False)

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
        "updated_at": local_time(draft.updated_at, zone),
        "proposed_by": draft.proposed_by,
        "proposed_at": local_time(draft.proposed_at, zone),
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
        svg = inline_svg(draft_diagram(request, session, draft)) if drawn else None
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
            "at": local_time(draft.decided_at, request.app.state.settings.timezone),
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
            "in_force_since": local_time(row.in_force_since, zone),
        }
        for row in rows
    ]
    comparison = svg = None
    if base and to:
        try:
            comparison = compare_versions(session, district, base, to)
            svg = inline_svg(comparison_diagram(session, district, base, to))
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
