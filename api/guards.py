"""Request guards applied to every route: a size limit on bodies, and no personal
identity numbers anywhere in what is sent (body, query, path, headers), and no text
that cannot be stored as text (lone surrogates, NUL)."""

from __future__ import annotations

import contextlib
import json
import re
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .context import HttpMiddleware
from .errors import ApiError, body_names
from .pseudonym import DEPTH_MESSAGE, MAX_DEPTH, MESSAGE, json_pairs, looks_like_pin, problems, safe_loc, text_problem, too_deep

DRAFTS = re.compile(r"^/(processes/[^/]+/drafts|ui/drafts)")


class BodyLimit(HttpMiddleware):
    """413 for bodies over ``limit`` bytes, whether or not Content-Length is sent, and 422 for JSON that
    nests deeper than ``MAX_DEPTH``: seen as the bytes arrive, before any parser recurses into them."""

    def __init__(self, app: ASGIApp, limit: int, draft_limit: int | None = None) -> None:
        super().__init__(app)
        self.default = limit
        # A process file is larger than any case's body: its routes have a limit of their own.
        self.draft_limit = draft_limit or limit

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.draft_limit if DRAFTS.match(scope.get("path", "")) else self.default
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        depth = _Depth()
        refusal: int | None = None
        started = False

        async def counted() -> Message:
            nonlocal seen, refusal
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > limit:
                    refusal = 413
                    raise _TooLarge
                if depth.too_deep(chunk):
                    refusal = 422
                    raise _TooLarge
            return message

        async def answer(message: Message) -> None:
            nonlocal started
            # FastAPI answers an exception from reading the body with its own 400; the refusal is the answer.
            if refusal is None:
                started = True
                await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counted, answer)
        if refusal == 413 and not started:
            await _too_large(send, limit)
        elif refusal == 422 and not started:
            problem = {"loc": ["body"], "msg": DEPTH_MESSAGE, "type": "value_error"}
            await _answer(send, 422, {"detail": [problem]})


class _Depth:
    """How deep a body that starts as JSON nests, outside strings, read chunk by chunk without recursion."""

    _TOKENS = re.compile(rb'["\\{}\[\]]')

    def __init__(self) -> None:
        self.json: bool | None = None
        self.depth = 0
        self.in_string = False
        self.skip_first = False

    def too_deep(self, chunk: bytes) -> bool:
        if self.json is None and chunk.strip():
            self.json = chunk.lstrip()[:1] in (b"{", b"[")
        if not self.json:
            return False
        skip_to = 1 if self.skip_first else 0
        self.skip_first = False
        for token in self._TOKENS.finditer(chunk):
            at = token.start()
            if at < skip_to:
                continue
            char = token.group()
            if self.in_string:
                if char == b"\\":
                    skip_to = at + 2
                    self.skip_first = at + 1 == len(chunk)
                elif char == b'"':
                    self.in_string = False
            elif char == b'"':
                self.in_string = True
            elif char in (b"{", b"["):
                self.depth += 1
                if self.depth > MAX_DEPTH:
                    return True
            else:
                self.depth -= 1
        return False


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    await _answer(send, 413, {"detail": f"the request body is larger than {limit} bytes"})


async def _answer(send: Send, status: int, content: Any) -> None:
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


# Bearer tokens and session cookies are base64 the service verifies and never stores; browsers fill
# User-Agent and the client hints with dotted version numbers ("121.0.6167.85") that read as a date.
_UNCHECKED_HEADERS = {"authorization", "cookie", "user-agent"}
# Headers the service, its proxies and tracing read: these may be named in a refusal, any other name was
# chosen by the client and may be text (``X-Anna-Andersson``).
_KNOWN_HEADERS = frozenset(
    {
        "accept", "accept-encoding", "accept-language", "b3", "cache-control", "connection", "content-length",
        "content-type", "forwarded", "host", "idempotency-key", "if-match", "if-none-match", "origin", "pragma",
        "referer", "traceparent", "tracestate", "x-amzn-trace-id", "x-b3-parentspanid", "x-b3-sampled",
        "x-b3-spanid", "x-b3-traceid", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip",
        "x-request-id",
    }
)  # fmt: skip
# The login page's form: the token is a credential, like the Authorization header, and is not read.
LOGIN_PATH = "/ui/login"
_LOGIN_FIELDS = frozenset({"token", "next"})
# Where (``["body", "facts", "age"]``, keys as sent until made safe) and what is wrong.
Found = tuple[list[str | int], str]


