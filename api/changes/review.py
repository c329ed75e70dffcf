"""The review of a process change: who may do what, a draft's transitions, withdrawal, history.

Every transition is one conditional update of the draft's row, so of two
reviewers who saw the same row version one wins and the other is answered 409;
it commits together with its audit record, and a refusal is on the audit trail
too.  ``api/changes/building.py`` says what a draft is written on and builds to.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence

from sqlmodel import Session, col, select, update

from ..auth import Principal, Role
from ..errors import ApiError, invalid
from ..models import CurrentVersion, ProcessDraft, ProcessPublication, utcnow
from ..store import audit
from ..versions import Approval, VersionStore
from .building import CENTRAL, base_of, build_text, last_scheduled, live_row, newest_version, stored_version

# An approval is a decision for the coming months, not for a day nobody will remember it.
MAX_AHEAD = dt.timedelta(days=366)
NOTE_LENGTH = 2000


class Status:
    draft = "draft"
    proposed = "proposed"
    approved = "approved"
    rejected = "rejected"


# --- who may do what ----------------------------------------------------------------------


def may_read(principal: Principal, district: str) -> bool:
    """Drafts and history: the district's own process owner and manager, and the city's; a change
    to the central process is every district's to read, since it changes all of them."""
    if principal.role == Role.process_owner or principal.city_wide:
        return True
    if district == CENTRAL:
        return principal.role in (Role.implementer, Role.manager)
    return principal.role in (Role.implementer, Role.manager) and principal.district == district


def may_write(principal: Principal, district: str) -> bool:
    """Drafting: a district's process owner for the district, the city's process owner for the central process."""
    if district == CENTRAL:
        return principal.role == Role.process_owner
    return principal.role == Role.implementer and principal.district == district


def require_read(session: Session, principal: Principal, district: str, action: str, target: str | None = None) -> None:
    if not may_read(principal, district):
        refuse(session, principal, action, district, 404, "no such district among yours", target)


def require_write(session: Session, principal: Principal, district: str, action: str) -> None:
    if may_write(principal, district):
        return
    if district == CENTRAL:
        why = "changes to the central process are drafted by the city's process owner (role process_owner)"
    elif principal.role == Role.implementer and principal.district is None:
        why = "your token names no district: a district's process owner drafts for the district in their token"
    else:
        why = f"drafts for {district} are written by its process owner (role implementer, district {district})"
    refuse(session, principal, action, district, 403, why)


def refuse(
    session: Session, principal: Principal, action: str, district: str, status: int, why: str, target: str | None = None
) -> None:
    session.rollback()
    audit(session, principal, action, outcome="denied", case_district=district, target=target)
    session.commit()
    raise ApiError(status, why)


def read(session: Session, principal: Principal, action: str, district: str, target: str | None = None) -> None:
    """A granted read of a district's drafts or versions, on the trail like a refused one."""
    audit(session, principal, action, case_district=district, target=target)
    session.commit()


# --- the review ---------------------------------------------------------------------------


def get_draft(session: Session, principal: Principal, district: str, draft_id: uuid.UUID, action: str) -> ProcessDraft:
    require_read(session, principal, district, action, str(draft_id))
    draft = session.get(ProcessDraft, draft_id)
    if draft is None or draft.district != district:
        raise ApiError(404, "no such draft for that district")
    return draft


def list_drafts(session: Session, principal: Principal, district: str, status: str | None = None) -> list[ProcessDraft]:
    require_read(session, principal, district, "drafts_read")
    query = select(ProcessDraft).where(ProcessDraft.district == district)
    if status is not None:
        query = query.where(ProcessDraft.status == status)
    drafts = list(session.exec(query.order_by(col(ProcessDraft.updated_at).desc())))
    read(session, principal, "drafts_read", district)
    return drafts


def queue(session: Session, principal: Principal) -> list[ProcessDraft]:
    """What the city's process owner has to decide on, oldest first."""
    query = select(ProcessDraft).where(ProcessDraft.status == Status.proposed).order_by(col(ProcessDraft.proposed_at))
    drafts = list(session.exec(query))
    read(session, principal, "proposals_read", CENTRAL)
    return drafts


def create(session: Session, principal: Principal, district: str, text: str) -> ProcessDraft:
    if district != CENTRAL:
        live_row(session, district)  # 404 for a district that serves no process
    require_write(session, principal, district, "draft_created")
    path, built = build_text(session, district, text)
    draft = ProcessDraft(
        district=district,
        path=path,
        text=text,
        base_version=base_of(session, district),
        version=built.version,
        findings=built.findings,
        created_by=principal.subject,
        updated_by=principal.subject,
    )
    session.add(draft)
    return _done(session, principal, draft, "draft_created")


