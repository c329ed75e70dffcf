"""Equality in practice (GET /reports/equality-practice and the equality page's section): of the
clients eligible for each guaranteed intervention, how many were offered it, per district and for
the city, against what each case's own next steps and pending guarantees said as its story was
recorded; small numbers hidden outside the district; the flag rule; the period; the audit."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlmodel import Session, col, select

from api.auth import Role
from api.equality_practice import THRESHOLD_POINTS, _district_figure
from api.models import AuditRecord
from api.routes.pages import COOKIE
from api.workload import shown, telling
from tests.api.test_worklist import FACTS, engine_of, today
from tests.api.test_workload import city_manager, district_manager
from tests.service import Service

# Per client: the district, how many days ago the case was opened, how many steps were completed.
CLIENTS = [
    *(("farsta", 90 - i, 4 + 3 * i) for i in range(7)),
    *(("jarva", 80 - i, 2 + 2 * i) for i in range(6)),
    ("bromma", 10, 6),
]
Seen = dict[str, tuple[set[str], set[str]]]  # case -> (offered interventions, pending interventions)
# Interventions offered only by a step the client has since passed (the report reads them from step_passages).
PASSED_ONLY: list[tuple[str, str]] = []


def headers(service: Service, district: str) -> dict[str, str]:
    return service.headers(Role.caseworker, district, subject=f"handlaggare-{district}")


def next_steps(service: Service, district: str, case_id: str) -> dict[str, Any]:
    answer = service.client.get(f"/cases/{case_id}/next-steps", headers=headers(service, district))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def seed(service: Service) -> tuple[Seen, dict[str, tuple[str, dt.date]]]:
    """Walk each client along the first of its open steps; note every guaranteed intervention a step
    offered while it was open, and what is pending at the end, from the case's own next steps."""
    seen: Seen = {}
    cases: dict[str, tuple[str, dt.date]] = {}
    PASSED_ONLY.clear()
    for n, (district, days_ago, steps) in enumerate(CLIENTS):
        opened = today() - dt.timedelta(days=days_ago)
        facts = {**FACTS, "children": [{"age": 9, "accompanying": True, "in_school": True, "witnessed_violence": True}]}
        if n % 3 == 0:
            facts["risk_level"] = "high"
        body = {"district": district, "reference": f"lika-{n}", "facts": facts, "opened": opened.isoformat()}
        answer = service.client.post("/cases", json=body, headers=headers(service, district))
        assert answer.status_code == 201, answer.text
        case_id = answer.json()["id"]
        cases[case_id] = (district, opened)
        offered: set[str] = set()
        for k in range(steps + 1):
            decision = next_steps(service, district, case_id)
            opened_now = [*decision["next_steps"], *decision["waiting"]]
            offered |= {s["intervention"] for s in opened_now if s["guaranteed"] and s["intervention"]}
            if k == steps or not decision["next_steps"]:
                break
            first = decision["next_steps"][0]
            event: dict[str, Any] = {"kind": "step_completed", "step": first["step"], "on": opened.isoformat()}
            if first["child"] is not None:
                event["child"] = first["child"]
            answer = service.client.post(f"/cases/{case_id}/events", json=event, headers=headers(service, district))
            assert answer.status_code == 201, answer.text
        pending = {p["intervention"] for p in decision["pending_guarantees"]}
        still = {s["intervention"] for s in [*decision["next_steps"], *decision["waiting"]] if s["guaranteed"]}
        PASSED_ONLY.extend((case_id, i) for i in offered - still)
        seen[case_id] = (offered, pending)
    return seen, cases


def expected(seen: Seen, cases: dict[str, tuple[str, dt.date]], chosen: set[str] | None = None) -> dict[Any, tuple[int, int]]:
    """(eligible, offered) per (district, intervention) and per intervention for the city."""
    eligible: dict[Any, set[str]] = defaultdict(set)
    offered: dict[Any, set[str]] = defaultdict(set)
    for case_id, (got, pending) in seen.items():
        if chosen is not None and case_id not in chosen:
            continue
        district = cases[case_id][0]
        for intervention in got | pending:
            for key in ((district, intervention), intervention):
                eligible[key].add(case_id)
                if intervention in got:
                    offered[key].add(case_id)
    return {key: (len(eligible[key]), len(offered[key])) for key in eligible}


