"""Reviewed changes of the processes: drafts, their preview, propose, approve, reject; each
district's history, comparisons of any two versions, restore, and moving open cases onto a
version.  The rules are in ``api/changes/``; the routes read and answer."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from sqlmodel import Session

from .. import changes
from ..auth import Principal, Role, require
from ..errors import ApiError, invalid, problem_responses
from ..impact import Impact, MigrationReport
from ..models import ProcessDraft, ProcessPublication
from ..preview import Comparison, Preview, compare_versions, comparison_diagram, draft_diagram, migrate, preview
from ..pseudonym import ID_PATTERN
from ..schemas import ApproveIn, DraftOut, MigrationIn, ProposeIn, PublicationOut, RejectIn
from ..store import if_match
from .deps import db

router = APIRouter(tags=["changes"])
Staff = Annotated[Principal, require(Role.implementer, Role.process_owner, Role.manager)]
Author = Annotated[Principal, require(Role.implementer, Role.process_owner)]
Owner = Annotated[Principal, require(Role.process_owner)]
DB = Annotated[Session, Depends(db)]
District = Annotated[str, Path(pattern=ID_PATTERN, description="A district id, or `central` for the central process.")]
Version = Annotated[str, Path(pattern=r"^[0-9a-f]{8,64}$")]
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")
YAML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/yaml": {"schema": {"type": "string", "description": "The process file's text, as written."}}},
    }
}
SVG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/svg+xml": {}}, "description": "The diagram."}}


def out(response: Response | None, draft: ProcessDraft) -> DraftOut:
    if response is not None:
        response.headers["ETag"] = _etag(draft)
    return DraftOut(**draft.model_dump(exclude={"text", "row_version"}), etag=_etag(draft))


def _etag(draft: ProcessDraft) -> str:
    return f'"{draft.row_version}"'


async def yaml_text(request: Request) -> str:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in YAML_TYPES:
        raise ApiError(415, f"send the process file as application/yaml (or {', '.join(YAML_TYPES[1:])})")
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid({"body": "the file must be UTF-8 text"}) from None
    if not text.strip():
        raise invalid({"body": "the file is empty"})
    if "\x00" in text:
        raise invalid({"body": "the file must be text, without NUL characters"})
    return text


Text = Annotated[str, Depends(yaml_text)]


@router.post(
    "/processes/{district}/drafts",
    status_code=201,
    response_model=DraftOut,
    openapi_extra=YAML_BODY,
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
def create_draft(district: District, text: Text, response: Response, principal: Author, session: DB) -> DraftOut:
    """Store a draft: the district file as written (`Content-Type: application/yaml`); its findings are stored with it."""
    draft = changes.create(session, principal, district, text)
    response.headers["Location"] = f"/processes/{district}/drafts/{draft.id}"
    return out(response, draft)


@router.get("/processes/{district}/drafts", response_model=list[DraftOut], responses=problem_responses(401, 403, 404))
def list_drafts(
    district: District,
    principal: Staff,
    session: DB,
    status: Annotated[str | None, Query(pattern="^(draft|proposed|approved|rejected)$")] = None,
) -> list[DraftOut]:
    return [out(None, d) for d in changes.list_drafts(session, principal, district, status)]


@router.get("/proposals", response_model=list[DraftOut], responses=problem_responses(401, 403))
def proposals(principal: Owner, session: DB) -> list[DraftOut]:
    """What the city's process owner has to approve or reject, oldest first."""
    return [out(None, d) for d in changes.queue(session, principal)]


@router.get("/processes/{district}/drafts/{draft_id}", response_model=Preview, responses=problem_responses(401, 403, 404))
def draft_preview(
    district: District, draft_id: uuid.UUID, request: Request, response: Response, principal: Staff, session: DB
) -> Preview:
    """The preview: findings, what changes against the live version, the equality matrix's changed
    cells, and the effect on every open case of the district."""
    draft = changes.get_draft(session, principal, district, draft_id, "draft_read")
    response.headers["ETag"] = _etag(draft)
    return preview(request, session, principal, draft)


