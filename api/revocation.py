"""The deny list of tokens: logout and ``brytupp revoke`` write it, every request reads it.

It lives in the database so that every instance of the service refuses a revoked token
from the next request on.  A row is kept until the tokens it refuses would have expired
anyway; ``revoke`` clears older rows as it goes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from .auth import Principal
from .models import Revocation, utcnow


class Revocations:
    def __init__(self, reader: Engine, writer: Engine | None = None) -> None:
        self.reader = reader
        self.writer = writer or reader

    def is_revoked(self, principal: Principal) -> bool:
        issued = principal.issued_at or utcnow()
        with Session(self.reader) as session:
            hit = session.exec(
                select(Revocation.id)
                .where(
                    or_(
                        col(Revocation.token_id) == principal.token_id,
                        (col(Revocation.subject) == principal.subject) & (col(Revocation.issued_before) >= issued),
                    )
                )
                .limit(1)
            ).first()
        return hit is not None

    def revoke_token(self, principal: Principal, by: str) -> None:
        """Logout: this token, until it expires."""
        until = principal.expires_at or utcnow()
        with Session(self.writer) as session:
            if session.exec(select(Revocation.id).where(Revocation.token_id == principal.token_id)).first() is None:
                session.add(Revocation(token_id=principal.token_id, until=until, revoked_by=by))
                session.commit()

    def revoke_subject(self, subject: str, by: str, max_token_hours: float) -> None:
        """Every token of ``subject`` issued until now, for as long as any of them can live."""
        now = utcnow()
        with Session(self.writer) as session:
            session.exec(delete(Revocation).where(col(Revocation.until) < now))
            session.add(
                Revocation(
                    subject=subject, issued_before=now, until=now + dt.timedelta(hours=max_token_hours), revoked_by=by
                )
            )
            session.commit()
