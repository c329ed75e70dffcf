"""The process pages: a district's process (or the city's) as an overview by phase with its changes
written out beside it, one phase's steps with the live figures per step, and the full diagram.

The pictures are engine/overview.py's; the figures are the steps report (``GET /reports/steps``,
api/step_figures.py) read through ``steps_for``, so the page shows exactly the numbers, and the same
hidden small numbers, that the report gives the same reader, and reading them is audited as the
report is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from engine import CompiledProcess, compare, render_process
from engine.diagram import diagram_of
from engine.overview import Figures, render_overview, render_phase

from ..audit import AuditWriter
from ..auth import Principal
from ..errors import ApiError
from ..pseudonym import ID_PATTERN
from ..step_figures import MONTH, StepFigures, StepsReport
from ..store import registry
from .deps import audit_writer, reader_db
from .diagrams import diagram_bytes
from .pages import READERS, Refused, inline_svg, local_time, page, page_principal
from .reports import steps_for

router = APIRouter(prefix="/ui", include_in_schema=False)
BAD_PERIOD = "Perioden går inte att använda: från-månaden måste vara samma som eller före till-månaden, högst tio år."
CENTRAL = "central"  # the city's process, under the districts' address so that its pages are theirs
Name = Annotated[str, PathParam(pattern=ID_PATTERN)]


@dataclass(frozen=True)
class Metric:
    label: str  # the select's and the legend's words
    value: Callable[[StepFigures], float | None]
    text: Callable[[StepFigures], str]
    higher_is_worse: bool


def number(value: float | None, digits: int = 1) -> str:
    """A figure as a Swedish reader writes it: decimal comma, no trailing ",0"."""
    if value is None:
        return "–"
    return f"{value:.{digits}f}".replace(".", ",").removesuffix(",0")


def share(value: float | None) -> str:
    return "–" if value is None else f"{number(value * 100, 0)} %"


METRICS = {
    "median": Metric(
        "Mediantid i dagar",
        lambda s: s.median_days,
        lambda s: f"Median {number(s.median_days)} dagar ({s.passed} passerade)" if s.median_days is not None else "",
        True,
    ),
    "within": Metric(
        "Andel klara inom tidsfristen",
        lambda s: s.within_deadline,
        lambda s: f"{share(s.within_deadline)} inom tidsfristen" if s.within_deadline is not None else "",
        False,
    ),
    "overdue": Metric(
        "Försenade nu",
        lambda s: float(s.overdue_now) if isinstance(s.overdue_now, int) else None,
        lambda s: f"{s.overdue_now} försenade nu",
        True,
    ),
}


def process_of(request: Request, name: str) -> tuple[CompiledProcess, CompiledProcess | None, str, Any]:
    """The process under ``name`` (``central`` the city's), the central one to compare it with, its label
    and its registry state (None for the central process)."""
    snapshot = registry(request).snapshot
    if name == CENTRAL:
        if snapshot.central is None:
            raise Refused(404, "Stadens process går inte att bygga just nu.")
        return snapshot.central, None, "Stadens process", None
    state = snapshot.districts.get(name)
    if state is None or state.compiled is None:
        raise Refused(404, "Det finns ingen process för den stadsdelen.")
    return state.compiled, snapshot.central, state.label, state


GROUPS = {"added": "added", "removed": "removed", "route": "route", "note": "noted", "contacts": "noted"}


def changes_text(compiled: CompiledProcess, central: CompiledProcess | None) -> dict[str, list[dict[str, Any]]]:
    """What the district changes against the city, grouped as a manager asks about it."""
    groups: dict[str, list[dict[str, Any]]] = {"added": [], "changed": [], "removed": [], "route": [], "noted": []}
    if central is None:
        return groups
    found = compare(central, compiled)
    phases = diagram_of(compiled).phases
    steps = {**central.process.steps, **compiled.process.steps}
    for c in found.steps:
        group = GROUPS.get(c.kind, "changed")
        phase = phases.get(steps[c.step].phase) if c.step in steps else None
        groups[group].append({"step": c.step, "label": c.label, "text": c.text, "phase": phase})
    return groups


@router.get("/central")
def central_page() -> RedirectResponse:
    return RedirectResponse(f"/ui/districts/{CENTRAL}", status_code=303)


@dataclass(frozen=True)
class PhaseFigures:
    """A phase's steps added up; a sum is None where one of its steps shows "<5" (it cannot be added)."""

    phase: str
    label: str
    passed: int | None
    open_now: int | None
    overdue_now: int | None


def _sum(counts: list[int | str]) -> int | None:
    return sum(c for c in counts if isinstance(c, int)) if all(isinstance(c, int) for c in counts) else None


def by_phase(report: StepsReport, phases: list[Any]) -> list[PhaseFigures]:
    return [
        PhaseFigures(
            p.id,
            p.label,
            _sum([s.passed for s in report.steps if s.phase == p.id]),
            _sum([s.open_now for s in report.steps if s.phase == p.id]),
            _sum([s.overdue_now for s in report.steps if s.phase == p.id]),
        )
        for p in phases
    ]


def count(value: int | None, exact: bool = True) -> str:
    """A phase's sum; outside the district its parts are rounded to 5, so the sum is approximate."""
    return "–" if value is None else str(value) if exact or value == 0 else f"ca {value}"


@router.get("/districts/{district}", response_class=HTMLResponse)
def district_page(
    request: Request,
    district: Name,
    session: Annotated[Session, Depends(reader_db)],
    writer: Annotated[AuditWriter, Depends(audit_writer)],
    view: str = "overview",
    period_from: Annotated[str | None, Query(alias="from", pattern=MONTH)] = None,
    period_to: Annotated[str | None, Query(alias="to", pattern=MONTH)] = None,
) -> HTMLResponse:
    """The process by phase with its changes as text and what is open and overdue in each phase now, or
    (``view``) the whole process or its differences."""
    principal = page_principal(request, *READERS)
    compiled, central, label, state = process_of(request, district)
    view = view if view in ("overview", "process", "diff") and not (district == CENTRAL and view == "diff") else "overview"
    model = diagram_of(compiled)
    totals: list[PhaseFigures] = []
    report = None
    if view == "overview":
        report = figures_for(request, principal, session, writer, district, period_from, period_to)
        figures = None
        if report is not None:
            totals = by_phase(report, list(model.phases.values()))
            said = {t.phase: f"{count(t.overdue_now, report.exact)} försenade nu" for t in totals}
            values = {t.phase: (None if t.overdue_now is None else float(t.overdue_now), said[t.phase]) for t in totals}
            figures = Figures("Försenade steg nu", values)
        svg = render_overview(compiled, central, href=f"/ui/districts/{district}/phases/{{phase}}", figures=figures)
    elif district == CENTRAL:
        svg = render_process(compiled)
    else:
        svg = diagram_bytes(request, district, view, "svg")
    return page(
        request,
        "district.html",
        principal,
        name=district,
        central=district == CENTRAL,
        label=label,
        version=compiled.version,
        loaded_at=local_time(state.loaded_at, request.app.state.settings.timezone) if state else None,
        local=len(compiled.process.local_steps),
        changed=len(compiled.process.changed_steps),
        findings=[str(f) for f in state.findings] if state else [],
        view=view,
        phases=list(model.phases.values()),
        changes=changes_text(compiled, central),
        report=report,
        totals=totals,
        count=count,
        svg=inline_svg(svg),
    )


@router.get("/districts/{district}/phases/{phase}", response_class=HTMLResponse)
def phase_page(
    request: Request,
    district: Name,
    phase: Name,
    session: Annotated[Session, Depends(reader_db)],
    writer: Annotated[AuditWriter, Depends(audit_writer)],
    metric: str = "median",
    period_from: Annotated[str | None, Query(alias="from", pattern=MONTH)] = None,
    period_to: Annotated[str | None, Query(alias="to", pattern=MONTH)] = None,
) -> HTMLResponse:
    """One phase's steps, coloured by the chosen measure over the chosen months, with the same figures as a table."""
    principal = page_principal(request, *READERS)
    compiled, central, label, _state = process_of(request, district)
    model = diagram_of(compiled)
    if phase not in model.phases:
        raise Refused(404, "Processen har ingen sådan fas.")
    chosen = METRICS.get(metric, METRICS["median"])
    metric = metric if metric in METRICS else "median"
    report = figures_for(request, principal, session, writer, district, period_from, period_to)
    figures = None
    rows: list[StepFigures] = []
    if report is not None:
        rows = [s for s in report.steps if s.step in model.phases[phase].steps]
        values = {s.step: (chosen.value(s), chosen.text(s)) for s in rows}
        figures = Figures(chosen.label, values, chosen.higher_is_worse)
    href = f"/ui/districts/{district}/phases/{{phase}}"
    svg = render_phase(compiled, phase, central, figures, href=href)
    return page(
        request,
        "phase.html",
        principal,
        name=district,
        central=district == CENTRAL,
        label=label,
        phase=model.phases[phase],
        phases=list(model.phases.values()),
        metric=metric,
        metrics={k: m.label for k, m in METRICS.items()},
        report=report,
        rows=rows,
        period_from=period_from or (f"{report.period_from:%Y-%m}" if report else ""),
        period_to=period_to or (f"{report.period_to:%Y-%m}" if report else ""),
        number=number,
        share=share,
        svg=inline_svg(svg),
    )


def figures_for(
    request: Request,
    principal: Principal,
    session: Session,
    writer: AuditWriter,
    district: str,
    start: str | None,
    end: str | None,
) -> StepsReport | None:
    """The steps report as ``GET /reports/steps`` gives it to this reader, audited as it is; None for a
    reader it refuses (another district's process owner sees the picture without the figures)."""
    try:
        report = steps_for(request, principal, session, None if district == CENTRAL else district, start, end)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise Refused(422, BAD_PERIOD) from None
    writer.write(principal, "steps_report", case_district=None if district == CENTRAL else district)
    return report
