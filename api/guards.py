"""Request guards applied to every route: a size limit on bodies, and no personal
identity numbers anywhere in what is sent (body, query, path, headers), and no text
that cannot be stored as text (lone surrogates, NUL)."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError
from .pseudonym import MESSAGE, looks_like_pin, problems, safe_key, text_problem


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


# Bearer tokens and session cookies are base64 the service verifies and never stores; browsers fill
# User-Agent and the client hints with dotted version numbers ("121.0.6167.85") that read as a date.
_UNCHECKED_HEADERS = {"authorization", "cookie", "user-agent"}
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
# Where (``["body", "facts", "age"]``) and what is wrong.
Found = tuple[list[str | int], str]


def _text_problem(value: str, addresses: bool = False) -> str | None:
    return text_problem(value) or (MESSAGE if looks_like_pin(value, addresses=addresses) else None)


def _header_problems(request: Request) -> Iterator[Found]:
    for raw_name, raw_value in request.headers.raw:
        name = raw_name.decode("latin-1").lower()
        if looks_like_pin(name):
            yield ["header"], MESSAGE
            continue
        if name in _UNCHECKED_HEADERS or name.startswith("sec-ch-ua"):
            continue
        try:
            value = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            value = raw_value.decode("latin-1")
        wrong = _text_problem(value, addresses=True)
        if wrong:
            yield (["header", name] if _HEADER_NAME.fullmatch(name) else ["header"]), wrong


def _pairs_problems(where: str, pairs: Iterable[tuple[str, str]], skip: frozenset[str] = frozenset()) -> Iterator[Found]:
    for name, value in pairs:
        wrong = _text_problem(name)
        if wrong:
            # The name is what was typed: name only the part of the request.
            yield [where], wrong
        elif name not in skip and (wrong := _text_problem(value)):
            yield ([where, name] if safe_key(name) else [where]), wrong


def _refuse(found: list[Found]) -> ApiError:
    fields = [{"loc": loc, "msg": message, "type": "value_error"} for loc, message in found]
    text = "; ".join(".".join(str(part) for part in loc) + f": {message}" for loc, message in found)
    return ApiError(422, text, fields=fields)


async def no_personal_numbers(request: Request) -> None:
    """422 naming the field, without repeating the value, wherever one appears: path, query,
    headers (names and values), JSON and form bodies (strings, numbers and keys)."""
    found: list[Found] = list(_pairs_problems("path", ((name, str(value)) for name, value in request.path_params.items())))
    found += _pairs_problems("query", request.query_params.multi_items())
    found += _header_problems(request)
    if found:
        raise _refuse(found)
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    body = await request.body()
    if not body:
        return
    if request.headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
        form = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        # The login form's token is a credential, like the Authorization header.
        found += _pairs_problems("body", form, skip=frozenset({"token"}))
    else:
        # Whatever the Content-Type says: FastAPI reads JSON under several spellings (`Application/JSON`,
        # `…+json`), and a personal identity number must not get past this check by the spelling of a header.
        try:
            data: Any = json.loads(body)
        except ValueError:
            return  # FastAPI's own validation reports malformed JSON
        found += [(["body", *path], message) for path, message in problems(data)]
    if found:
        raise _refuse(found)
