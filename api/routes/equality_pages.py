"""The equality page (``/ui/equality``): the matrix of who gives each guaranteed intervention in each
district, every difference said in Swedish beside the cell it is about, and, for managers, equality
in practice (the share of eligible clients offered each intervention, against the city's), from
the same report as ``GET /reports/equality-practice`` (routes/reports.py).  Login, the cookie and
the page frame are routes/pages.py's; the matrix's JSON and CSV downloads stay there."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from engine.equality import Cell, Column, EqualityMatrix, cell_remarks, row_remarks
from engine.equality.derived import signature

from ..auth import Role
from ..equality_practice import EqualityPractice, Figure
from ..errors import ApiError
from ..workload import SMALL
from .deps import reader_db
from .diagrams import equality
from .pages import READERS, Refused, page, page_principal
from .reports import equality_practice_for

router = APIRouter(prefix="/ui", include_in_schema=False)
# One class per kind of remark, so that each kind of difference has its own colour on the page.
CLASSES = {
    "differs": "flag",
    "varies": "flag",
    "tightened": "flag-deadline",
    "local": "flag-local",
    "noted": "flag-note",
    "missing": "flag",
    "not_guaranteed": "flag",
}
SHADES = ("flag", "flag-deadline", "flag-local", "flag-note")


@router.get("/equality", response_class=HTMLResponse)
def equality_page(
    request: Request,
    session: Annotated[Session, Depends(reader_db)],
    period_from: Annotated[dt.date | None, Query(alias="from")] = None,
    period_to: Annotated[dt.date | None, Query(alias="to")] = None,
) -> HTMLResponse:
    principal = page_principal(request, *READERS)
    matrix = equality(request)
    practice = None
    if principal.role == Role.manager:
        if period_from is not None and period_to is not None and period_from > period_to:
            raise Refused(422, "Perioden måste börja före eller samma dag som den slutar.")
        try:
            practice = equality_practice_for(request, principal, session, None, period_from, period_to)
        except ApiError as exc:
            raise Refused(exc.status, "Siffrorna kunde inte tas fram för den perioden.") from None
        request.app.state.audit_writer.write(principal, "equality_practice", case_district=principal.district)
    else:
        session.close()
    return page(
        request,
        "equality.html",
        principal,
        columns=matrix.columns,
        rows=_rows(matrix),
        majority=[_majority(matrix, c) for c in matrix.columns],
        practice=practice,
        practice_table=practice_rows(practice) if practice is not None else None,
        period_from=period_from,
        period_to=period_to,
    )


def _rows(matrix: EqualityMatrix) -> list[dict[str, Any]]:
    rows = []
    for row in matrix.districts:
        cells = []
        for cell in row.cells:
            remarks = cell_remarks(matrix, cell)
            # One background per cell, the weightiest difference's; each remark keeps its own colour.
            kinds = {CLASSES[r.kind] for r in remarks}
            shade = next((c for c in SHADES if c in kinds), "")
            cells.append({"units": _units(cell), "remarks": remarks, "classes": shade})
        other = row_remarks(matrix, row)
        rows.append({"district": row.district, "label": row.label, "cells": cells, "other": other})
    return rows


def _units(cell: Cell) -> list[str]:
    return [u.label for u in cell.units] or ["Ingen enhet"]


def _majority(matrix: EqualityMatrix, column: Column) -> str:
    """The foot of a column: the unit most districts share, or that there is none."""
    if "unit" in column.varies:
        return "Ingen gemensam enhet"
    value = column.majority.get("unit")
    if value is None:
        return "–"
    cells = [matrix.cell(row.district, column.intervention) for row in matrix.districts]
    held = [c for c in cells if list(signature(c, "unit")) == value]
    labels = ["Stadsdelens RVC" if u.kind == "rvc" else u.label for u in held[0].units] if held else value
    return f"{' och '.join(dict.fromkeys(labels))} ({len(held)} av {len(cells)})"


def practice_rows(report: EqualityPractice) -> tuple[list[str], list[dict[str, Any]]]:
    """The practice table: the city's row first, then each district's, a cell per intervention
    with its share, its counts and, where flagged, how far from the city's share and in which way."""
    interventions = [f.intervention for f in report.city]
    headers = [f.label for f in report.city]
    rows: list[dict[str, Any]] = [
        {"label": "Hela staden", "district": None, "cells": [{"text": _share_text(f), "flag": None} for f in report.city]}
    ]
    for d in report.districts:
        by_intervention = {f.intervention: f for f in d.interventions}
        cells = []
        for intervention in interventions:
            f = by_intervention.get(intervention)
            if f is None:
                cells.append({"text": "Garanteras inte i stadsdelen", "flag": None})
                continue
            flag = None
            if f.differs and f.difference_points is not None:
                way = "högre" if f.difference_points > 0 else "lägre"
                flag = f"Avviker: {abs(f.difference_points):.0f} procentenheter {way} än staden."
            cells.append({"text": _share_text(f), "flag": flag})
        rows.append({"label": d.label, "district": d.district, "cells": cells})
    return headers, rows


def _share_text(f: Figure) -> str:
    if f.eligible == 0:
        return "Ingen har haft rätt till insatsen"
    if f.share is None:
        return f"{f.offered} av {f.eligible} erbjudna (andelen visas inte för färre än {SMALL})"
    return f"{f.share * 100:.0f} % ({f.offered} av {f.eligible} erbjudna)"
