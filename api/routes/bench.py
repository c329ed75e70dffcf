"""Reference endpoints for bench/api.py, served only with BRYTUPP_BENCH_ENDPOINTS=1.

``/bench/audited-read/{id}`` is the plain way to serve an audited read:
authenticate, read one row, insert one audit row, commit.  The next-step
endpoint does all that and the whole decision; the benchmark puts the two side
by side.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel import Session

from ..auth import Principal, Role, require
from ..schemas import CaseOut
from ..store import audit, case_for
from .deps import db

router = APIRouter(prefix="/bench", tags=["bench"], include_in_schema=False)


@router.get("/audited-read/{case_id}", response_model=CaseOut)
def audited_read(
    case_id: uuid.UUID, principal: Annotated[Principal, require(Role.caseworker)], session: Annotated[Session, Depends(db)]
) -> CaseOut:
    case = case_for(session, principal, case_id, "read")
    audit(session, principal, "read", case.id)
    session.commit()
    return CaseOut.model_validate(case, from_attributes=True)
