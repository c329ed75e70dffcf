"""The deny list of tokens: logout and ``brytupp revoke`` write it, every request reads it.

It lives in the database, so every instance refuses a revoked token.  Each instance
checks every request against its mirror of the list, which takes the rows added since
it last looked at most every ``BRYTUPP_REVOCATION_REFRESH`` seconds (0.5): asking the
database on every request cost about a sixth of a decision request's time
(bench/api.py), and the list changes a few times an hour.  A logout is refused at once by
the instance that took it, and by every other within the refresh.  A row is kept until
the tokens it refuses would have expired anyway; ``revoke`` clears older rows as it goes.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time

from sqlalchemy import delete, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from .auth import Principal
from .models import Revocation, utcnow


class Revocations:
    def __init__(self, reader: Engine, writer: Engine | None = None, refresh: float = 0.5) -> None:
        self.reader = reader
        self.writer = writer or reader
        self.refresh = refresh
        self._lock = threading.Lock()
        self._read_at = -math.inf
        self._last_id = 0
        # token id -> until; subject -> the latest moment up to which their tokens are refused
        self._tokens: dict[str, dt.datetime] = {}
        self._subjects: dict[str, dt.datetime] = {}

    def is_revoked(self, principal: Principal) -> bool:
        self._catch_up()
        if principal.token_id in self._tokens:
            return True
        before = self._subjects.get(principal.subject)
        return before is not None and (principal.issued_at or utcnow()) <= before

    def _catch_up(self, now: bool = False) -> None:
        """Take the rows added since the last look, when that is ``refresh`` seconds ago (or ``now``)."""
        if not now and time.monotonic() - self._read_at < self.refresh:
            return
        with self._lock:
            if not now and time.monotonic() - self._read_at < self.refresh:
                return  # another request looked meanwhile
            started = time.monotonic()
            with Session(self.reader) as session:
                added = select(Revocation).where(col(Revocation.id) > self._last_id).order_by(col(Revocation.id))
                rows = list(session.exec(added))
            moment = utcnow()
            tokens = {t: until for t, until in self._tokens.items() if until >= moment}
            subjects = dict(self._subjects)
            for row in rows:
                self._last_id = max(self._last_id, row.id or 0)
                if row.token_id is not None:
                    tokens[row.token_id] = row.until
                if row.subject is not None and row.issued_before is not None:
                    subjects[row.subject] = max(row.issued_before, subjects.get(row.subject, row.issued_before))
            # Swapped whole: requests reading meanwhile see the old list or the new, never half of one.
            self._tokens, self._subjects = tokens, subjects
            self._read_at = started

    def revoke_token(self, principal: Principal, by: str) -> None:
        """Logout: this token, until it expires."""
        until = principal.expires_at or utcnow()
        with Session(self.writer) as session:
            if session.exec(select(Revocation.id).where(Revocation.token_id == principal.token_id)).first() is None:
                session.add(Revocation(token_id=principal.token_id, until=until, revoked_by=by))
                session.commit()
        self._catch_up(now=True)  # this instance refuses it from the next request on

    def revoke_subject(self, subject: str, by: str, max_token_hours: float) -> None:
        """Every token of ``subject`` issued until now, for as long as any of them can live."""
        now = utcnow()
        with Session(self.writer) as session:
            # The newest row stays: SQLite would give its id again, and mirrors read by id.
            newest = select(func.max(Revocation.id)).scalar_subquery()
            session.exec(delete(Revocation).where(col(Revocation.until) < now, col(Revocation.id) < newest))
            session.add(
                Revocation(
                    subject=subject, issued_before=now, until=now + dt.timedelta(hours=max_token_hours), revoked_by=by
                )
            )
            session.commit()
        self._catch_up(now=True)
