"""The managers' web pages: server-rendered, Swedish, no build step.

Pages read the token from an HttpOnly, SameSite=Strict cookie set by the login
form (the API itself only takes the Authorization header, so the cookie cannot
be used to change anything through the API).  Managers and implementers see
the districts, their diagrams and the equality matrix; a caseworker sees the
path of a case of their own district.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..auth import Principal, Role
from ..errors import ApiError
from ..store import registry

router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
COOKIE = "brytupp_token"
ROLES = {"caseworker": "handläggare", "implementer": "processansvarig", "manager": "chef"}


class LoginNeeded(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def page_principal(request: Request, *roles: Role) -> Principal:
    token = request.cookies.get(COOKIE)
    if not token:
        raise LoginNeeded(str(request.url.path))
    try:
        principal: Principal = request.app.state.verifier.verify(token)
    except ApiError:
        raise LoginNeeded(str(request.url.path)) from None
    if roles and principal.role not in roles:
        raise ApiError(403, f"sidan kräver rollen {' eller '.join(ROLES[r] for r in roles)}")
    return principal


def page(request: Request, name: str, principal: Principal | None, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"principal": principal, "roles": ROLES, **context}, status_code=status)


def safe_next(value: str | None) -> str:
    # Only paths of this site: a login form must not become an open redirect.
    if value and value.startswith("/ui") and not value.startswith("//"):
        return value
    return "/ui"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return page(request, "login.html", None, next=safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    target = safe_next((form.get("next") or [""])[0])
    try:
        principal: Principal = request.app.state.verifier.verify(token)
    except ApiError as exc:
        return page(request, "login.html", None, status=401, error=f"Token godtogs inte: {exc.message}", next=target)
    if principal.role == Role.caseworker and target == "/ui":
        target = "/ui/cases"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https", max_age=12 * 3600, path="/ui"
    )
    return response


@router.get("/logout")
def logout() -> Response:
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


@router.get("", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    principal = page_principal(request, Role.manager, Role.implementer)
    snapshot = registry(request).snapshot
    rows = []
    for name, state in snapshot.districts.items():
        process = state.compiled.process if state.compiled else None
        rows.append(
            {
                "name": name,
                "label": state.label,
                "version": state.compiled.version if state.compiled else None,
                "status": "errors" if state.findings else "ok",
                "findings": [str(f) for f in state.findings],
                "loaded_at": _when(state.loaded_at),
                "local": len(process.local_steps) if process else 0,
                "changed": len(process.changed_steps) if process else 0,
                "removed": len(process.removed_steps) if process else 0,
                "redirects": len(process.redirects) if process else 0,
            }
        )
    return page(request, "overview.html", principal, districts=rows, problems=[str(f) for f in snapshot.problems])


def _when(moment: dt.datetime | None, zone: str = "Europe/Stockholm") -> str | None:
    return None if moment is None else moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
