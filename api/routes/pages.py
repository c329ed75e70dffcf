"""The managers' web pages: server-rendered, Swedish, no build step.

Pages read the token from an HttpOnly, SameSite=Strict cookie set by the login
form (the API itself only takes the Authorization header, so the cookie cannot
be used to change anything through the API).  Managers and implementers see
the districts, their diagrams and the equality matrix.  This module owns the
login, the cookie and the page frame; the caseworkers' pages (their unit's work,
their cases, a case) are routes/work_pages.py's, the pages for reviewed change
of the processes routes/change_pages.py's, the effect goals
routes/goal_pages.py's, a district's process (overview by phase, the phases, the
live figures) routes/process_pages.py's.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from engine import export_bpmn

from ..auth import Principal, Role
from ..errors import ApiError
from ..pseudonym import ID_PATTERN
from ..pseudonym import MESSAGE as PIN_MESSAGE
from ..store import registry
from .diagrams import MEDIA, diagram_bytes, district_process, equality

router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
COOKIE = "brytupp_token"
ROLES = {"caseworker": "handläggare", "implementer": "processansvarig", "manager": "chef", "process_owner": "processägare"}
# Who reads the districts' processes: their managers and process owners, and the city's process owner.
READERS = (Role.manager, Role.implementer, Role.process_owner)


# A refusal's sentence on a page, by status: the service's own messages are English and for programs.
REFUSALS = {
    400: "Sidan fick en begäran som den inte kan läsa.",
    403: "Det här får du inte göra.",
    404: "Finns inte, eller hör inte till dina stadsdelar.",
    405: "Sidan går inte att använda på det sättet.",
    409: "Det går inte just nu.",
    412: "Utkastet har ändrats sedan du öppnade sidan. Ladda om sidan och försök igen.",
    413: "Filen är för stor.",
    415: "Sidan tar bara emot sina egna formulär.",
    422: "Uppgifterna godtogs inte.",
    429: "För många försök just nu. Vänta en stund och försök igen.",
    500: "Något gick fel i tjänsten. Felet är loggat; försök igen om en stund.",
    503: "Databasen svarar inte just nu. Försök igen om en stund.",
}


# The personal-number guard's refusal as a page says it (api/pseudonym.py): what, where, never the value.
PIN_PAGE = (
    "Något i det du skickade ser ut som ett personnummer eller samordningsnummer och togs inte emot: "
    "klienter registreras bara under sin pseudonym"
)


class Refused(ApiError):
    """A refusal the pages word themselves, in Swedish: shown as it is."""


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
        raise Refused(403, f"Sidan kräver rollen {' eller '.join(ROLES[r] for r in roles)}.")
    return principal


def page(request: Request, template: str, principal: Principal | None, status: int = 200, **context: Any) -> HTMLResponse:
    frame = {"principal": principal, "roles": ROLES, "district_label": _district_label(request, principal)}
    return templates.TemplateResponse(request, template, {**frame, **context}, status_code=status)


def _district_label(request: Request, principal: Principal | None) -> str | None:
    # The header names the person's district as people say it, not by its id.
    if principal is None or principal.district is None:
        return None
    state = registry(request).snapshot.districts.get(principal.district)
    return state.label if state is not None else principal.district


def error_page(request: Request, status: int, exc: Exception, incident: str | None = None) -> HTMLResponse:
    """A refusal or failure under /ui as a page in Swedish, with the navigation of whoever is logged in:
    a person who followed a link gets a page, never the API's JSON.  Like the JSON answers it repeats
    nothing that was sent; a query parameter is named, its value is not."""
    if isinstance(exc, Refused):
        said = exc.message
    elif isinstance(exc, ApiError) and exc.fields and any(f.get("msg") == PIN_MESSAGE for f in exc.fields):
        where = sorted({str(f["loc"][-1]) for f in exc.fields if len(f.get("loc", ())) > 1})
        said = PIN_PAGE + (f" (fältet {', '.join(where)})." if where else ".")
    elif isinstance(exc, RequestValidationError):
        located = (e.get("loc", ()) for e in exc.errors())
        names = sorted({str(loc[-1]) for loc in located if len(loc) > 1 and loc[0] in ("query", "path")})
        said = f"Adressen har ett värde som sidan inte kan använda: {', '.join(names)}." if names else REFUSALS[422]
    else:
        said = REFUSALS.get(status, "Det gick inte.")
    if incident:
        said += f" Ange felnummer {incident} om du kontaktar förvaltningen."
    return page(request, "refused.html", _logged_in(request), status, error=said)


def _logged_in(request: Request) -> Principal | None:
    # The frame's navigation only: an error page never asks anyone to log in again.
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        principal: Principal = request.app.state.verifier.verify(token)
    except Exception:
        return None
    return principal


def safe_next(value: str | None) -> str:
    # Only paths of this site: a login form must not become an open redirect.
    if value and value.startswith("/ui") and not value.startswith("//"):
        return value
    return "/ui"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return page(request, "login.html", None, next=safe_next(next))


def same_site(request: Request) -> bool:
    """Whether a form post came from one of this site's own pages.

    An Origin check rather than a CSRF token: the forms that change the session (log in, log out)
    run before there is a session to keep a token in, and every browser sends ``Origin`` on a
    POST (``Referer`` is the fallback for one that does not).  Hosts are compared, not schemes,
    as a TLS-terminating proxy forwards https requests to the service as http."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    host = request.headers.get("host")
    if not claimed or not host or claimed == "null":
        return False
    return _netloc(urllib.parse.urlsplit(claimed)) == _netloc(urllib.parse.urlsplit("//" + host))


