"""A unit's worklist and overdue list read the open steps stored at every write to a case: the stored
steps are the next steps (random histories replayed), the list pages with a signed cursor, filters,
assignment, one audit row per list, and the daily refresh.  SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from api.auth import Role
from api.models import AuditRecord, Case, OpenStep
from api.worklist import refresh, verify
from tests.service import Service

FACTS = {"age": 34, "entry_channel": "self_referral", "needs": ["financial", "housing"], "consent_joint_handling": True}
CHILDREN = [{"age": 8, "accompanying": True, "in_school": True, "witnessed_violence": True}]


def today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Europe/Stockholm")).date()


def engine_of(service: Service) -> Any:
    return service.client.app.state.engine  # type: ignore[attr-defined]


def create(service: Service, reference: str, opened: dt.date, **facts: Any) -> dict[str, Any]:
    body = {"district": "farsta", "reference": reference, "facts": {**FACTS, **facts}, "opened": opened.isoformat()}
    answer = service.client.post("/cases", json=body, headers=service.headers())
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def complete(service: Service, case_id: str, step: str, on: dt.date, child: int | None = None) -> int:
    body: dict[str, Any] = {"kind": "step_completed", "step": step, "on": on.isoformat()}
    if child is not None:
        body["child"] = child
    return service.client.post(f"/cases/{case_id}/events", json=body, headers=service.headers()).status_code


def stored(service: Service, case_id: str) -> set[tuple[Any, ...]]:
    with Session(engine_of(service)) as session:
        rows = session.exec(select(OpenStep).where(col(OpenStep.case_id) == uuid.UUID(case_id)))
        return {(r.step, None if r.child < 0 else r.child, r.unit, r.due_on, r.waiting) for r in rows}


def decided(service: Service, case_id: str, on: dt.date) -> set[tuple[Any, ...]]:
    answer = service.client.get(f"/cases/{case_id}/next-steps", params={"today": on.isoformat()}, headers=service.headers())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    out = set()
    for waiting, steps in ((False, body["next_steps"]), (True, body["waiting"])):
        for s in steps:
            due = dt.date.fromisoformat(s["due"]) if s["due"] else None
            out.add((s["step"], s["child"], s["unit"]["id"] if s["unit"] else None, due, waiting))
    return out


class TestStoredStepsAreTheNextSteps:
    def test_random_histories_store_what_the_decision_says(self, service: Service) -> None:
        rng = random.Random(16)
        start = today() - dt.timedelta(days=60)
        for n in range(6):
            facts = {"children": CHILDREN} if n % 2 else {}
            case = create(service, f"wl-rand-{n}", start, **facts)
            on = start
            assert stored(service, case["id"]) == decided(service, case["id"], on)
            for _ in range(rng.randint(3, 9)):
                steps = sorted(decided(service, case["id"], on), key=repr)
                if not steps:
                    break
                step, child, *_ = rng.choice(steps)
                on = on + dt.timedelta(days=rng.randint(0, 3))
                assert complete(service, case["id"], step, on, child) == 201
                assert stored(service, case["id"]) == decided(service, case["id"], on), (n, step)


class TestTheWorklist:
    def unit_with_work(self, service: Service) -> tuple[str, list[dict[str, Any]]]:
        cases = []
        for n in range(7):
            opened = today() - dt.timedelta(days=n * 3)
            case = create(service, f"wl-{n}", opened)
            # After intake the safety assessment is open, due the next day: overdue for all but today's case.
            for step in ("actualisation", "intake_registration"):
                assert complete(service, case["id"], step, opened) == 201
            cases.append(case)
        [step] = service.client.get(f"/cases/{cases[0]['id']}/next-steps", headers=service.headers()).json()["next_steps"]
        return step["unit"]["id"], cases

    def test_pages_overdue_first_with_a_signed_cursor_and_one_audit_row_per_page(self, service: Service) -> None:
        unit, cases = self.unit_with_work(service)
        seen: list[dict[str, Any]] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = service.client.get(f"/units/{unit}/worklist", params=params, headers=service.headers()).json()
            seen.extend(page["items"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert {item["case_id"] for item in seen} == {c["id"] for c in cases}
        dues = [item["due"] or "9999-12-31" for item in seen]
        assert dues == sorted(dues) and seen[0]["overdue"] and seen[0]["reference"] == "wl-6"
        with Session(engine_of(service)) as session:
            rows = session.exec(select(AuditRecord).where(AuditRecord.action == "worklist")).all()
        assert len(rows) == pages and sorted(i for r in rows for i in r.case_ids or []) == sorted(i["case_id"] for i in seen)
        trail = service.client.get("/audit", params={"case_id": cases[3]["id"]}, headers=service.headers(Role.manager, "farsta"))
        assert trail.status_code == 200 and any(row["action"] == "worklist" for row in trail.json()), trail.text
        manager = service.client.get(
            f"/units/{unit}/worklist", params={"district": "farsta"}, headers=service.headers(Role.manager)
        )
        assert manager.status_code == 200 and all(item["reference"] is None for item in manager.json()["items"])

    @pytest.mark.parametrize(
        ("params", "status"),
        [({"cursor": "bm90LWEtY3Vyc29y"}, 422), ({"limit": 201}, 422), ({"district": "jarva"}, 404)],
    )
    def test_bad_input(self, service: Service, params: dict[str, Any], status: int) -> None:
        unit, _ = self.unit_with_work(service)
        answer = service.client.get(f"/units/{unit}/worklist", params=params, headers=service.headers())
        assert answer.status_code == status, answer.text
        assert service.client.get("/units/nowhere/worklist", headers=service.headers()).status_code == 404

    def test_a_refused_list_is_on_the_districts_trail(self, service: Service) -> None:
        unit, _ = self.unit_with_work(service)
        assert (
            service.client.get(f"/units/{unit}/worklist", params={"district": "jarva"}, headers=service.headers()).status_code
            == 404
        )
        with Session(engine_of(service)) as session:
            rows = session.exec(select(AuditRecord).where(AuditRecord.outcome == "not_found")).all()
        assert [(r.action, r.case_district) for r in rows] == [("unit_worklist", "jarva")]

    def test_a_tampered_cursor_is_refused(self, service: Service) -> None:
        unit, _ = self.unit_with_work(service)
        cursor = service.client.get(f"/units/{unit}/worklist", params={"limit": 2}, headers=service.headers()).json()[
            "next_cursor"
        ]
        tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
        answer = service.client.get(f"/units/{unit}/worklist", params={"cursor": tampered}, headers=service.headers())
        assert answer.status_code == 422 and "cursor" in answer.text

    def test_filters_and_my_cases(self, service: Service) -> None:
        unit, cases = self.unit_with_work(service)
        mine = cases[2]
        etag = service.client.get(f"/cases/{mine['id']}", headers=service.headers()).headers["ETag"]
        assigned = service.client.put(
            f"/cases/{mine['id']}/assignment", json={"assigned_to": "me"}, headers={**service.headers(), "If-Match": etag}
        )
        assert assigned.status_code == 200 and assigned.json()["assigned_to"] == "anna"
        stale = service.client.put(
            f"/cases/{mine['id']}/assignment", json={"assigned_to": None}, headers={**service.headers(), "If-Match": etag}
        )
        assert stale.status_code == 412
        etag = assigned.headers["ETag"]
        # Only oneself: free text (a client's pseudonym, say) would be shown on every list of the unit.
        other = service.client.put(
            f"/cases/{mine['id']}/assignment",
            json={"assigned_to": mine["reference"]},
            headers={**service.headers(), "If-Match": etag},
        )
        assert other.status_code == 422 and mine["reference"] not in other.text
        own = service.client.get(f"/units/{unit}/worklist", params={"assigned_to": "me"}, headers=service.headers()).json()
        assert [item["case_id"] for item in own["items"]] == [mine["id"]] and own["items"][0]["assigned_to"] == "anna"
        late = service.client.get(f"/units/{unit}/worklist", params={"overdue": True}, headers=service.headers()).json()
        assert late["items"] and all(item["overdue"] for item in late["items"])
        soon = today() + dt.timedelta(days=1)
        before = service.client.get(f"/units/{unit}/worklist", params={"due_before": soon.isoformat()}, headers=service.headers())
        assert all(item["due"] < soon.isoformat() for item in before.json()["items"])


class TestTheDailyRefresh:
    def test_is_idempotent_and_keeps_the_lists(self, service: Service) -> None:
        for n in range(3):
            create(service, f"rf-{n}", today() - dt.timedelta(days=n))
        unit = "mottagningsenheten"
        before = service.client.get(f"/units/{unit}/worklist", headers=service.headers()).json()["items"]
        first = refresh(engine_of(service), today())
        second = refresh(engine_of(service), today())
        assert (first.cases, first.problems) == (second.cases, second.problems) == (3, 0)
        after = service.client.get(f"/units/{unit}/worklist", headers=service.headers()).json()["items"]
        assert after == before


class TestVerify:
    def test_finds_a_stored_state_that_is_not_the_logs(self, service: Service) -> None:
        cases = [create(service, f"vf-{n}", today() - dt.timedelta(days=2)) for n in range(3)]
        assert complete(service, cases[0]["id"], "actualisation", today()) == 201
        assert verify(engine_of(service)).differences == []
        with Session(engine_of(service)) as session:
            row = session.get(Case, uuid.UUID(cases[1]["id"]))
            assert row is not None and row.state is not None
            row.state = {**row.state, "completed": [{"step": "actualisation", "on": today().isoformat()}]}
            session.add(row)
            stale = session.get(OpenStep, (uuid.UUID(cases[2]["id"]), "actualisation", -1))
            assert stale is not None
            session.delete(stale)
            session.commit()
        found = verify(engine_of(service))
        assert found.cases == 3 and sorted(str(c) for c, _ in found.differences) == sorted([cases[1]["id"], cases[2]["id"]])
