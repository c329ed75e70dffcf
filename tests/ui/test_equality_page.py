"""The equality page (/ui/equality) in headless Chromium, on test_browser's server: every cell the
matrix flags is marked and says why in text on the page (not in a tooltip), in Swedish with labels
and never the process files' ids; a tightened deadline says which and by how much; the district
column stays in view while the matrix scrolls sideways in its own box; equality in practice for
managers, with its rule; no axe violations.  The flags are checked against the JSON report the
page is made from (GET /reports/equality)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Browser

from api.auth import Role
from tests.service import ServerProcess
from tests.ui import axe
from tests.ui.test_browser import Session, browser, login, server

__all__ = ["browser", "server"]  # the fixtures, shared with test_browser.py

# What the ids of the flags and aspects were called in English, and the matrix's own aspect ids.
ENGLISH = {"unit", "deadline", "kind", "role", "differs", "tightened", "majority", "local", "noted"}


def matrix(server: ServerProcess) -> dict[str, Any]:
    answer = httpx.get(server.url + "/reports/equality", headers=server.headers(Role.manager, None))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def open_page(browser: Browser, server: ServerProcess, width: int = 1600) -> Session:
    session = login(browser, server, Role.manager)
    session.page.set_viewport_size({"width": width, "height": 900})
    session.page.goto(server.url + "/ui/equality")
    session.page.locator("#equality").wait_for()
    return session


def test_every_flagged_cell_is_marked_and_says_why(browser: Browser, server: ServerProcess) -> None:
    body = matrix(server)
    session = open_page(browser, server)
    page = session.page
    flagged = 0
    for row in body["districts"]:
        tds = page.locator(f'#equality tbody tr[data-district="{row["district"]}"] td')
        for n, cell in enumerate(row["cells"]):
            td = tds.nth(n)
            reasons = len(cell["differs"]) + len(cell["tightened"]) + len(cell["local"]) + len(cell["noted"])
            remarks = td.locator("li.remark")
            assert remarks.count() == reasons, (row["district"], cell["intervention"])
            classes = (td.get_attribute("class") or "").split()
            if cell["differs"]:
                assert "flag" in classes, (row["district"], cell["intervention"])
            if reasons:
                flagged += 1
                assert classes, (row["district"], cell["intervention"])
                assert td.get_attribute("title") is None, "the reason is on the page, not in a tooltip"
                for i in range(reasons):
                    assert len(remarks.nth(i).inner_text().strip()) > 10
            else:
                assert classes == [], (row["district"], cell["intervention"])
    # Stable housing: no unit is shared by most districts, so each of the eleven says so.
    column = [c["intervention"] for c in body["columns"]].index("stable_housing_support")
    housing = page.locator(f"#equality tbody tr td:nth-of-type({column + 1})")
    assert housing.count() == 11
    for i in range(11):
        assert "Ingen enhet är gemensam för flertalet stadsdelar" in housing.nth(i).inner_text()
        assert "flag" in (housing.nth(i).get_attribute("class") or "").split()
    assert flagged > 11
    farsta = page.locator('#equality tbody tr[data-district="farsta"]').inner_text()
    assert "Skärpt frist för Förhandsbedömning: inom 10 dagar i stället för 14 från att orosanmälan om barn inkom." in farsta
    sodermalm = page.locator('#equality tbody tr[data-district="sodermalm"]').inner_text()
    assert "inom 5 dagar i stället för 7 från att placering i skyddat boende påbörjades" in sodermalm
    session.shot("equality_flags")
    assert session.problems == []


def test_swedish_only_never_the_ids(browser: Browser, server: ServerProcess) -> None:
    body = matrix(server)
    session = open_page(browser, server)
    page = session.page
    for details in page.locator("#equality details").all():
        details.evaluate("d => d.open = true")  # the local instructions' own words too
    text = page.locator("main").inner_text()
    words = set(re.findall(r"[A-Za-z_]+", text))
    ids = {c["intervention"] for c in body["columns"]}
    ids |= {u["id"] for r in body["districts"] for c in r["cells"] for u in c["units"] if u["id"]}
    ids |= {s for r in body["districts"] for c in r["cells"] for s in c["steps"]}
    assert not words & (ids | ENGLISH), words & (ids | ENGLISH)
    assert "avviker från flertalet: unit" not in text.lower()
    assert "JSON" in text and "CSV" in text  # the downloads, named by their formats


def test_the_district_column_stays_in_view_while_the_matrix_scrolls(browser: Browser, server: ServerProcess) -> None:
    session = open_page(browser, server, width=1000)
    page = session.page
    box = page.locator("#equality").locator("xpath=..")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"), "the page itself does not scroll"
    assert box.evaluate("b => b.scrollWidth > b.clientWidth + 500"), "the matrix is wider than its box"
    first = page.locator('#equality tbody tr[data-district="bromma"] th')
    before = first.bounding_box()
    box.evaluate("b => { b.scrollLeft = b.scrollWidth; }")
    page.wait_for_function("() => document.querySelector('#equality').parentElement.scrollLeft > 500")
    after = first.bounding_box()
    assert before is not None and after is not None and abs(after["x"] - before["x"]) < 1
    # Nothing covers it: the point at its middle is the district's own cell.
    covered = first.evaluate(
        """th => { const r = th.getBoundingClientRect();
                   const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                   return th.contains(hit); }"""
    )
    assert covered is True
    last = page.locator('#equality tbody tr[data-district="bromma"] td').last
    last_box = last.bounding_box()
    assert last_box is not None and last_box["x"] > after["x"] + after["width"] - 1, (
        "the last column scrolled into view beside it"
    )
    session.shot("equality_scrolled")
    assert session.problems == []


def test_equality_in_practice_and_its_rule(browser: Browser, server: ServerProcess) -> None:
    session = open_page(browser, server)
    page = session.page
    section = page.locator("#practice")
    assert "mer än 10 procentenheter" in page.locator("#practice-rule").inner_text()
    rows = page.locator("#practice-table tbody tr")
    assert rows.count() == 12, "the city and every district"
    assert rows.first.locator("th").inner_text() == "Hela staden"
    for td in page.locator("#practice-table td.flag").all():
        assert "procentenheter" in td.inner_text() and "än staden" in td.inner_text()
    assert section.is_visible()
    session.shot("equality_practice")


def test_no_accessibility_violations(browser: Browser, server: ServerProcess) -> None:
    session = open_page(browser, server)
    found = axe.violations(session.page)
    assert found == [], found
