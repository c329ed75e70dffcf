"""Dependencies the routes share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import HTTPException, Request
from sqlmodel import Session

from ..audit import AuditWriter
from ..auth import Principal
from ..db import sessions


def _started(app: Any) -> None:
    # An instance waiting for `brytupp migrate` (api/db.py start_when_migrated) has no registry yet
    # and perhaps no tables: a 503 the caller may retry, not an incident.
    if getattr(app.state, "registry", None) is None:
        raise HTTPException(503, "this instance is waiting for the database migration; try again shortly", {"Retry-After": "5"})


def once_started(app: Any, is_revoked: Callable[[Principal], bool]) -> Callable[[Principal], bool]:
    """The token's revocation check, after the started check: it is the first query of every
    authenticated request, before the route's own session."""

    def check(principal: Principal) -> bool:
        _started(app)
        return is_revoked(principal)

    return check


def db(request: Request) -> Iterator[Session]:
    _started(request.app)
    yield from sessions(request.app.state.engine)


def reader_db(request: Request) -> Iterator[Session]:
    """For routes that only read: their audit record goes through the group commit."""
    _started(request.app)
    yield from sessions(request.app.state.reader)


def audit_writer(request: Request) -> AuditWriter:
    writer: AuditWriter = request.app.state.audit_writer
    return writer
