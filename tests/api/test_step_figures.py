"""The live figures per step (GET /reports/steps): what passed in a period, how long it took from
the step opening to its completion, whether it kept its deadline, what is open and overdue now —
worked out here from the dates the clients' stories were recorded with."""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from typing import Any

from api.auth import Role, mint
from tests.api.test_worklist import complete, create, today
from tests.api.test_workload import city_manager, district_manager
from tests.service import Service

CASES = 7


def schedule(i: int) -> tuple[int, int, int]:
    """Days client i waited at actualisation, intake registration and the first safety assessment."""
    return i % 3, i, 0 if i % 2 else 3


def seed(service: Service) -> list[dict[str, Any]]:
    base = today() - dt.timedelta(days=40)
    cases = []
    for i in range(CASES):
        opened = base + dt.timedelta(days=i)
        case = create(service, f"steg-{i}", opened)
        on = opened
        for step, wait in zip(["actualisation", "intake_registration", "initial_safety_assessment"], schedule(i), strict=True):
            on += dt.timedelta(days=wait)
            assert complete(service, case["id"], step, on) == 201
        cases.append(case)
    return cases


def figures(service: Service, headers: dict[str, str], **params: str) -> dict[str, dict[str, Any]]:
    answer = service.client.get("/reports/steps", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return {s["step"]: s for s in answer.json()["steps"]}


def test_a_districts_figures_are_what_its_clients_stories_say(service: Service) -> None:
    cases = seed(service)
    steps = figures(service, district_manager(service), district="farsta")
    waits = [schedule(i) for i in range(CASES)]
    for n, step in enumerate(["actualisation", "intake_registration", "initial_safety_assessment"]):
        assert steps[step]["passed"] == CASES
        assert steps[step]["median_days"] == statistics.median(w[n] for w in waits), step
    # The first safety assessment is due the day after the case opened (processes/bryt_upp.yaml).
    safety = steps["initial_safety_assessment"]
    kept = sum(1 for w in waits if sum(w) <= 1)
    assert safety["with_deadline"] == CASES and safety["within_deadline"] == round(kept / CASES, 3)
    # What is open now is what the cases' own next steps say.
    open_steps: dict[str, int] = {}
    for case in cases:
        for step in service.client.get(f"/cases/{case['id']}/next-steps", headers=service.headers()).json()["next_steps"]:
            open_steps[step["step"]] = open_steps.get(step["step"], 0) + 1
    assert {s: f["open_now"] for s, f in steps.items() if f["open_now"]} == open_steps
    assert steps["actualisation"]["open_now"] == 0 and steps["actualisation"]["city_median_days"] == 1


def test_the_period_is_whole_months_and_chooses_the_completions(service: Service) -> None:
    seed(service)
    this_month = today().replace(day=1)
    # Client i opened 40 - i days ago and was done with actualisation i % 3 days later.
    done = [today() - dt.timedelta(days=40 - i - i % 3) for i in range(CASES)]
    month = f"{this_month:%Y-%m}"
    steps = figures(service, district_manager(service), district="farsta", **{"from": month, "to": month})
    assert steps["actualisation"]["passed"] == sum(1 for d in done if d >= this_month)
    answer = service.client.get("/reports/steps", params={"from": month, "to": month}, headers=district_manager(service))
    assert answer.json()["period_from"] == this_month.isoformat()
    for params in ({"from": month, "to": "2020-01"}, {"from": "2025-13"}, {"to": today().isoformat()}, {"to": "9999-12"}):
        refused = service.client.get("/reports/steps", params=params, headers=district_manager(service))
        assert refused.status_code == 422, params


def test_outside_the_district_small_numbers_are_hidden(service: Service) -> None:
    cases = seed(service)
    for case in cases[:2]:
        assert complete(service, case["id"], "risk_assessment", today()) == 201
    own = figures(service, district_manager(service), district="farsta")["risk_assessment"]
    assert own["passed"] == 2 and own["median_days"] is not None
    steps = figures(service, city_manager(service), district="farsta")
    # Seven passages: rounded to 5 outside the district; their median is shown (none of its counts is 1-4).
    assert steps["actualisation"]["passed"] == 5 and steps["actualisation"]["median_days"] == 1
    risk = steps["risk_assessment"]
    assert (risk["passed"], risk["median_days"], risk["within_deadline"]) == ("<5", None, None)
    counts = [s[k] for s in steps.values() for k in ("passed", "with_deadline", "open_now", "overdue_now")]
    assert all(n == "<5" or n % 5 == 0 for n in counts)
    city = figures(service, city_manager(service))
    assert city["actualisation"]["passed"] == 5, "the city's figures follow the same rule: city minus districts gives nothing back"
    assert city["risk_assessment"]["passed"] == "<5"
    jarva = {"Authorization": "Bearer " + mint(service.settings, "pa-jarva", Role.implementer, "jarva")}
    assert service.client.get("/reports/steps", params={"district": "farsta"}, headers=jarva).status_code == 404
    assert service.client.get("/reports/steps", headers=service.headers()).status_code == 403


def test_the_figures_come_as_csv(service: Service) -> None:
    seed(service)
    answer = service.client.get("/reports/steps", params={"district": "farsta", "format": "csv"}, headers=district_manager(service))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = {r[0]: r for r in csv.reader(io.StringIO(answer.text))}
    assert rows["steg"][4] == "passerade" and rows["actualisation"][4] == str(CASES)


def test_only_a_recorded_completion_is_a_passage(service: Service) -> None:
    """A step a loop opens again the same day it was done, and then leaves when the case closes, was
    passed once: the closing did not do it (a passage is the completion a write records)."""
    opened = today() - dt.timedelta(days=3)
    case = create(service, "slinga-1", opened, children=[])
    for _ in range(60):
        open_now = service.client.get(f"/cases/{case['id']}/next-steps", headers=service.headers()).json()["next_steps"]
        if any(s["step"] == "follow_up" for s in open_now):
            break
        assert complete(service, case["id"], open_now[0]["step"], opened, open_now[0]["child"]) == 201
    assert complete(service, case["id"], "follow_up", opened) == 201
    assert complete(service, case["id"], "continued_support", opened) == 201
    closed = {"kind": "case_closed", "reason": "needs_met", "on": opened.isoformat()}
    assert service.client.post(f"/cases/{case['id']}/events", json=closed, headers=service.headers()).status_code == 201
    steps = figures(service, district_manager(service), district="farsta")
    assert steps["follow_up"]["passed"] == 1
    assert steps["continued_support"]["passed"] == 1
