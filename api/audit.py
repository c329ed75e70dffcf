"""Group commit of audit records for reads.

A read of a case is answered only once its audit record is durable.  Writing
that record in the request's own transaction costs every read a commit (an
fsync); here one thread writes the records of all the reads waiting at that
moment in one transaction, and each waiting request goes on when the commit
that holds its record returns.  Nothing is answered unaudited: if the commit
fails, each of those requests fails with it (503 when the database is down).
Writes keep their audit record in their own transaction, atomic with the change.
"""

from __future__ import annotations

import queue
import threading
import uuid
from concurrent.futures import Future
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from .auth import Principal
from .models import AuditRecord, utcnow

BATCH = 512


class AuditWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: queue.Queue[tuple[dict[str, Any], Future[None]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="audit-writer", daemon=True)
        self._thread.start()

    def write(self, principal: Principal, action: str, case_id: uuid.UUID | None = None, outcome: str = "ok") -> None:
        """Returns when the record is committed; raises what the commit raised."""
        self.write_many(principal, action, [case_id], outcome)

    def write_many(self, principal: Principal, action: str, case_ids: list[uuid.UUID | None], outcome: str = "ok") -> None:
        """One record per case, all waited for together (a list that reads many cases)."""
        waiting: list[Future[None]] = []
        at = utcnow()
        for case_id in case_ids:
            row = {
                "at": at,
                "subject": principal.subject,
                "role": str(principal.role),
                "district": principal.district,
                "case_id": case_id,
                "action": action,
                "outcome": outcome,
            }
            done: Future[None] = Future()
            self._queue.put((row, done))
            waiting.append(done)
        for done in waiting:
            done.result()

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
