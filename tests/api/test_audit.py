"""The audit trail: every access to a case, granted or refused, the trail's own readers and
the reports; each row with its request, source and token; append-only in the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api.auth import Role
from tests.service import Service, copy_processes, fresh_database, settings_for

FACTS = {"age": 34, "entry_channel": "self_referral", "needs": ["financial"]}


def create(service: Service) -> dict[str, Any]:
    body = {"district": "farsta", "reference": "klient-0001", "facts": FACTS, "opened": "2025-02-03"}
    response = service.client.post("/cases", json=body, headers=service.headers())
    assert response.status_code == 201, response.text
    return {**response.json(), "etag": response.headers["etag"]}


def trail(service: Service, **params: Any) -> list[dict[str, Any]]:
    response = service.client.get("/audit", params={"limit": 1000, **params}, headers=service.headers(Role.manager, subject="revisor"))
    assert response.status_code == 200, response.text
    return [row for row in response.json() if row["subject"] != "revisor"]


class TestRefusedAttemptsAreAudited:
    def test_each_refusal_on_a_case_leaves_a_row_with_its_outcome(self, service: Service) -> None:
        case = create(service)
        path = f"/cases/{case['id']}"
        assert service.client.get(path).status_code == 401
        assert service.client.get(path, headers=service.headers(Role.implementer, subject="ida")).status_code == 403
        assert service.client.get(path, headers=service.headers(district="jarva", subject="bo")).status_code == 404
        assert service.client.put(f"{path}/facts", json={"facts": FACTS}, headers=service.headers()).status_code == 428
        stale = service.headers() | {"If-Match": '"99"'}
        assert service.client.put(f"{path}/facts", json={"facts": FACTS}, headers=stale).status_code == 412
        bad = {"kind": "step_completed", "step": "actualisation"}  # no date
        assert service.client.post(f"{path}/events", json=bad, headers=service.headers()).status_code == 422
        keyed = service.headers() | {"Idempotency-Key": "k-1"}
        first = {"kind": "step_completed", "step": "actualisation", "on": "2025-02-03"}
        assert service.client.post(f"{path}/events", json=first, headers=keyed).status_code == 201
        assert service.client.post(f"{path}/events", json={**first, "on": "2025-02-04"}, headers=keyed).status_code == 409
        rows = trail(service, case_id=case["id"])
        outcomes = [(row["subject"], row["outcome"]) for row in reversed(rows)]
        assert outcomes == [
            ("anna", "ok"),  # create
            ("(no valid token)", "unauthenticated"),
            ("ida", "forbidden"),
            ("bo", "denied"),
            ("anna", "precondition_required"),
            ("anna", "precondition_failed"),
            ("anna", "invalid"),
            ("anna", "ok"),
            ("anna", "idempotency_conflict"),
        ]
        denied = next(row for row in rows if row["subject"] == "bo")
        assert denied["district"] == "jarva" and denied["case_district"] == "farsta"

    def test_a_refused_list_is_audited(self, service: Service) -> None:
        assert service.client.get("/units/x/overdue", params={"district": "jarva"}, headers=service.headers()).status_code == 404
        rows = trail(service)
        assert [(r["action"], r["outcome"]) for r in rows] == [("overdue", "not_found")]


class TestFailuresAreAudited:
    def test_an_access_that_fails_with_a_server_error_is_on_the_trail(self, service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
        """A bug after the case was read must not leave the read untraced."""
        import api.routes.cases

        case = create(service)

        def broken(*_: Any) -> Any:
            raise RuntimeError("a bug")

        monkeypatch.setattr(api.routes.cases, "decision", broken)
        assert service.client.get(f"/cases/{case['id']}/next-steps", headers=service.headers()).status_code == 500
        [row] = [r for r in trail(service, case_id=case["id"]) if r["action"] == "next_steps"]
        assert (row["subject"], row["outcome"]) == ("anna", "error")


class TestReadingTheTrailAndReportsIsAudited:
    def test_reading_the_audit_trail_and_the_goals_report_leave_rows(self, service: Service) -> None:
        manager = service.headers(Role.manager, subject="maja")
        assert service.client.get("/reports/goals", params={"year": 2025}, headers=manager).status_code == 200
        assert service.client.get("/audit", headers=manager).status_code == 200
        rows = trail(service)
        assert [(r["subject"], r["action"]) for r in reversed(rows)] == [("maja", "goals_report"), ("maja", "audit_read")]


class TestEachRowSaysWhereItCameFrom:
    def test_request_id_source_and_token_id(self, service: Service) -> None:
        case = create(service)
        headers = service.headers() | {"X-Request-ID": "7f3a9c01-5b2e-4d1a-9c3e-1a2b3c4d5e6f"}
        response = service.client.get(f"/cases/{case['id']}", headers=headers)
        assert response.headers["x-request-id"] == "7f3a9c01-5b2e-4d1a-9c3e-1a2b3c4d5e6f"
        [read] = [r for r in trail(service, case_id=case["id"]) if r["action"] == "read"]
        assert read["request_id"] == "7f3a9c01-5b2e-4d1a-9c3e-1a2b3c4d5e6f"
        assert read["source"] == "testclient"
        assert read["token_id"] and len(read["token_id"]) == 32

    @pytest.mark.parametrize(
        "sent",
        ["19850312-3772", "req-850312-3577", "a19850312.3772", "Anna_Andersson_Storgatan_12", "Anna-Andersson", "lb-7f3a9c01"],
    )
    def test_a_request_id_that_could_be_personal_data_is_replaced(self, service: Service, sent: str) -> None:
        response = service.client.get("/health", headers={"X-Request-ID": sent})
        assert response.headers["x-request-id"] != sent and sent[-4:] not in response.headers["x-request-id"]

    @pytest.mark.parametrize(
        "sent", ["7f3a9c01", "0d4f1a6e8c1b4b6f9a3e2f5c7d9e1b20", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]
    )
    def test_an_opaque_hex_request_id_is_kept(self, service: Service, sent: str) -> None:
        assert service.client.get("/health", headers={"X-Request-ID": sent}).headers["x-request-id"] == sent


class TestTheTrailIsAppendOnly:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE audit_records SET subject = 'someone else'",
            "DELETE FROM audit_records",
            "INSERT INTO audit_records (id, at, subject, role, action, outcome) "
            "SELECT id, at, 'someone else', role, action, outcome FROM audit_records WHERE true "
            "ON CONFLICT (id) DO UPDATE SET subject = excluded.subject",
        ],
    )
    def test_the_database_refuses_to_change_or_delete_audit_rows(self, service: Service, statement: str) -> None:
        create(service)
        engine = service.client.app.state.engine  # type: ignore[attr-defined]
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM audit_records WHERE subject = 'anna'")).scalar() == 1

    def test_sqlite_insert_or_replace_cannot_rewrite_a_row(self, tmp_path: Path) -> None:
        """SQLite's own upsert: it deletes the row it replaces without firing DELETE triggers.
        (PostgreSQL has no such statement; its upsert is in the test above, on both databases.)"""
        with Service(settings_for(fresh_database("sqlite", tmp_path, None), copy_processes(tmp_path))) as service:
            engine = service.client.app.state.engine  # type: ignore[attr-defined]
            create(service)
            forged = (
                "INSERT OR REPLACE INTO audit_records (id, at, subject, role, action, outcome) "
                "SELECT id, at, 'someone else', role, action, outcome FROM audit_records"
            )
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
                connection.execute(text(forged))
