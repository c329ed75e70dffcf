"""A caseworker's "Att göra" page in headless Chromium: the busiest unit's open steps, overdue first and
said in words; taking a case with a form that carries the case's row version (a stale one is refused,
never an overwrite); "Mina ärenden"; paging with the list's cursor; one audit row per page view; a case
whose steps could not be worked out listed first.  The console stays clean (the page runs under the
strict CSP); screenshots go to test-output/screenshots/."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import create_engine, delete, update
from sqlmodel import Session as DBSession
from sqlmodel import col, func, select

from api.auth import Role, mint
from api.models import AuditRecord, Case, OpenStep
from tests.service import ServerProcess, copy_processes, fresh_database, settings_for
from tests.ui.test_browser import browser, login  # noqa: F401  (browser: the shared Chromium fixture)

# Opened so many days ago; the first safety assessment is due the day after, so all but the last are overdue.
AGES = {"att-gora-1": 12, "att-gora-2": 7, "att-gora-3": 4, "att-gora-4": 2, "att-gora-5": 0}


def today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Europe/Stockholm")).date()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    where = tmp_path_factory.mktemp("worklist")
    proc = ServerProcess(settings_for(fresh_database("sqlite", where, None), copy_processes(where)), where).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def cases(server: ServerProcess) -> dict[str, dict[str, Any]]:
    """Open cases of Farsta, each with the initial safety assessment open at Mottagningsenheten."""
    headers = server.headers(Role.caseworker, "farsta")
    out = {}
    for reference, age in AGES.items():
        opened = (today() - dt.timedelta(days=age)).isoformat()
        body = {"district": "farsta", "reference": reference, "facts": {"age": 34}, "opened": opened}
        answer = httpx.post(server.url + "/cases", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        case = answer.json()
        for step in ("actualisation", "intake_registration"):
            event = {"kind": "step_completed", "on": opened, "step": step}
            assert httpx.post(f"{server.url}/cases/{case['id']}/events", json=event, headers=headers).status_code == 201
        out[reference] = case
    return out


def references(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("#worklist tbody tr td:nth-child(2)").all_inner_texts()]


def worklist_views(server: ServerProcess) -> int:
    engine = create_engine(server.settings.database_url)
    try:
        with DBSession(engine) as session:
            query = select(func.count()).select_from(AuditRecord).where(col(AuditRecord.action) == "worklist")
            return int(session.exec(query).one())
    finally:
        engine.dispose()


def test_a_caseworker_sees_the_overdue_first_takes_a_case_and_finds_it_under_mine(
    browser: Browser,  # noqa: F811
    server: ServerProcess,
    cases: dict[str, dict[str, Any]],
) -> None:
    session = login(browser, server, Role.caseworker, "farsta")
    page = session.page
    page.get_by_role("link", name="Att göra").click()
    page.wait_for_url("**/ui/work")
    assert page.locator("#unit option:checked").inner_text().startswith("Mottagningsenheten"), "the busiest unit first"
    assert references(page) == list(AGES), "overdue first, the longest overdue at the top"
    listed = httpx.get(server.url + "/units/mottagningsenheten/worklist", headers=server.headers(Role.caseworker, "farsta"))
    rows = page.locator("#worklist tbody tr")
    for n, ((reference, age), item) in enumerate(zip(AGES.items(), listed.json()["items"], strict=True)):
        row = rows.nth(n)
        assert row.locator("td").first.inner_text() == item["label"]
        late = row.locator(".late")
        if age > 1:
            assert late.inner_text() == f"⚠ försenad {age - 1} {'dag' if age == 2 else 'dagar'}", reference
        else:
            assert late.count() == 0, "a step due tomorrow is not overdue"
    session.shot("worklist")

    before = worklist_views(server)
    page.locator("#worklist tbody tr", has_text="att-gora-2").get_by_role("button", name="Ta ärendet").click()
    page.wait_for_url("**/ui/work?unit=mottagningsenheten")
    assert page.locator("#worklist tbody tr", has_text="att-gora-2").locator("td").nth(5).inner_text() == "du"
    assert worklist_views(server) == before + 1, "one audit row for the page the form came back to"

    page.get_by_role("link", name="Mina ärenden").click()
    page.wait_for_url("**mine=1")
    assert references(page) == ["att-gora-2"]
    assert page.locator("#view-mine").get_attribute("aria-current") == "page"
    case = httpx.get(f"{server.url}/cases/{cases['att-gora-2']['id']}", headers=server.headers(Role.caseworker, "farsta"))
    assert case.json()["assigned_to"] == "anna"

    # The filters: only overdue steps, and those due before a day.
    page.goto(server.url + "/ui/work")
    page.check("input[name=overdue]")
    page.get_by_role("button", name="Visa").click()
    page.wait_for_url("**overdue=1**")
    assert references(page) == list(AGES)[:4]
    page.uncheck("input[name=overdue]")
    page.fill("input[name=due_before]", (today() - dt.timedelta(days=5)).isoformat())
    page.get_by_role("button", name="Visa").click()
    page.wait_for_url("**due_before=**")
    assert references(page) == ["att-gora-1", "att-gora-2"]
    assert session.problems == []


def test_a_stale_form_is_refused_with_a_message_and_never_overwrites(
    browser: Browser,  # noqa: F811
    server: ServerProcess,
    cases: dict[str, dict[str, Any]],
) -> None:
    session = login(browser, server, Role.caseworker, "farsta")
    page = session.page
    page.goto(server.url + "/ui/work")
    row = page.locator("#worklist tbody tr", has_text="att-gora-3")
    # Someone else takes the case after the page was read.
    case_id = cases["att-gora-3"]["id"]
    other = server.headers(Role.caseworker, "farsta", subject="bo")
    etag = httpx.get(f"{server.url}/cases/{case_id}", headers=other).headers["ETag"]
    taken = httpx.put(f"{server.url}/cases/{case_id}/assignment", json={"assigned_to": "me"}, headers={**other, "If-Match": etag})
    assert taken.status_code == 200, taken.text
    with page.expect_response(re.compile(r".*/ui/work/take$")) as answer:
        row.get_by_role("button", name="Ta ärendet").click()
    assert answer.value.status == 412
    alert = page.get_by_role("alert")
    assert "har ändrats sedan du öppnade sidan" in alert.inner_text()
    assert page.locator("#worklist tbody tr", has_text="att-gora-3").locator("td").nth(5).inner_text() == "bo"
    assert httpx.get(f"{server.url}/cases/{case_id}", headers=other).json()["assigned_to"] == "bo"
    # The list shows the case as it is now, with a form to take it over on its new row version.
    assert page.locator("#worklist tbody tr", has_text="att-gora-3").get_by_role("button", name="Ta över ärendet").is_visible()
    session.shot("worklist_stale")
    # Chromium logs a document answered with 4xx; that one is expected, anything else is not.
    assert session.problems == [
        "console error: Failed to load resource: the server responded with a status of 412 (Precondition Failed)"
    ]


def test_the_list_pages_with_its_cursor(
    browser: Browser,  # noqa: F811
    server: ServerProcess,
    cases: dict[str, dict[str, Any]],
) -> None:
    session = login(browser, server, Role.caseworker, "farsta")
    page = session.page
    page.goto(server.url + "/ui/work?limit=2")
    seen = [references(page)]
    while page.locator("#next-page").count():
        page.locator("#next-page").click()
        page.wait_for_load_state()
        seen.append(references(page))
    assert [len(refs) for refs in seen] == [2, 2, 1]
    assert [r for refs in seen for r in refs] == list(AGES), "every case once, in order"
    assert page.locator("#first-page").is_visible()
    # A cursor that was changed is refused on the page, with the way back to the first page.
    assert session.problems == []
    refused = page.goto(server.url + "/ui/work?limit=2&cursor=bm90LWEtY3Vyc29y")
    assert refused is not None and refused.status == 422
    assert "Börja om från första sidan" in page.get_by_role("alert").inner_text()
    page.locator("#first-page").click()
    page.wait_for_url("**/ui/work?unit=mottagningsenheten&limit=2")
    assert references(page) == list(AGES)[:2]
    # The header's "Bryt upp" takes a caseworker to their work, not to a page they cannot open.
    page.get_by_role("link", name="Bryt upp", exact=True).click()
    page.wait_for_url("**/ui/work")
    assert session.problems == [
        "console error: Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    ]


def test_the_take_form_is_taken_only_from_this_site(server: ServerProcess, cases: dict[str, dict[str, Any]]) -> None:
    token = mint(server.settings, "cia", Role.caseworker, "farsta")
    case = cases["att-gora-4"]
    form = {"case_id": case["id"], "row_version": str(case["row_version"]), "back": "/ui/work"}
    foreign = httpx.post(server.url + "/ui/work/take", data=form, cookies={"brytupp_token": token})
    assert foreign.status_code == 403 and "avvisades" in foreign.text
    headers = server.headers(Role.caseworker, "farsta")
    assert httpx.get(f"{server.url}/cases/{case['id']}", headers=headers).json()["assigned_to"] is None
    # A manager has no "Att göra": the page is the caseworkers'.
    manager = httpx.get(server.url + "/ui/work", cookies={"brytupp_token": mint(server.settings, "mia", Role.manager, "farsta")})
    assert manager.status_code == 403


def test_a_case_whose_steps_could_not_be_worked_out_is_listed_first_with_a_note(
    browser: Browser,  # noqa: F811
    server: ServerProcess,
    cases: dict[str, dict[str, Any]],
) -> None:
    # As the daily refresh leaves a case it cannot decide: no stored steps, no day they were worked out for.
    case_id = uuid.UUID(cases["att-gora-5"]["id"])
    engine = create_engine(server.settings.database_url)
    try:
        with DBSession(engine) as db:
            db.exec(delete(OpenStep).where(col(OpenStep.case_id) == case_id))
            db.exec(update(Case).where(col(Case.id) == case_id).values(steps_as_of=None))
            db.commit()
    finally:
        engine.dispose()
    session = login(browser, server, Role.caseworker, "farsta")
    page = session.page
    page.goto(server.url + "/ui/work")
    problems = page.locator("#problems")
    assert "kunnat räknas ut" in problems.inner_text()
    problems.get_by_role("link", name="att-gora-5").click()
    page.wait_for_url(f"**/ui/cases/{case_id}")
    assert session.problems == []
