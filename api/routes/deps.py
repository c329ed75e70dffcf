"""Dependencies the routes share."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlmodel import Session

from ..audit import AuditWriter
from ..db import sessions


def db(request: Request) -> Iterator[Session]:
    yield from sessions(request.app.state.engine)


def reader_db(request: Request) -> Iterator[Session]:
    """For routes that only read: their audit record goes through the group commit."""
    yield from sessions(request.app.state.reader)


def audit_writer(request: Request) -> AuditWriter:
    writer: AuditWriter = request.app.state.audit_writer
    return writer
