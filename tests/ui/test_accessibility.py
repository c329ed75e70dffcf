"""Every page, as the people who use it see it, has no axe violations (WCAG 2.x A/AA and axe's best
practices), in Chromium; a screenshot of each is kept in test-output/screenshots/ (issue 17)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser

from api.auth import Role, mint
from tests.service import ServerProcess, copy_processes, fresh_database, settings_for
from tests.ui.axe import violations
from tests.ui.test_browser import Session, browser  # noqa: F401  (browser: the shared Chromium fixture)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    from api.demo_data import load_demo_data

    where = tmp_path_factory.mktemp("a11y")
    settings = settings_for(fresh_database("sqlite", where, None), copy_processes(where))
    load_demo_data(settings, 40, [2024, 2025], seed=3, today=dt.date(2026, 1, 15))
    proc = ServerProcess(settings, where).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def case_id(server: ServerProcess) -> str:
    headers = {"Authorization": "Bearer " + mint(server.settings, "anna", Role.caseworker, "farsta")}
    opened = (dt.date.today() - dt.timedelta(days=5)).isoformat()
    body = {"district": "farsta", "reference": "tillganglighet-1", "facts": {"age": 34, "needs": ["housing"]}, "opened": opened}
    answer = httpx.post(server.url + "/cases", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def signed_in(browser: Browser, server: ServerProcess, role: Role, district: str | None) -> Session:  # noqa: F811
    session = Session(browser.new_context(viewport={"width": 1400, "height": 900}, locale="sv-SE").new_page())
    session.page.goto(server.url + "/ui/login")
    session.page.fill("#token", mint(server.settings, f"a11y-{role.value}", role, district))
    session.page.press("#token", "Enter")
    session.page.wait_for_load_state("networkidle")
    return session


PAGES = {
    (Role.caseworker, "farsta"): ["/ui/work", "/ui/cases", "/ui/cases/{case}"],
    (Role.manager, None): ["/ui", "/ui/workload", "/ui/equality", "/ui/goals", "/ui/districts/farsta", "/ui/districts/okand"],
    (Role.manager, "farsta"): ["/ui/workload", "/ui/districts/farsta/history"],
    (Role.implementer, "farsta"): ["/ui/drafts/farsta", "/ui/districts/farsta/history"],
    (Role.process_owner, None): ["/ui/proposals", "/ui/districts/central"],
}


@pytest.mark.parametrize(("role", "district", "path"), [(r, d, p) for (r, d), paths in PAGES.items() for p in paths])
def test_the_page_has_no_accessibility_violations(
    browser: Browser,  # noqa: F811
    server: ServerProcess,
    case_id: str,
    role: Role,
    district: str | None,
    path: str,
) -> None:
    session = signed_in(browser, server, role, district)
    session.page.goto(server.url + path.format(case=case_id))
    session.page.wait_for_load_state("networkidle")
    assert "/ui/login" not in session.page.url and session.page.locator("header .who").count() == 1, "signed in"
    found = violations(session.page)
    name = f"a11y-{role.value}-{district or 'staden'}-{path.strip('/').replace('/', '_').replace('{case}', 'case') or 'start'}"
    session.shot(name)
    assert found == [], "\n".join(f"{v['id']} ({v['impact']}): {v['help']}: {v['nodes'][:3]}" for v in found)


def test_the_login_page_has_no_accessibility_violations(browser: Browser, server: ServerProcess) -> None:  # noqa: F811
    page = browser.new_context().new_page()
    page.goto(server.url + "/ui/login")
    assert violations(page) == []
