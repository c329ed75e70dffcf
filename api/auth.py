"""Bearer tokens (JWT), the roles, and the scope each role sees.

* caseworker: the cases of their own district (the ``district`` claim), nothing else;
* implementer: the process endpoints; with a ``district`` claim, that district's process owner,
  who drafts and proposes changes to it;
* process_owner: the city's owner of the programme (socialförvaltningen), no district: approves
  or rejects the districts' proposals, drafts changes to the central process, sees no case;
* manager: reports, overdue lists, cases' next steps (never their facts) and the audit
  trail, of one district (``district``), or of the whole city (``scope: city``, for
  socialförvaltningen, which sees reports but no district's cases).

The 11 district committees are separate authorities under OSL (26 kap.): nothing a
district-scoped token reaches belongs to another district.

A token must carry ``sub``, ``iat`` and ``exp``, and live no longer than
``max_token_hours``: a token that never expires cannot be taken back.  A logout, or
``brytupp revoke --subject S``, puts it on a deny list in the database, which every
request checks, so that every instance of the service refuses it at once.

Tokens are verified with a shared HS256 key or the keys of a JWKS address (the city's
identity provider).  ``mint`` makes a local token for development and tests
(``brytupp token``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel

from . import context
from .errors import ApiError
from .pseudonym import ID_PATTERN, looks_like_pin
from .settings import Settings

CITY = "city"
# The columns that store claims (audit_records, revocations) hold this much; a longer claim
# is a token this service did not issue for anyone it knows, so it is refused, not cut.
MAX_SUBJECT = 128
MAX_TOKEN_ID = 64
_DISTRICT = re.compile(ID_PATTERN)
REQUIRED = ["exp", "iat", "sub"]
# Clocks of the identity provider and of the service may differ a little.
LEEWAY = dt.timedelta(seconds=60)


class Role(StrEnum):
    caseworker = "caseworker"
    implementer = "implementer"
    manager = "manager"
    process_owner = "process_owner"


class Principal(BaseModel):
    subject: str
    role: Role
    district: str | None = None
    # ``city`` for a manager of the whole city; None for everyone else.
    scope: str | None = None
    # The token's ``jti``, or a digest of the token where it has none: for the audit trail and logout.
    token_id: str = ""
    issued_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None

    @property
    def city_wide(self) -> bool:
        return self.role == Role.manager and self.scope == CITY

    def sees_district(self, district: str) -> bool:
        """Whether this principal may see data of ``district`` (reports, lists, audit)."""
        return self.city_wide or self.district == district


Revoked = Callable[[Principal], bool]


class Verifier:
    def __init__(self, settings: Settings, revoked: Revoked | None = None) -> None:
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.max_lifetime = dt.timedelta(hours=settings.max_token_hours)
        self.jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True) if settings.jwks_url else None
        self.key = "" if self.jwks else settings.signing_key()
        self.revoked = revoked

    def verify(self, token: str) -> Principal:
        try:
            if self.jwks is not None:
                key: Any = self.jwks.get_signing_key_from_jwt(token).key
                algorithms = ["RS256", "ES256"]
            else:
                key, algorithms = self.key, ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": REQUIRED},
                leeway=LEEWAY,
            )
        except jwt.ExpiredSignatureError:
            raise ApiError(401, "the token has expired") from None
        except jwt.MissingRequiredClaimError as exc:
            raise ApiError(401, f"invalid token: it must carry '{exc.claim}'") from None
        except jwt.ImmatureSignatureError:
            raise ApiError(401, "invalid token: it was issued in the future") from None
        except (jwt.PyJWTError, ValueError):
            # PyJWT's messages are its own, but some quote a claim; say only what kind of problem it is.
            raise ApiError(401, "invalid token: its signature, issuer, audience or form is not accepted") from None
        principal = principal_of(claims)
        assert principal.issued_at is not None and principal.expires_at is not None
        if principal.expires_at - principal.issued_at > self.max_lifetime:
            hours = self.max_lifetime.total_seconds() / 3600
            raise ApiError(401, f"invalid token: it may live at most {hours:g} hours (exp - iat)")
        if self.revoked is not None and self.revoked(principal):
            raise ApiError(401, "the token has been revoked (logged out); log in again")
        info = context.current()
        if info is not None:  # for the audit trail of this request, refusals included
            info.principal = principal
        return principal


def _moment(claims: dict[str, Any], name: str) -> dt.datetime:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(401, f"invalid token: '{name}' must be a time in seconds")
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise ApiError(401, f"invalid token: '{name}' is out of range") from None


def token_id(claims: dict[str, Any]) -> str:
    jti = claims.get("jti")
    if jti is None:
        # Tokens without an id still need one for logout and the trail: a digest of their claims, not
        # of their text, as one token can be spelt several ways (a padded signature verifies alike).
        canonical = json.dumps(claims, sort_keys=True, separators=(",", ":"), default=str)
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]
    if not isinstance(jti, str) or not 1 <= len(jti) <= MAX_TOKEN_ID or not jti.isprintable():
        raise ApiError(401, f"invalid token: 'jti' must be text of 1 to {MAX_TOKEN_ID} characters")
    return jti


def principal_of(claims: dict[str, Any]) -> Principal:
    subject, role, district, scope = claims.get("sub"), claims.get("role"), claims.get("district"), claims.get("scope")
    if not isinstance(subject, str) or not subject:
        raise ApiError(401, "invalid token: no subject ('sub')")
    if len(subject) > MAX_SUBJECT or not subject.isprintable():
        raise ApiError(401, f"invalid token: 'sub' must be printable text of at most {MAX_SUBJECT} characters")
    if looks_like_pin(subject):
        # Staff are people too: the trail records a user id, never a personal identity number.
        raise ApiError(401, "invalid token: 'sub' looks like a personal identity number; the service needs a user id")
    if not isinstance(role, str) or role not in Role.__members__:
        raise ApiError(401, f"invalid token: 'role' must be one of {', '.join(Role)}")
    if district is not None and (not isinstance(district, str) or not _DISTRICT.fullmatch(district)):
        raise ApiError(401, "invalid token: 'district' must be a district id such as farsta")
    if scope is not None and scope != CITY:
        raise ApiError(401, f"invalid token: 'scope' is '{CITY}' or absent")
    if role == Role.caseworker and district is None:
        raise ApiError(401, "invalid token: a caseworker's token names their district ('district')")
    if role == Role.manager and (district is None) == (scope is None):
        raise ApiError(
            401, f"invalid token: a manager's token names their district ('district') or is city-wide ('scope': '{CITY}')"
        )
    if role == Role.process_owner and district is not None:
        raise ApiError(401, "invalid token: the process owner is the city's, not a district's: no 'district'")
    if role != Role.manager and scope is not None:
        raise ApiError(401, "invalid token: only a manager's token may be city-wide")
    return Principal(
        subject=subject,
        role=Role(role),
        district=district,
        scope=scope,
        token_id=token_id(claims),
        issued_at=_moment(claims, "iat"),
        expires_at=_moment(claims, "exp"),
    )


def mint(
    settings: Settings, subject: str, role: Role, district: str | None = None, hours: float = 12, scope: str | None = None
) -> str:
    """A local token.  A manager without a district is city-wide unless ``scope`` says otherwise."""
    now = dt.datetime.now(dt.UTC)
    if role == Role.manager and district is None and scope is None:
        scope = CITY
    claims: dict[str, Any] = {
        "sub": subject,
        "role": str(role),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + dt.timedelta(hours=hours),
        "jti": uuid.uuid4().hex,
    }
    if district is not None:
        claims["district"] = district
    if scope is not None:
        claims["scope"] = scope
    return jwt.encode(claims, settings.signing_key(), algorithm="HS256")


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "a bearer token is required (Authorization: Bearer <token>)")
    return token.strip()


def current_principal(request: Request) -> Principal:
    verifier: Verifier = request.app.state.verifier
    return verifier.verify(bearer(request))


def require(*roles: Role) -> Any:
    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise ApiError(403, f"this needs the role {' or '.join(roles)}; the token has {principal.role}")
        return principal

    return Depends(dependency)