def report(service: Service, who: dict[str, str], **params: str) -> dict[str, Any]:
    answer = service.client.get("/reports/equality-practice", params=params, headers=who)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_district_manager_sees_what_the_cases_said_beside_the_city(service: Service) -> None:
    seen, cases = seed(service)
    want = expected(seen, cases)
    body = report(service, district_manager(service, "farsta"))
    [farsta] = body["districts"]
    assert farsta["district"] == "farsta" and farsta["exact"] is True
    figures = {f["intervention"]: f for f in farsta["interventions"]}
    assert set(figures) == {f["intervention"] for f in body["city"]}, "every guaranteed intervention has its figure"
    counted = {i for (d, i) in (k for k in want if isinstance(k, tuple)) if d == "farsta"}
    assert counted, "the clients' stories reach guaranteed interventions"
    assert any(want["farsta", i][0] > want["farsta", i][1] for i in counted), "some are eligible and not yet offered"
    assert any(want["farsta", i][1] > 0 for i in counted), "some were offered"
    assert any(cases[c][0] == "farsta" for c, _ in PASSED_ONLY), "some only by a step already passed"
    for intervention, f in figures.items():
        eligible, offered = want.get(("farsta", intervention), (0, 0))
        assert (f["eligible"], f["offered"]) == (eligible, offered), intervention
        assert f["share"] == (round(offered / eligible, 3) if eligible else None)
    city = {f["intervention"]: f for f in body["city"]}
    for intervention, f in city.items():
        eligible, offered = want.get(intervention, (0, 0))
        assert f["share"] == (round(offered / eligible, 3) if eligible and telling(False, offered, eligible - offered) else None), intervention
        assert figures[intervention]["city_share"] == f["share"]
    assert "lika-" not in str(body), "no reference, no case"


def test_the_flag_is_the_stated_rule(service: Service) -> None:
    seen, cases = seed(service)
    want = expected(seen, cases)
    body = report(service, city_manager(service))
    assert body["threshold_points"] == THRESHOLD_POINTS == 10 and body["min_eligible"] == 5
    assert "10 procentenheter" in body["rule"] and "minst 5" in body["rule"]
    flagged = 0
    for d in body["districts"]:
        for f in d["interventions"]:
            eligible, offered = want.get((d["district"], f["intervention"]), (0, 0))
            city_eligible, city_offered = want.get(f["intervention"], (0, 0))
            differs = (
                eligible >= 5
                and telling(False, offered, eligible - offered)
                and bool(city_eligible)
                and telling(False, city_offered, city_eligible - city_offered)
                and abs(round(offered / eligible, 3) - round(city_offered / city_eligible, 3)) * 100 > THRESHOLD_POINTS
            )
            assert f["differs"] == differs, (d["district"], f["intervention"])
            flagged += differs
    # On these few clients most shares are not shown outside their district; the rule itself, on
    # figures large enough to show:
    assert _district_figure("x", "X", 10, 9, True, 0.5).differs is True
    assert _district_figure("x", "X", 10, 6, True, 0.5).differs is False
    assert _district_figure("x", "X", 4, 4, True, 0.0).differs is False, "fewer than 5 eligible"
    assert _district_figure("x", "X", 10, 9, True, None).differs is False, "no city share to compare with"


