"""Bearer tokens (JWT) and the three roles.

* caseworker: the cases of their own district (the ``district`` claim), nothing else;
* implementer: the process endpoints;
* manager: reports, overdue lists and the audit trail, never a case's facts.

Tokens are verified with a shared HS256 key or the keys of a JWKS address
(the city's identity provider).  ``mint`` makes a local token for development
and tests (``brytupp token``).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel

from .errors import ApiError
from .settings import Settings


class Role(StrEnum):
    caseworker = "caseworker"
    implementer = "implementer"
    manager = "manager"


class Principal(BaseModel):
    subject: str
    role: Role
    district: str | None = None


class Verifier:
    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True) if settings.jwks_url else None
        self.key = "" if self.jwks else settings.signing_key()

    def verify(self, token: str) -> Principal:
        try:
            if self.jwks is not None:
                signing = self.jwks.get_signing_key_from_jwt(token)
                claims = jwt.decode(token, signing.key, algorithms=["RS256", "ES256"], audience=self.audience, issuer=self.issuer)
            else:
                claims = jwt.decode(token, self.key, algorithms=["HS256"], audience=self.audience, issuer=self.issuer)
        except jwt.ExpiredSignatureError:
            raise ApiError(401, "the token has expired") from None
        except jwt.PyJWTError as exc:
            raise ApiError(401, f"invalid token: {exc}") from None
        return principal_of(claims)


def principal_of(claims: dict[str, Any]) -> Principal:
    subject, role, district = claims.get("sub"), claims.get("role"), claims.get("district")
    if not isinstance(subject, str) or not subject:
        raise ApiError(401, "invalid token: no subject ('sub')")
    if not isinstance(role, str) or role not in Role.__members__:
        raise ApiError(401, f"invalid token: 'role' must be one of {', '.join(Role)}")
    if role == Role.caseworker and not isinstance(district, str):
        raise ApiError(401, "invalid token: a caseworker's token names their district ('district')")
    return Principal(subject=subject, role=Role(role), district=district if isinstance(district, str) else None)


def mint(settings: Settings, subject: str, role: Role, district: str | None = None, hours: float = 12) -> str:
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "role": str(role),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + dt.timedelta(hours=hours),
    }
    if district is not None:
        claims["district"] = district
    return jwt.encode(claims, settings.signing_key(), algorithm="HS256")


def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "a bearer token is required (Authorization: Bearer <token>)")
    verifier: Verifier = request.app.state.verifier
    return verifier.verify(token.strip())


def require(*roles: Role) -> Any:
    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise ApiError(403, f"this needs the role {' or '.join(roles)}; the token has {principal.role}")
        return principal

    return Depends(dependency)
