"""The effect goals (api/goals/) for managers, and the register of the units' adopted
routines for asking about violence (goal 1), kept by managers and implementers.

A routine is unit data, not client data: it carries who recorded it and when, and
no audit record (the audit trail is about cases).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from engine import CompiledProcess

from ..audit import AuditWriter
from ..auth import Principal, Role, require
from ..errors import ApiError, invalid, problem_responses
from ..goals import GoalSettings, GoalsReport, client_units, goals_report, units_by_district, year_range
from ..models import UnitRoutine, utcnow
from ..pseudonym import ID_PATTERN
from ..store import registry
from .deps import audit_writer, db, reader_db

router = APIRouter(tags=["goals"])
DB = Annotated[Session, Depends(db)]
ReadDB = Annotated[Session, Depends(reader_db)]
Manager = Annotated[Principal, require(Role.manager)]
Keeper = Annotated[Principal, require(Role.manager, Role.implementer)]
Writer = Annotated[AuditWriter, Depends(audit_writer)]
YEARS = r"^\d{4}(-\d{4})?$"
FIRST_YEAR, LAST_YEAR = 1900, 2999


class RoutineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    district: str = Field(pattern=ID_PATTERN, description="The district whose file declares the unit.")
    adopted: dt.date = Field(description="The day the unit adopted the routine (not in the future).")


class RoutineOut(BaseModel):
    district: str
    unit: str
    adopted: dt.date
    recorded_by: str
    recorded_at: dt.datetime


class UnitRoutineRow(BaseModel):
    district: str
    unit: str
    label: str
    kind: str
    counted: bool = Field(description="The unit counts for goal 1 (its kind is one of the configured unit kinds).")
    adopted: dt.date | None


def _settings(request: Request) -> GoalSettings:
    settings: GoalSettings = request.app.state.settings.goals
    return settings


def _district(request: Request, district: str, where: str, principal: Principal) -> CompiledProcess:
    state = registry(request).snapshot.districts.get(district)
    if state is None or state.compiled is None:
        known = ", ".join(registry(request).snapshot.districts)
        raise invalid({"district": f"not a district; the districts are {known}"}, where=where)
    # A district's manager sees and keeps their own district's figures only (OSL: separate authorities).
    if principal.role == Role.manager and not principal.sees_district(district):
        raise ApiError(404, "no such district for you")
    return state.compiled


@router.get(
    "/reports/goals",
    response_model=GoalsReport,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The report (JSON, or CSV with format=csv).",
        },
        **problem_responses(401, 403, 422),
    },
)
def goals(
    request: Request,
    principal: Manager,
    writer: Writer,
    year: Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR, description="One year (default: this year).")] = None,
    years: Annotated[str | None, Query(pattern=YEARS, description="A span of years, e.g. 2023-2025.")] = None,
    district: Annotated[str | None, Query(pattern=ID_PATTERN, description="One district (default: all, and the city).")] = None,
    format: Annotated[Literal["json", "csv"], Query(description="json (default) or csv.")] = "json",
) -> GoalsReport | Response:
    """The five effect goals per district and year, and for the city: numerator, denominator, value, target.
    A district's manager gets their district's (by default, and only)."""
    if year is not None and years is not None:
        raise invalid({"years": "give year or years, not both"}, where="query")
    if years is not None:
        try:
            chosen = year_range(years)
        except ValueError as exc:
            raise invalid({"years": str(exc)}, where="query") from None
        if chosen[0] < FIRST_YEAR or chosen[-1] > LAST_YEAR:
            raise invalid({"years": f"years from {FIRST_YEAR} to {LAST_YEAR}"}, where="query")
    else:
        chosen = [year or dt.datetime.now(ZoneInfo(request.app.state.settings.timezone)).year]
    district = district or (None if principal.city_wide else principal.district)
    if district is not None:
        _district(request, district, "query", principal)
    config = _settings(request)
    units, labels = units_by_district(registry(request).snapshot.districts, config)
    # The reader engine: the five queries run at once, each on a connection of its own.
    report = goals_report(request.app.state.reader, chosen, district, config, units, labels)
    writer.write(principal, "goals_report", case_district=district)
    if format == "csv":
        name = f"effektmal-{chosen[0]}-{chosen[-1]}{'-' + district if district else ''}.csv"
        return Response(
            report.to_csv(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return report


@router.get("/units/routines", response_model=list[UnitRoutineRow], responses=problem_responses(401, 403, 422))
def list_routines(
    request: Request,
    principal: Keeper,
    session: ReadDB,
    district: Annotated[str, Query(pattern=ID_PATTERN, description="The district.")],
) -> list[UnitRoutineRow]:
    """Every unit of the district's process, with the day it adopted the routine (null: not yet)."""
    compiled = _district(request, district, "query", principal)
    counted = set(client_units(compiled.process.units, _settings(request)))
    adopted = {
        r.unit: r.adopted
        for r in session.exec(select(UnitRoutine).where(UnitRoutine.district == district).order_by(col(UnitRoutine.unit)))
    }
    session.close()
    return [
        UnitRoutineRow(
            district=district,
            unit=unit_id,
            label=unit.label,
            kind=unit.kind,
            counted=unit_id in counted,
            adopted=adopted.get(unit_id),
        )
        for unit_id, unit in compiled.process.units.items()
    ]


@router.put(
    "/units/{unit}/routine",
    response_model=RoutineOut,
    responses={
        201: {"model": RoutineOut, "description": "Recorded for the first time."},
        **problem_responses(400, 401, 403, 404, 409, 413, 422),
    },
)
def record_routine(
    unit: Annotated[str, Path(pattern=ID_PATTERN)],
    body: RoutineIn,
    request: Request,
    response: Response,
    principal: Keeper,
    session: DB,
) -> RoutineOut:
    """Record (or correct) the day a unit adopted the routine for asking about violence."""
    compiled = _district(request, body.district, "body", principal)
    if unit not in compiled.process.units:
        raise ApiError(404, f"no such unit in the district; the units are {', '.join(compiled.process.units)}")
    today = dt.datetime.now(ZoneInfo(request.app.state.settings.timezone)).date()
    if body.adopted > today:
        raise invalid({"adopted": "a routine is recorded once it is adopted: not a day in the future"})
    values: dict[str, Any] = {"adopted": body.adopted, "recorded_by": principal.subject, "recorded_at": utcnow()}
    row = session.get(UnitRoutine, (body.district, unit))
    created = row is None
    if row is None:
        row = UnitRoutine(district=body.district, unit=unit, **values)
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # recorded by someone else meanwhile: this one corrects it
            session.rollback()
            created, row = False, session.get(UnitRoutine, (body.district, unit))
    if not created and row is not None:
        row.sqlmodel_update(values)
        session.add(row)
        session.commit()
    if row is None:
        raise ApiError(409, "the routine was taken back meanwhile; record it again")
    response.status_code = 201 if created else 200
    return RoutineOut.model_validate(row, from_attributes=True)


@router.delete("/units/{unit}/routine", status_code=204, responses=problem_responses(401, 403, 404, 422))
def remove_routine(
    unit: Annotated[str, Path(pattern=ID_PATTERN)],
    request: Request,
    principal: Keeper,
    session: DB,
    district: Annotated[str, Query(pattern=ID_PATTERN, description="The district.")],
) -> Response:
    """Take back a routine recorded by mistake."""
    _district(request, district, "query", principal)
    row = session.get(UnitRoutine, (district, unit))
    if row is None:
        raise ApiError(404, "no routine recorded for that unit in the district")
    session.delete(row)
    session.commit()
    return Response(status_code=204)
