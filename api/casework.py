"""The writes to a case: register it, record an event, replace its facts, assign it, transfer it
to another district and migrate it onto its district's current process version.

Each write is one transaction: the checks (the process's vocabulary, a closed case, the row
version the caller saw, an Idempotency-Key used before, whether the engine can still decide the
case afterwards), the event in the log, the case row with its fold (``api/events.py``) and its
open steps (``api/worklist.py``), and the audit row.  The JSON routes (``routes/cases.py``,
``routes/worklists.py``), the caseworker's pages (``routes/work_pages.py``) and the demo data
(``api/demo_data.py``) all write through here, so a case is the same whoever recorded it.

A refusal is an ``ApiError`` (``api/errors.py``) that the route answers as it is and a page says
in Swedish.  A stale row version, a reused Idempotency-Key, facts for a closed case and taking a
closed case are audited here, in a transaction of their own (the "Ta ärendet" page is not on
``audit.AuditRefusals``' list); the other refusals on their way out, by that middleware, under
the route's name.  The caller has read the request (the If-Match header is its to parse) and
shapes the answer; committing is done here, as the outcome of a write decides what is stored
with it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from starlette.requests import Request

from engine import CompiledProcess, DecisionError, decide

from .auth import Principal
from .errors import ApiError, invalid
from .events import EventIn, EventProblem, LoggedEvent, changed_facts, completes, fold
from .impact import NotMovable, move_case
from .models import Case, CaseEvent, utcnow
from .schemas import AssignmentIn, CaseCreate, FactsUpdate
from .store import audit, case_for, checked_facts, decision, etag, logs_of, process_version, published_process, state_now, today
from .worklist import store_steps


@dataclass(frozen=True)
class Recorded:
    """An event as stored, and the case after it; ``replayed`` when its Idempotency-Key had stored it before."""

    event: CaseEvent
    case: Case
    replayed: bool = False


class Casework:
    """One principal's writes to cases, in ``session``, on the processes and clock of ``app`` (the
    started service: its ``state.registry`` and ``state.settings``)."""

    def __init__(self, app: Any, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        # store's lookups (process versions, today in the service's time zone) read the app off a
        # request; the demo data write with the app and no request.
        self._app = Request({"type": "http", "app": app})

    def today(self) -> dt.date:
        return today(self._app)

    def create(self, body: CaseCreate) -> Case:
        principal, session = self.principal, self.session
        if body.district != principal.district:
            raise ApiError(403, f"a caseworker registers cases in their own district ({principal.district})")
        compiled = published_process(self._app, session, body.district)
        opened = body.opened or self.today()
        facts = checked_facts(compiled, body.facts, body.district)
        district, version = body.district, compiled.version
        case = Case(district=district, reference=body.reference, facts=facts, opened=opened, process_version=version)
        opening = CaseEvent(case_id=case.id, kind="case_opened", on=opened, facts=facts, recorded_by=principal.subject)
        folded = fold(opened, [LoggedEvent(kind=opening.kind, on=opened, payload={}, facts=facts)])
        case.state = folded.model_dump(mode="json")
        session.add(case)
        session.add(opening)
        store_steps(session, case, decision(compiled, folded.state(opened, facts, opened)), self.today())
        audit(session, principal, "create", case.id, case_district=case.district)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            audit(session, principal, "create", None, "conflict", case_district=body.district)
            session.commit()
            raise ApiError(409, "this reference already has an open case in the district") from None
        return case

    def update_facts(self, case_id: uuid.UUID, body: FactsUpdate, expected: int) -> Case:
        """Replace the facts of the case at row version ``expected`` (the caller's If-Match)."""
        session = self.session
        # Every write locks the case row before it reads the log (SQLite: every transaction is IMMEDIATE), so
        # that the history checked below is the history the update is stored on: an event recorded meanwhile
        # (a child's step) waits, and then finds the ETag moved.
        case = case_for(session, self.principal, case_id, "update_facts", lock=True)
        if case.closed:
            self._refuse(case, "update_facts", ApiError(409, "the case is closed"))
        self._check_version(case, expected, "update_facts")
        compiled = process_version(self._app, session, case.process_version)
        facts = checked_facts(compiled, body.facts, case.district)
        on = body.on or self.today()
        # Facts the case's history cannot be decided with (a child removed whose step is recorded) are refused,
        # as such an event is: stored, they would break its next steps, its unit's overdue list and migration.
        entry = LoggedEvent(kind="facts_updated", on=on, payload={}, facts=facts)
        state, folded = state_now(session, case, on, entry)
        decided = decision(compiled, state)
        case.facts, case.row_version, case.updated_at = facts, expected + 1, utcnow()
        case.state = folded.model_dump(mode="json")
        store_steps(session, case, decided, self.today())
        session.add(case)
        session.add(CaseEvent(case_id=case.id, kind="facts_updated", on=on, facts=facts, recorded_by=self.principal.subject))
        audit(session, self.principal, "update_facts", case.id, case_district=case.district)
        session.commit()
        return case

    def record(self, case_id: uuid.UUID, event: EventIn, idempotency_key: str | None = None) -> Recorded:
        """Append ``event`` to the case's log; with ``idempotency_key``, a retry of it is stored once."""
        session, principal = self.session, self.principal
        digest = hashlib.sha256(event.model_dump_json().encode()).hexdigest()
        # Locking the case row serialises appends to one case (SQLite: every transaction is IMMEDIATE).
        case = case_for(session, principal, case_id, "append_event", lock=True)
        if idempotency_key is not None:
            replayed = self._replayed(case, idempotency_key, digest)
            if replayed is not None:
                return Recorded(replayed, case, replayed=True)
        if case.closed:
            raise ApiError(409, "the case is closed; a new case is a re-actualisation")
        compiled = process_version(self._app, session, case.process_version)
        entry = _entry(event, case, compiled)
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
            payload=entry.payload,
            facts=entry.facts,
            idempotency_key=idempotency_key,
            request_hash=digest,
            recorded_by=principal.subject,
        )
        session.add(stored)
        # Every write moves the ETag, a completed step too: facts checked against the history before this
        # event must not be stored after it unseen (PUT facts with the old ETag is then 412).
        case.facts = entry.facts if entry.facts is not None else case.facts
        case.state = folded.model_dump(mode="json")
        case.row_version += 1
        case.updated_at = utcnow()
        if event.kind == "case_closed":
            case.closed, case.closed_on = True, event.on
        store_steps(session, case, decided, self.today(), entry.payload.get("completes"))
        session.add(case)
        audit(session, principal, "append_event", case.id, case_district=case.district)
        session.commit()
        session.refresh(stored)
        return Recorded(stored, case)

    def _replayed(self, case: Case, key: str, digest: str) -> CaseEvent | None:
        """The event this key stored before, if it did (the same event: a 409 if another)."""
        stored = self.session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.idempotency_key == key)
        ).first()
        if stored is None:
            return None
        conflict = stored.request_hash != digest
        outcome = "idempotency_conflict" if conflict else "replayed"
        audit(self.session, self.principal, "append_event", case.id, outcome, case.district)
        self.session.commit()
        if conflict:
            raise ApiError(409, "this Idempotency-Key was already used for a different event")
        return stored

    def assign(self, case_id: uuid.UUID, body: AssignmentIn, expected: int) -> Case:
        """Give the case at row version ``expected`` to the principal (``me``), or to nobody."""
        session, principal = self.session, self.principal
        case = case_for(session, principal, case_id, "assign", lock=True)
        self._check_version(case, expected, "assign")
        if case.closed:
            self._refuse(case, "assign", ApiError(409, "the case is closed"))
        case.assigned_to = principal.subject if body.assigned_to == "me" else None
        case.row_version, case.updated_at = expected + 1, utcnow()
        session.add(case)
        audit(session, principal, "assign" if case.assigned_to else "unassign", case.id, case_district=case.district)
        session.commit()
        return case

    def transfer(self, case_id: uuid.UUID, district: str) -> Case:
        """Hand the case over to ``district``, onto its current process version."""
        case = case_for(self.session, self.principal, case_id, "transfer", lock=True)
        if district == case.district:
            raise invalid({"district": "the case is already in this district"})
        return self._move(case, published_process(self._app, self.session, district), "transferred", district)

    def migrate(self, case_id: uuid.UUID) -> Case:
        """Move the case onto its district's current process version (cases never move by themselves)."""
        case = case_for(self.session, self.principal, case_id, "migrate", lock=True)
        return self._move(case, published_process(self._app, self.session, case.district), "migrated", case.district)

    def _move(self, case: Case, compiled: CompiledProcess, kind: str, district: str) -> Case:
        session = self.session
        try:
            move_case(session, self.principal, case, logs_of(session, [case.id])[case.id], compiled, kind, district, self.today())
        except NotMovable as exc:
            raise ApiError(409, exc.message) from None
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            audit(session, self.principal, kind, case.id, "conflict", case_district=district)
            session.commit()
            raise ApiError(409, "the reference already has an open case in that district") from None
        return case

    def _check_version(self, case: Case, expected: int, action: str) -> None:
        if case.row_version != expected:
            self._refuse(
                case,
                action,
                ApiError(412, "the case has changed since you read it; read it again", {"ETag": etag(case)}),
            )

    def _refuse(self, case: Case, action: str, error: ApiError) -> None:
        """Raise ``error`` once its audit row is stored; the case's lock is let go first."""
        case_id, district = case.id, case.district
        self.session.rollback()
        outcome = "conflict" if error.status == 409 else "precondition_failed"
        audit(self.session, self.principal, action, case_id, outcome, district)
        self.session.commit()
        raise error


def _entry(event: EventIn, case: Case, compiled: CompiledProcess) -> LoggedEvent:
    """The log entry ``event`` makes on ``case``: the step it completes and the facts it changes, checked
    against the case's process (a 422 naming the field otherwise)."""
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
    return LoggedEvent(kind=event.kind, on=event.on, payload=payload, facts=facts)
