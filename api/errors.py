"""Error responses: one shape, a message that names the field, never the submitted value.

FastAPI's own 422 body repeats the input back (``input``, ``ctx``); for a service
that may receive a personal identity number by mistake that would echo it into
logs and browsers, so the handler keeps only where and what, and rewrites the
messages whose text can carry the input.  Unexpected exceptions become a 500
with an incident id and no stack trace, logged by type and place only; an
unreachable database becomes 503 with Retry-After.
"""

from __future__ import annotations

import logging
import typing
import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, TypeAdapter
from pydantic_core import core_schema
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive, Scope, Send

from .context import HttpMiddleware
from .logs import exception_fields, request_id
from .pseudonym import safe_loc

log = logging.getLogger("brytupp.api")

RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    """An error answer: status, message, optional headers (ETag, Retry-After, WWW-Authenticate)."""

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, fields: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.fields = fields


def invalid(fields: dict[str, str], where: str = "body") -> ApiError:
    """A 422 naming each field (``facts.age`` -> loc ``[body, facts, age]``) and what is wrong with it."""
    problems = [
        {"loc": [where, *(int(p) if p.isdigit() else p for p in _split(path))], "msg": message, "type": "value_error"}
        for path, message in fields.items()
    ]
    return ApiError(422, "; ".join(f"{path}: {message}" for path, message in fields.items()), fields=problems)


def _split(path: str) -> list[str]:
    # "facts.children[1].age" -> facts, children, 1, age
    return [part for part in path.replace("[", ".").replace("]", "").split(".") if part]


class Problem(BaseModel):
    """Every error that is not a validation error."""

    detail: str


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationProblem(BaseModel):
    """A 422: where (``loc``: body, query, path, header, then the field path) and what."""

    detail: list[FieldProblem]


# pydantic's messages that end in text taken from the input ("Input should be a valid UUID, invalid
# character: found `n` at 1", "Input tag 'Anna' found using 'kind'…"): only their fixed part is kept.
_FIXED_PART = {
    "json_invalid": "invalid JSON",
    "get_attribute_error": "the value could not be read",
    "iteration_error": "Input should be iterable",
    "mapping_type": "Input should be a valid mapping",
    "value_error": "invalid value",
    "assertion_error": "invalid value",
    "no_such_attribute": "no such attribute",
    "bytes_invalid_encoding": "Data should be valid UTF-8",
    "date_parsing": "Input should be a valid date in the format YYYY-MM-DD",
    "date_from_datetime_parsing": "Input should be a valid date in the format YYYY-MM-DD",
    "time_parsing": "Input should be a valid time in the format HH:MM[:SS]",
    "datetime_parsing": "Input should be a valid ISO 8601 datetime, e.g. 2025-03-12T10:00:00+01:00",
    "datetime_object_invalid": "Invalid datetime object",
    "datetime_from_date_parsing": "Input should be a valid ISO 8601 datetime or date",
    "time_delta_parsing": "Input should be a valid ISO 8601 duration",
    "url_parsing": "Input should be a valid URL",
    "url_syntax_violation": "Input violated strict URL syntax rules",
    "uuid_parsing": "Input should be a valid UUID",
}
# Every other type pydantic-core knows formats its message from the schema only (limits, patterns,
# expected values); a type it does not know (a custom error) may say anything and is not repeated.
_SCHEMA_ONLY = set(typing.get_args(core_schema.ErrorType)) - set(_FIXED_PART) - {"union_tag_invalid", "extra_forbidden"}
_PARAMETERS = ("path", "query", "header", "cookie")


def field_problems(errors: Sequence[Any], route: Any = None) -> list[dict[str, Any]]:
    """pydantic's errors as ``{loc, msg, type}``, saying what is allowed and never repeating the input:
    neither in ``msg`` nor in ``loc`` (an unknown key is submitted text; its object is named instead)."""
    problems = []
    for error in errors:
        kind = str(error.get("type", ""))
        loc = list(error.get("loc", ()))
        ctx = error.get("ctx") or {}
        # The last part of an unknown field's loc is the key as it was sent.
        loc = _safe_loc(loc[:-1] if kind == "extra_forbidden" and len(loc) > 1 else loc, route)
        if kind == "extra_forbidden":
            known = _fields_at(route, loc)
            msg = f"unknown field; the fields are {', '.join(known)}" if known else "unknown field"
        elif kind == "union_tag_invalid":
            tag = str(ctx.get("discriminator", "tag")).strip("'")
            expected = str(ctx.get("expected_tags", "")).replace("'", "")
            msg = f"unknown {tag}; the {tag}s are {expected}" if expected else f"unknown {tag}"
        elif kind in _FIXED_PART:
            msg = _FIXED_PART[kind]
        elif kind in _SCHEMA_ONLY:
            msg = str(error.get("msg", ""))
        else:
            msg = "invalid value"
        problems.append({"loc": loc, "msg": msg, "type": kind})
    return problems


def _safe_loc(loc: list[Any], route: Any) -> list[str | int]:
    # A parameter's name is the route's own; inside a body, a key the body's schema does not declare is one
    # the client chose (a dict key, which may be a name), and the path stops at the object holding it.
    if not loc or loc[0] in _PARAMETERS:
        return loc
    names = body_names(route)
    return ["body", *safe_loc(loc[1:], names)] if loc[0] == "body" else safe_loc(loc, names)


# Routes live as long as the app but are not hashable (Starlette's Route defines __eq__): keyed by id,
# with the route kept beside its schema so that a reused id is noticed.
_SCHEMAS: dict[int, tuple[Any, dict[str, Any] | None, frozenset[str]]] = {}


