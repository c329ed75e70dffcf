"""The process pages in headless Chromium at 1,400 px, on test_browser's server: a district's overview
by phase is readable without zooming (its smallest text measured), a click on a phase opens the
phase's steps, the keyboard pans and zooms the picture, the city's process has its page, the
district's changes are written out beside the picture, the live figures are in a table (and agree
with GET /reports/steps), and axe finds nothing on any of them.  Screenshots go to
test-output/screenshots/."""

from __future__ import annotations

import datetime as dt

import httpx
from playwright.sync_api import Browser, Page

from api.auth import Role, mint
from tests.api.test_worklist import FACTS, today
from tests.service import ServerProcess
from tests.ui import axe
from tests.ui.test_browser import Session, browser, login, server

__all__ = ["browser", "server"]  # the fixtures, shared with test_browser.py

WIDTH = 1400


def open_page(
    browser: Browser, server: ServerProcess, path: str, role: Role = Role.manager, district: str | None = None
) -> Session:
    session = login(browser, server, role, district)
    session.page.set_viewport_size({"width": WIDTH, "height": 900})
    session.page.goto(server.url + path)
    session.page.locator("#diagram[data-ready=true]").wait_for()
    return session


def smallest_text(page: Page) -> float:
    """The height in pixels of the smallest piece of text drawn in the diagram, as the browser lays it out."""
    heights: list[float] = page.evaluate(
        """() => Array.from(document.querySelectorAll('#diagram svg text'))
            .filter(t => t.textContent.trim() !== '')
            .map(t => t.getBoundingClientRect().height)"""
    )
    assert heights, "the diagram has text"
    return min(heights)


def numbers(view_box: str | None) -> list[float]:
    assert view_box is not None
    return [float(n) for n in view_box.split()]


def legend(page: Page) -> str:
    """The text of the diagram's legend (its items are the legend cluster's siblings in the SVG)."""
    text: str = page.evaluate(
        "() => Array.from(document.querySelectorAll('#diagram svg g.legend-item')).map(g => g.textContent).join(' ')"
    )
    return text


def no_violations(page: Page) -> None:
    found = axe.violations(page)
    assert found == [], found


def test_the_overview_is_readable_at_1400_px_and_lists_the_changes(browser: Browser, server: ServerProcess) -> None:
    session = open_page(browser, server, "/ui/districts/jarva")
    page = session.page
    assert page.locator("#diagram svg g.node.phase-node").count() == 10, "one node per phase"
    assert smallest_text(page) >= 10
    changes = page.locator("#changes")
    assert "Lokala steg" in changes.inner_text()
    assert changes.locator("li").count() >= 3
    assert "fas" in changes.inner_text()
    totals = page.locator("#figures tbody tr")
    assert totals.count() == 10, "a row of figures per phase"
    assert "ungefärliga" in page.locator("main").inner_text(), "the city's manager reads sums of rounded counts"
    assert "försenade nu" in str(page.locator("#diagram svg").text_content()), "the phases carry their figure"
    session.shot("process_overview_jarva")
    no_violations(page)
    assert session.problems == []


def test_clicking_a_phase_opens_its_steps(browser: Browser, server: ServerProcess) -> None:
    session = open_page(browser, server, "/ui/districts/jarva")
    page = session.page
    page.locator("#diagram svg g.node.phase-node a").nth(5).click()
    page.wait_for_url("**/ui/districts/jarva/phases/investigation")
    page.locator("#diagram[data-ready=true]").wait_for()
    assert page.locator("h1").inner_text().startswith("Fas 6")
    page.go_back()
    page.locator("#figures a").nth(1).click()
    page.wait_for_url("**/ui/districts/jarva/phases/intake")
    page.go_back()
    page.locator("#diagram svg g.node.phase-node a").nth(5).click()
    page.wait_for_url("**/ui/districts/jarva/phases/investigation")
    page.locator("#diagram[data-ready=true]").wait_for()
    assert page.locator("#diagram svg g.node.step").count() == 12
    assert smallest_text(page) >= 10, "the phase view opens at a readable size"
    assert session.problems == []


def test_the_keyboard_pans_and_zooms(browser: Browser, server: ServerProcess) -> None:
    session = open_page(browser, server, "/ui/districts/farsta")
    page = session.page
    box = page.locator("#diagram")
    svg = page.locator("#diagram svg")
    home = svg.get_attribute("viewBox")
    box.focus()
    outline = page.evaluate("getComputedStyle(document.querySelector('#diagram')).outlineWidth")
    assert outline == "3px", "the focused diagram shows its focus ring"
    page.keyboard.press("ArrowRight")
    moved = svg.get_attribute("viewBox")
    assert moved != home
    assert float(moved.split()[0]) > float(home.split()[0]), "the right arrow shows more of the right"
    page.keyboard.press("+")
    zoomed = svg.get_attribute("viewBox")
    assert float(zoomed.split()[2]) < float(moved.split()[2]), "+ zooms in"
    page.keyboard.press("-")
    page.keyboard.press("-")
    assert float(svg.get_attribute("viewBox").split()[2]) > float(zoomed.split()[2]), "- zooms out"
    page.keyboard.press("0")
    assert numbers(svg.get_attribute("viewBox")) == numbers(home)
    assert "piltangenterna" in page.locator("#diagram-hint").inner_text()
    assert session.problems == []


