"""The service's set-up: migrations match the models, tokens from a key or a JWKS
address, the command line that mints them, the docs page without a CDN."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import jwt
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import SQLModel
from typer.testing import CliRunner

from api.auth import Role, Verifier, mint
from api.cli import app as cli
from api.db import make_engine, migrate
from api.errors import ApiError
from api.settings import Settings
from tests.service import KEY, Service


def test_migrations_create_exactly_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    migrate(engine)  # a second start finds nothing to do
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_docs_are_served_without_a_cdn(service: Service) -> None:
    page = service.client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "/static/swagger/swagger-ui-bundle.js" in page.text
    assert service.client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert service.client.get("/openapi.json").json()["info"]["title"].startswith("Bryt upp")


class TestTokens:
    settings = Settings(jwt_key=KEY)

    def test_a_minted_token_verifies(self) -> None:
        principal = Verifier(self.settings).verify(mint(self.settings, "anna", Role.caseworker, "farsta"))
        assert (principal.subject, principal.role, principal.district) == ("anna", Role.caseworker, "farsta")

    def test_an_expired_token_is_refused(self) -> None:
        token = mint(self.settings, "anna", Role.caseworker, "farsta", hours=-1)
        with pytest.raises(ApiError, match="expired"):
            Verifier(self.settings).verify(token)

    def test_a_caseworker_token_without_district_is_refused(self) -> None:
        token = mint(self.settings, "anna", Role.caseworker)
        with pytest.raises(ApiError, match="district"):
            Verifier(self.settings).verify(token)

    def test_token_command(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("BRYTUPP_JWT_KEY", KEY)
        result = CliRunner().invoke(cli, ["token", "--role", "caseworker", "--district", "farsta", "--subject", "anna"])
        assert result.exit_code == 0, result.output
        principal = Verifier(self.settings).verify(result.output.strip())
        assert principal.district == "farsta"
        refused = CliRunner().invoke(cli, ["token", "--role", "caseworker"])
        assert refused.exit_code == 2

    def test_without_a_key_a_local_key_file_is_made_once(self, tmp_path: Path) -> None:
        settings = Settings(key_file=tmp_path / "var" / "jwt.key")
        token = mint(settings, "anna", Role.manager)
        assert (tmp_path / "var" / "jwt.key").stat().st_mode & 0o777 == 0o600
        assert Verifier(settings).verify(token).role == Role.manager


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    """The city's identity provider, as far as the service sees it: a JWKS document."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    document = json.dumps({"keys": [{**public, "kid": "city-1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json", key
    server.shutdown()


def test_tokens_from_a_jwks_address(jwks_server: tuple[str, rsa.RSAPrivateKey]) -> None:
    url, key = jwks_server
    settings = Settings(jwks_url=url, jwt_issuer="https://idp.stockholm.example", jwt_audience="brytupp")
    now = dt.datetime.now(dt.UTC)
    claims = {"sub": "anna", "role": "caseworker", "district": "farsta", "iss": settings.jwt_issuer, "aud": "brytupp", "iat": now}
    good = jwt.encode({**claims, "exp": now + dt.timedelta(minutes=5)}, key, algorithm="RS256", headers={"kid": "city-1"})
    assert Verifier(settings).verify(good).district == "farsta"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({**claims, "exp": now + dt.timedelta(minutes=5)}, other, algorithm="RS256", headers={"kid": "city-1"})
    with pytest.raises(ApiError, match="invalid token"):
        Verifier(settings).verify(forged)