@router.get("/processes/{district}/drafts/{draft_id}/text", response_class=Response, responses=problem_responses(401, 403, 404))
def draft_text(district: District, draft_id: uuid.UUID, principal: Staff, session: DB) -> Response:
    """The draft's text as written."""
    draft = changes.get_draft(session, principal, district, draft_id, "draft_read")
    changes.read(session, principal, "draft_read", district, str(draft.id))
    return Response(draft.text, media_type="application/yaml; charset=utf-8", headers={"ETag": _etag(draft)})


@router.get(
    "/processes/{district}/drafts/{draft_id}/diagram.svg",
    response_class=Response,
    responses={**SVG, **problem_responses(401, 403, 404, 409)},
)
def draft_svg(district: District, draft_id: uuid.UUID, request: Request, principal: Staff, session: DB) -> Response:
    """The draft's process with what it changes against the live version marked."""
    draft = changes.get_draft(session, principal, district, draft_id, "draft_read")
    svg = draft_diagram(request, session, draft)
    changes.read(session, principal, "draft_read", district, str(draft.id))
    return Response(svg, media_type="image/svg+xml")


@router.put(
    "/processes/{district}/drafts/{draft_id}",
    response_model=DraftOut,
    openapi_extra=YAML_BODY,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 415, 422, 428),
)
def replace_draft(
    district: District,
    draft_id: uuid.UUID,
    text: Text,
    response: Response,
    principal: Author,
    session: DB,
    if_match_header: Annotated[str | None, Header(alias="If-Match")] = None,
) -> DraftOut:
    """A new text for the draft (a proposed one goes back to being a draft)."""
    draft = changes.get_draft(session, principal, district, draft_id, "draft_replaced")
    return out(response, changes.replace(session, principal, draft, text, if_match(if_match_header)))


@router.post(
    "/processes/{district}/drafts/{draft_id}/propose",
    response_model=DraftOut,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 422, 428),
)
def propose(
    district: District,
    draft_id: uuid.UUID,
    body: ProposeIn,
    response: Response,
    principal: Author,
    session: DB,
    if_match_header: Annotated[str | None, Header(alias="If-Match")] = None,
) -> DraftOut:
    draft = changes.get_draft(session, principal, district, draft_id, "draft_proposed")
    return out(response, changes.propose(session, principal, draft, if_match(if_match_header), body.note))


@router.post(
    "/processes/{district}/drafts/{draft_id}/approve",
    response_model=DraftOut,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 422, 428),
)
def approve(
    district: District,
    draft_id: uuid.UUID,
    body: ApproveIn,
    request: Request,
    response: Response,
    principal: Owner,
    session: DB,
    if_match_header: Annotated[str | None, Header(alias="If-Match")] = None,
) -> DraftOut:
    """Approve: the version serves from `effective_from` on every instance; open cases stay until moved."""
    draft = changes.get_draft(session, principal, district, draft_id, "draft_approved")
    store = request.app.state.registry.store
    approved = changes.approve(
        session, store, principal, draft, if_match(if_match_header), body.effective_from, body.note, body.reference
    )
    request.app.state.registry.follow()
    return out(response, approved)


@router.post(
    "/processes/{district}/drafts/{draft_id}/reject",
    response_model=DraftOut,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 422, 428),
)
def reject(
    district: District,
    draft_id: uuid.UUID,
    body: RejectIn,
    response: Response,
    principal: Owner,
    session: DB,
    if_match_header: Annotated[str | None, Header(alias="If-Match")] = None,
) -> DraftOut:
    draft = changes.get_draft(session, principal, district, draft_id, "draft_rejected")
    return out(response, changes.reject(session, principal, draft, if_match(if_match_header), body.note))


# --- history ------------------------------------------------------------------------------


