"""The service's settings, from the environment (prefix ``BRYTUPP_``).

``DATABASE_URL`` is also read without the prefix, as hosting platforms set it.

``BRYTUPP_ENVIRONMENT`` is ``production`` unless set: then the service refuses to
start without a signing key of at least 32 bytes (or a JWKS address) and without a
database URL, rather than quietly making a local key or writing its own SQLite
file beside another instance's.  ``development`` (what ``make run`` and the tests
set) brings the conveniences back: SQLite under ``var/`` and a key file made there,
so that ``brytupp token`` and ``brytupp serve`` on one machine agree.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .goals import GoalSettings

DEV_DATABASE_URL = "sqlite:///var/brytupp.sqlite"
MIN_KEY_BYTES = 32


class InsecureSettings(ValueError):
    """Production settings that would start the service insecurely."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BRYTUPP_", extra="ignore")

    environment: Literal["production", "development"] = Field(
        default="production",
        description="`development` allows a local key file and the default SQLite file; production requires both settings.",
    )
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("BRYTUPP_DATABASE_URL", "DATABASE_URL"),
        description=f"SQLAlchemy URL; PostgreSQL as postgresql+psycopg://user@host:port/db. In development: {DEV_DATABASE_URL}.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    processes: list[Path] = Field(default_factory=lambda: [Path("processes"), Path("local_overrides")])
    reload_interval: float = Field(
        default=1.0, description="Seconds between checks of the process files, where they are read; 0 checks them at start only."
    )
    watch_files: bool | None = Field(
        default=None,
        description=(
            "Read the process files and publish each good version as current (development). Default: on in "
            "development, off in production, where versions arrive through `brytupp publish`."
        ),
    )
    follow_interval: float = Field(
        default=0.5,
        description="Seconds between checks of the database's current process versions (PostgreSQL's NOTIFY wakes it at once).",
    )
    jwt_key: str | None = Field(default=None, description="Shared secret for HS256 tokens.")
    jwks_url: str | None = Field(default=None, description="JWKS address of the city's identity provider (RS256/ES256).")
    jwt_issuer: str = "brytupp"
    jwt_audience: str = "brytupp"
    key_file: Path = Path("var/jwt.key")
    max_token_hours: float = Field(default=12, gt=0, description="Tokens whose exp - iat is longer are refused.")
    revocation_refresh: float = Field(
        default=0.5, ge=0, description="Seconds an instance may go without taking new revocations (logouts) from the database."
    )
    max_body_bytes: int = Field(default=64 * 1024, description="Larger request bodies get 413.")
    max_draft_bytes: int = Field(
        default=256 * 1024, gt=0, description="A process file drafted larger than this gets 413 (the central one is about 50 KB)."
    )
    timezone: str = Field(default="Europe/Stockholm", description="'Today' for due dates is the date here.")
    switch_interval: float = Field(
        default=0.0005,
        description=(
            "Seconds a Python thread may hold the interpreter before another runs (sys.setswitchinterval). "
            "The default 5 ms lets request threads keep the audit group-commit thread waiting; measured "
            "with bench/api.py, 0.5 ms nearly doubled next-step throughput on PostgreSQL."
        ),
    )
    workers: int = Field(default=1, ge=1, description="Worker processes of `brytupp serve` (a process each, one migration).")
    shutdown_seconds: int = Field(
        default=5, ge=1, description="On SIGTERM, requests in flight get this long to finish before the workers stop."
    )
    metrics: bool = Field(default=True, description="Serve Prometheus metrics at /metrics (no personal data; no token).")
    bench_endpoints: bool = Field(default=False, description="Serve the two reference endpoints bench/api.py compares against.")
    pool_size: int = Field(
        default=10,
        ge=1,
        description=(
            "Database connections a process keeps open; with max_overflow, what each worker may hold. The budget: "
            "instances x workers x (pool_size + max_overflow + 2) <= max_connections - reserve (README)."
        ),
    )
    # 0: a connection opened beyond the pool is closed again when it comes back, so under load every
    # request paid a connect (bench/api.py: a tenth of a decision request's time on PostgreSQL).
    max_overflow: int = Field(default=0, ge=0, description="Connections opened beyond pool_size under load.")
    pool_timeout: float = Field(default=10, gt=0, description="Seconds a request waits for a free connection before a 503.")
    transaction_pooling: bool = Field(
        default=False,
        description=(
            "The database URL is a pooler in transaction mode (PgBouncer pool_mode=transaction): no prepared "
            "statements, no LISTEN, and the role's own timezone must be UTC."
        ),
    )
    migrate_on_start: bool = Field(
        default=True,
        description=(
            "Migrate the schema at start (under a lock). Off in production, where `brytupp migrate` is the deploy "
            "job's step: an instance on an older schema then starts not ready and waits until the job has run."
        ),
    )
    migrate_database_url: str = Field(
        default="",
        description="Where migrations connect behind a transaction pooler: the server itself (default: DATABASE_URL).",
    )
    goals: GoalSettings = Field(
        default_factory=GoalSettings,
        description="The effect goals' open definitions (api/goals/definitions.py), each from BRYTUPP_GOAL_<FIELD>.",
    )
    retention_years: int = Field(
        default=5,
        ge=1,
        le=100,
        description=(
            "brytupp purge erases closed cases whose last note is older than this many years: five, "
            "socialtjänstlagen (2001:453) 12 kap. 1 § (api/retention.py has the exceptions)."
        ),
    )

    @model_validator(mode="after")
    def _refuse_insecure_defaults(self) -> Settings:
        if self.environment == "development":
            self.database_url = self.database_url or DEV_DATABASE_URL
            return self
        missing = []
        if not self.database_url:
            missing.append("BRYTUPP_DATABASE_URL (or DATABASE_URL)")
        if not self.jwks_url and len((self.jwt_key or "").encode()) < MIN_KEY_BYTES:
            missing.append(f"BRYTUPP_JWT_KEY of at least {MIN_KEY_BYTES} bytes (or BRYTUPP_JWKS_URL)")
        if missing:
            raise InsecureSettings(
                "production needs " + " and ".join(missing) + "; for development set BRYTUPP_ENVIRONMENT=development"
            )
        return self

    @property
    def reads_files(self) -> bool:
        return self.watch_files if self.watch_files is not None else self.environment == "development"

    def cursor_key(self) -> bytes:
        """What worklist cursors are signed with: the same on every instance, secret as the token key
        (or, with an identity provider's keys and no local one, as the database's credentials)."""
        secret = self.jwt_key or (self.signing_key() if self.environment == "development" else self.database_url)
        return hashlib.sha256(b"brytupp worklist cursor\0" + secret.encode()).digest()

    def signing_key(self) -> str:
        """The HS256 key: configured, or in development the local key file (created on first use)."""
        if self.jwt_key:
            return self.jwt_key
        if self.environment != "development":
            raise InsecureSettings(f"production needs BRYTUPP_JWT_KEY of at least {MIN_KEY_BYTES} bytes")
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
