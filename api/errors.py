"""Error responses: one shape, a message that names the field, never the submitted value.

FastAPI's own 422 body repeats the input back (``input``, ``ctx``); for a service
that may receive a personal identity number by mistake that would echo it into
logs and browsers, so the handler keeps only where and what.  Unexpected
exceptions become a 500 with an incident id and no stack trace; an unreachable
database becomes 503 with Retry-After.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

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


def field_problems(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))} for e in errors]


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a route's error answers, so clients (and schemathesis) know them."""
    return {status: {"model": ValidationProblem if status == 422 else Problem} for status in statuses}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        headers = dict(exc.headers)
        if exc.status == 401:
            headers.setdefault("WWW-Authenticate", "Bearer")
        body: dict[str, Any] = {"detail": exc.fields if exc.fields is not None else exc.message}
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": field_problems(exc.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeout)
    async def _database_down(_request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc).__name__)
        return JSONResponse(
            {"detail": "the database is not reachable just now; try again shortly"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return await _database_down(request, exc)
        return _incident(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        return _incident(exc)


def _incident(exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    log.error("incident %s", incident, exc_info=exc)
    return JSONResponse({"detail": f"internal error (incident {incident})"}, status_code=500)
