"""Workload for managers: per district, open cases and open/overdue steps by unit and phase, the
same as the cases' own next steps say; counts only; small counts hidden outside the district."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from typing import Any

from sqlmodel import Session, col, select

from api.auth import Role, mint
from api.models import AuditRecord
from api.routes.pages import COOKIE
from tests.api.test_worklist import complete, create, engine_of, today
from tests.service import Service

PATH = ["actualisation", "intake_registration", "initial_safety_assessment", "risk_assessment", "consent_joint_handling"]


def district_manager(service: Service, district: str = "farsta") -> dict[str, str]:
    # Service.headers makes a manager named for Farsta city-wide; this one is Farsta's own.
    return {"Authorization": "Bearer " + mint(service.settings, "chef-" + district, Role.manager, district)}


def city_manager(service: Service) -> dict[str, str]:
    return service.headers(Role.manager, None, subject="stadens-chef")


def seed(service: Service) -> list[str]:
    """Seven Farsta clients at different points, three of them long enough ago to be overdue."""
    now = today()
    ids = []
    for i in range(7):
        opened = now - dt.timedelta(days=60 if i < 3 else 1)
        case = create(service, f"arbetslage-{i}", opened)
        ids.append(case["id"])
        for step in PATH[: i % len(PATH) + 1]:
            assert complete(service, case["id"], step, opened) == 201
    return ids


def expected(service: Service, ids: list[str]) -> tuple[Counter[str], Counter[str], dict[str, set[str]]]:
    """Open and overdue steps per unit, and the cases per unit, as each case's next steps say."""
    steps: Counter[str] = Counter()
    late: Counter[str] = Counter()
    cases: dict[str, set[str]] = {}
    for case_id in ids:
        body = service.client.get(f"/cases/{case_id}/next-steps", headers=service.headers()).json()
        for step in body["next_steps"]:
            unit = step["unit"]["id"] if step["unit"] else None
            steps[unit] += 1
            late[unit] += step["overdue"]
            cases.setdefault(unit, set()).add(case_id)
    return steps, late, cases


def test_the_district_manager_sees_what_the_cases_next_steps_say(service: Service) -> None:
    ids = seed(service)
    steps, late, cases = expected(service, ids)
    answer = service.client.get("/reports/workload", headers=district_manager(service))
    assert answer.status_code == 200, answer.text
    [farsta] = answer.json()["districts"]
    assert farsta["district"] == "farsta" and farsta["exact"] is True
    assert farsta["open_cases"] == 7
    assert farsta["open_steps"] == sum(steps.values()) and farsta["overdue_steps"] == sum(late.values()) > 0
    by_unit = {u["id"]: u for u in farsta["units"]}
    assert set(by_unit) == set(steps)
    for unit, load in by_unit.items():
        assert (load["open_steps"], load["overdue_steps"], load["open_cases"]) == (steps[unit], late[unit], len(cases[unit]))
    assert sum(p["open_steps"] for p in farsta["phases"]) == farsta["open_steps"]
    assert "arbetslage" not in answer.text, "no reference, no case"


def test_outside_the_district_small_counts_are_hidden_and_other_districts_are_missing(service: Service) -> None:
    seed(service)
    city = service.client.get("/reports/workload", headers=city_manager(service)).json()
    assert len(city["districts"]) == 11
    farsta = next(d for d in city["districts"] if d["district"] == "farsta")
    # Seven open cases: rounded to the nearest 5 outside the district, 1-4 as "<5", so that no total
    # minus its other parts gives a masked count back.
    assert farsta["exact"] is False and farsta["open_cases"] == 5
    shown = [load[k] for load in farsta["units"] + farsta["phases"] for k in ("open_cases", "open_steps", "overdue_steps")]
    assert "<5" in shown and all(n == "<5" or n % 5 == 0 for n in shown)
    own = service.client.get("/reports/workload", headers=district_manager(service)).json()["districts"][0]
    hidden = [load for load in own["units"] if 0 < load["open_steps"] < 5]
    assert hidden, "some unit has 1-4 open steps"
    rounded = {load["id"]: load["open_steps"] for load in farsta["units"]}
    # The district's total minus the other units no longer gives the hidden unit back.
    assert all(rounded[load["id"]] == "<5" for load in hidden)
    other = service.client.get("/reports/workload", headers=district_manager(service, "jarva"))
    assert [d["district"] for d in other.json()["districts"]] == ["jarva"]
    refused = service.client.get("/reports/workload", params={"district": "farsta"}, headers=district_manager(service, "jarva"))
    assert refused.status_code == 404
    assert service.client.get("/reports/workload", headers=service.headers()).status_code == 403


def test_the_workload_comes_as_csv_and_every_reading_is_audited(service: Service) -> None:
    seed(service)
    answer = service.client.get("/reports/workload", params={"format": "csv"}, headers=district_manager(service))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["stadsdel", "grupp", "id", "namn", "öppna ärenden", "öppna steg", "försenade steg"]
    assert rows[1][:2] == ["farsta", "stadsdel"] and rows[1][4] == "7"
    with Session(engine_of(service)) as session:
        audited = session.exec(select(AuditRecord).where(col(AuditRecord.action) == "workload_report")).all()
    assert [(a.subject, a.case_district) for a in audited] == [("chef-farsta", "farsta")]


def test_the_workload_page_shows_the_tables_for_managers_only(service: Service) -> None:
    seed(service)
    service.client.cookies.set(COOKIE, city_manager(service)["Authorization"].removeprefix("Bearer "))
    page = service.client.get("/ui/workload")
    assert page.status_code == 200
    text: Any = page.text
    assert 'id="workload-districts"' in text and "Farsta stadsdelsförvaltning" in text and "&lt;5" in text
    assert 'href="/ui/districts/farsta"' in text
    service.client.cookies.set(COOKIE, service.headers()["Authorization"].removeprefix("Bearer "))
    assert service.client.get("/ui/workload").status_code == 403
