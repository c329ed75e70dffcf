"""Security headers on every answer, no caching of case data, and forms that only this site can post."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest

from api.auth import Role
from api.headers import POLICY
from api.routes.pages import COOKIE
from tests.service import Service

FACTS = {"age": 34, "entry_channel": "self_referral", "needs": ["financial"], "consent_joint_handling": True}
SAME = {"origin": "http://testserver"}


def create(service: Service) -> dict[str, Any]:
    body = {"district": "farsta", "reference": "klient-0001", "facts": FACTS, "opened": "2025-02-03"}
    response = service.client.post("/cases", json=body, headers=service.headers())
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_secured(response: Any) -> None:
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "unsafe-eval" not in csp


def test_every_answer_carries_the_headers(service: Service) -> None:
    case = create(service)
    manager = service.headers(Role.manager)
    answers = {
        "health": service.client.get("/health"),
        "no token": service.client.get(f"/cases/{case['id']}"),
        "case": service.client.get(f"/cases/{case['id']}", headers=service.headers()),
        "login page": service.client.get("/ui/login"),
        "static": service.client.get("/static/app/brytupp.css"),
        "no route": service.client.get("/nowhere"),
        "too large": service.client.post("/cases", content=b"x" * 2_000_000, headers=service.headers()),
        "invalid": service.client.post("/cases", json={"district": "farsta"}, headers=service.headers()),
        "openapi": service.client.get("/openapi.json"),
        "audit": service.client.get("/audit", headers=manager),
    }
    for name, response in answers.items():
        assert response.status_code < 500, name
        assert_secured(response)
        assert response.headers["content-security-policy"] == POLICY, name
    assert answers["too large"].status_code == 413


def test_case_data_is_never_cached(service: Service) -> None:
    case = create(service)
    caseworker, manager = service.headers(), service.headers(Role.manager)
    decide = {"district": "farsta", "opened": "2025-02-03", "facts": FACTS}
    answers = [
        service.client.get(f"/cases/{case['id']}", headers=caseworker),
        service.client.get(f"/cases/{case['id']}/events", headers=caseworker),
        service.client.get(f"/cases/{case['id']}/next-steps", headers=caseworker),
        service.client.post("/decide", json=decide, headers=caseworker),
        service.client.get("/units/farsta_mottagning/overdue", headers=caseworker),
        service.client.get("/audit", headers=manager),
        service.client.get("/ui/login"),
        service.client.get(f"/cases/{case['id']}"),
    ]
    service.client.cookies.set(COOKIE, caseworker["Authorization"].removeprefix("Bearer "))
    answers.append(service.client.get(f"/ui/cases/{case['id']}"))
    assert answers[-1].status_code == 200
    for response in answers:
        assert response.headers["cache-control"] == "no-store", response.request.url
    static = service.client.get("/static/app/brytupp.css")
    assert static.status_code == 200 and "cache-control" not in static.headers


def test_the_pages_have_no_inline_script_or_style(service: Service) -> None:
    service.client.cookies.set(COOKIE, service.headers(Role.manager)["Authorization"].removeprefix("Bearer "))
    for path in ("/ui/login", "/ui", "/ui/equality", "/ui/goals", "/ui/districts/farsta"):
        response = service.client.get(path)
        assert response.status_code == 200, path
        html = response.text
        assert not re.search(r"<script(?![^>]*\b(src|type=\"application/json\"))[^>]*>", html), path
        assert "<style" not in html and " style=" not in html.split("<svg")[0], path


def test_the_api_docs_may_run_their_own_inline_script_only(service: Service) -> None:
    response = service.client.get("/docs")
    assert response.status_code == 200
    assert_secured(response)
    [script] = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = response.headers["content-security-policy"]
    assert f"script-src 'self' 'sha256-{digest}'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert int(response.headers["content-length"]) == len(response.content)


class TestLoginForm:
    def token(self, service: Service) -> str:
        return service.headers(Role.manager)["Authorization"].removeprefix("Bearer ")

    @pytest.mark.parametrize(
        "headers",
        [
            {"origin": "https://evil.example"},
            {"origin": "null"},
            {"origin": "http://testserver.evil.example"},
            {"referer": "https://evil.example/ui/login"},
            {},
        ],
        ids=["other-origin", "null-origin", "lookalike", "other-referer", "neither"],
    )
    def test_a_cross_site_login_is_refused(self, service: Service, headers: dict[str, str]) -> None:
        response = service.client.post(
            "/ui/login", data={"token": self.token(service), "next": "/ui"}, headers=headers, follow_redirects=False
        )
        assert response.status_code == 403
        assert "avvisades" in response.text
        assert "set-cookie" not in response.headers
        assert_secured(response)

    @pytest.mark.parametrize("headers", [SAME, {"referer": "http://testserver/ui/login"}])
    def test_a_login_from_the_site_itself_is_taken(self, service: Service, headers: dict[str, str]) -> None:
        response = service.client.post(
            "/ui/login", data={"token": self.token(service), "next": "/ui"}, headers=headers, follow_redirects=False
        )
        assert response.status_code == 303
        assert COOKIE in response.headers["set-cookie"]

    def test_logout_is_a_post_from_the_site_itself(self, service: Service) -> None:
        assert service.client.get("/ui/logout", follow_redirects=False).status_code == 405
        foreign = service.client.post("/ui/logout", headers={"origin": "https://evil.example"}, follow_redirects=False)
        assert foreign.status_code == 403 and "set-cookie" not in foreign.headers
        own = service.client.post("/ui/logout", headers=SAME, follow_redirects=False)
        assert own.status_code == 303 and own.headers["location"] == "/ui/login"
        assert f'{COOKIE}=""' in own.headers["set-cookie"]
