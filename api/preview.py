"""What a reviewer sees of a change: the preview of a draft, the comparison of two versions, and
the moving of open cases onto a version.  It joins ``api/changes/`` (the review),
``engine/compare.py`` (what changes in the process), ``engine/equality/`` (what changes in the
equality of provision) and ``api/impact.py`` (what changes for the cases already running).

Case ids are the district's: the district's own staff see which cases a change touches; the
city's process owner sees the counts and the differences, without the ids (the city sees no
district's cases, OSL 26 kap.).
"""

from __future__ import annotations

import uuid

from fastapi import Request
from pydantic import BaseModel, Field
from sqlmodel import Session

from engine import CompiledProcess
from engine.compare import ProcessChanges, compare
from engine.equality import CellChange, equality_changes
from engine.render import render_changes

from . import changes
from .auth import Principal, Role
from .errors import ApiError
from .impact import Impact, MigrationReport, migrate_cases, replay
from .models import ProcessDraft, ProcessVersion
from .schemas import DraftText
from .store import audit, process_version, registry, today
from .versions import build_central


class DistrictPreview(BaseModel):
    district: str
    live_version: str
    draft_version: str | None = Field(description="None while the draft has findings.")
    changes: ProcessChanges | None = Field(description="What changes against the live version.")
    equality: list[CellChange] = Field(description="The cells of the equality matrix the draft changes.")
    impact: Impact | None = Field(description="Every open case replayed on the draft.")


class Preview(BaseModel):
    draft: DraftText
    stale: bool = Field(description="Another change was approved since the draft was written: it cannot be approved as it is.")
    districts: list[DistrictPreview] = Field(description="The district, or for the central process every district.")


class Comparison(BaseModel):
    district: str
    changes: ProcessChanges
    equality: list[CellChange]


def draft_out(draft: ProcessDraft) -> DraftText:
    etag = f'"{draft.row_version}"'
    return DraftText(**draft.model_dump(exclude={"row_version"}), etag=etag)


def preview(request: Request, session: Session, principal: Principal, draft: ProcessDraft) -> Preview:
    _, built = changes.build_text(session, draft.district, draft.text)
    rows = changes.live_rows(session)
    on = today(request)
    shown: list[tuple[str, uuid.UUID]] = []
    districts = []
    for district in sorted(rows) if draft.district == changes.CENTRAL else [draft.district]:
        row = rows.get(district)
        if row is None:
            continue
        live = process_version(request, session, row.version)
        new = built.processes.get(district)
        entry = DistrictPreview(
            district=district, live_version=live.version, draft_version=None, changes=None, equality=[], impact=None
        )
        if new is not None:
            compiled = new[0]
            impact = replay(session, district, compiled, on, lambda v: process_version(request, session, v))
            if sees_cases(principal, district):
                shown.extend((district, case.case_id) for case in impact.cases)
            else:
                impact = impact.model_copy(update={"cases": []})
            entry = DistrictPreview(
                district=district,
                live_version=live.version,
                draft_version=compiled.version,
                changes=compare(live, compiled),
                equality=equality_changes(_central(request, row), live, compiled),
                impact=impact,
            )
        districts.append(entry)
    audit(session, principal, "draft_read", case_district=draft.district, target=str(draft.id))
    for district, case_id in shown:
        # The preview names these cases to the reader: each such disclosure is on the trail.
        audit(session, principal, "draft_impact", case_id, case_district=district, target=str(draft.id))
    session.commit()
    stale = draft.status in (changes.Status.draft, changes.Status.proposed) and draft.base_version != changes.base_of(
        session, draft.district
    )
    return Preview(draft=draft_out(draft), stale=stale, districts=districts)


def sees_cases(principal: Principal, district: str) -> bool:
    """Which cases a change touches is the district's own business: its process owner and manager see
    the case ids; everyone else (the city, other districts reading a central draft) the counts."""
    return principal.role in (Role.implementer, Role.manager) and principal.district == district


def _central(request: Request, row: ProcessVersion) -> CompiledProcess:
    # The registry holds the central process the districts are compared against; built from a
    # stored text only where it has none (production reads no files).
    return registry(request).snapshot.central or build_central(row)


def draft_diagram(request: Request, session: Session, draft: ProcessDraft) -> bytes:
    """The draft drawn with its changes marked against the live version (for the central process,
    the central process against the one in force)."""
    _, built = changes.build_text(session, draft.district, draft.text)
    if draft.district == changes.CENTRAL:
        raise ApiError(409, "the central draft is drawn per district: see each district's comparison")
    new = built.processes.get(draft.district)
    if new is None:
        raise ApiError(409, "the draft has findings and cannot be drawn; its findings say why")
    live = process_version(request, session, changes.live_row(session, draft.district).version)
    return render_changes(new[0], live)


def compare_versions(session: Session, district: str, base: str, to: str) -> Comparison:
    before = changes.compiled_version(session, district, base)
    after = changes.compiled_version(session, district, to)
    central = build_central(changes.stored_version(session, district, to))
    return Comparison(district=district, changes=compare(before, after), equality=equality_changes(central, before, after))


def comparison_diagram(session: Session, district: str, base: str, to: str) -> bytes:
    return render_changes(changes.compiled_version(session, district, to), changes.compiled_version(session, district, base))


def migrate(
    request: Request, session: Session, principal: Principal, district: str, version: str, dry_run: bool
) -> Impact | MigrationReport:
    """Open cases onto the district's version in force: the district's own staff decide that."""
    action = "cases_replayed" if dry_run else "cases_migrated"
    if principal.role not in (Role.implementer, Role.manager) or principal.district != district:
        changes.refuse(
            session,
            principal,
            action,
            district,
            403,
            f"the open cases of {district} are moved by its own process owner or manager",
        )
    live = changes.live_row(session, district)
    if live.version != version:
        raise ApiError(409, "cases are moved onto the version in force only; this one is not (see the district's versions)")
    target = process_version(request, session, version)
    on = today(request)
    version_of = lambda v: process_version(request, session, v)  # noqa: E731
    if not dry_run:
        audit(session, principal, action, case_district=district, target=version)
        # Ends this session's transaction (on SQLite the write lock) before the batches take their own;
        # each case moved, or left, has its own audit row (api/impact.py).
        session.commit()
        return migrate_cases(request.app.state.engine, district, target, on, principal, version_of=version_of)
    impact = replay(session, district, target, on, version_of)
    audit(session, principal, action, case_district=district, target=version)
    for case in impact.cases:
        audit(session, principal, "draft_impact", case.case_id, case_district=district, target=version)
    session.commit()
    return impact
