"""The managers' pages on the service's figures: the workload of their district (the city's: every
district), from the same report as ``GET /reports/workload`` (routes/reports.py).  Login, the cookie
and the page frame are routes/pages.py's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from ..auth import Role
from ..pseudonym import ID_PATTERN
from .deps import reader_db
from .pages import page, page_principal
from .reports import workload_for

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/workload", response_class=HTMLResponse)
def workload_page(
    request: Request,
    session: Annotated[Session, Depends(reader_db)],
    district: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> HTMLResponse:
    principal = page_principal(request, Role.manager)
    report = workload_for(request, principal, session, district)
    request.app.state.audit_writer.write(principal, "workload_report", case_district=district or principal.district)
    all_exact = all(d.exact for d in report.districts)
    return page(request, "workload.html", principal, report=report, today=report.today, chosen=district, all_exact=all_exact)
