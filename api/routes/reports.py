"""For managers: the audit trail (a unit's lists are in ``worklists.py``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import String, cast, or_
from sqlmodel import Session, col, select

from ..audit import AuditWriter
from ..auth import Principal, Role, require
from ..errors import invalid, problem_responses
from ..models import AuditRecord
from ..schemas import AuditOut
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
