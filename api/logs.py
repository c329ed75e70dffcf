"""What the service writes to its log: one JSON line per request, incidents by type and place.

A client's personal data must not reach the log by any road, so lines are built
from what the service itself chose, never from what was sent:

- the access line (``AccessLog``, a pure ASGI middleware) names the route's path
  template (``/cases/{case_id}``, or ``unmatched`` when no route took the request),
  never the concrete path, query string, body or header values;
- an exception is logged by its type and the frames it passed
  (``module:function:line``), never its message or locals: a database error's
  DETAIL repeats the row, a validation error the input;
- ``JsonFormatter`` enforces the same for every logger it formats, uvicorn's and
  the libraries' included: tracebacks are reduced to type and frames, and a
  message that still looks like it holds a personal identity number is withheld.

``LOG_CONFIG`` is the ``logging.config.dictConfig`` that ``brytupp serve`` hands to
uvicorn; uvicorn's own access log is off (it writes the full query string).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from types import TracebackType
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from . import context, metrics
from .context import HttpMiddleware
from .pseudonym import looks_like_pin

access = logging.getLogger("brytupp.access")

UNMATCHED = "unmatched"
# A load balancer's and Prometheus' calls every few seconds: counted in the metrics, logged only when they fail.
PROBES = frozenset({"/health", "/ready", "/metrics"})
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# The fields a line may carry besides time, level, logger and message: all set by the service.
_FIELDS = ("request_id", "method", "path", "status", "duration_ms", "incident", "exception", "causes", "where")
_MAX_FRAMES = 30


def route_template(scope: Scope) -> str:
    """The matched route's path as declared (``/cases/{case_id}``), else ``unmatched``."""
    route = scope.get("route")
    # Starlette's routes keep the declared path in path_format (a mount's ends in /{path}).
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else UNMATCHED


def frames(tb: TracebackType | None) -> list[str]:
    """``module:function:line`` of each frame, innermost last; locals and source lines are left out."""
    where = []
    while tb is not None:
        code = tb.tb_frame.f_code
        where.append(f"{tb.tb_frame.f_globals.get('__name__', '?')}:{code.co_name}:{tb.tb_lineno}")
        tb = tb.tb_next
    return where[-_MAX_FRAMES:]


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def exception_fields(exc: BaseException) -> dict[str, Any]:
    """An exception as the log may hold it: its type, the types it was raised from, its frames."""
    causes: list[str] = []
    seen = {id(exc)}
    link = exc.__cause__ or exc.__context__
    while link is not None and id(link) not in seen and len(causes) < 10:
        seen.add(id(link))
        causes.append(_type_name(link))
        link = link.__cause__ or link.__context__
    return {"exception": _type_name(exc), "causes": causes, "where": frames(exc.__traceback__)}


def request_id() -> str | None:
    info = context.current()
    return info.request_id if info is not None else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line; no traceback text, no exception message."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if looks_like_pin(message, addresses=True):
            message = "(message withheld: it may hold a personal identity number)"
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if "request_id" not in line and (current := request_id()) is not None:
            line["request_id"] = current
        if record.exc_info and record.exc_info[1] is not None and "exception" not in line:
            line.update(exception_fields(record.exc_info[1]))
        return json.dumps(line, ensure_ascii=False)


class AccessLog(HttpMiddleware):
    """One line per request: method, route template, status, duration, request id."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception escaped, or the client went away

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            seconds = time.perf_counter() - started
            method = scope.get("method", "")
            method = method if method in _METHODS else "OTHER"
            # One template for the log line and the metrics: neither ever sees the concrete path.
            template = route_template(scope)
            metrics.observe_request(template, method, status, seconds)
            if template not in PROBES or status >= 400:
                access.info(
                    "request",
                    extra={
                        "request_id": request_id(),
                        "method": method,
                        "path": template,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 1),
                    },
                )


LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "loggers": {
        "brytupp": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        # Its lines carry the concrete path and query string: AccessLog writes the access log instead.
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
