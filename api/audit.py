"""Group commit of audit records for reads.

A read of a case is answered only once its audit record is durable.  Writing
that record in the request's own transaction costs every read a commit (an
fsync); here one thread writes the records of all the reads waiting at that
moment in one transaction, and each waiting request goes on when the commit
that holds its record returns.  Nothing is answered unaudited: if the commit
fails, each of those requests fails with it (503 when the database is down).
Writes keep their audit record in their own transaction, atomic with the change.

Refusals are audited too: ``AuditRefusals`` writes a record for every 4xx or 5xx answer on a
case, a list of cases, a report or the trail itself that the route did not audit on
its way (an invalid token, a wrong role, an invalid body, a stale ETag…), so that an
attempt is on the trail whether or not it got anywhere.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import re
import threading
import urllib.parse
import uuid
from concurrent.futures import Future
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from . import context
from .auth import Principal
from .context import HttpMiddleware
from .logs import UNMATCHED, route_template
from .models import AuditRecord, utcnow
from .pseudonym import ID_PATTERN

log = logging.getLogger("brytupp.audit")

# Who an unauthenticated attempt is recorded as.
NOBODY = "(no valid token)"
OUTCOMES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "too_large",
    415: "unsupported_media",
    422: "invalid",
    428: "precondition_required",
    500: "error",
    503: "unavailable",
}


def record(
    principal: Principal | None,
    action: str,
    case_id: uuid.UUID | None = None,
    outcome: str = "ok",
    case_district: str | None = None,
    at: dt.datetime | None = None,
    target: str | None = None,
    case_ids: list[str] | None = None,
) -> dict[str, Any]:
    """An audit row, with the request it came from; marks the request as audited."""
    info = context.current()
    if info is not None:
        info.audited = True
    return {
        "at": at or utcnow(),
        "subject": principal.subject if principal is not None else NOBODY,
        "role": str(principal.role) if principal is not None else "none",
        "district": principal.district if principal is not None else None,
        "case_id": case_id,
        "case_district": case_district,
        "action": action[:32],
        "outcome": outcome[:32],
        "request_id": info.request_id if info is not None else None,
        "source": info.source[:64] if info is not None and info.source else None,
        "token_id": principal.token_id or None if principal is not None else None,
        "target": target,
        "case_ids": case_ids,
    }

BATCH = 512


class AuditWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: queue.Queue[tuple[dict[str, Any], Future[None]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="audit-writer", daemon=True)
        self._thread.start()

    def write(
        self,
        principal: Principal | None,
        action: str,
        case_id: uuid.UUID | None = None,
        outcome: str = "ok",
        case_district: str | None = None,
        target: str | None = None,
    ) -> None:
        """Returns when the record is committed; raises what the commit raised."""
        self.write_many(principal, action, [case_id], outcome, case_district, target)

    def write_many(
        self,
        principal: Principal | None,
        action: str,
        case_ids: list[uuid.UUID | None],
        outcome: str = "ok",
        case_district: str | None = None,
        target: str | None = None,
    ) -> None:
        """One record per case, all waited for together (a list that reads many cases)."""
        waiting: list[Future[None]] = []
        at = utcnow()
        for case_id in case_ids:
            row = record(principal, action, case_id, outcome, case_district, at, target)
            done: Future[None] = Future()
            self._queue.put((row, done))
            waiting.append(done)
        for done in waiting:
            done.result()

    def write_list(self, principal: Principal, action: str, case_ids: list[uuid.UUID], case_district: str | None) -> None:
        """One record for a list of cases, naming every case it answered with: the trail says who saw
        which case without a row per case per call."""
        row = record(principal, action, None, "ok", case_district, utcnow(), case_ids=[str(c) for c in case_ids])
        done: Future[None] = Future()
        self._queue.put((row, done))
        done.result()

    def depth(self) -> int:
        """Records waiting for a commit: grows when the database falls behind the reads."""
        return self._queue.qsize()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            try:
                with self.engine.begin() as connection:
                    connection.execute(insert(AuditRecord), [row for row, _ in batch])
            except Exception as exc:  # every waiting request learns of the failure
                for _, done in batch:
                    done.set_exception(exc)
            else:
                for _, done in batch:
                    done.set_result(None)


# Route templates whose refusals are audited: cases, lists of cases, reports and the trail.
_DISTRICT = re.compile(ID_PATTERN)


def _query_district(scope: Scope) -> str | None:
    query = urllib.parse.parse_qs((scope.get("query_string") or b"").decode("latin-1"))
    values: list[str] = query.get("district") or []
    return values[0] if values else None
# A draft's id or a version's hash, as the routes take them; anything else is not stored.
_TARGET = re.compile(r"[0-9a-f-]{8,64}")
AUDITED = (
    "/cases",
    "/units/{unit}/overdue",
    "/units/{unit}/worklist",
    "/audit",
    "/reports",
    "/processes/{district}/drafts",
    "/processes/{district}/versions",
    "/proposals",
    "/ui/cases",
    "/ui/goals",
    "/ui/drafts",
    "/ui/workload",
    "/ui/equality",
)


class AuditRefusals(HttpMiddleware):
    """Audits a refused request on a case, a list, a report or the trail that its route left
    unaudited; the answer goes out once the record is committed."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:

        async def audited_send(message: Message) -> None:
            # 5xx too: a write that failed half-way still read the case.
            if message["type"] == "http.response.start" and message["status"] >= 400:
                await self._audit(scope, message["status"])
            await send(message)

        await self.app(scope, receive, audited_send)

    async def _audit(self, scope: Scope, status: int) -> None:
        info = context.current()
        template = route_template(scope)
        if info is None or info.audited or template == UNMATCHED or not template.startswith(AUDITED):
            return
        case_id: uuid.UUID | None = None
        raw = (scope.get("path_params") or {}).get("case_id")
        if raw is not None:
            try:
                case_id = raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))
            except ValueError:
                case_id = None
        # A refused attempt on a district's drafts or versions is on that district's part of the trail.
        params = scope.get("path_params") or {}
        # A list names its district in the query: a refused attempt on it is that district's too.
        district = params.get("district") or _query_district(scope)
        district = district if isinstance(district, str) and _DISTRICT.fullmatch(district) else None
        target = next((str(params[name]) for name in ("draft_id", "version") if name in params), None)
        target = target if target is not None and _TARGET.fullmatch(target) else None
        writer: AuditWriter = scope["app"].state.audit_writer
        action = getattr(scope.get("route"), "name", None) or "request"
        outcome = OUTCOMES.get(status, f"refused_{status}")
        try:
            await run_in_threadpool(writer.write, info.principal, action, case_id, outcome, district, target)
        except Exception as exc:  # the refusal itself discloses nothing: it still goes out
            log.warning("the audit record of a refused request could not be written: %s", type(exc).__name__)