def replace(session: Session, principal: Principal, draft: ProcessDraft, text: str, seen: int) -> ProcessDraft:
    """A new text for a draft not yet decided on; a proposed draft goes back to being a draft."""
    require_write(session, principal, draft.district, "draft_replaced")
    if draft.status not in (Status.draft, Status.proposed, Status.rejected):
        raise ApiError(409, f"the draft is {draft.status}; write a new draft instead")
    _, built = build_text(session, draft.district, text)
    values = dict(
        text=text,
        version=built.version,
        findings=built.findings,
        base_version=base_of(session, draft.district),
        status=Status.draft,
        updated_by=principal.subject,
        updated_at=utcnow(),
        proposed_by=None,
        proposed_at=None,
        decided_by=None,
        decided_at=None,
        note=None,
    )
    _transition(session, draft, seen, (Status.draft, Status.proposed, Status.rejected), values)
    return _done(session, principal, draft, "draft_replaced")


def propose(session: Session, principal: Principal, draft: ProcessDraft, seen: int, note: str | None) -> ProcessDraft:
    require_write(session, principal, draft.district, "draft_proposed")
    if draft.status != Status.draft:
        raise ApiError(409, f"the draft is {draft.status}; only a draft can be proposed")
    if draft.findings:
        raise ApiError(409, f"the draft has {len(draft.findings)} findings; store a text without them first")
    if draft.version is None:
        raise ApiError(409, "the draft does not build; store a text that does first")
    values = dict(status=Status.proposed, proposed_by=principal.subject, proposed_at=utcnow(), note=note)
    _transition(session, draft, seen, (Status.draft,), values)
    return _done(session, principal, draft, "draft_proposed")


def approve(
    session: Session,
    store: VersionStore,
    principal: Principal,
    draft: ProcessDraft,
    seen: int,
    effective_from: dt.date,
    note: str | None,
    reference: str | None,
) -> ProcessDraft:
    """Approve a proposed draft: its versions are stored, and serve from ``effective_from``."""
    _decider(session, principal, draft, "draft_approved")
    if effective_from < store.today():
        raise invalid({"effective_from": f"must be today ({store.today().isoformat()}) or later"})
    if effective_from > store.today() + MAX_AHEAD:
        raise invalid({"effective_from": f"must be within {MAX_AHEAD.days} days from today"})
    districts = _lock_districts(session, draft.district)
    pending = last_scheduled(session, districts)
    if pending is not None and effective_from < pending:
        why = f"must be on or after {pending.isoformat()}, when the version approved before this one takes effect"
        raise invalid({"effective_from": why})
    if draft.base_version != base_of(session, draft.district):
        raise ApiError(
            409,
            "the district's process has changed since this draft was written (another change was approved): "
            "the author writes the draft again on the new version",
        )
    _, built = build_text(session, draft.district, draft.text)
    if built.findings or built.version != draft.version:
        raise ApiError(409, "the draft no longer builds as it did when proposed; the author stores it again")
    newest = {d: newest_version(session, d) for d in built.processes}
    if all(compiled.version == newest[d] for d, (compiled, _) in built.processes.items()):
        raise ApiError(409, "the draft changes nothing against the district's newest version; reject it instead")
    values = dict(
        status=Status.approved,
        decided_by=principal.subject,
        decided_at=utcnow(),
        note=note,
        reference=reference,
        effective_from=effective_from,
    )
    _transition(session, draft, seen, (Status.proposed,), values)
    authors = draft.created_by if draft.updated_by == draft.created_by else f"{draft.created_by}, {draft.updated_by}"
    approval = Approval(
        drafted_by=authors[:128],
        approved_by=principal.subject,
        effective_from=effective_from,
        note=note,
        reference=reference,
        draft_id=draft.id,
    )
    for district, (compiled, sources) in built.processes.items():
        if compiled.version != newest[district]:
            store.schedule(session, compiled, sources, approval)
    return _done(session, principal, draft, "draft_approved")


def _lock_districts(session: Session, district: str) -> list[str]:
    """Lock the current-version rows a decision on this draft changes: two approvals for one district
    (or one of the central process and one of a district) then run one after the other, and the second
    sees what the first approved (READ COMMITTED reads the newest committed rows after the lock)."""
    query = select(CurrentVersion).order_by(col(CurrentVersion.district)).with_for_update()
    if district != CENTRAL:
        query = query.where(CurrentVersion.district == district)
    rows = session.exec(query).all()
    session.expire_all()
    return [row.district for row in rows]


