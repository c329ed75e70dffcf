"""The managers' pages in real headless Chromium (Debian's package, driven by Playwright):
each page opens, its diagram is visible, the console stays clean; screenshots go
to test-output/screenshots/ for people to look at."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from api.auth import Role
from tests.service import ROOT, ServerProcess, copy_processes, fresh_database, settings_for

SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach Google on a closed network.
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    from api.demo_data import load_demo_data

    where = tmp_path_factory.mktemp("ui")
    settings = settings_for(fresh_database("sqlite", where, None), copy_processes(where))
    # Three years of made-up clients, so the goal charts have something to show.
    load_demo_data(settings, 120, [2023, 2024, 2025], seed=7, today=dt.date(2026, 1, 15))
    proc = ServerProcess(settings, where).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Chromium is needed for the page tests: apt-get install chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


class Session:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def login(browser: Browser, server: ServerProcess, role: Role, district: str | None = None) -> Session:
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="sv-SE")
    session = Session(context.new_page())
    token = server.headers(role, district)["Authorization"].removeprefix("Bearer ")
    session.page.goto(server.url + "/ui")
    assert "/ui/login" in session.page.url
    session.page.fill("#token", token)
    session.page.click("button[type=submit]")
    return session


def test_the_overview_lists_every_district(browser: Browser, server: ServerProcess) -> None:
    session = login(browser, server, Role.manager)
    page = session.page
    page.wait_for_selector("#districts")
    assert page.locator("#districts tbody tr").count() == 11
    assert page.get_by_role("link", name="Farsta stadsdelsförvaltning").is_visible()
    assert session.shot("overview").stat().st_size > 10_000
    assert session.problems == []


def test_a_bad_token_shows_the_reason(browser: Browser, server: ServerProcess) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url + "/ui/login")
    page.fill("#token", "not-a-token")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").is_visible()
    assert "godtogs inte" in page.get_by_role("alert").inner_text()


def test_a_district_page_shows_its_diagram_and_its_changes(browser: Browser, server: ServerProcess) -> None:
    session = login(browser, server, Role.manager)
    page = session.page
    page.goto(server.url + "/ui/districts/jarva")
    diagram = page.locator("#diagram svg")
    diagram.wait_for()
    assert diagram.is_visible()
    box = diagram.bounding_box()
    assert box is not None and box["width"] > 800 and box["height"] > 400
    page.wait_for_selector("#diagram[data-ready=true]")
    before = diagram.get_attribute("viewBox")
    page.click("[data-zoom=in]")
    assert diagram.get_attribute("viewBox") != before, "zooming changes the visible part"
    session.shot("district_jarva")
    page.click("#view-diff")
    page.wait_for_url("**view=diff")
    page.locator("#diagram svg").wait_for()
    session.shot("district_jarva_changes")
    with page.expect_download() as download:
        page.click("text=PDF")
    assert download.value.suggested_filename.endswith(".pdf")
    assert session.problems == []


def test_the_equality_matrix(browser: Browser, server: ServerProcess) -> None:
    session = login(browser, server, Role.manager)
    page = session.page
    page.goto(server.url + "/ui/equality")
    table = page.locator("#equality")
    table.wait_for()
    assert page.locator("#equality tbody tr").count() == 11
    assert page.locator("#equality td.flag").count() > 0, "districts that depart from the majority are flagged"
    session.shot("equality")
    assert session.problems == []


def test_a_caseworker_sees_the_path_of_a_case(browser: Browser, server: ServerProcess) -> None:
    import httpx

    headers = server.headers(Role.caseworker, "farsta")
    body = {"district": "farsta", "reference": "ui-0001", "facts": {"age": 30, "entry_channel": "police"}, "opened": "2025-02-03"}
    case = httpx.post(server.url + "/cases", json=body, headers=headers).json()
    for step in ("actualisation", "intake_registration"):
        event = {"kind": "step_completed", "on": "2025-02-03", "step": step}
        assert httpx.post(f"{server.url}/cases/{case['id']}/events", json=event, headers=headers).status_code == 201
    session = login(browser, server, Role.caseworker, "farsta")
    page = session.page
    page.get_by_role("link", name="ui-0001").click()
    page.locator("#diagram svg").wait_for()
    assert "Försenat" in page.locator("#next-steps").inner_text(), "the first safety assessment was due long ago"
    session.shot("case_path")
    assert session.problems == []


def test_the_effect_goal_charts(browser: Browser, server: ServerProcess) -> None:
    session = login(browser, server, Role.manager)
    page = session.page
    page.goto(server.url + "/ui/goals?years=2023-2025")
    page.wait_for_selector("body[data-charts=ready]")
    for goal in range(1, 6):
        canvas = page.locator(f"#bars-{goal}")
        assert canvas.is_visible()
        box = canvas.bounding_box()
        assert box is not None and box["height"] > 200
    drawn = page.evaluate("Object.values(Chart.instances).map(c => c.data.datasets[0].data.filter(v => v !== null).length)")
    assert len(drawn) == 10 and sum(drawn) > 0, "the charts have values"
    session.shot("goals")
    assert session.problems == []


def test_logging_out_is_a_form_post(browser: Browser, server: ServerProcess) -> None:
    session = login(browser, server, Role.manager)
    page = session.page
    page.wait_for_selector("#districts")
    page.get_by_role("button", name="Logga ut").click()
    page.wait_for_url("**/ui/login")
    page.goto(server.url + "/ui")
    assert "/ui/login" in page.url, "the cookie is gone"
    assert session.problems == []


def test_the_api_docs_run_under_their_content_security_policy(browser: Browser, server: ServerProcess) -> None:
    session = Session(browser.new_context().new_page())
    violations: list[str] = []
    session.page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)
    response = session.page.goto(server.url + "/docs")
    assert response is not None and "sha256-" in response.headers["content-security-policy"]
    # The inline script ran: it starts the bundle, which draws into #swagger-ui.
    session.page.wait_for_selector("#swagger-ui .swagger-ui")
    session.page.wait_for_load_state("networkidle")
    assert violations == []


def test_the_api_docs_list_the_operations(browser: Browser, server: ServerProcess) -> None:
    """The spec is OpenAPI 3.1: Swagger UI 4 showed "Unable to render this definition" for it."""
    session = Session(browser.new_context().new_page())
    session.page.goto(server.url + "/docs")
    session.page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = set(session.page.locator(".opblock-summary-path").all_inner_texts())
    assert {"/cases", "/cases/{case_id}/next-steps", "/units/{unit}/worklist"} <= {p.replace("\u200b", "") for p in paths}
    assert session.page.locator("text=Unable to render this definition").count() == 0
    session.shot("api-docs")


def test_the_token_field_submits_on_enter(browser: Browser, server: ServerProcess) -> None:
    page = browser.new_context().new_page()
    page.goto(server.url + "/ui/login")
    page.fill("#token", server.headers(Role.manager, None)["Authorization"].removeprefix("Bearer "))
    page.press("#token", "Enter")
    page.wait_for_selector("#districts")


def test_at_a_phones_width_the_header_stays_in_its_colour_and_nothing_scrolls_sideways(
    browser: Browser, server: ServerProcess
) -> None:
    session = login(browser, server, Role.manager)
    page = session.page
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/ui", "/ui/equality", "/ui/goals", "/ui/districts/farsta"):
        page.goto(server.url + path)
        header = page.locator("header").bounding_box()
        assert header is not None and header["width"] <= 390, path
        for part in ("header .brand", "header nav", "header .who"):
            box = page.locator(part).bounding_box()
            assert box is not None and box["x"] + box["width"] <= header["x"] + header["width"] + 1, (path, part)
            assert box["y"] + box["height"] <= header["y"] + header["height"] + 1, (path, part)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    session.shot("overview-390")


def test_the_service_address_leads_to_the_pages(browser: Browser, server: ServerProcess) -> None:
    session = Session(browser.new_context().new_page())
    session.page.goto(server.url + "/")
    assert "/ui/login" in session.page.url