def _netloc(url: urllib.parse.SplitResult) -> str | None:
    try:
        port = url.port
    except ValueError:
        return None
    if url.hostname is None:
        return None
    return url.hostname if port in (None, 80, 443) else f"{url.hostname}:{port}"


FOREIGN_FORM = "Formuläret skickades inte från den här webbplatsen och avvisades. Öppna inloggningssidan och försök igen."


@router.post("/login")
async def login(request: Request) -> Response:
    if not same_site(request):
        return page(request, "login.html", None, status=403, error=FOREIGN_FORM, next="/ui")
    # The form is the page's own: a body of any other type is not read as one, so that nothing sent in
    # some other shape ends up on the page.
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        error = "Inloggningen tar bara emot inloggningssidans formulär (application/x-www-form-urlencoded)."
        return page(request, "login.html", None, status=415, error=error, next="/ui")
    form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    target = safe_next((form.get("next") or [""])[0])
    try:
        principal: Principal = request.app.state.verifier.verify(token)
    except ApiError as exc:
        # A failed login does not repeat the address it was sent: it is text the sender chose.
        return page(request, "login.html", None, status=401, error=f"Token godtogs inte: {exc.message}", next="/ui")
    if principal.role == Role.caseworker and target == "/ui":
        target = "/ui/cases"
    if principal.role == Role.process_owner and target == "/ui":
        target = "/ui/proposals"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https", max_age=12 * 3600, path="/ui"
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    if not same_site(request):
        return page(request, "login.html", None, status=403, error=FOREIGN_FORM, next="/ui")
    token = request.cookies.get(COOKIE)
    if token:
        # Logging out takes the token back everywhere, not only from this browser's cookie.
        try:
            principal: Principal = request.app.state.verifier.verify(token)
        except ApiError:
            pass  # expired or revoked already
        else:
            request.app.state.revocations.revoke_token(principal, by=principal.subject)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


@router.get("", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    principal = page_principal(request, *READERS)
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
                "loaded_at": local_time(state.loaded_at),
                "local": len(process.local_steps) if process else 0,
                "changed": len(process.changed_steps) if process else 0,
                "removed": len(process.removed_steps) if process else 0,
                "redirects": len(process.redirects) if process else 0,
            }
        )
    return page(request, "overview.html", principal, districts=rows, problems=[str(f) for f in snapshot.problems])


def local_time(moment: dt.datetime | None, zone: str = "Europe/Stockholm") -> str | None:
    return None if moment is None else moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def inline_svg(content: bytes) -> str:
    # Inline: the page's pan/zoom works on the drawing itself; drop the XML prologue and DOCTYPE.
    text = content.decode("utf-8")
    return text[text.index("<svg") :]


@router.get("/districts/{district}/diagram.{format}")
def district_download(
    request: Request,
    district: Annotated[str, PathParam(pattern=ID_PATTERN)],
    format: Literal["svg", "png", "pdf"],
    view: Literal["process", "diff"] = "process",
) -> Response:
    page_principal(request, *READERS)
    content = diagram_bytes(request, district, view, format)
    name = f"bryt_upp_{district}{'_andringar' if view == 'diff' else ''}.{format}"
    return Response(content, media_type=MEDIA[format], headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/districts/{district}/bpmn")
def district_bpmn(request: Request, district: Annotated[str, PathParam(pattern=ID_PATTERN)]) -> Response:
    page_principal(request, *READERS)
    compiled = district_process(request, district)
    return Response(
        export_bpmn(compiled),
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="bryt_upp_{district}.bpmn"'},
    )


@router.get("/equality.json")
def equality_json(request: Request) -> Response:
    page_principal(request, *READERS)
    return Response(equality(request).model_dump_json(indent=2), media_type="application/json")


@router.get("/equality.csv")
def equality_csv(request: Request) -> Response:
    page_principal(request, *READERS)
    return Response(
        equality(request).to_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="likstallighet.csv"'},
    )
