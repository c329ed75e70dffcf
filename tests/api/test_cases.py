"""The caseworkers' API: cases, facts, events, next steps, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from api.auth import Role
from tests.service import Service

FACTS = {"age": 34, "entry_channel": "self_referral", "needs": ["financial"], "consent_joint_handling": True}


def create(service: Service, reference: str = "klient-0001", district: str = "farsta", **body: Any) -> dict[str, Any]:
    payload = {"district": district, "reference": reference, "facts": FACTS, "opened": "2025-02-03", **body}
    response = service.client.post("/cases", json=payload, headers=service.headers(district=district))
    assert response.status_code == 201, response.text
    return dict(response.json())


def event(service: Service, case_id: str, key: str | None = None, **body: Any) -> Any:
    headers = service.headers() | ({"Idempotency-Key": key} if key else {})
    return service.client.post(f"/cases/{case_id}/events", json=body, headers=headers)


def next_steps(service: Service, case_id: str, today: str) -> dict[str, Any]:
    response = service.client.get(f"/cases/{case_id}/next-steps", params={"today": today}, headers=service.headers())
    assert response.status_code == 200, response.text
    return dict(response.json())


class TestCases:
    def test_create_returns_the_stored_case_with_an_etag(self, service: Service) -> None:
        response = service.client.post(
            "/cases", json={"district": "farsta", "reference": "klient-0001", "facts": FACTS}, headers=service.headers()
        )
        assert response.status_code == 201
        case = response.json()
        assert response.headers["etag"] == '"1"'
        assert response.headers["location"] == f"/cases/{case['id']}"
        assert case["facts"]["district"] == "farsta"
        assert case["process_version"] == service.registry.current("farsta").version
        read = service.client.get(f"/cases/{case['id']}", headers=service.headers())
        assert read.status_code == 200 and read.json() == case

    def test_one_open_case_per_reference_and_district(self, service: Service) -> None:
        create(service)
        again = service.client.post("/cases", json={"district": "farsta", "reference": "klient-0001"}, headers=service.headers())
        assert again.status_code == 409

    def test_unknown_fact_is_422_naming_the_declared_one(self, service: Service) -> None:
        response = service.client.post(
            "/cases", json={"district": "farsta", "reference": "k-1", "facts": {"agee": 3}}, headers=service.headers()
        )
        assert response.status_code == 422
        [problem] = response.json()["detail"]
        # The key is what was sent: the problem is the object's, and names what is declared.
        assert problem["loc"] == ["body", "facts"]
        assert "did you mean 'age'" in problem["msg"] and "agee" not in response.text

    def test_unknown_district_is_422(self, service: Service) -> None:
        response = service.client.post(
            "/cases", json={"district": "gotham", "reference": "k-1"}, headers=service.headers("caseworker", "gotham")
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "district"]

    @pytest.mark.parametrize("pin", ["850101-1234", "198501011234", "19850161-1234", "8501011234"])
    def test_personal_identity_numbers_are_refused_and_not_echoed(self, service: Service, pin: str) -> None:
        for body in (
            {"district": "farsta", "reference": pin},
            {"district": "farsta", "reference": "k-1", "facts": {"age": 3, "comment": f"pnr {pin}"}},
        ):
            response = service.client.post("/cases", json=body, headers=service.headers())
            assert response.status_code == 422
            assert pin not in response.text
            assert "personal identity number" in response.text

    def test_validation_errors_do_not_echo_the_input(self, service: Service) -> None:
        response = service.client.post(
            "/cases", json={"district": "farsta", "reference": "Anna Andersson!"}, headers=service.headers()
        )
        assert response.status_code == 422
        assert "Anna" not in response.text
        assert response.json()["detail"][0]["loc"] == ["body", "reference"]

    def test_malformed_json_is_422(self, service: Service) -> None:
        response = service.client.post(
            "/cases", content=b"{not json", headers=service.headers() | {"content-type": "application/json"}
        )
        assert response.status_code == 422

    def test_large_bodies_are_413(self, service: Service) -> None:
        big = {"district": "farsta", "reference": "k-1", "facts": {"x": "a" * 100_000}}
        response = service.client.post("/cases", json=big, headers=service.headers())
        assert response.status_code == 413


class TestFacts:
    def test_update_needs_if_match_and_a_stale_one_changes_nothing(self, service: Service) -> None:
        case = create(service)
        url = f"/cases/{case['id']}/facts"
        missing = service.client.put(url, json={"facts": {"age": 35}}, headers=service.headers())
        assert missing.status_code == 428
        first = service.client.put(url, json={"facts": {"age": 35}}, headers=service.headers() | {"If-Match": '"1"'})
        assert first.status_code == 200 and first.headers["etag"] == '"2"'
        stale = service.client.put(url, json={"facts": {"age": 99}}, headers=service.headers() | {"If-Match": '"1"'})
        assert stale.status_code == 412
        assert stale.headers["etag"] == '"2"'
        now = service.client.get(f"/cases/{case['id']}", headers=service.headers()).json()
        assert now["facts"]["age"] == 35 and now["row_version"] == 2

    def test_facts_history_routes_earlier_steps_with_earlier_facts(self, service: Service) -> None:
        case = create(service)
        cid = case["id"]
        for step in ("actualisation", "intake_registration", "initial_safety_assessment"):
            assert event(service, cid, kind="step_completed", on="2025-02-03", step=step).status_code == 201
        history = service.client.get(f"/cases/{cid}/events", headers=service.headers()).json()
        assert [e["kind"] for e in history] == ["case_opened", "step_completed", "step_completed", "step_completed"]
        steps = {s["step"] for s in next_steps(service, cid, "2025-02-04")["next_steps"]}
        assert "risk_assessment" in steps


class TestEvents:
    def test_idempotency_key_stores_a_retried_event_once(self, service: Service) -> None:
        case = create(service)
        body = {"kind": "step_completed", "on": "2025-02-03", "step": "actualisation"}
        first = event(service, case["id"], "k-1", **body)
        retry = event(service, case["id"], "k-1", **body)
        assert first.status_code == 201 and retry.status_code == 200
        assert retry.json() == first.json()
        assert retry.headers["idempotent-replayed"] == "true"
        other = event(service, case["id"], "k-1", **{**body, "step": "intake_registration"})
        assert other.status_code == 409
        history = service.client.get(f"/cases/{case['id']}/events", headers=service.headers()).json()
        assert [e["kind"] for e in history].count("step_completed") == 1

    def test_unknown_step_is_422_with_a_suggestion(self, service: Service) -> None:
        case = create(service)
        response = event(service, case["id"], kind="step_completed", on="2025-02-03", step="actualization")
        assert response.status_code == 422
        [problem] = response.json()["detail"]
        assert problem["loc"] == ["body", "step"]
        assert "did you mean 'actualisation'" in problem["msg"] and "actualization" not in response.text

    def test_per_child_step_needs_a_child(self, service: Service) -> None:
        case = create(service)
        response = event(service, case["id"], kind="schooling_started", on="2025-02-03", child=3)
        assert response.status_code == 422

    def test_unknown_event_kind_is_422(self, service: Service) -> None:
        case = create(service)
        response = event(service, case["id"], kind="teleported", on="2025-02-03")
        assert response.status_code == 422

    def test_placement_events_set_the_facts_and_schooling_is_due_in_7_days(self, service: Service) -> None:
        facts = {
            "age": 30,
            "entry_channel": "police",
            "risk_level": "high",
            "risk_instrument": "freda",
            "children": [{"age": 9, "accompanying": True, "witnessed_violence": True, "in_school": True}],
            "report_received": "2025-03-01",
        }
        case = create(service, facts=facts, opened="2025-03-01")
        placed = event(service, case["id"], kind="placement_started", on="2025-03-05", decision_expires="2025-05-05")
        assert placed.status_code == 201
        assert placed.json()["facts"]["protected_housing"] == {
            "needed": True,
            "placed": True,
            "start_date": "2025-03-05",
            "decision_expires": "2025-05-05",
        }
        stored = service.client.get(f"/cases/{case['id']}", headers=service.headers()).json()
        assert stored["row_version"] == 2

    def test_closing_closes_the_case(self, service: Service) -> None:
        case = create(service)
        closed = event(service, case["id"], kind="case_closed", on="2025-03-01", reason="declined")
        assert closed.status_code == 201, closed.text
        assert closed.json()["payload"]["completes"]["step"] == "closed_declined"
        stored = service.client.get(f"/cases/{case['id']}", headers=service.headers()).json()
        assert stored["closed"] and stored["closed_on"] == "2025-03-01"
        after = event(service, case["id"], kind="step_completed", on="2025-03-02", step="actualisation")
        assert after.status_code == 409
        assert next_steps(service, case["id"], "2025-03-02")["closed"] is True
        # The client may come back: a new case for the same reference.
        create(service, opened="2025-04-01")

    def test_unknown_closure_reason_lists_the_reasons(self, service: Service) -> None:
        case = create(service)
        response = event(service, case["id"], kind="case_closed", on="2025-03-01", reason="bored")
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "reason"]
        assert "needs_met" in response.json()["detail"][0]["msg"]


class TestNextSteps:
    def test_the_decision_has_swedish_labels_units_and_due_dates(self, service: Service) -> None:
        case = create(service)
        for step in ("actualisation", "intake_registration"):
            event(service, case["id"], kind="step_completed", on="2025-02-03", step=step)
        decision = next_steps(service, case["id"], "2025-02-05")
        [step] = decision["next_steps"]
        assert step["step"] == "initial_safety_assessment"
        assert step["label"] and step["unit"]["label"]
        assert step["due"] == "2025-02-04" and step["overdue"] is True
        assert decision["process_version"] == case["process_version"]

    def test_what_if_stores_nothing(self, service: Service) -> None:
        body = {"district": "jarva", "facts": {**FACTS, "honour_related": True}, "opened": "2025-02-03", "today": "2025-02-03"}
        response = service.client.post("/decide", json=body, headers=service.headers(district="jarva"))
        assert response.status_code == 200, response.text
        assert response.json()["district"] == "jarva"
        audit = service.client.get("/audit", headers=service.headers(Role.manager)).json()
        assert audit == []

    def test_same_facts_two_districts_their_own_units(self, service: Service) -> None:
        units = {}
        for district in ("farsta", "jarva"):
            body = {"district": district, "facts": FACTS, "opened": "2025-02-03", "today": "2025-02-03"}
            decision = service.client.post("/decide", json=body, headers=service.headers(district=district)).json()
            units[district] = {s["step"]: s["unit"]["id"] for s in decision["next_steps"]}
        assert units["farsta"].keys() == units["jarva"].keys()


class TestAccess:
    def test_no_token_is_401(self, service: Service) -> None:
        response = service.client.get("/processes")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"

    def test_a_forged_token_is_401(self, service: Service) -> None:
        import jwt

        forged = jwt.encode({"sub": "x", "role": "caseworker", "district": "farsta"}, "wrong-key-" * 4, algorithm="HS256")
        response = service.client.get("/processes", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401

    def test_another_districts_case_is_404_and_audited(self, service: Service) -> None:
        case = create(service)
        other = service.client.get(f"/cases/{case['id']}", headers=service.headers(district="jarva", subject="bo"))
        assert other.status_code == 404
        assert other.json() == {"detail": "no such case in your district"}
        trail = service.client.get("/audit", params={"case_id": case["id"]}, headers=service.headers(Role.manager)).json()
        assert (trail[0]["subject"], trail[0]["action"], trail[0]["outcome"]) == ("bo", "read", "denied")

    def test_managers_get_no_case_facts(self, service: Service) -> None:
        case = create(service)
        response = service.client.get(f"/cases/{case['id']}", headers=service.headers(Role.manager))
        assert response.status_code == 403

    def test_every_read_and_write_is_audited(self, service: Service) -> None:
        case = create(service)
        cid = case["id"]
        service.client.get(f"/cases/{cid}", headers=service.headers())
        event(service, cid, kind="step_completed", on="2025-02-03", step="actualisation")
        next_steps(service, cid, "2025-02-03")
        service.client.get(f"/cases/{cid}/events", headers=service.headers())
        trail = service.client.get("/audit", params={"case_id": cid}, headers=service.headers(Role.manager)).json()
        assert [a["action"] for a in reversed(trail)] == ["create", "read", "append_event", "next_steps", "history"]
        assert {a["subject"] for a in trail} == {"anna"}

    def test_audit_bounds_without_a_time_zone_are_utc(self, service: Service) -> None:
        """Not the database server's zone: the tests' PostgreSQL runs in Stockholm's, as production's may."""
        cid = create(service)["id"]
        manager = service.headers(Role.manager)
        (record,) = service.client.get("/audit", params={"case_id": cid}, headers=manager).json()
        at = dt.datetime.fromisoformat(record["at"])
        at = at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo else at

        def listed(**bounds: dt.datetime) -> bool:
            query = {"case_id": cid, **{k: v.isoformat() for k, v in bounds.items()}}
            response = service.client.get("/audit", params=query, headers=manager)
            assert response.status_code == 200, response.text
            return bool(response.json())

        half_hour = dt.timedelta(minutes=30)
        assert listed(since=at - half_hour) and not listed(since=at + half_hour)
        assert listed(until=at + half_hour) and not listed(until=at - half_hour)

    def test_caseworkers_cannot_read_the_audit_trail(self, service: Service) -> None:
        assert service.client.get("/audit", headers=service.headers()).status_code == 403


class TestTransferAndOverdue:
    def test_transfer_moves_the_case_to_the_other_districts_process(self, service: Service) -> None:
        case = create(service)
        event(service, case["id"], kind="step_completed", on="2025-02-03", step="actualisation")
        moved = service.client.post(f"/cases/{case['id']}/transfer", json={"district": "jarva"}, headers=service.headers())
        assert moved.status_code == 200, moved.text
        assert moved.json()["district"] == "jarva"
        assert moved.json()["process_version"] == service.registry.current("jarva").version
        assert service.client.get(f"/cases/{case['id']}", headers=service.headers()).status_code == 404
        jarva = service.headers(district="jarva", subject="bo")
        assert service.client.get(f"/cases/{case['id']}", headers=jarva).json()["facts"]["district"] == "jarva"

    def test_overdue_steps_of_a_unit(self, service: Service) -> None:
        # The service's today is Stockholm's, which is not the machine's between 23:00 and midnight UTC.
        today = dt.datetime.now(ZoneInfo(service.settings.timezone)).date()
        case = create(service, opened=(today - dt.timedelta(days=20)).isoformat())
        on = (today - dt.timedelta(days=20)).isoformat()
        for step in ("actualisation", "intake_registration"):
            event(service, case["id"], kind="step_completed", on=on, step=step)
        decision = next_steps(service, case["id"], today.isoformat())
        [step] = decision["next_steps"]
        unit = step["unit"]["id"]
        listed = service.client.get(f"/units/{unit}/overdue", headers=service.headers()).json()
        assert [(o["case_id"], o["step"]) for o in listed] == [(case["id"], "initial_safety_assessment")]
        assert listed[0]["days_overdue"] == 19
        manager = service.client.get(
            f"/units/{unit}/overdue", params={"district": "farsta"}, headers=service.headers(Role.manager)
        )
        assert manager.status_code == 200 and manager.json() == listed
        assert service.client.get("/units/nowhere/overdue", headers=service.headers()).status_code == 404
