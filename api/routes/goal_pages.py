"""The managers' page on the five effect goals (/ui/goals) and its CSV, from the same report as
``GET /reports/goals`` (api/goals/).  Login, the cookie and the page frame are routes/pages.py's.

The page says each figure with what it is made of and in one Swedish number convention
(api/goals/words.py).  Every chart has its data as a table beside it, for screen readers and for
anyone who wants the figures: the charts (static/goals.js) draw the very texts the tables hold,
which this module writes once.  By default the page shows the last three complete years: the
current year's figures are partial and would read as a fall.  The trend chart shows the city and
one district chosen in the form (a district's manager: their own; they see no other figures).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ..auth import Principal, Role
from ..goals import GoalSettings, GoalsReport, Indicator, goals_report, units_by_district, year_range
from ..goals.definitions import GoalDefinition
from ..goals.words import STATUS_TEXT, area, better_text, count_text, scaled, status, target_text, value_text
from ..store import registry
from .pages import REFUSALS, Refused, page, page_principal

router = APIRouter(prefix="/ui", include_in_schema=False)
DEFAULT_YEARS = 3
CITY = "Staden"


@router.get("/goals", response_class=HTMLResponse)
def goals_page(request: Request, years: str | None = None, trend: str | None = None) -> HTMLResponse:
    principal = page_principal(request, Role.manager)
    chosen, report = _goals(request, years, principal)
    # No choice made: a district's manager follows their own district, the city's managers the city alone.
    if trend is None:
        trend = principal.district if principal.district in report.districts else ""
    elif trend and trend not in report.districts:
        raise Refused(404, REFUSALS[404])
    goals = [_goal_view(report, goal, trend or None) for goal in report.goals]
    text = f"{chosen[0]}-{chosen[-1]}" if len(chosen) > 1 else str(chosen[0])
    choices = [{"id": d, "label": area(label)} for d, label in report.districts.items()]
    return page(
        request,
        "goals.html",
        principal,
        goals=goals,
        years=chosen,
        years_text=text,
        trend=trend,
        choices=choices,
        city_shown=report.district is None,
        data={"years": chosen, "goals": goals},
    )


@router.get("/goals.csv")
def goals_csv(request: Request, years: str | None = None) -> Response:
    principal = page_principal(request, Role.manager)
    chosen, report = _goals(request, years, principal)
    return Response(
        report.to_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="effektmal-{chosen[0]}-{chosen[-1]}.csv"'},
    )


def _goals(request: Request, years: str | None, principal: Principal) -> tuple[list[int], GoalsReport]:
    this_year = dt.datetime.now(ZoneInfo(request.app.state.settings.timezone)).year
    try:
        chosen = year_range(years) if years else list(range(this_year - DEFAULT_YEARS, this_year))
    except ValueError:
        raise Refused(422, "Åren anges som ÅÅÅÅ eller ÅÅÅÅ-ÅÅÅÅ, till exempel 2023-2025, högst 50 år.") from None
    config: GoalSettings = request.app.state.settings.goals
    units, labels = units_by_district(registry(request).snapshot.districts, config)
    # The engine, not a session: the report's queries then run at once on their own connections.
    # A district's manager sees their own district's figures only.
    district = None if principal.city_wide else principal.district
    report = goals_report(request.app.state.reader, chosen, district, config, units, labels)
    request.app.state.audit_writer.write(principal, "goals_report", case_district=district)
    return chosen, report


def _cell(goal: GoalDefinition, row: Indicator | None) -> dict[str, Any]:
    """One figure as the table and the chart both say it."""
    if row is None:  # a place the report does not cover: nothing to count, as with a zero denominator
        return {"value": None, "text": value_text(goal, None), "count": "", "status": "none", "status_text": STATUS_TEXT["none"]}
    state = status(row)
    return {
        "value": scaled(goal, row.value),
        "text": value_text(goal, row.value),
        "count": count_text(goal, row.numerator, row.denominator),
        "status": state,
        "status_text": STATUS_TEXT[state],
    }


def _goal_view(report: GoalsReport, goal: GoalDefinition, trend: str | None) -> dict[str, Any]:
    rows = {(r.year, r.district): r for r in report.indicators if r.goal == goal.goal}
    last = report.years[-1]
    places: list[tuple[str | None, str]] = [(d, area(label)) for d, label in report.districts.items()]
    if report.district is None:
        places.append((None, CITY))
    series: list[tuple[str | None, str]] = [(None, CITY)] if report.district is None else []
    if trend is not None:
        series.append((trend, area(report.districts[trend])))
    return {
        "goal": goal.goal,
        "label": goal.label,
        "measure": goal.measure,
        "share": goal.kind == "share",
        "target": scaled(goal, goal.target),
        "target_text": target_text(goal),
        "better_text": better_text(goal),
        "count_heading": "Antal (täljare av nämnare)" if goal.kind == "share" else "Remisser mot basåret",
        "bars": [{"place": label, "city": d is None, **_cell(goal, rows.get((last, d)))} for d, label in places],
        "series": [label for _, label in series],
        "trend": [{"year": y, "cells": [_cell(goal, rows.get((y, d))) for d, _ in series]} for y in report.years],
    }
