"""A case's page in headless Chromium: a caseworker comes from "Att göra", reads the whole decision (the
next steps with due date, what the deadline counts from in words, why each step is open), marks steps
done (a per-child one too) and changes the facts, all through the JSON routes' own code; a stale facts
form is refused with a Swedish message and never overwrites; refusals are said in Swedish on the page.
The console stays clean (the page runs under the strict CSP); screenshots go to test-output/screenshots/."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page

from api.auth import Role, mint
from tests.service import ServerProcess
from tests.ui.test_browser import browser, login  # noqa: F401  (browser: the shared Chromium fixture)
from tests.ui.test_worklist import server, today  # noqa: F401  (server: a fresh service of its own for this module)

OPENED_DAYS_AGO = 3


@pytest.fixture(scope="module")
def case(server: ServerProcess) -> dict[str, Any]:  # noqa: F811
    """A Farsta case with a child reported three days ago, when the case opened; the initial safety
    assessment (due the day after) is open."""
    headers = server.headers(Role.caseworker, "farsta")
    opened = (today() - dt.timedelta(days=OPENED_DAYS_AGO)).isoformat()
    facts = {"age": 34, "children": [{"age": 5}], "report_received": opened}
    body = {"district": "farsta", "reference": "arende-1", "facts": facts, "opened": opened}
    answer = httpx.post(server.url + "/cases", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    for step in ("actualisation", "intake_registration"):
        event = {"kind": "step_completed", "on": opened, "step": step}
        assert httpx.post(f"{server.url}/cases/{created['id']}/events", json=event, headers=headers).status_code == 201
    return created


def submit(page: Page, button: Locator) -> None:
    """Send a form that comes back to the same address: wait for the new page, not for the address."""
    with page.expect_navigation():
        button.click()


def done_button(page: Page, step: str) -> Locator:
    form = page.locator("form.complete", has=page.locator(f"input[name=step][value={step}]"))
    return form.get_by_role("button", name="Markera som gjort")


def api(server: ServerProcess, path: str) -> Any:  # noqa: F811
    answer = httpx.get(server.url + path, headers=server.headers(Role.caseworker, "farsta"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_caseworker_reads_the_decision_marks_steps_done_and_changes_a_fact(
    browser: Browser,  # noqa: F811
    server: ServerProcess,  # noqa: F811
    case: dict[str, Any],
) -> None:
    session = login(browser, server, Role.caseworker, "farsta")
    page = session.page
    page.get_by_role("link", name="Att göra").click()
    page.wait_for_url("**/ui/work")
    page.locator("#worklist").get_by_role("link", name="arende-1").click()
    page.wait_for_url(f"**/ui/cases/{case['id']}")
    page.locator("#diagram svg").wait_for()

    # The whole decision: unit, due date, what the deadline counts from, how late, and why.
    decided = api(server, f"/cases/{case['id']}/next-steps")
    (first,) = decided["next_steps"]
    row = page.locator("#step-initial_safety_assessment")
    assert first["unit"]["label"] in row.inner_text()
    assert row.locator(".due").inner_text().startswith(first["due"])
    assert row.locator(".deadline").inner_text() == "inom 1 dag från att ärendet aktualiserades"
    assert "⚠ Försenat 2 dagar" in row.inner_text()
    reasons = page.locator(".reasons").first
    assert "Efter ”Registrering och klassificering” (inget av de andra villkoren gällde)." in reasons.inner_text()
    assert re.search(r"processes/bryt_upp\.yaml:\d+:\d+", reasons.locator("small").first.inner_text())
    assert page.locator("#next-steps th").filter(has_text=re.compile(r"^\s*$")).count() == 0, "every column has a header"
    session.shot("case_decision")

    # Marking the safety assessment done opens the steps after it, among them the child's protection assessment.
    submit(page, done_button(page, "initial_safety_assessment"))
    child_row = page.locator("#step-child_protection_assessment-1")
    assert "(barn 1)" in child_row.inner_text()
    assert child_row.locator(".deadline").inner_text() == "samma dag som orosanmälan om barn inkom"
    done = [e for e in api(server, f"/cases/{case['id']}/events") if e["kind"] == "step_completed"]
    assert done[-1]["payload"]["step"] == "initial_safety_assessment" and done[-1]["on"] == today().isoformat()

    # A per-child step carries its child; the step after it counts days from the report (Farsta: fewer than 14).
    submit(page, done_button(page, "child_protection_assessment"))
    (preliminary,) = [s for s in api(server, f"/cases/{case['id']}/next-steps")["next_steps"] if s["child"] == 0]
    within = preliminary["deadline"]["within"]
    assert preliminary["deadline"]["counts_from"] == "report_received" and within.endswith("d")
    row = page.locator("#step-child_preliminary_assessment-1")
    assert row.locator(".deadline").inner_text() == f"inom {within[:-1]} dagar från att orosanmälan om barn inkom"
    assert row.locator(".due").inner_text().startswith(preliminary["due"])
    done = [e for e in api(server, f"/cases/{case['id']}/events") if e["kind"] == "step_completed"]
    assert (done[-1]["payload"]["step"], done[-1]["payload"]["child"]) == ("child_protection_assessment", 0)

    # Changing a fact: the form is the process's vocabulary, prefilled; what it does not edit is kept.
    facts_form = page.locator("form#facts")
    assert facts_form.locator("input[name='fact.age']").input_value() == "34"
    assert facts_form.locator("input[name='fact.age']").get_attribute("max") == "120"
    facts_form.locator("input[name='fact.age']").fill("35")
    facts_form.locator("select[name='fact.risk_level']").select_option("high")
    facts_form.locator("input[name='fact.needs.housing']").check()
    submit(page, facts_form.get_by_role("button", name="Spara uppgifterna"))
    stored = api(server, f"/cases/{case['id']}")["facts"]
    assert stored["age"] == 35 and stored["risk_level"] == "high" and stored["needs"] == ["housing"]
    assert stored["children"] == [{"age": 5}], "the children, not on the form, are kept"
    assert page.locator("form#facts input[name='fact.age']").input_value() == "35"
    session.shot("case_after_actions")
    assert session.problems == []


def test_a_stale_facts_form_is_refused_and_never_overwrites(
    browser: Browser,  # noqa: F811
    server: ServerProcess,  # noqa: F811
    case: dict[str, Any],
) -> None:
    session = login(browser, server, Role.caseworker, "farsta")
    page = session.page
    page.goto(f"{server.url}/ui/cases/{case['id']}")
    # Someone else changes the facts after the page was read.
    other = server.headers(Role.caseworker, "farsta", subject="bo")
    now = httpx.get(f"{server.url}/cases/{case['id']}", headers=other)
    changed = {**now.json()["facts"], "honour_related": True}
    put = httpx.put(f"{server.url}/cases/{case['id']}/facts", json={"facts": changed}, headers={**other, "If-Match": now.headers["ETag"]})
    assert put.status_code == 200, put.text
    page.locator("form#facts input[name='fact.age']").fill("77")
    with page.expect_response(re.compile(r".*/facts$")) as answer:
        page.locator("form#facts").get_by_role("button", name="Spara uppgifterna").click()
    assert answer.value.status == 412
    assert "har ändrats sedan du öppnade sidan" in page.get_by_role("alert").inner_text()
    stored = api(server, f"/cases/{case['id']}")["facts"]
    assert stored["honour_related"] is True and stored["age"] != 77, "never an overwrite"
    # The page shows the facts as they are now, on the new row version.
    assert page.locator("form#facts select[name='fact.honour_related']").input_value() == "ja"
    assert page.locator("form#facts input[name=row_version]").input_value() == str(put.json()["row_version"])
    session.shot("case_stale_facts")
    assert session.problems == [
        "console error: Failed to load resource: the server responded with a status of 412 (Precondition Failed)"
    ]


def test_refusals_are_said_in_swedish_and_forms_come_only_from_this_site(
    server: ServerProcess,  # noqa: F811
    case: dict[str, Any],
) -> None:
    cookies = {"brytupp_token": mint(server.settings, "anna", Role.caseworker, "farsta")}
    same_site = {"Origin": server.url}
    url = f"{server.url}/ui/cases/{case['id']}"
    before = len(api(server, f"/cases/{case['id']}/events"))
    form = {"step": "follow_up", "outcome": "not_an_outcome", "on": today().isoformat(), "key": "0" * 32}
    refused = httpx.post(url + "/steps", data=form, cookies=cookies, headers=same_site)
    assert refused.status_code == 422 and "Välj ett av stegets utfall." in refused.text
    refused = httpx.post(url + "/steps", data={**form, "step": "no_such_step", "outcome": ""}, cookies=cookies, headers=same_site)
    assert refused.status_code == 422 and "Steget finns inte i ärendets process." in refused.text
    refused = httpx.post(url + "/facts", data={"row_version": "999", "fact.age": "500"}, cookies=cookies, headers=same_site)
    assert refused.status_code == 412 and "har ändrats sedan du öppnade sidan" in refused.text
    version = str(api(server, f"/cases/{case['id']}")["row_version"])
    refused = httpx.post(url + "/facts", data={"row_version": version, "fact.age": "500"}, cookies=cookies, headers=same_site)
    assert refused.status_code == 422 and "Ålder: ange ett heltal från 0 till 120." in refused.text
    foreign = httpx.post(url + "/steps", data={**form, "outcome": ""}, cookies=cookies)
    assert foreign.status_code == 403 and "avvisades" in foreign.text
    assert len(api(server, f"/cases/{case['id']}/events")) == before, "nothing refused was recorded"
