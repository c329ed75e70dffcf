"""The case service (api/casework.py): the one way a case is written, whether by the API, the pages or the
demo data.  On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlmodel import Session, col, select

from api.auth import Principal, Role
from api.casework import Casework, Recorded
from api.demo_data import EVENT, Writer
from api.errors import ApiError
from api.models import AuditRecord, Case, CaseEvent, OpenStep
from api.schemas import AssignmentIn, CaseCreate, FactsUpdate
from tests.service import Service

OPENED = dt.date(2025, 2, 3)
FACTS = {
    "age": 29,
    "entry_channel": "police",
    "needs": ["housing"],
    "children": [{"age": 8, "witnessed_violence": True, "accompanying": True, "in_school": True}],
    "report_received": "2025-02-03",
}
EVENTS: list[dict[str, Any]] = [
    {"kind": "step_completed", "step": "actualisation", "on": "2025-02-03"},
    {"kind": "step_completed", "step": "intake_registration", "on": "2025-02-04"},
    {"kind": "placement_started", "on": "2025-02-05", "decision_expires": "2025-04-06"},
]


def casework(service: Service, session: Session, subject: str = "anna") -> Casework:
    return Casework(service.client.app, session, Principal(subject=subject, role=Role.caseworker, district="farsta"))


def session_of(service: Service) -> Session:
    return Session(service.client.app.state.engine, expire_on_commit=False)  # type: ignore[attr-defined]


def stored(service: Service, case_id: uuid.UUID) -> dict[str, Any]:
    """Everything a write leaves of a case, without what differs by nature (its id, reference, clocks)."""
    with session_of(service) as session:
        case = session.get(Case, case_id)
        assert case is not None
        steps = session.exec(
            select(OpenStep).where(OpenStep.case_id == case_id).order_by(col(OpenStep.step), col(OpenStep.child))
        )
        log = session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id)))
        return {
            "case": case.model_dump(exclude={"id", "reference", "created_at", "updated_at"}),
            "open_steps": [s.model_dump(exclude={"case_id"}) for s in steps],
            "log": [e.model_dump(include={"kind", "on", "payload", "facts", "recorded_by"}) for e in log],
            "audit": trail(session, case_id),
        }


def trail(session: Session, case_id: uuid.UUID) -> list[tuple[str, str, str]]:
    rows = session.exec(select(AuditRecord).where(AuditRecord.case_id == case_id).order_by(col(AuditRecord.id)))
    return [(r.subject, r.action, r.outcome) for r in rows]


def test_the_api_and_the_demo_data_store_the_same_case(service: Service) -> None:
    headers = service.headers(subject="anna")
    body = {"district": "farsta", "reference": "api-0001", "facts": FACTS, "opened": OPENED.isoformat()}
    response = service.client.post("/cases", json=body, headers=headers)
    assert response.status_code == 201, response.text
    by_api = uuid.UUID(response.json()["id"])
    for sent in EVENTS:
        assert service.client.post(f"/cases/{by_api}/events", json=sent, headers=headers).status_code == 201

    writer = Writer(service.client.app, subject="anna")
    by_writer = writer.create("farsta", "demo-0001", OPENED, FACTS)
    assert by_writer is not None
    for sent in EVENTS:
        writer.event("farsta", by_writer, sent)

    api, demo = stored(service, by_api), stored(service, by_writer)
    assert api == demo
    assert api["case"]["row_version"] == 1 + len(EVENTS)
    assert [e["kind"] for e in api["log"]] == ["case_opened", "step_completed", "step_completed", "placement_started"]
    assert api["audit"] == [("anna", "create", "ok")] + [("anna", "append_event", "ok")] * len(EVENTS)
    assert api["open_steps"], "the worklist has the case's open steps"


def test_a_stale_or_closed_case_is_refused_with_its_audit_row_and_nothing_else_stored(service: Service) -> None:
    with session_of(service) as session:
        case = casework(service, session).create(CaseCreate(district="farsta", reference="k-0001", facts=FACTS, opened=OPENED))
    case_id = case.id
    before = stored(service, case_id)

    with session_of(service) as session, pytest.raises(ApiError) as stale:
        casework(service, session).update_facts(case_id, FactsUpdate(facts={**FACTS, "age": 30}), expected=2)
    assert (stale.value.status, stale.value.headers) == (412, {"ETag": '"1"'})
    after = stored(service, case_id)
    assert after["audit"][-1] == ("anna", "update_facts", "precondition_failed")
    assert {**after, "audit": before["audit"]} == before

    with session_of(service) as session:
        closed = casework(service, session).record(
            case_id, _event({"kind": "case_closed", "reason": "needs_met", "on": "2025-03-01"})
        )
    assert closed.case.closed and not closed.replayed
    # Taking a closed case is refused on the trail too, whether asked by the API or a page.
    with session_of(service) as session, pytest.raises(ApiError) as refused:
        casework(service, session).assign(case_id, AssignmentIn(assigned_to="me"), expected=closed.case.row_version)
    assert refused.value.status == 409
    after = stored(service, case_id)
    assert after["audit"][-1] == ("anna", "assign", "conflict")
    assert after["case"]["assigned_to"] is None and after["case"]["row_version"] == closed.case.row_version


def test_an_idempotency_key_stores_its_event_once_and_refuses_another_event(service: Service) -> None:
    with session_of(service) as session:
        case = casework(service, session).create(CaseCreate(district="farsta", reference="k-0002", facts=FACTS, opened=OPENED))

    def send(body: dict[str, Any]) -> Recorded:
        with session_of(service) as session:
            return casework(service, session).record(case.id, _event(body), "form-1")

    first, again = send(EVENTS[0]), send(EVENTS[0])
    assert (first.replayed, again.replayed) == (False, True)
    assert first.event.id == again.event.id and again.case.row_version == 2
    with pytest.raises(ApiError) as conflict:
        send(EVENTS[1])
    assert conflict.value.status == 409
    after = stored(service, case.id)
    assert [e["kind"] for e in after["log"]] == ["case_opened", "step_completed"]
    assert [a for _, a, _ in after["audit"]] == ["create", "append_event", "append_event", "append_event"]
    assert [o for _, _, o in after["audit"]] == ["ok", "ok", "replayed", "idempotency_conflict"]


def test_a_transfer_hands_the_case_and_its_open_steps_to_the_other_district(service: Service) -> None:
    with session_of(service) as session:
        work = casework(service, session)
        case = work.create(CaseCreate(district="farsta", reference="k-0003", facts=FACTS, opened=OPENED))
        work.assign(case.id, AssignmentIn(assigned_to="me"), expected=1)
    with session_of(service) as session:
        moved = casework(service, session).transfer(case.id, "jarva")
    after = stored(service, case.id)
    assert (moved.district, moved.assigned_to, moved.process_version) == (
        "jarva",
        None,
        service.registry.current("jarva").version,
    )
    assert after["case"]["facts"]["district"] == "jarva"
    assert {s["district"] for s in after["open_steps"]} == {"jarva"}
    assert after["log"][-1]["payload"]["from_district"] == "farsta"
    assert after["audit"][-1] == ("anna", "transferred", "ok")


def _event(body: dict[str, Any]) -> Any:
    return EVENT.validate_python(body)