def test_the_central_process_has_its_page(browser: Browser, server: ServerProcess) -> None:
    session = open_page(browser, server, "/ui/central")
    page = session.page
    assert page.url.endswith("/ui/districts/central")
    assert "Stadens process" in page.locator("h1").inner_text()
    assert page.locator("#diagram svg g.node.phase-node").count() == 10
    assert smallest_text(page) >= 10
    session.shot("process_overview_central")
    no_violations(page)
    page.click("#view-process")
    page.locator("#diagram[data-ready=true]").wait_for()
    assert page.locator("#diagram svg g.node.step").count() > 40, "the whole city-wide process"
    assert page.locator("#view-diff").count() == 0, "the city's process has no differences from itself"
    page.goto(server.url + "/ui/districts/central/phases/delivery")
    page.locator("#figures").wait_for()
    assert page.locator("#figures tbody tr").count() == 10
    session.shot("process_phase_central_delivery")
    no_violations(page)
    assert session.problems == []


def seed(server: ServerProcess) -> None:
    """Seven clients in Farsta who went through the intake at different speeds, added to the demo
    data set's: client i registered after i days, assessed 0 or 3 days later."""
    headers = server.headers(Role.caseworker, "farsta")
    base = today() - dt.timedelta(days=40)
    for i in range(7):
        opened = base + dt.timedelta(days=i)
        body = {"district": "farsta", "reference": f"fas-{i}", "facts": FACTS, "opened": opened.isoformat()}
        case = httpx.post(server.url + "/cases", json=body, headers=headers)
        assert case.status_code == 201, case.text
        on = opened
        for step, wait in (("actualisation", i % 3), ("intake_registration", i), ("initial_safety_assessment", 3 * (i % 2))):
            on += dt.timedelta(days=wait)
            event = {"kind": "step_completed", "step": step, "on": on.isoformat()}
            done = httpx.post(server.url + f"/cases/{case.json()['id']}/events", json=event, headers=headers)
            assert done.status_code == 201, done.text


def passed_now(server: ServerProcess) -> dict[str, int]:
    """Farsta's steps passed in the last twelve months, as Farsta's own manager reads them (exact)."""
    own = {"Authorization": "Bearer " + mint(server.settings, "chef-farsta", Role.manager, "farsta")}
    report = httpx.get(server.url + "/reports/steps?district=farsta", headers=own).json()
    return {s["step"]: s["passed"] for s in report["steps"]}


def test_a_phase_view_carries_the_figures_as_colours_and_a_table(browser: Browser, server: ServerProcess) -> None:
    before = passed_now(server)
    seed(server)
    session = open_page(browser, server, "/ui/districts/farsta/phases/intake", Role.manager, "farsta")
    page = session.page
    table = page.locator("#figures")
    steps = page.locator("#diagram svg g.node.step").count()
    assert table.locator("tbody tr").count() == steps
    assert "Stadens mediantid" in table.locator("thead").inner_text()
    report = httpx.get(server.url + "/reports/steps?district=farsta", headers=server.headers(Role.manager, "farsta")).json()
    figures = {s["label"]: s for s in report["steps"] if s["phase"] == "intake"}
    for row in table.locator("tbody tr").all():
        label = row.locator("th").inner_text()
        assert row.locator("td").nth(0).inner_text() == str(figures[label]["passed"])
    after = passed_now(server)
    for step in ("intake_registration", "initial_safety_assessment"):
        assert after[step] - before[step] == 7, "the seeded clients are counted"
    fills = page.evaluate(
        "() => Array.from(document.querySelectorAll('#diagram svg g.node.step')).map(g => g.querySelector('path').getAttribute('fill'))"
    )
    assert len(set(fills)) > 1, "the steps are coloured by their figures"
    assert "Mediantid i dagar" in legend(page)
    assert "Median" in str(page.locator("#diagram svg").text_content()), "the figure is written in the node too"
    session.shot("process_phase_farsta_intake")
    no_violations(page)
    page.select_option("#metric", "overdue")
    page.click("#figures-form button[type=submit]")
    page.wait_for_url("**metric=overdue**")
    page.locator("#diagram[data-ready=true]").wait_for()
    assert "Försenade nu" in legend(page)
    assert session.problems == []


def test_a_reader_the_report_refuses_sees_the_picture_without_figures(browser: Browser, server: ServerProcess) -> None:
    # GET /reports/steps answers Farsta's process owner nothing of Järva: neither does the page.
    assert (
        httpx.get(server.url + "/reports/steps?district=jarva", headers=server.headers(Role.implementer, "farsta")).status_code
        == 404
    )
    session = open_page(browser, server, "/ui/districts/jarva/phases/intake", Role.implementer, "farsta")
    page = session.page
    assert page.locator("#figures").count() == 0 and page.locator("#metric").count() == 0
    assert "siffror visas" in page.locator("main").inner_text()
    assert page.locator("#diagram svg g.node.step").count() == 3
    answer = page.goto(server.url + "/ui/districts/jarva/phases/intake?from=2025-06&to=2025-01")
    assert answer is not None and answer.status == 422
    assert "Perioden går inte att använda" in page.locator("main").inner_text()