def reject(session: Session, principal: Principal, draft: ProcessDraft, seen: int, note: str) -> ProcessDraft:
    _decider(session, principal, draft, "draft_rejected")
    values = dict(status=Status.rejected, decided_by=principal.subject, decided_at=utcnow(), note=note)
    _transition(session, draft, seen, (Status.proposed,), values)
    return _done(session, principal, draft, "draft_rejected")


def _done(session: Session, principal: Principal, draft: ProcessDraft, action: str) -> ProcessDraft:
    """The change and its audit record commit together; the draft as stored."""
    audit(session, principal, action, case_district=draft.district, target=str(draft.id))
    session.commit()
    session.refresh(draft)
    return draft


def _decider(session: Session, principal: Principal, draft: ProcessDraft, action: str) -> None:
    target = str(draft.id)
    if principal.role != Role.process_owner:
        why = "drafts are approved or rejected by the city's process owner"
        refuse(session, principal, action, draft.district, 403, why, target)
    if principal.subject in (draft.created_by, draft.updated_by, draft.proposed_by):
        why = "nobody decides on a draft they wrote or proposed (four eyes)"
        refuse(session, principal, action, draft.district, 403, why, target)
    if draft.status != Status.proposed:
        raise ApiError(409, f"the draft is {draft.status}; only a proposed draft is decided on")


def _transition(session: Session, draft: ProcessDraft, seen: int, allowed: Sequence[str], values: Mapping[str, object]) -> None:
    """One conditional update: of two writers that saw the same row version, one changes it."""
    if seen != draft.row_version:
        raise ApiError(412, f'the draft has changed since you read it; its ETag is now "{draft.row_version}"')
    done = session.exec(
        update(ProcessDraft)
        .where(
            col(ProcessDraft.id) == draft.id,
            col(ProcessDraft.row_version) == seen,
            col(ProcessDraft.status).in_(allowed),
        )
        .values(**values, row_version=seen + 1)
    )
    if done.rowcount != 1:
        session.rollback()
        raise ApiError(409, "someone else changed or decided on the draft at the same moment; read it again")


# --- history ------------------------------------------------------------------------------


def history(session: Session, principal: Principal, district: str) -> list[ProcessPublication]:
    require_read(session, principal, district, "history_read")
    query = select(ProcessPublication).where(ProcessPublication.district == district)
    rows = list(session.exec(query.order_by(col(ProcessPublication.effective_from).desc(), col(ProcessPublication.id).desc())))
    read(session, principal, "history_read", district)
    return rows


def withdraw(session: Session, principal: Principal, district: str, version: str, note: str) -> ProcessPublication:
    """Take back an approval before its day: the version will not take effect (the draft stays approved,
    with the withdrawal on the history).  Only the newest scheduled version, so that what was approved
    after it, written on it, is never left in force without it."""
    if principal.role != Role.process_owner:
        refuse(session, principal, "version_withdrawn", district, 403, "approvals are withdrawn by the city's process owner")
    districts = _lock_districts(session, district)
    pending = session.exec(
        select(ProcessPublication)
        .where(
            col(ProcessPublication.district).in_(districts),
            col(ProcessPublication.applied_at).is_(None),
            col(ProcessPublication.withdrawn_at).is_(None),
        )
        .order_by(col(ProcessPublication.effective_from).desc(), col(ProcessPublication.id).desc())
    ).all()
    mine = [p for p in pending if p.district == district and p.version == version]
    if not mine:
        raise ApiError(404, "no version of that district is waiting to take effect under that id")
    newest = pending[0]
    if mine[0].id != newest.id and not (mine[0].draft_id is not None and mine[0].draft_id == newest.draft_id):
        raise ApiError(409, "a later approved version is written on this one; withdraw that one first")
    # A central change scheduled for every district is withdrawn for all of them together.
    taken = [p for p in pending if (mine[0].draft_id is not None and p.draft_id == mine[0].draft_id) or p.id == mine[0].id]
    done = session.exec(
        update(ProcessPublication)
        .where(col(ProcessPublication.id).in_([p.id for p in taken]), col(ProcessPublication.applied_at).is_(None))
        .values(withdrawn_at=utcnow(), withdrawn_by=principal.subject, withdrawal_note=note)
    )
    if done.rowcount != len(taken):
        session.rollback()
        raise ApiError(409, "the version took effect meanwhile; approve a change back instead")
    audit(session, principal, "version_withdrawn", case_district=district, target=version)
    session.commit()
    return mine[0]


def restore(session: Session, principal: Principal, district: str, version: str) -> ProcessDraft:
    """An earlier version's district text as a new draft, reviewed like any other change."""
    require_write(session, principal, district, "version_restored")
    row = stored_version(session, district, version)
    return create(session, principal, district, row.district_text)
