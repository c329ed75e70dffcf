"""The effect goals' report: per goal, district and year, and for the city.

The report (``GoalsReport``) carries the numerator, denominator, value and
target of each goal per district and year, plus the city; ``value`` is
``null`` where the denominator is zero.  The city is the sum of the districts'
numerators and denominators.  ``to_csv()`` gives the same rows as CSV, in the
machine convention for spreadsheets and statistics tools, not the page's Swedish
one (``words.py``): a decimal point, a share as a fraction 0–1 with four
decimals, an empty ``value`` and ``met`` where there is nothing to count.
``GET /reports/goals`` serves it, ``brytupp goals`` prints it
(``api/goals/terminal.py``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from .definitions import GoalDefinition, GoalSettings, definitions, units_by_district
from .queries import Counts, count


class Indicator(BaseModel):
    goal: int
    year: int
    district: str | None = Field(description="null: the city (the sum of the districts).")
    numerator: int
    denominator: int
    value: float | None = Field(description="numerator / denominator; null when the denominator is 0.")
    target: float
    met: bool | None


class GoalsReport(BaseModel):
    years: list[int]
    district: str | None
    districts: dict[str, str] = Field(description="The districts reported, id → label.")
    goals: list[GoalDefinition]
    settings: GoalSettings
    indicators: list[Indicator]

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            [
                "goal",
                "key",
                "year",
                "district",
                "district_label",
                "numerator",
                "denominator",
                "value",
                "target",
                "direction",
                "met",
            ]
        )
        goals = {g.goal: g for g in self.goals}
        for row in self.indicators:
            goal = goals[row.goal]
            label = self.districts.get(row.district, row.district) if row.district else "Stockholms stad"
            writer.writerow(
                [
                    row.goal,
                    goal.key,
                    row.year,
                    row.district or "city",
                    label,
                    row.numerator,
                    row.denominator,
                    "" if row.value is None else f"{row.value:.4f}",
                    row.target,
                    goal.direction,
                    "" if row.met is None else str(row.met).lower(),
                ]
            )
        return out.getvalue()


def goals_report(
    bind: Engine | Session | Connection,
    years: Iterable[int],
    district: str | None,
    config: GoalSettings,
    units: Mapping[str, Iterable[str]],
    labels: Mapping[str, str] | None = None,
) -> GoalsReport:
    """The five goals for ``years``, for ``district`` or (None) every district and the city.

    ``units``: per district, the ids of the units that meet clients (``client_units``),
    from the district files; ``labels``: district id → its name.  Given an engine, the
    five queries run at once, each on its own connection (each sees the data as of its
    own start); given a session or connection, one after the other on it."""
    years = sorted(set(years))
    if not years:
        raise ValueError("no years")
    counted = {d: list(u) for d, u in units.items() if district is None or d == district}
    results = count(bind, years, district, config, counted)
    routines, housing, referrals, schooling = results["routines"], results["housing"], results["referrals"], results["schooling"]
    reactualised = {key: (results["reactualised"].get(key, 0), clients) for key, clients in results["closed"].items()}

    if district is not None:
        districts = [district]
    else:
        found = {d for counts in (housing, reactualised, referrals, schooling) for d, _ in counts}
        districts = sorted(set(counted) | found)
    goals = definitions(config)
    figures: dict[int, Counts] = {
        1: {(d, y): (routines.get((d, y), 0), len(counted.get(d, []))) for d in districts for y in years},
        2: housing,
        3: reactualised,
        4: {
            (d, y): (referrals.get((d, y), 0), referrals.get((d, config.referral_baseline_year), 0))
            for d in districts
            for y in years
        },
        5: schooling,
    }
    indicators: list[Indicator] = []
    for goal in goals:
        counts = figures[goal.goal]
        for year in years:
            city = [0, 0]
            for d in districts:
                numerator, denominator = counts.get((d, year), (0, 0))
                city[0] += numerator
                city[1] += denominator
                indicators.append(_indicator(goal, year, d, numerator, denominator))
            if district is None:
                indicators.append(_indicator(goal, year, None, city[0], city[1]))
    names = labels or {}
    return GoalsReport(
        years=years,
        district=district,
        districts={d: names.get(d, d) for d in districts},
        goals=goals,
        settings=config,
        indicators=indicators,
    )


def _indicator(goal: GoalDefinition, year: int, district: str | None, numerator: int, denominator: int) -> Indicator:
    value = round(numerator / denominator, 4) if denominator else None
    met = None if value is None else (value >= goal.target if goal.direction == "at_least" else value <= goal.target)
    return Indicator(
        goal=goal.goal,
        year=year,
        district=district,
        numerator=numerator,
        denominator=denominator,
        value=value,
        target=goal.target,
        met=met,
    )


def year_range(text: str) -> list[int]:
    """``2025`` or ``2023-2025`` → the years (at most 50)."""
    first, _, last = text.partition("-")
    try:
        start, stop = int(first), int(last or first)
    except ValueError:
        raise ValueError("years must be YYYY or YYYY-YYYY, e.g. 2023-2025") from None
    if not 1900 <= start <= stop <= 9999 or stop - start >= 50:
        raise ValueError("years must be YYYY or YYYY-YYYY, the first no later than the last, at most 50 years")
    return list(range(start, stop + 1))


def report_for(
    database_url: str, processes: Iterable[Any], years: Iterable[int], district: str | None, config: GoalSettings
) -> GoalsReport:
    """The report straight from a database (migrated first, as the service does at start) and the
    process files: for ``brytupp goals``."""
    from ..db import make_engine, migrate
    from ..registry import Registry

    registry = Registry(processes)
    registry.reload()
    districts = registry.snapshot.districts
    if district is not None and district not in districts:
        raise ValueError(f"unknown district '{district}'; the districts are {', '.join(districts)}")
    units, labels = units_by_district(districts, config)
    writer = make_engine(database_url)
    try:
        migrate(writer)
    finally:
        writer.dispose()
    engine = make_engine(database_url, readonly=True)
    try:
        return goals_report(engine, years, district, config, units, labels)
    finally:
        engine.dispose()
