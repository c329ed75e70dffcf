"""Tokens: what a token must carry, how long it may live, how it is taken back, and what
production refuses to start without.  SQLite and PostgreSQL where a database is involved."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from typer.testing import CliRunner

from api.auth import Role, mint
from api.cli import app as cli
from api.settings import Settings
from tests.service import KEY, Service


def token(service: Service, **claims: Any) -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    body: dict[str, Any] = {
        "sub": "anna",
        "role": "caseworker",
        "district": "farsta",
        "iss": service.settings.jwt_issuer,
        "aud": service.settings.jwt_audience,
        "iat": now,
        "exp": now + dt.timedelta(hours=1),
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return {"Authorization": "Bearer " + jwt.encode(body, KEY, algorithm="HS256")}


class TestWhatATokenMustCarry:
    @pytest.mark.parametrize("missing", ["exp", "iat", "sub"])
    def test_a_token_without_a_required_claim_is_401(self, service: Service, missing: str) -> None:
        response = service.client.get("/processes", headers=token(service, **{missing: None}))
        assert response.status_code == 401
        assert missing in response.json()["detail"]

    def test_a_token_living_longer_than_the_maximum_is_401(self, service: Service) -> None:
        now = dt.datetime.now(dt.UTC)
        long = token(service, iat=now, exp=now + dt.timedelta(hours=13))
        response = service.client.get("/processes", headers=long)
        assert response.status_code == 401 and "12 hours" in response.json()["detail"]
        assert service.client.get("/processes", headers=token(service)).status_code == 200

    def test_a_token_issued_in_the_future_is_401(self, service: Service) -> None:
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        assert service.client.get("/processes", headers=token(service, iat=later, exp=later + dt.timedelta(hours=1))).status_code == 401

    @pytest.mark.parametrize(
        "claims",
        [
            {"sub": "x" * 129},
            {"sub": "anna\x00"},
            {"jti": "j" * 65},
            {"district": "d" * 200},
            {"district": "Farsta Storgatan 1"},
            {"role": "manager", "district": None},
            {"role": "manager", "district": "farsta", "scope": "city"},
            {"scope": "everything"},
        ],
    )
    def test_claims_that_do_not_fit_are_401_never_500(self, service: Service, claims: dict[str, Any]) -> None:
        """PostgreSQL answered 500 to a 'sub' over 128 characters: it reached the audit row."""
        case = service.client.post(
            "/cases", json={"district": "farsta", "reference": "k-0001", "facts": {"age": 30}}, headers=service.headers()
        ).json()
        response = service.client.get(f"/cases/{case['id']}", headers=token(service, **claims))
        assert response.status_code == 401, response.text
        for name in ("sub", "jti", "district", "scope"):
            value = claims.get(name)
            if isinstance(value, str) and len(value) > 4:
                assert value not in response.text


class TestTakingATokenBack:
    def test_logout_revokes_the_token_and_only_that_token(self, service: Service) -> None:
        first, second = service.headers(subject="anna"), service.headers(subject="anna")
        assert service.client.get("/processes", headers=first).status_code == 200
        assert service.client.post("/auth/logout", headers=first).status_code == 204
        refused = service.client.get("/processes", headers=first)
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
        assert service.client.get("/processes", headers=second).status_code == 200

    def test_logout_of_a_token_without_jti_holds_for_every_spelling_of_it(self, service: Service) -> None:
        """PyJWT accepts a padded signature: a digest of the token's text took it for another token."""
        plain = token(service)
        assert service.client.post("/auth/logout", headers=plain).status_code == 204
        padded = {"Authorization": plain["Authorization"] + "="}
        refused = service.client.get("/processes", headers=padded)
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]

    def test_a_subject_that_looks_like_a_personal_identity_number_is_refused(self, service: Service) -> None:
        response = service.client.get("/processes", headers=token(service, sub="19850312-3772"))
        assert response.status_code == 401 and "3772" not in response.text

    def test_logging_out_of_the_pages_revokes_the_token_for_the_api_too(self, service: Service) -> None:
        from api.routes.pages import COOKIE

        manager = service.headers(Role.manager, subject="maja")
        service.client.cookies.set(COOKIE, manager["Authorization"].removeprefix("Bearer "), path="/ui")
        out = service.client.post("/ui/logout", headers={"origin": "http://testserver"}, follow_redirects=False)
        assert out.status_code == 303
        assert service.client.get("/processes", headers=manager).status_code == 401

    def test_revoke_command_takes_back_every_token_of_a_subject_on_every_instance(
        self, service: Service, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from tests.service import settings_for

        anna, bo = service.headers(subject="anna"), service.headers(subject="bo")
        monkeypatch.setenv("BRYTUPP_DATABASE_URL", database_url)
        monkeypatch.setenv("BRYTUPP_JWT_KEY", KEY)
        result = CliRunner().invoke(cli, ["revoke", "--subject", "anna", "--by", "admin-1"])
        assert result.exit_code == 0, result.output
        # A second instance on the same database refuses it too: the deny list is in the database, and
        # every instance takes its new rows within BRYTUPP_REVOCATION_REFRESH (0.5 s).
        with Service(settings_for(database_url, service.settings.processes)) as other:
            for svc in (service, other):
                deadline = time.monotonic() + 5
                while svc.client.get("/processes", headers=anna).status_code != 401:
                    assert time.monotonic() < deadline, "the revocation never reached this instance"
                    time.sleep(0.1)
                assert svc.client.get("/processes", headers=bo).status_code == 200
            # A token issued after the revocation works: the person may log in again.
            later = {"Authorization": "Bearer " + _later_token(service.settings, "anna")}
            again = other.client.get("/processes", headers=later)
            assert again.status_code == 200, again.text


def _later_token(settings: Settings, subject: str) -> str:
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    claims = {"sub": subject, "role": "caseworker", "district": "farsta", "iss": settings.jwt_issuer, "aud": settings.jwt_audience}
    return jwt.encode({**claims, "iat": now, "exp": now + dt.timedelta(hours=1)}, KEY, algorithm="HS256")


class TestProductionRefusesInsecureDefaults:
    def test_without_a_key_or_a_database_url_production_does_not_start(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("BRYTUPP_JWT_KEY", "BRYTUPP_DATABASE_URL", "DATABASE_URL", "BRYTUPP_JWKS_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("BRYTUPP_ENVIRONMENT", "production")
        with pytest.raises(ValueError, match=r"BRYTUPP_DATABASE_URL.*BRYTUPP_JWT_KEY"):
            Settings()
        with pytest.raises(ValueError, match="at least 32 bytes"):
            Settings(database_url="sqlite:///x.sqlite", jwt_key="short")
        assert Settings(database_url="sqlite:///x.sqlite", jwt_key=KEY).jwt_key == KEY
        result = CliRunner().invoke(cli, ["serve"])
        assert result.exit_code == 2 and "BRYTUPP_ENVIRONMENT=development" in result.output

    def test_development_keeps_its_conveniences_explicitly(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("BRYTUPP_DATABASE_URL", raising=False)
        monkeypatch.delenv("DATABASE_URL", raising=False)
        settings = Settings(environment="development", key_file=tmp_path / "jwt.key")
        assert settings.database_url.startswith("sqlite:///")
        assert mint(settings, "anna", Role.manager)
        assert (tmp_path / "jwt.key").exists()
