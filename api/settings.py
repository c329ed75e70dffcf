"""The service's settings, from the environment (prefix ``BRYTUPP_``).

``DATABASE_URL`` is also read without the prefix, as hosting platforms set it.
Without a JWT key or JWKS address the service uses a key file it creates under
``var/``, so that ``brytupp token`` and ``brytupp serve`` on one machine agree;
production sets ``BRYTUPP_JWT_KEY`` or ``BRYTUPP_JWKS_URL``.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .goals import GoalSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BRYTUPP_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/brytupp.sqlite",
        validation_alias=AliasChoices("BRYTUPP_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL; PostgreSQL as postgresql+psycopg://user@host:port/db.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    processes: list[Path] = Field(default_factory=lambda: [Path("processes"), Path("local_overrides")])
    reload_interval: float = Field(default=1.0, description="Seconds between checks of the process files; 0 turns reloading off.")
    jwt_key: str | None = Field(default=None, description="Shared secret for HS256 tokens.")
    jwks_url: str | None = Field(default=None, description="JWKS address of the city's identity provider (RS256/ES256).")
    jwt_issuer: str = "brytupp"
    jwt_audience: str = "brytupp"
    key_file: Path = Path("var/jwt.key")
    max_body_bytes: int = Field(default=64 * 1024, description="Larger request bodies get 413.")
    timezone: str = Field(default="Europe/Stockholm", description="'Today' for due dates is the date here.")
    switch_interval: float = Field(
        default=0.0005,
        description=(
            "Seconds a Python thread may hold the interpreter before another runs (sys.setswitchinterval). "
            "The default 5 ms lets request threads keep the audit group-commit thread waiting; measured "
            "with bench/api.py, 0.5 ms nearly doubled next-step throughput on PostgreSQL."
        ),
    )
    bench_endpoints: bool = Field(default=False, description="Serve the two reference endpoints bench/api.py compares against.")
    goals: GoalSettings = Field(
        default_factory=GoalSettings,
        description="The effect goals' open definitions (api/goals.py), each from BRYTUPP_GOAL_<FIELD>.",
    )

    def signing_key(self) -> str:
        """The HS256 key: configured, or the local key file (created on first use)."""
        if self.jwt_key:
            return self.jwt_key
        if self.key_file.exists():
            return self.key_file.read_text().strip()
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # Exclusive create: two processes starting at once must end up with one key.
        try:
            with self.key_file.open("x") as f:
                f.write(key)
            self.key_file.chmod(0o600)
        except FileExistsError:
            return self.key_file.read_text().strip()
        return key