def test_outside_the_district_small_numbers_are_hidden(service: Service) -> None:
    seen, cases = seed(service)
    want = expected(seen, cases)
    body = report(service, city_manager(service))
    assert len(body["districts"]) == 11
    jarva = next(d for d in body["districts"] if d["district"] == "jarva")
    assert jarva["exact"] is False
    for f in jarva["interventions"]:
        eligible, offered = want.get(("jarva", f["intervention"]), (0, 0))
        # 1-4 as "<5", the rest rounded to 5, a share only where neither part is 1-4 (api/workload.py).
        assert f["eligible"] == shown(eligible, False) and f["offered"] == shown(offered, False)
        if not telling(False, offered, eligible - offered):
            assert f["share"] is None and f["differs"] is False
    bromma = next(d for d in body["districts"] if d["district"] == "bromma")
    assert any(f["eligible"] == "<5" for f in bromma["interventions"]), "Bromma's one client is not shown as 1"
    assert not any(
        isinstance(f[k], int) and 0 < f[k] < 5
        for d in body["districts"]
        for f in d["interventions"]
        for k in ("eligible", "offered")
    )
    # Another district's manager: only their own district, and another one's is missing.
    jarva_own = report(service, district_manager(service, "jarva"))
    assert [d["district"] for d in jarva_own["districts"]] == ["jarva"] and jarva_own["districts"][0]["exact"] is True
    refused = service.client.get(
        "/reports/equality-practice", params={"district": "farsta"}, headers=district_manager(service, "jarva")
    )
    assert refused.status_code == 404
    assert service.client.get("/reports/equality-practice", headers=service.headers()).status_code == 403


def test_a_period_counts_the_cases_opened_in_it_and_readings_are_audited(service: Service) -> None:
    seen, cases = seed(service)
    start, end = today() - dt.timedelta(days=86), today() - dt.timedelta(days=78)
    chosen = {c for c, (_, opened) in cases.items() if start <= opened <= end}
    assert 0 < len(chosen) < len(cases)
    want = expected(seen, cases, chosen)
    body = report(service, district_manager(service, "farsta"), **{"from": start.isoformat(), "to": end.isoformat()})
    assert body["period_from"] == start.isoformat() and body["period_to"] == end.isoformat()
    for f in body["districts"][0]["interventions"]:
        assert (f["eligible"], f["offered"]) == want.get(("farsta", f["intervention"]), (0, 0)), f["intervention"]
    backwards = {"from": end.isoformat(), "to": start.isoformat()}
    assert service.client.get("/reports/equality-practice", params=backwards, headers=city_manager(service)).status_code == 422
    with Session(engine_of(service)) as session:
        audited = session.exec(select(AuditRecord).where(col(AuditRecord.action) == "equality_practice")).all()
    assert [(a.subject, a.case_district) for a in audited] == [("chef-farsta", "farsta")]


def test_the_equality_page_shows_the_practice_to_managers(service: Service) -> None:
    seed(service)
    service.client.cookies.set(COOKIE, district_manager(service, "farsta")["Authorization"].removeprefix("Bearer "))
    page = service.client.get("/ui/equality")
    assert page.status_code == 200
    assert 'id="practice-table"' in page.text and "Hela staden" in page.text and "10 procentenheter" in page.text
    assert 'id="equality"' in page.text and "Skärpt frist för Förhandsbedömning: inom 10 dagar i stället för 14" in page.text
    service.client.cookies.set(COOKIE, service.headers(Role.implementer, "farsta")["Authorization"].removeprefix("Bearer "))
    other = service.client.get("/ui/equality")
    assert other.status_code == 200 and 'id="practice-table"' not in other.text and 'id="equality"' in other.text


def test_a_client_who_declines_still_counts_as_owed_what_was_never_offered(service: Service) -> None:
    """Closing a case keeps what its last open decision said the client qualified for and was not
    offered: otherwise every closing would raise the district's share offered."""
    seen, cases = seed(service)
    before = {f["intervention"]: f for f in report(service, district_manager(service, "farsta"))["districts"][0]["interventions"]}
    owed = [case_id for case_id, (_, pending) in seen.items() if cases[case_id][0] == "farsta" and pending]
    assert owed, "some Farsta clients are owed an intervention"
    for case_id in owed:
        event = {"kind": "case_closed", "reason": "declined", "on": today().isoformat()}
        answer = service.client.post(f"/cases/{case_id}/events", json=event, headers=headers(service, "farsta"))
        assert answer.status_code == 201, answer.text
        assert next_steps(service, "farsta", case_id)["closed"] is True
    after = {f["intervention"]: f for f in report(service, district_manager(service, "farsta"))["districts"][0]["interventions"]}
    assert {i: (f["eligible"], f["offered"]) for i, f in after.items()} == {i: (f["eligible"], f["offered"]) for i, f in before.items()}