def _text_problem(value: str, header: bool = False) -> str | None:
    return text_problem(value) or (MESSAGE if looks_like_pin(value, header=header) else None)


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
        wrong = _text_problem(value, header=True)
        if wrong:
            yield ["header", name], wrong


def _pairs_problems(where: str, pairs: Iterable[tuple[str, str]], skip: frozenset[str] = frozenset()) -> Iterator[Found]:
    for name, value in pairs:
        wrong = _text_problem(name)
        if wrong:
            yield [where], wrong
        elif name not in skip and (wrong := _text_problem(value)):
            yield [where, name], wrong


def _declared(request: Request) -> dict[str, frozenset[str]]:
    """The names a refusal may give, by part of the request: what the route and the process files declare."""
    route = request.scope.get("route")
    params: dict[str, set[str]] = {"path": set(), "query": set(), "header": set()}
    pending = [getattr(route, "dependant", None)]
    while pending:
        dependant = pending.pop()
        if dependant is None:
            continue
        pending += dependant.dependencies
        for where in params:
            for field in getattr(dependant, f"{where}_params"):
                params[where] |= {field.name, field.alias}
                if where == "header":
                    params[where] |= {field.alias.lower(), field.alias.replace("_", "-").lower()}
    body = set(body_names(route)) | _fact_names(request)
    if request.scope.get("path") == LOGIN_PATH:
        body |= _LOGIN_FIELDS
    return {
        "path": frozenset(params["path"]),
        "query": frozenset(params["query"]),
        "header": _KNOWN_HEADERS | params["header"],
        "body": frozenset(body),
    }


def _fact_names(request: Request) -> set[str]:
    registry = getattr(request.app.state, "registry", None)
    if registry is None:
        return set()
    names: set[str] = set()
    pending: list[Any] = [s.compiled.process.facts for s in registry.snapshot.districts.values() if s.compiled]
    while pending:
        for name, spec in pending.pop().items():
            names.add(name)
            if spec.fields:
                pending.append(spec.fields)
    return names


def _refuse(request: Request, found: list[Found]) -> ApiError:
    declared = _declared(request)
    found = [([loc[0], *safe_loc(loc[1:], declared.get(str(loc[0]), frozenset()))], message) for loc, message in found]
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
        raise _refuse(request, found)
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    body = await request.body()
    if body:
        found += _body_problems(request, body)
    if found:
        raise _refuse(request, found)


def _body_problems(request: Request, body: bytes) -> list[Found]:
    # Read as FastAPI might, whatever the Content-Type says: it takes JSON under any spelling that ends in
    # `json` (`application/x-www-form-urlencoded+json`), and a number must not get past this check by the
    # spelling of a header.  A body that is not JSON is read as a form, the only other shape a route reads.
    form = request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/x-www-form-urlencoded"
    found: list[Found] = []
    try:
        data: Any = json_pairs(body)
    except RecursionError:
        return [(["body"], DEPTH_MESSAGE)]
    except ValueError:
        form = True
    else:
        deep = too_deep(data)
        if deep is not None:
            return [(["body", *deep], DEPTH_MESSAGE)]
        found += [(["body", *path], message) for path, message in problems(data)]
    # A form-typed body is read as a form too (the login page does), unless its JSON reading already refuses it.
    if form and not found:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        skip = frozenset({"token"}) if request.scope.get("path") == LOGIN_PATH else frozenset()
        found += _pairs_problems("body", pairs, skip=skip)
    return found
