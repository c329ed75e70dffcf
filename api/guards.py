"""Request guards applied to every route: a size limit on bodies, and no personal
identity numbers anywhere in what is sent (body, query, path)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import invalid
from .pseudonym import MESSAGE, pin_paths


class BodyLimit:
    """413 for bodies over ``limit`` bytes, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0
        too_large = False

        async def counted() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    too_large = True
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _too_large(send, self.limit)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"the request body is larger than {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def _suspect(value: str) -> bool:
    # A case id is a UUID, whose hex groups may happen to be all digits and a date.
    try:
        uuid.UUID(value)
    except ValueError:
        return any(True for _ in pin_paths(value))
    return False


async def no_personal_numbers(request: Request) -> None:
    """422 naming the field, without repeating the value, wherever one appears."""
    found: dict[str, str] = {}
    for name, value in request.path_params.items():
        if _suspect(str(value)):
            found[name] = MESSAGE
    if found:
        raise invalid(found, where="path")
    for name, value in request.query_params.multi_items():
        if _suspect(value) or _suspect(name):
            found[name] = MESSAGE
    if found:
        raise invalid(found, where="query")
    if request.method in ("POST", "PUT", "PATCH"):
        # Whatever the Content-Type says: FastAPI reads JSON under several spellings (`Application/JSON`,
        # `…+json`), and a personal identity number must not get past this check by the spelling of a header.
        body = await request.body()
        try:
            data: Any = json.loads(body) if body else None
        except ValueError:
            return  # FastAPI's own validation reports malformed JSON
        for path in pin_paths(data):
            found[".".join(str(p) for p in path) or "body"] = MESSAGE
        if found:
            raise invalid(found)
