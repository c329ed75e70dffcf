"""Cases: register, read, update facts (If-Match), record events (Idempotency-Key),
next steps, history, transfer and migration.  Caseworkers only, own district only.

The writes are ``api/casework.py``'s: a route here reads the request, has the principal checked by
its dependency, and shapes the service's case or event into the answer (status, ETag, Location)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from sqlmodel import Session

from engine import Decision

from .. import metrics
from ..audit import AuditWriter
from ..auth import Principal, Role, require
from ..casework import Casework
from ..errors import problem_responses
from ..events import EventIn
from ..models import Case
from ..schemas import CaseCreate, CaseOut, EventOut, FactsUpdate, Transfer
from ..store import case_for, decision, etag, if_match, log_of, process_version, state_now, today
from .deps import audit_writer, db, reader_db

router = APIRouter(prefix="/cases", tags=["cases"])
Caseworker = Annotated[Principal, require(Role.caseworker)]
DB = Annotated[Session, Depends(db)]
ReadDB = Annotated[Session, Depends(reader_db)]
Writer = Annotated[AuditWriter, Depends(audit_writer)]


def _out(response: Response, case: Case) -> CaseOut:
    response.headers["ETag"] = etag(case)
    return CaseOut.model_validate(case, from_attributes=True)


@router.post("", status_code=201, response_model=CaseOut, responses=problem_responses(400, 401, 403, 409, 413, 422))
def create_case(body: CaseCreate, request: Request, response: Response, principal: Caseworker, session: DB) -> CaseOut:
    case = Casework(request.app, session, principal).create(body)
    response.headers["Location"] = f"/cases/{case.id}"
    return _out(response, case)


@router.get("/{case_id}", response_model=CaseOut, responses=problem_responses(401, 403, 404))
def read_case(case_id: uuid.UUID, response: Response, principal: Caseworker, session: ReadDB, writer: Writer) -> CaseOut:
    case = case_for(session, principal, case_id, "read", writer=writer)
    session.close()  # detaches the case as loaded: no second query, no open transaction
    writer.write(principal, "read", case.id, case_district=case.district)
    return _out(response, case)


@router.put("/{case_id}/facts", response_model=CaseOut, responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 422, 428))
def update_facts(
    case_id: uuid.UUID,
    body: FactsUpdate,
    request: Request,
    response: Response,
    principal: Caseworker,
    session: DB,
    if_match_header: Annotated[str | None, Header(alias="If-Match", max_length=64)] = None,
) -> CaseOut:
    expected = if_match(if_match_header)
    return _out(response, Casework(request.app, session, principal).update_facts(case_id, body, expected))


@router.post(
    "/{case_id}/events",
    status_code=201,
    response_model=EventOut,
    responses={
        200: {
            "model": EventOut,
            "description": "A replay: this Idempotency-Key already recorded this event (Idempotent-Replayed: true).",
        },
        **problem_responses(400, 401, 403, 404, 409, 413, 422),
    },
)
def append_event(
    case_id: uuid.UUID,
    event: Annotated[EventIn, Body()],
    request: Request,
    response: Response,
    principal: Caseworker,
    session: DB,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
    ] = None,
) -> EventOut:
    recorded = Casework(request.app, session, principal).record(case_id, event, idempotency_key)
    if recorded.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    else:
        response.headers["Location"] = f"/cases/{recorded.case.id}/events/{recorded.event.id}"
    response.headers["ETag"] = etag(recorded.case)
    return EventOut.model_validate(recorded.event, from_attributes=True)


@router.get("/{case_id}/events", response_model=list[EventOut], responses=problem_responses(401, 403, 404))
def history(case_id: uuid.UUID, principal: Caseworker, session: ReadDB, writer: Writer) -> list[EventOut]:
    case = case_for(session, principal, case_id, "history", writer=writer)
    events = log_of(session, case.id)
    session.close()
    writer.write(principal, "history", case.id, case_district=case.district)
    return [EventOut.model_validate(e, from_attributes=True) for e in events]


@router.get("/{case_id}/next-steps", response_model=Decision, responses=problem_responses(401, 403, 404, 409, 422))
def next_steps(
    case_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, require(Role.caseworker, Role.manager)],
    session: ReadDB,
    writer: Writer,
    on: Annotated[dt.date | None, Query(alias="today", description="Decide as of this date (default: today).")] = None,
) -> Decision:
    """The open steps, units, due dates and pending guarantees (never the facts): for the case's
    caseworkers, and for its district's manager."""
    case = case_for(session, principal, case_id, "next_steps", writer=writer, managers=True)
    compiled = process_version(request, session, case.process_version)
    state, _ = state_now(session, case, on or today(request))
    session.close()  # end the read before deciding: no transaction held open while computing
    result = decision(compiled, state)
    metrics.decision_made("next_steps")
    writer.write(principal, "next_steps", case.id, case_district=case.district)
    return result


@router.post("/{case_id}/transfer", response_model=CaseOut, responses=problem_responses(400, 401, 403, 404, 409, 413, 422))
def transfer(
    case_id: uuid.UUID, body: Transfer, request: Request, response: Response, principal: Caseworker, session: DB
) -> CaseOut:
    return _out(response, Casework(request.app, session, principal).transfer(case_id, body.district))


@router.post("/{case_id}/migrate", response_model=CaseOut, responses=problem_responses(401, 403, 404, 409))
def migrate(case_id: uuid.UUID, request: Request, response: Response, principal: Caseworker, session: DB) -> CaseOut:
    """Move the case onto its district's current process version (cases never move by themselves)."""
    return _out(response, Casework(request.app, session, principal).migrate(case_id))
