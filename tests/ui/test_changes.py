"""Reviewed change of a district's process through the pages, in headless Chromium: Farsta's process
owner drafts a change, sees what it does to the open cases and proposes it; the city's process owner
approves it from the queue; new cases get the new version; the district's history compares the versions
and moves the open cases.  The console stays clean (the pages run under the strict CSP); screenshots go
to test-output/screenshots/."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from api.auth import Role, mint
from tests.api.test_drafts import REASSIGNED, TIGHTER, today
from tests.service import ServerProcess, copy_processes, fresh_database, settings_for
from tests.ui.test_browser import Session, browser, login  # noqa: F401  (browser: the shared Chromium fixture)

DRAFT_URL = re.compile(r".*/ui/drafts/farsta/[0-9a-f-]{36}$")


@pytest.fixture(scope="module", params=["sqlite"])
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    where = tmp_path_factory.mktemp("changes")
    proc = ServerProcess(settings_for(fresh_database("sqlite", where, None), copy_processes(where)), where).start()
    try:
        yield proc
    finally:
        proc.stop()


def owner_login(chromium: Browser, server: ServerProcess, subject: str = "olle") -> Session:
    """The city's process owner, another person than the draft's author ("anna", as ``login`` signs in)."""
    session = Session(chromium.new_context(viewport={"width": 1600, "height": 1000}, locale="sv-SE").new_page())
    session.page.goto(server.url + "/ui/login")
    session.page.fill("#token", mint(server.settings, subject, Role.process_owner, None))
    session.page.click("button[type=submit]")
    return session


def open_case(server: ServerProcess, reference: str) -> dict[str, Any]:
    body = {
        "district": "farsta",
        "reference": reference,
        "facts": {"age": 34},
        "opened": (today() - dt.timedelta(days=9)).isoformat(),
    }
    answer = httpx.post(server.url + "/cases", json=body, headers=server.headers(Role.caseworker, "farsta"))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_a_change_is_drafted_proposed_approved_and_the_open_cases_moved(browser: Browser, server: ServerProcess) -> None:  # noqa: F811
    cases = [open_case(server, f"andring-{n}")["id"] for n in (1, 2)]

    author = login(browser, server, Role.implementer, "farsta")
    page = author.page
    page.get_by_role("link", name="Utkast", exact=True).click()
    text = page.locator("#text")
    assert "district: farsta" in text.input_value(), "the draft starts from the district's text in force"
    text.fill(text.input_value().replace(*TIGHTER).replace(*REASSIGNED))
    page.get_by_role("button", name="Spara utkast och förhandsgranska").click()
    page.wait_for_url(DRAFT_URL)
    assert page.locator("#changes li").count() > 0
    assert "7 dagar" in page.locator("#changes").inner_text()
    listed = page.locator("#impact-cases").inner_text()
    assert all(case in listed for case in cases), "the district's own process owner sees which cases change"
    page.locator("#diagram svg").wait_for()
    author.shot("change_preview")
    draft_url = page.url

    # Someone changed the draft meanwhile: the page says so, in Swedish, with the service's status.
    page.locator("#propose input[name=row_version]").evaluate("field => field.value = '99'")
    with page.expect_response(lambda r: r.request.method == "POST") as stale:
        page.get_by_role("button", name="Föreslå").click()
    assert stale.value.status == 412
    assert "ändrats sedan du öppnade sidan" in page.get_by_role("alert").inner_text()
    # Chromium logs a document answered with 4xx; that one is expected, anything else is not.
    assert author.problems == [
        "console error: Failed to load resource: the server responded with a status of 412 (Precondition Failed)"
    ]
    author.problems.clear()
    page.goto(draft_url)
    page.fill("#propose-note", "Kortare frist och mottagningen till relationsvåldsteamet")
    page.get_by_role("button", name="Föreslå").click()
    page.wait_for_url(DRAFT_URL)
    assert page.locator("#status").inner_text() == "föreslaget"
    assert page.locator("#approve").count() == 0, "the author has no approve form"

    decider = owner_login(browser, server)
    page = decider.page
    page.wait_for_url("**/ui/proposals")
    row = page.locator("#proposals tbody tr", has_text="Farsta")
    assert "relationsvåldsteamet" in row.inner_text() and "anna" in row.inner_text()
    decider.shot("change_proposals")
    row.get_by_role("link", name="Granska").click()
    page.wait_for_url(draft_url)
    assert page.locator("#impact-counts").is_visible() and page.locator("#impact-cases").count() == 0, (
        "the city sees counts, no ids"
    )
    assert page.locator("#effective-from").input_value() == today().isoformat()
    page.fill("#reference", "SOF 2026/17")
    page.fill("#approve-note", "Beslutat i ledningsgruppen")
    page.get_by_role("button", name="Godkänn").click()
    page.wait_for_url(draft_url)
    assert page.locator("#status").inner_text() == "godkänt"
    decider.shot("change_approved")

    drafts = httpx.get(server.url + "/processes/farsta/drafts", headers=server.headers(Role.implementer, "farsta")).json()
    approved = next(d for d in drafts if d["status"] == "approved")
    assert open_case(server, "andring-3")["process_version"] == approved["version"]

    page = author.page
    page.get_by_role("link", name="Versioner", exact=True).click()
    first = page.locator("#versions tbody tr").first
    assert approved["version"] in first.inner_text() and "gäller" in first.inner_text()
    assert "olle" in first.inner_text() and "SOF 2026/17" in first.inner_text()
    page.get_by_role("button", name="Jämför").click()
    assert "7 dagar" in page.locator("#comparison").inner_text()
    page.locator("#diagram svg").wait_for()
    page.get_by_role("button", name="Pröva flytten").click()
    moving = page.locator("#migration-cases").inner_text()
    assert all(case in moving for case in cases), "the dry run lists the open cases still on the old version"
    author.shot("change_history_dry_run")
    page.get_by_role("button", name="Flytta ärendena").click()
    assert "2 ärenden flyttades" in page.locator("#migration-report").inner_text()
    assert author.problems == []
    assert decider.problems == []


def test_a_draft_with_findings_shows_them_and_cannot_be_proposed(browser: Browser, server: ServerProcess) -> None:  # noqa: F811
    author = login(browser, server, Role.implementer, "farsta")
    page = author.page
    page.goto(server.url + "/ui/drafts/farsta")
    loosened = re.sub(r"within: \d+d", "within: 20d", page.locator("#text").input_value(), count=1)
    page.locator("#file").set_input_files({"name": "farsta.yaml", "mimeType": "application/yaml", "buffer": loosened.encode()})
    page.get_by_role("button", name="Spara utkast och förhandsgranska").click()
    page.wait_for_url(DRAFT_URL)
    findings = page.locator("#findings li")
    assert findings.count() > 0
    assert re.match(r"local_overrides/farsta\.yaml:\d+:\d+: ", findings.first.inner_text())
    assert page.locator("#propose").count() == 0 and page.locator("#diagram").count() == 0
    author.shot("change_findings")
    assert author.problems == []


def test_the_forms_take_only_this_sites_posts_and_the_author_never_decides(server: ServerProcess) -> None:
    def page_client(role: Role, district: str | None, subject: str) -> httpx.Client:
        token = mint(server.settings, subject, role, district)
        return httpx.Client(base_url=server.url, cookies={"brytupp_token": token}, headers={"Origin": server.url})

    author = page_client(Role.implementer, "farsta", "ida")
    written = (server.settings.processes[1] / "farsta.yaml").read_text(encoding="utf-8").replace(*TIGHTER)
    foreign = httpx.post(server.url + "/ui/drafts/farsta", data={"text": written}, cookies=author.cookies)
    assert foreign.status_code == 403 and "avvisades" in foreign.text
    created = author.post("/ui/drafts/farsta", data={"text": written})
    assert created.status_code == 303
    url = created.headers["location"]
    assert author.post(url + "/propose", data={"row_version": "1"}).status_code == 303
    # A process owner who is also the author ("ida") sees no decision forms, and a posted one is refused on the page.
    same_person = page_client(Role.process_owner, None, "ida")
    assert 'id="approve"' not in same_person.get(url).text
    refused = same_person.post(url + "/approve", data={"row_version": "2", "effective_from": today().isoformat()})
    assert refused.status_code == 403 and "fyra ögon" in refused.text
    assert 'id="approve"' in page_client(Role.process_owner, None, "olle").get(url).text