def _drawn(route: Any) -> tuple[dict[str, Any] | None, frozenset[str]]:
    """The route's body schema and the names it declares, drawn once per route (a few ms each)."""
    kept = _SCHEMAS.get(id(route))
    if kept is not None and kept[0] is route:
        return kept[1], kept[2]
    schema: dict[str, Any] | None = None
    field = getattr(route, "body_field", None)
    if field is not None:
        body: Any = Annotated[field.field_info.annotation, field.field_info]
        try:
            schema = TypeAdapter(body).json_schema()
        except Exception:  # a schema pydantic cannot draw: no key is named, no field listed
            schema = None
    names = _names(schema) if schema is not None else frozenset()
    _SCHEMAS[id(route)] = (route, schema, names)
    return schema, names


def _body_schema(route: Any) -> dict[str, Any] | None:
    return _drawn(route)[0]


def body_names(route: Any) -> frozenset[str]:
    """Every field name and union tag the route's body schema declares, at any depth."""
    return _drawn(route)[1]


def _names(schema: dict[str, Any]) -> frozenset[str]:
    names: set[str] = set()
    nodes: list[Any] = [schema]
    while nodes:
        node = nodes.pop()
        if isinstance(node, dict):
            names.update(node.get("properties", {}) if isinstance(node.get("properties"), dict) else ())
            discriminator = node.get("discriminator")
            if isinstance(discriminator, dict):
                names.update(discriminator.get("mapping", {}))
            nodes.extend(node.values())
        elif isinstance(node, list):
            nodes.extend(node)
    return frozenset(names)


def _fields_at(route: Any, loc: list[str | int]) -> list[str]:
    """The field names the route's body schema allows at ``loc`` (``["body", "completed", 0]``), if known."""
    schema = _body_schema(route)
    if schema is None or not loc or loc[0] != "body":  # no schema: say "unknown field" without the list
        return []
    defs = schema.get("$defs", {})

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
        return node

    node = resolve(schema)
    for part in loc[1:]:
        if isinstance(part, int):
            node = resolve(node.get("items", {}))
        elif part in node.get("properties", {}):
            node = resolve(node["properties"][part])
        elif part in node.get("discriminator", {}).get("mapping", {}):
            node = resolve({"$ref": node["discriminator"]["mapping"][part]})
        else:
            options = [resolve(o) for o in node.get("anyOf", node.get("oneOf", []))]
            node = next((o for o in options if part in o.get("properties", {})), {})
            node = resolve(node.get("properties", {}).get(part, {}))
    return sorted(node.get("properties", {}))


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a route's error answers, so clients (and schemathesis) know them."""
    return {status: {"model": ValidationProblem if status == 422 else Problem} for status in statuses}


# A page's answer to a refusal or failure under PAGES: (request, status, exception, incident) -> a page.
PageError = typing.Callable[[Request, int, Exception, "str | None"], Response]
PAGES = "/ui"


def _on_page(request: Request) -> PageError | None:
    # People follow links to /ui: they get a page in Swedish; programs get the JSON below.
    page: PageError | None = getattr(request.app.state, "error_page", None)
    return page if page is not None and request.url.path.startswith(PAGES) else None


def install(app: FastAPI, page: PageError | None = None) -> None:
    app.state.error_page = page

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        headers = dict(exc.headers)
        if exc.status == 401:
            headers.setdefault("WWW-Authenticate", "Bearer")
        if (on_page := _on_page(request)) is not None:
            answer = on_page(request, exc.status, exc, None)
            answer.headers.update(headers)
            return answer
        body: dict[str, Any] = {"detail": exc.fields if exc.fields is not None else exc.message}
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if (on_page := _on_page(request)) is not None:
            return on_page(request, 422, exc, None)
        return JSONResponse({"detail": field_problems(exc.errors(), request.scope.get("route"))}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if (on_page := _on_page(request)) is not None:
            answer = on_page(request, exc.status_code, exc, None)
            answer.headers.update(exc.headers or {})
            return answer
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeout)
    async def _database_down(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable: %s", type(exc).__name__)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if (on_page := _on_page(request)) is not None:
            answer = on_page(request, 503, exc, None)
            answer.headers.update(headers)
            return answer
        return JSONResponse(
            {"detail": "the database is not reachable just now; try again shortly"}, status_code=503, headers=headers
        )

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> Response:
        if exc.connection_invalidated:
            return await _database_down(request, exc)
        return _incident(exc, request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return _incident(exc, request)


def _incident(exc: Exception, request: Request | None = None) -> Response:
    incident = uuid.uuid4().hex[:12]
    # Type and frames, not the traceback: a database error's message repeats the row it refused.
    fields = exception_fields(exc)
    log.error("incident %s: %s", incident, fields["exception"], extra={"incident": incident, "request_id": request_id()} | fields)
    if request is not None and (on_page := _on_page(request)) is not None:
        try:
            return on_page(request, 500, exc, incident)
        except Exception:  # the page itself failed (the database, a template): the plain answer still goes out
            log.warning("incident %s: the error page failed too", incident)
    return JSONResponse({"detail": f"internal error (incident {incident})"}, status_code=500)


class Incidents(HttpMiddleware):
    """Answers an exception no handler took with the incident 500, inside the request's context.

    Starlette's last-resort handler runs outside every middleware, after the request id is gone,
    and then re-raises so that the server logs the whole traceback, message included; here the
    incident is logged once, by type and frames, and the 500 still carries the request id."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            response = _incident(exc, Request(scope) if scope.get("app") is not None else None)
            if not started:
                await response(scope, receive, send)
