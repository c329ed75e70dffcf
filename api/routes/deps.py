"""Dependencies the routes share."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlmodel import Session

from ..db import sessions


def db(request: Request) -> Iterator[Session]:
    yield from sessions(request.app.state.engine)
