"""Request guards applied to every route: a size limit on bodies, and no personal
identity numbers anywhere in what is sent (body, query, path)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError, invalid
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


async def no_personal_numbers(request: Request) -> None:
    """422 naming the field, without repeating the value, wherever one appears."""
    found: dict[str, str] = {}
    for name, value in request.path_params.items():
        if list(pin_paths(str(value))):
            found[name] = MESSAGE
    if found:
        raise invalid(found, where="path")
    for name, value in request.query_params.multi_items():
        if list(pin_paths(value)) or list(pin_paths(name)):
            found[name] = MESSAGE
    if found:
        raise invalid(found, where="query")
    if request.method in ("POST", "PUT", "PATCH") and request.headers.get("content-type", "").startswith("application/json"):
        body = await request.body()
        try:
            data: Any = json.loads(body) if body else None
        except ValueError:
            return  # FastAPI's own validation reports malformed JSON
        for path in pin_paths(data):
            found[".".join(str(p) for p in path) or "body"] = MESSAGE
        if found:
            raise invalid(found)


def http_error(status: int, message: str) -> ApiError:
    return ApiError(status, message)
