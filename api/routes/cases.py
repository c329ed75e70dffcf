"""Cases: register, read, update facts (If-Match), record events (Idempotency-Key),
next steps, history, transfer and migration.  Caseworkers only, own district only."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from engine import CompiledProcess, Decision, DecisionError, decide

from .. import metrics
from ..audit import AuditWriter
from ..auth import Principal, Role, require
from ..errors import ApiError, invalid, problem_responses
from ..events import EventIn, EventProblem, LoggedEvent, changed_facts, completes, fold
from ..impact import NotMovable, move_case
from ..models import Case, CaseEvent, utcnow
from ..schemas import CaseCreate, CaseOut, EventOut, FactsUpdate, Transfer
from ..store import (
    audit,
    case_for,
    checked_facts,
    decision,
    etag,
    if_match,
    log_of,
    logs_of,
    process_version,
    published_process,
    state_now,
    today,
)
from ..worklist import store_steps
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
    if body.district != principal.district:
        raise ApiError(403, f"a caseworker registers cases in their own district ({principal.district})")
    compiled = published_process(request, session, body.district)
    opened = body.opened or today(request)
    facts = checked_facts(compiled, body.facts, body.district)
    case = Case(district=body.district, reference=body.reference, facts=facts, opened=opened, process_version=compiled.version)
    opening = CaseEvent(case_id=case.id, kind="case_opened", on=opened, facts=facts, recorded_by=principal.subject)
    folded = fold(opened, [LoggedEvent(kind=opening.kind, on=opened, payload={}, facts=facts)])
    case.state = folded.model_dump(mode="json")
    session.add(case)
    session.add(opening)
    store_steps(session, case, decision(compiled, folded.state(opened, facts, opened)), today(request))
    audit(session, principal, "create", case.id, case_district=case.district)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        audit(session, principal, "create", None, "conflict", case_district=body.district)
        session.commit()
        raise ApiError(409, "this reference already has an open case in the district") from None
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
    # Every write locks the case row before it reads the log (SQLite: every transaction is IMMEDIATE), so
    # that the history checked below is the history the update is stored on: an event recorded meanwhile
    # (a child's step) waits, and then finds the ETag moved.
    case = case_for(session, principal, case_id, "update_facts", lock=True)
    if case.row_version != expected or case.closed:
        closed, current = case.closed, etag(case)
        session.rollback()
        audit(session, principal, "update_facts", case.id, "conflict" if closed else "precondition_failed", case.district)
        session.commit()
        if closed:
            raise ApiError(409, "the case is closed")
        raise ApiError(412, "the case has changed since you read it; read it again", {"ETag": current})
    compiled = process_version(request, session, case.process_version)
    facts = checked_facts(compiled, body.facts, case.district)
    on = body.on or today(request)
    # Facts the case's history cannot be decided with (a child removed whose step is recorded) are refused,
    # as such an event is: stored, they would break its next steps, its unit's overdue list and migration.
    entry = LoggedEvent(kind="facts_updated", on=on, payload={}, facts=facts)
    state, folded = state_now(session, case, on, entry)
    decided = decision(compiled, state)
    case.facts, case.row_version, case.updated_at = facts, expected + 1, utcnow()
    case.state = folded.model_dump(mode="json")
    store_steps(session, case, decided, today(request))
    session.add(case)
    session.add(CaseEvent(case_id=case.id, kind="facts_updated", on=on, facts=facts, recorded_by=principal.subject))
    audit(session, principal, "update_facts", case.id, case_district=case.district)
    session.commit()
    return _out(response, case)


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
    digest = hashlib.sha256(event.model_dump_json().encode()).hexdigest()
    # Locking the case row serialises appends to one case (SQLite: every transaction is IMMEDIATE).
    case = case_for(session, principal, case_id, "append_event", lock=True)
    if idempotency_key is not None:
        stored = session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.idempotency_key == idempotency_key)
        ).first()
        if stored is not None:
            conflict = stored.request_hash != digest
            audit(session, principal, "append_event", case.id, "idempotency_conflict" if conflict else "replayed", case.district)
            session.commit()
            if conflict:
                raise ApiError(409, "this Idempotency-Key was already used for a different event")
            response.status_code = 200
            response.headers["ETag"] = etag(case)
            response.headers["Idempotent-Replayed"] = "true"
            return EventOut.model_validate(stored, from_attributes=True)
    if case.closed:
        raise ApiError(409, "the case is closed; a new case is a re-actualisation")
    compiled = process_version(request, session, case.process_version)
    try:
        done = completes(event, compiled)
    except EventProblem as exc:
        raise invalid({exc.field: exc.message}) from None
    facts = changed_facts(event, case.facts)
    if facts is not None:
        facts = checked_facts(compiled, facts, case.district)
    payload = event.model_dump(mode="json", exclude={"kind", "on"})
    if done is not None:
        payload["completes"] = done.model_dump(mode="json", exclude_none=True)
    entry = LoggedEvent(kind=event.kind, on=event.on, payload=payload, facts=facts)
    # The event must leave a case the engine can decide: refuse it otherwise, before storing.
    state, folded = state_now(session, case, event.on, entry)
    try:
        decided = decide(compiled, state)
    except DecisionError as exc:
        # The engine names the completion (``completed[4].child``); the caller sent one field.
        raise invalid({key.rsplit(".", 1)[-1]: message for key, message in exc.problems.items()}) from None
    stored = CaseEvent(
        case_id=case.id,
        kind=event.kind,
        on=event.on,
        payload=payload,
        facts=facts,
        idempotency_key=idempotency_key,
        request_hash=digest,
        recorded_by=principal.subject,
    )
    session.add(stored)
    # Every write moves the ETag, a completed step too: facts checked against the history before this
    # event must not be stored after it unseen (PUT facts with the old ETag is then 412).
    case.facts = facts if facts is not None else case.facts
    case.state = folded.model_dump(mode="json")
    case.row_version += 1
    case.updated_at = utcnow()
    if event.kind == "case_closed":
        case.closed, case.closed_on = True, event.on
    store_steps(session, case, decided, today(request))
    session.add(case)
    audit(session, principal, "append_event", case.id, case_district=case.district)
    session.commit()
    session.refresh(stored)
    response.headers["Location"] = f"/cases/{case.id}/events/{stored.id}"
    response.headers["ETag"] = etag(case)
    return EventOut.model_validate(stored, from_attributes=True)


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
    case = case_for(session, principal, case_id, "transfer", lock=True)
    if body.district == case.district:
        raise invalid({"district": "the case is already in this district"})
    compiled = published_process(request, session, body.district)
    return _move(request, response, principal, session, case, compiled, "transferred", body.district)


@router.post("/{case_id}/migrate", response_model=CaseOut, responses=problem_responses(401, 403, 404, 409))
def migrate(case_id: uuid.UUID, request: Request, response: Response, principal: Caseworker, session: DB) -> CaseOut:
    """Move the case onto its district's current process version (cases never move by themselves)."""
    case = case_for(session, principal, case_id, "migrate", lock=True)
    compiled = published_process(request, session, case.district)
    return _move(request, response, principal, session, case, compiled, "migrated", case.district)


def _move(
    request: Request,
    response: Response,
    principal: Principal,
    session: Session,
    case: Case,
    compiled: CompiledProcess,
    kind: str,
    district: str,
) -> CaseOut:
    try:
        move_case(session, principal, case, logs_of(session, [case.id])[case.id], compiled, kind, district, today(request))
    except NotMovable as exc:
        raise ApiError(409, exc.message) from None
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        audit(session, principal, kind, case.id, "conflict", case_district=district)
        session.commit()
        raise ApiError(409, "the reference already has an open case in that district") from None
    return _out(response, case)
