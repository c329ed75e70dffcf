"""A refusal or failure under /ui is a page in Swedish with the navigation, never the API's JSON;
the API's own answers stay JSON.  Like every answer, a page repeats nothing that was sent."""

from __future__ import annotations

import httpx
import pytest

from api.auth import Role
from api.routes.pages import COOKIE
from tests.service import Service

PIN = "19121212-1212"


def as_(service: Service, role: Role, district: str | None) -> None:
    service.client.cookies.set(COOKIE, service.headers(role, district)["Authorization"].removeprefix("Bearer "))


def is_page(response: httpx.Response, status: int) -> str:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    text = response.text
    assert '<html lang="sv">' in text and "Det gick inte" in text
    return text


@pytest.mark.parametrize(
    ("path", "status", "said"),
    [
        ("/ui/districts/okand", 404, "Det finns ingen process för den stadsdelen."),
        ("/ui/goals?years=abc", 422, "Åren anges som ÅÅÅÅ eller ÅÅÅÅ-ÅÅÅÅ"),
        ("/ui/districts/farsta?view=" + "x" * 5000, 200, None),
        ("/ui/no-such-page", 404, "Finns inte, eller hör inte till dina stadsdelar."),
        ("/ui/districts/Not%20An%20Id", 422, "Adressen har ett värde som sidan inte kan använda: district."),
    ],
)
def test_a_refusal_on_a_page_is_a_page_in_swedish_with_the_navigation(
    service: Service, path: str, status: int, said: str | None
) -> None:
    as_(service, Role.manager, None)
    response = service.client.get(path)
    if said is None:  # an unknown view falls back to the process view
        assert response.status_code == 200
        return
    text = is_page(response, status)
    assert said in text
    assert 'href="/ui/equality"' in text, "the navigation of the logged-in manager"


def test_a_page_a_role_may_not_see_says_which_role_it_needs(service: Service) -> None:
    as_(service, Role.caseworker, "farsta")
    text = is_page(service.client.get("/ui/goals"), 403)
    assert "Sidan kräver rollen chef." in text
    assert 'href="/ui/work"' in text
    assert "· Farsta stadsdelsförvaltning ·" in text, "the header names the district as people say it"


def test_an_error_page_repeats_nothing_that_was_sent(service: Service) -> None:
    as_(service, Role.manager, None)
    for path in (f"/ui/goals?years={PIN}", f"/ui/districts/{PIN}", f"/ui/cases/{PIN}"):
        response = service.client.get(path)
        assert response.status_code in (403, 404, 422), path
        assert PIN not in response.text and PIN.replace("-", "") not in response.text, path


def test_the_api_keeps_answering_in_json(service: Service) -> None:
    response = service.client.get("/processes/okand", headers=service.headers(Role.manager, None))
    assert response.status_code == 404 and response.headers["content-type"] == "application/json"
    response = service.client.get("/no-such-endpoint")
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}
