"""What the service knows about the request being answered, for the audit trail and the logs.

A pure ASGI middleware sets it once per request; route threads (Starlette copies the
context into them) and log records read it.  An incoming ``X-Request-ID`` is honoured
when it is an opaque hex id (a load balancer's or a tracer's); anything else, which
might be free text typed by someone, is replaced by a fresh id, never echoed.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .pseudonym import looks_like_pin

HEADER = "X-Request-ID"
# Opaque ids only (UUIDs, nginx's $request_id, trace ids): hex and dashes.  A token of letters could be
# a name (``Anna_Andersson_Storgatan_12``), which would then be echoed, logged and written into the audit.
_ACCEPTED = re.compile(r"^(?=.*[0-9A-Fa-f])[0-9A-Fa-f-]{8,64}$")


@dataclass
class RequestInfo:
    request_id: str
    source: str | None
    # The ``auth.Principal``, once the request's token has been verified.
    principal: Any = None
    # Set when the request's access has been audited, so that a refusal raised after that
    # is not audited twice.
    audited: bool = False


_current: ContextVar[RequestInfo | None] = ContextVar("brytupp_request", default=None)


def current() -> RequestInfo | None:
    return _current.get()


def request_id_from(header: bytes | None) -> str:
    text = header.decode("latin-1") if header else ""
    # An id that could hold a personal identity number is not taken, and so never echoed or logged: the
    # strict reading, without the header check's allowance for hex ids, as the id is repeated everywhere.
    if _ACCEPTED.fullmatch(text) and not looks_like_pin(text):
        return text
    # Not a UUID's hex: about 1 in 100 of those holds ten digits in a row that read as a date, and
    # would then be withheld from the logs as a possible personal identity number.
    return secrets.token_urlsafe(12)


class HttpMiddleware:
    """A pure ASGI middleware of HTTP requests (no BaseHTTPMiddleware: it would run every request
    through a second task and buffer streamed answers); other scopes pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class RequestContext(HttpMiddleware):
    """Gives every request an id (answered in ``X-Request-ID``) and records its source address."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        incoming = dict(scope.get("headers") or []).get(b"x-request-id")
        client = scope.get("client")
        info = RequestInfo(request_id=request_id_from(incoming), source=client[0] if client else None)
        token = _current.set(info)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((HEADER.lower().encode(), info.request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
