"""The effect goals page (/ui/goals) in headless Chromium, on the demo data of test_browser's server
(2023-2025): every figure with what it is made of, "inget att räkna" apart from 0, the figures that
miss their target marked by more than colour, which way is better, the last complete years by
default, no internal ids, one Swedish number convention, a table with every chart, the trend of
the city and one chosen district, and no axe violations.  The figures are checked against the JSON
report the page is made from (GET /reports/goals)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page

from api.auth import Role
from tests.service import ServerProcess
from tests.ui import axe
from tests.ui.test_browser import SCREENSHOTS, Session, browser, login, server

__all__ = ["browser", "server"]  # the fixtures, shared with test_browser.py

NBSP = "\u00a0"


def report(server: ServerProcess, years: str, district: str | None = None) -> dict[str, Any]:
    answer = httpx.get(
        server.url + "/reports/goals",
        params={"years": years, **({"district": district} if district else {})},
        headers=server.headers(Role.manager, district),
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def open_goals(session: Session, server: ServerProcess, query: str = "") -> Page:
    page = session.page
    page.goto(server.url + "/ui/goals" + query)
    page.wait_for_selector("body[data-charts=ready]")
    # The tables sit in <details>: opened, their text counts as the page's.
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    return page


def table_rows(page: Page, selector: str) -> list[list[str]]:
    rows: list[list[str]] = page.eval_on_selector_all(
        selector + " tbody tr", "rows => rows.map(r => [...r.children].map(c => c.innerText.trim()))"
    )
    return rows


def swedish(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text).replace(".", ",")


def shown(goal: dict[str, Any], value: float | None) -> str:
    if value is None:
        return "inget att räkna"
    return swedish(value * 100, 1) + NBSP + "%" if goal["kind"] == "share" else swedish(value, 2)


@pytest.fixture(scope="module")
def city(browser: Browser, server: ServerProcess) -> Session:
    return login(browser, server, Role.manager)


def test_every_figure_says_what_it_is_made_of_and_whether_it_meets_the_target(city: Session, server: ServerProcess) -> None:
    page = open_goals(city, server, "?years=2023-2025")
    data = report(server, "2023-2025")
    labels = data["districts"]
    unmet = 0
    for goal in data["goals"]:
        rows = {r[0]: r for r in table_rows(page, f"#bars-{goal['goal']}-table")}
        word = "av" if goal["kind"] == "share" else "mot"
        patterned = page.evaluate(
            f"Chart.getChart('bars-{goal['goal']}').data.datasets[0].backgroundColor.map(c => c instanceof CanvasPattern)"
        )
        for n, row in enumerate(i for i in data["indicators"] if i["goal"] == goal["goal"] and i["year"] == 2025):
            name = "Staden" if row["district"] is None else labels[row["district"]].removesuffix(" stadsdelsförvaltning")
            name = name.removesuffix("s") if row["district"] else name
            _, value, count, verdict = rows[name]
            assert value == shown(goal, row["value"]), (goal["goal"], name)
            assert count == f"{row['numerator']} {word} {row['denominator']}", (goal["goal"], name)
            assert verdict == {None: "inget att räkna", True: "når målet", False: "når inte målet"}[row["met"]]
            # The chart marks a missed target by stripes, not only by colour.
            assert patterned[n] is (row["met"] is False), (goal["goal"], name)
            unmet += row["met"] is False
    assert unmet > 0, "the demo data has figures under their targets, so the marker is seen"
    city.shot("goals_made_of")
    page.locator("#goal-4").screenshot(path=str(SCREENSHOTS / "goals_goal_4.png"))
    assert city.problems == []


def test_nothing_to_count_is_not_zero(city: Session, server: ServerProcess) -> None:
    # 2022 has no data: goals 2, 3 and 5 have nothing to count; goal 4 is 0 referrals against the
    # baseline 2024's, a real 0.
    page = open_goals(city, server, "?years=2021-2022")
    for goal in (2, 3, 5):
        assert {r[1] for r in table_rows(page, f"#bars-{goal}-table")} == {"inget att räkna"}
        assert page.evaluate(f"Chart.getChart('bars-{goal}').data.datasets[0].data.every(v => v === null)")
    referrals = table_rows(page, "#bars-4-table")
    drawn = page.evaluate("Chart.getChart('bars-4').data.datasets[0].data")
    assert "0" in {r[1] for r in referrals}, "districts with baseline referrals have a real 0"
    for (_, value, count, _), bar in zip(referrals, drawn, strict=True):
        if value == "0":
            assert re.fullmatch(r"0 mot [1-9]\d*", count) and bar == 0, (count, bar)
        else:  # no referrals in the baseline year either: no ratio to draw
            assert (value, count, bar) == ("inget att räkna", "0 mot 0", None)
    trend = table_rows(page, "#trend-2-table")
    assert trend == [["2021", "inget att räkna (0 av 0)"], ["2022", "inget att räkna (0 av 0)"]]
    city.shot("goals_nothing_to_count")


def test_by_default_the_last_three_complete_years(city: Session, server: ServerProcess) -> None:
    this_year = dt.datetime.now(ZoneInfo("Europe/Stockholm")).year
    page = open_goals(city, server)
    first, last = this_year - 3, this_year - 1
    assert page.locator("h1").inner_text().endswith(f"{first}–{last}")
    assert page.locator("input[name=years]").input_value() == f"{first}-{last}"
    assert [r[0] for r in table_rows(page, "#trend-1-table")] == [str(y) for y in range(first, this_year)]


def test_words_not_ids_and_one_decimal_convention(city: Session, server: ServerProcess) -> None:
    page = open_goals(city, server, "?years=2023-2025")
    text = page.locator("main").inner_text()
    ids = [*report(server, "2025")["districts"], "shis_mellanbo", "at_least", "at_most", "None", "null"]
    leaked = [i for i in ids if re.search(rf"\b{i}\b", text)]
    assert leaked == [], leaked
    assert "_" not in text
    assert re.search(r"\d\.\d", text) is None, "no decimal point on the page"
    assert re.search(r"\d,\d", text), "decimal commas are there (goal 4's ratios, shares like 66,7 %)"
    assert "minst 1,25 gånger basåret" in text
    ticks = page.evaluate("Object.values(Chart.instances).flatMap(c => c.scales.y.ticks.map(t => t.label))")
    assert ticks and not [t for t in ticks if "." in t], ticks
    assert any("," in t for t in ticks), "goal 4's axis has fractional ticks, with a comma"
    senses = [page.locator(f"#goal-{g} .better").inner_text() for g in range(1, 6)]
    assert senses == ["Högre värde är bättre"] * 2 + ["Lägre värde är bättre"] + ["Högre värde är bättre"] * 2


def test_every_chart_has_its_table(city: Session, server: ServerProcess) -> None:
    page = open_goals(city, server, "?years=2023-2025")
    canvases = page.locator("canvas")
    assert canvases.count() == 10
    for n in range(canvases.count()):
        canvas = canvases.nth(n)
        assert canvas.get_attribute("role") == "img" and canvas.get_attribute("aria-label")
        table = page.locator("#" + str(canvas.get_attribute("aria-details")))
        assert table.evaluate("t => t.tagName") == "TABLE"
        assert table.locator("caption").inner_text()
        assert table.locator("tbody tr").count() in (3, 12), "a year per row, or the 11 districts and the city"


def test_the_trend_is_the_city_and_one_chosen_district(city: Session, server: ServerProcess, browser: Browser) -> None:
    page = open_goals(city, server, "?years=2023-2025")
    legend = "Chart.getChart('trend-2').data.datasets.map(d => d.label)"
    assert page.evaluate(legend)[:-1] == ["Staden"], "a city manager starts with the city alone"
    page.select_option("#trend", "farsta")
    page.get_by_role("button", name="Visa").click()
    page.wait_for_url("**trend=farsta**")
    page.wait_for_selector("body[data-charts=ready]")
    assert page.evaluate(legend)[:-1] == ["Staden", "Farsta"]
    head = page.eval_on_selector_all("#trend-2-table thead th", "ths => ths.map(t => t.textContent)")
    assert head == ["År", "Staden", "Farsta"]
    city.shot("goals_trend_farsta")
    assert city.problems == []

    own = login(browser, server, Role.manager, "farsta")
    page = open_goals(own, server, "?years=2023-2025")
    assert page.locator("#trend").input_value() == "farsta", "a district's manager starts with their own district"
    assert page.evaluate(legend)[:-1] == ["Farsta"]
    assert own.problems == []


def test_an_unknown_trend_district_is_refused_without_repeating_it(city: Session, server: ServerProcess) -> None:
    response = city.page.goto(server.url + "/ui/goals?trend=atlantis")
    assert response is not None and response.status == 404
    assert "atlantis" not in city.page.locator("main").inner_text()


def test_no_accessibility_violations(city: Session, server: ServerProcess) -> None:
    page = open_goals(city, server, "?years=2023-2025")
    found = axe.violations(page)
    assert found == [], found
    # The check sees what it should: an image without a text alternative is a violation.
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/static/app/favicon.svg\">')")
    assert "image-alt" in {v["id"] for v in axe.violations(page)}