@router.get("/processes/{district}/versions", response_model=list[PublicationOut], responses=problem_responses(401, 403, 404))
def versions(district: District, principal: Staff, session: DB) -> list[PublicationOut]:
    """Every version the district served or will serve, newest first, with author, approver, dates, note and reference."""
    return publications(session, principal, district)


def publications(session: Session, principal: Principal, district: str) -> list[PublicationOut]:
    rows = changes.history(session, principal, district)
    serving = next((r.id for r in rows if r.applied_at is not None), None)
    return [_publication(row, serving) for row in rows]


def _publication(row: ProcessPublication, serving: int | None) -> PublicationOut:
    if row.withdrawn_at is not None:
        status = "withdrawn"
    else:
        status = "scheduled" if row.applied_at is None else "in_force" if row.id == serving else "replaced"
    return PublicationOut(
        version=row.version,
        effective_from=row.effective_from,
        in_force_since=row.applied_at,
        status=status,
        drafted_by=row.drafted_by,
        approved_by=row.approved_by,
        note=row.note,
        reference=row.reference,
        draft_id=row.draft_id,
        withdrawn_by=row.withdrawn_by,
        withdrawal_note=row.withdrawal_note,
    )


VersionQuery = Annotated[str, Query(pattern=r"^[0-9a-f]{8,64}$")]


@router.get(
    "/processes/{district}/versions/compare", response_model=Comparison, responses=problem_responses(401, 403, 404, 409, 422)
)
def compare(
    district: District,
    principal: Staff,
    session: DB,
    base: Annotated[str, Query(alias="from", pattern=r"^[0-9a-f]{8,64}$")],
    to: VersionQuery,
) -> Comparison:
    """What changes from one version of the district's process to another."""
    changes.require_read(session, principal, district, "history_read")
    compared = compare_versions(session, district, base, to)
    changes.read(session, principal, "versions_compared", district, to)
    return compared


@router.get(
    "/processes/{district}/versions/compare.svg",
    response_class=Response,
    responses={**SVG, **problem_responses(401, 403, 404, 409, 422)},
)
def compare_svg(
    district: District,
    principal: Staff,
    session: DB,
    base: Annotated[str, Query(alias="from", pattern=r"^[0-9a-f]{8,64}$")],
    to: VersionQuery,
) -> Response:
    changes.require_read(session, principal, district, "history_read")
    svg = comparison_diagram(session, district, base, to)
    changes.read(session, principal, "versions_compared", district, to)
    return Response(svg, media_type="image/svg+xml")


@router.post(
    "/processes/{district}/versions/{version}/withdraw",
    response_model=PublicationOut,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422),
)
def withdraw(district: District, version: Version, body: RejectIn, principal: Owner, session: DB) -> PublicationOut:
    """Take back an approval before its day (the newest one waiting; a central change for every district at once)."""
    return _publication(changes.withdraw(session, principal, district, version, body.note), None)


@router.post(
    "/processes/{district}/versions/{version}/restore",
    status_code=201,
    response_model=DraftOut,
    responses=problem_responses(401, 403, 404, 422),
)
def restore(district: District, version: Version, response: Response, principal: Author, session: DB) -> DraftOut:
    """An earlier version as a new draft: a rollback is reviewed and approved like any change."""
    draft = changes.restore(session, principal, district, version)
    response.headers["Location"] = f"/processes/{district}/drafts/{draft.id}"
    return out(response, draft)


@router.post(
    "/processes/{district}/versions/{version}/migrations",
    response_model=Impact | MigrationReport,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422),
)
def migrations(
    district: District, version: Version, body: MigrationIn, request: Request, principal: Staff, session: DB
) -> Impact | MigrationReport:
    """Move the district's open cases onto a published version: a dry run lists what would change for
    each; otherwise every case whose history fits is moved (audited per case), the others are listed with why."""
    return migrate(request, session, principal, district, version, body.dry_run)
