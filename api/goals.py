"""The five effect goals (DOMAIN.md §4), per district and for the city, per year.

Every figure is counted in the database with SQL aggregation (``count``,
``sum(CASE …)``, ``EXISTS``, ``GROUP BY`` district and year): no case is
loaded into Python.  The same statements run on SQLite and PostgreSQL; the
only dialect branches are date arithmetic and the expansion of a case's
children (``json_each`` on SQLite, ``jsonb_array_elements … WITH ORDINALITY``
on PostgreSQL).  The city is the sum of the districts' numerators and
denominators.  A case counts in the district that holds it now (a transferred
case takes its history with it).  A year is a calendar year, 1 January to
31 December, of the date an event happened (``on``), not when it was recorded.

Definitions (the choices in brackets are ``GoalSettings`` fields, with their
defaults; each can also be set in the environment as ``BRYTUPP_GOAL_<FIELD>``):

1. **Routine questions about violence** (target 100 %).  Denominator: the units
   of each district's current process (its district file) whose ``kind`` is
   one of [``routine_unit_kinds`` = ``["district"]``]: the district's own units
   that meet clients; the RVC, city-wide and regional units are not the
   district's to adopt a routine for.  Numerator: those of them with a routine
   recorded in ``unit_routines`` (``PUT /units/{unit}/routine``) adopted on or
   before 31 December of the year.  A routine recorded for a unit no longer in
   the district file does not count.

2. **Stable housing after protected housing** (target ≥ 80 %).  Denominator:
   placements that ended in the year: ``placement_ended`` events dated in the
   year with ``completed = true`` [``count_broken_off_placements = false``; true
   counts every ended placement].  A placement that ends on 2 January of the
   next year counts in the next year.  Numerator: those followed by a
   ``housing_outcome`` event on the same case dated on or after the end of the
   placement, in the same or any later year [``housing_within_months = null``;
   a number limits "followed" to that many calendar months after the end],
   with ``contract_months`` ≥ [``housing_min_contract_months`` = 6] and a type
   other than [``housing_excluded_types`` = ``["shis_mellanbo"]``]: SHIS
   Mellanbo is a step in the housing chain, not the stable housing the goal
   means (as the process's ``stable_housing`` closure reads it).  A year's
   figure can therefore still rise after the year ends, as outcomes are
   recorded.

3. **Re-actualised clients at the RVT** (target ≤ 20 %).  Every case in the
   service is a Bryt upp case held by the district's RVT (the
   ``vinr_investigator`` role).  Denominator: distinct clients (pseudonymous
   references) of the district with a case closed in the year (``closed_on``).
   Numerator: those of them with a new case for the same reference in the
   same district opened on or after the day of such a closure and no later
   than the same day of the month [``reactualisation_months`` = 12] calendar
   months later (a closure on 1 March 2025 is re-actualised by a case opened
   up to and including 1 March 2026, day 365; 2 March 2026, day 366, is
   outside).  Where that month is shorter, the window ends on its last day
   (31 January + 1 month = 28/29 February), on both databases.  References are
   pseudonymous per district (``api/pseudonym.py``): the same person in two
   districts has two references, so a client who moves district is not
   re-actualised by the other district's case.

4. **Referrals to SHIS Mellanbo** (target ≥ 1.25).  Numerator: ``referral_sent``
   events dated in the year; denominator: those dated in the baseline year
   [``referral_baseline_year`` = 2024].  With no referrals in the baseline year
   the value is undefined (``null``).  SHIS Mellanbo is the only referral the
   service records (``ReferralSent.to``), so the payload is not read (the count
   is answered from an index); tests/api/test_goals.py fails if another target is
   added, as this count would then have to filter on ``payload.to``.

5. **Schooling within a week** (target ≥ 95 %).  Denominator: school-age
   children placed: for every ``placement_started`` event dated in the year,
   the children in the case's facts as that event left them
   (``case_events.facts``, the facts at the placement) that are
   ``accompanying`` and of school age by the process's rule (``in_school``, or
   age [``school_age_min`` = 6] to [``school_age_max`` = 15]).  Numerator: those
   for whom a ``schooling_started`` event for that child (its index in
   ``children``) is dated on or after the placement start and no more than
   [``schooling_days`` = 7] calendar days after it: placed on 3 March,
   schooling on 10 March counts (day 7), on 11 March does not (day 8).

What is not counted: the queries read these JSON fields, and never fail on what
is stored in them, whatever the API accepted when it was written (until issue 11
an age could be a personal identity number, 198503121234, which broke PostgreSQL's
integer cast for every report): ``placement_ended.payload.completed``,
``housing_outcome.payload.contract_months`` and ``.type``,
``schooling_started.payload.child``, and in ``placement_started``'s
``case_events.facts`` the list ``children`` and each child's ``accompanying``,
``in_school`` and ``age``.  A flag counts only as JSON ``true`` (not ``1`` or
``"true"``), a type only as a JSON string, a number only as a JSON number,
compared as the number it is (PostgreSQL ``numeric``, which holds every JSON
number, so nothing is cast to ``integer``): an age of 9.0 is 9, a child index of
0.5 is no child.  A contract longer than the API takes (``MAX_CONTRACT_MONTHS``,
1,200 months) is a typing error, not housing.  A value of another type, out of
range, missing or null, or a payload, facts or child that is not a JSON object,
is simply not counted: the placement it belongs to is not in the denominator
(goal 2's ``completed``; goal 5's child), or is not followed by housing or
schooling (the numerator).  The case's own ``facts`` are not read.
tests/api/test_goals_robust.py writes such values straight into the database.

How it runs: each query is shaped for both databases' planners (an outer
join grouped per placement rather than an ``EXISTS`` per row, which PostgreSQL
runs as a subplan per row; ``WHERE EXISTS`` for re-actualisation, a hash
semi-join there); the migration's indexes (0002) cover every column the
queries read outside the JSON payloads and facts.  Given an engine (the API does this), the queries run at once on
connections of their own; on SQLite the file is read through a memory map, on
PostgreSQL without JIT.  bench/goals.py has the figures for 100,000 cases.

The report (``GoalsReport``) carries the numerator, denominator, value and
target of each goal per district and year, plus the city; ``value`` is
``null`` where the denominator is zero.  ``to_csv()`` gives the same rows as
CSV.  ``GET /reports/goals`` serves it, ``brytupp goals`` prints it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import (
    Date,
    Integer,
    Numeric,
    and_,
    case,
    cast,
    column,
    distinct,
    extract,
    func,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import JSON
from sqlmodel import col

from .models import Case, CaseEvent, UnitRoutine

Direction = Literal["at_least", "at_most"]
UnitKind = Literal["district", "rvc", "city", "region", "external"]


class GoalSettings(BaseSettings):
    """The open choices in the goals' definitions (see the module docstring)."""

    model_config = SettingsConfigDict(env_prefix="BRYTUPP_GOAL_", extra="ignore")

    routine_unit_kinds: list[UnitKind] = Field(
        default_factory=lambda: list[UnitKind](["district"]),
        description="Goal 1: the unit kinds that count as units meeting clients.",
    )
    count_broken_off_placements: bool = Field(
        default=False, description="Goal 2: count every ended placement, not only those completed as planned."
    )
    housing_min_contract_months: int = Field(default=6, ge=0, description="Goal 2: the shortest contract that is stable housing.")
    housing_excluded_types: list[str] = Field(
        default_factory=lambda: ["shis_mellanbo"], description="Goal 2: housing types that are not stable housing."
    )
    housing_within_months: int | None = Field(
        default=None,
        ge=0,
        le=240,
        description="Goal 2: the housing outcome must follow within this many months (null: any time).",
    )
    reactualisation_months: int = Field(
        default=12, ge=1, le=240, description="Goal 3: the re-actualisation window, calendar months."
    )
    referral_baseline_year: int = Field(
        default=2024, ge=1900, le=9999, description="Goal 4: the year referrals are compared with."
    )
    schooling_days: int = Field(default=7, ge=0, le=366, description="Goal 5: calendar days from placement to schooling.")
    school_age_min: int = Field(default=6, ge=0, description="Goal 5: school age from (or in school).")
    school_age_max: int = Field(default=15, ge=0, description="Goal 5: school age to (or in school).")


class GoalDefinition(BaseModel):
    goal: int
    key: str
    label: str = Field(description="Swedish.")
    measure: str = Field(description="Numerator / denominator, in Swedish.")
    target: float
    direction: Direction
    kind: Literal["share", "ratio"] = Field(description="A share (0–1, shown as %) or a ratio to the baseline.")


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


def definitions(config: GoalSettings) -> list[GoalDefinition]:
    excluded = ", ".join(config.housing_excluded_types) or "ingen"
    return [
        GoalDefinition(
            goal=1,
            key="routine_questions",
            label="Rutinmässiga frågor om våld",
            measure="Enheter med antagen rutin för frågor om våld / enheter som möter klienter",
            target=1.0,
            direction="at_least",
            kind="share",
        ),
        GoalDefinition(
            goal=2,
            key="stable_housing",
            label="Tryggt och stadigvarande boende efter skyddat boende",
            measure=(
                f"Fullföljda placeringar följda av kontrakt om minst {config.housing_min_contract_months} månader "
                f"(ej {excluded}) / fullföljda placeringar"
            ),
            target=0.8,
            direction="at_least",
            kind="share",
        ),
        GoalDefinition(
            goal=3,
            key="reactualised",
            label="Återaktualiserade våldsutsatta vid RVT",
            measure=(
                f"Klienter återaktualiserade inom {config.reactualisation_months} månader efter avslut "
                "/ klienter vars ärende avslutades"
            ),
            target=0.2,
            direction="at_most",
            kind="share",
        ),
        GoalDefinition(
            goal=4,
            key="shis_mellanbo_referrals",
            label="Remisser till SHIS Mellanbo",
            measure=f"Remisser under året / remisser under basåret {config.referral_baseline_year}",
            target=1.25,
            direction="at_least",
            kind="ratio",
        ),
        GoalDefinition(
            goal=5,
            key="schooling_within_a_week",
            label="Skolgång inom en vecka för barn i skyddat boende",
            measure=(
                f"Barn i skolåldern i skyddat boende med skolgång inom {config.schooling_days} dagar "
                "/ barn i skolåldern placerade i skyddat boende"
            ),
            target=0.95,
            direction="at_least",
            kind="share",
        ),
    ]


# --- SQL helpers ----------------------------------------------------------------------------

SQLITE_MMAP_BYTES = 1 << 30
# Goal 2: a longer contract is a typing error, not housing (the API's own bound, HousingOutcomeRecorded).
MAX_CONTRACT_MONTHS = 1200
Counts = dict[tuple[str, int], tuple[int, int]]  # (district, year) -> (numerator, denominator)


def _year(column: Any) -> ColumnElement[int]:
    return extract("year", column)


# The JSON readers: what the API stored is not trusted to have the type or range the goal needs
# (see "What is not counted" above).  Each answers NULL rather than fail, so the row is not counted.
# On PostgreSQL a CASE guards the cast (its WHERE clauses may run in any order); SQLite's
# json_extract returns the stored value as is, and its json_type says what that is.


def _json_path(key: str) -> str:
    return f'$."{key}"'


def _json_number(dialect: str, doc: Any, key: str) -> ColumnElement[Any]:
    """``doc.key`` where it is a JSON number, compared as the number it is (NUMERIC on PostgreSQL
    holds every JSON number, so no cast can overflow), else NULL."""
    if dialect == "sqlite":
        path = _json_path(key)
        return case((func.json_type(doc, path).in_(["integer", "real"]), func.json_extract(doc, path)))
    return case((func.jsonb_typeof(doc[key]) == "number", cast(doc[key].as_string(), Numeric)))


def _json_text(dialect: str, doc: Any, key: str) -> ColumnElement[Any]:
    """``doc.key`` where it is a JSON string, else NULL."""
    if dialect == "sqlite":
        path = _json_path(key)
        return case((func.json_type(doc, path) == "text", func.json_extract(doc, path)))
    return case((func.jsonb_typeof(doc[key]) == "string", doc[key].as_string()))


def _json_true(dialect: str, doc: Any, key: str) -> ColumnElement[bool]:
    """``doc.key`` is JSON ``true`` (not 1, not "true")."""
    if dialect == "sqlite":
        return func.json_type(doc, _json_path(key)) == "true"
    return doc[key] == literal_column("'true'::jsonb")  # type: ignore[no-any-return]


def _add_days(dialect: str, column: Any, days: int) -> ColumnElement[dt.date]:
    if dialect == "sqlite":
        return func.date(column, f"+{int(days)} days", type_=Date)
    return column + literal_column(str(int(days)), Integer)  # type: ignore[no-any-return]


def _add_months(dialect: str, column: Any, months: int) -> ColumnElement[dt.date]:
    """``column`` plus calendar months, clamped to the end of a shorter month (PostgreSQL's
    rule; SQLite's ``+N months`` would roll 31 January over into March)."""
    months = int(months)
    if dialect == "sqlite":
        plain = func.date(column, f"+{months} months", type_=Date)
        month_end = func.date(column, "start of month", f"+{months + 1} months", "-1 day", type_=Date)
        return func.min(plain, month_end, type_=Date)
    return cast(column + literal_column(f"INTERVAL '{months} months'"), Date)


def _span(years: list[int]) -> tuple[dt.date, dt.date]:
    return dt.date(min(years), 1, 1), dt.date(max(years), 12, 31)


def _rows(conn: Connection, statement: Any) -> Counts:
    return {(str(d), int(y)): (int(n or 0), int(m or 0)) for d, y, n, m in conn.execute(statement)}


def _routines(conn: Connection, years: list[int], units: Mapping[str, Iterable[str]]) -> dict[tuple[str, int], int]:
    pairs = [(district, unit) for district, ids in units.items() for unit in ids]
    if not pairs:
        return {}
    adopted = col(UnitRoutine.adopted)
    columns = [func.sum(case((adopted <= dt.date(y, 12, 31), 1), else_=0)) for y in years]
    statement = (
        select(col(UnitRoutine.district), *columns)
        .where(tuple_(col(UnitRoutine.district), col(UnitRoutine.unit)).in_(pairs))
        .group_by(col(UnitRoutine.district))
    )
    out: dict[tuple[str, int], int] = {}
    for row in conn.execute(statement):
        for year, count in zip(years, row[1:], strict=True):
            out[(str(row[0]), year)] = int(count or 0)
    return out


def _housing(conn: Connection, years: list[int], district: str | None, config: GoalSettings) -> Counts:
    dialect = conn.dialect.name
    ended, outcome = aliased(CaseEvent, name="ended"), aliased(CaseEvent, name="outcome")
    start, end = _span(years)
    stable = [
        col(outcome.case_id) == col(ended.case_id),
        col(outcome.kind) == "housing_outcome",
        col(outcome.on) >= col(ended.on),
        _json_number(dialect, outcome.payload, "contract_months").between(
            config.housing_min_contract_months, MAX_CONTRACT_MONTHS
        ),
    ]
    housing_type = _json_text(dialect, outcome.payload, "type")
    if config.housing_excluded_types:
        stable.append(housing_type.not_in(config.housing_excluded_types))
    else:
        stable.append(housing_type.is_not(None))
    if config.housing_within_months is not None:
        stable.append(col(outcome.on) <= _add_months(dialect, col(ended.on), config.housing_within_months))
    where = [col(ended.kind) == "placement_ended", col(ended.on) >= start, col(ended.on) <= end]
    if not config.count_broken_off_placements:
        where.append(_json_true(dialect, ended.payload, "completed"))
    if district is not None:
        where.append(col(Case.district) == district)
    # One row per placement, followed or not: a join PostgreSQL can hash (an EXISTS in the select
    # list is run once per placement there), and as quick as EXISTS on SQLite.
    placements = (
        select(
            col(Case.district).label("district"),
            _year(col(ended.on)).label("year"),
            func.max(case((col(outcome.id).is_not(None), 1), else_=0)).label("followed"),
        )
        .select_from(ended)
        .join(Case, col(Case.id) == col(ended.case_id))
        .outerjoin(outcome, and_(*stable))
        .where(*where)
        .group_by(col(ended.id), col(Case.district), col(ended.on))
        .subquery("placements")
    )
    statement = select(placements.c.district, placements.c.year, func.sum(placements.c.followed), func.count()).group_by(
        placements.c.district, placements.c.year
    )
    return _rows(conn, statement)


def _closed_clients(
    conn: Connection, years: list[int], district: str | None, config: GoalSettings, came_back: bool
) -> dict[tuple[str, int], int]:
    """Clients with a case closed in the year; with ``came_back``, only those re-actualised.  Two
    statements rather than one with a CASE: as ``WHERE EXISTS`` PostgreSQL runs a hash semi-join."""
    dialect = conn.dialect.name
    closed, later = aliased(Case, name="closed_case"), aliased(Case, name="later_case")
    start, end = _span(years)
    where = [col(closed.closed_on) >= start, col(closed.closed_on) <= end]
    if district is not None:
        where.append(col(closed.district) == district)
    if came_back:
        window_end = _add_months(dialect, col(closed.closed_on), config.reactualisation_months)
        where.append(
            select(literal_column("1"))
            .where(
                col(later.district) == col(closed.district),
                col(later.reference) == col(closed.reference),
                col(later.id) != col(closed.id),
                col(later.opened) >= col(closed.closed_on),
                col(later.opened) <= window_end,
            )
            .exists()
        )
    year = _year(col(closed.closed_on))
    statement = (
        select(col(closed.district), year, func.count(distinct(col(closed.reference))))
        .where(*where)
        .group_by(col(closed.district), year)
    )
    return {(str(d), int(y)): int(n) for d, y, n in conn.execute(statement)}


def _referrals(conn: Connection, years: list[int], district: str | None) -> dict[tuple[str, int], int]:
    start, end = _span(years)
    year = _year(col(CaseEvent.on))
    where = [
        col(CaseEvent.kind) == "referral_sent",
        col(CaseEvent.on) >= start,
        col(CaseEvent.on) <= end,
    ]
    if district is not None:
        where.append(col(Case.district) == district)
    statement = (
        select(col(Case.district), year, func.count())
        .select_from(CaseEvent)
        .join(Case, col(Case.id) == col(CaseEvent.case_id))
        .where(*where)
        .group_by(col(Case.district), year)
    )
    return {(str(d), int(y)): int(n) for d, y, n in conn.execute(statement)}


def _schooling(conn: Connection, years: list[int], district: str | None, config: GoalSettings) -> Counts:
    dialect = conn.dialect.name
    placed, school = aliased(CaseEvent, name="placed"), aliased(CaseEvent, name="school")
    start, end = _span(years)
    facts: Any = placed.facts
    child: Any
    if dialect == "sqlite":
        child = func.json_each(facts, "$.children").table_valued("key", column("value", JSON), "type", name="child")
        index: Any = child.c.key
        is_list = func.json_type(facts, "$.children") == "array"
        # json_each gives a string child as bare text, which json_type would reject as malformed JSON.
        value: Any = case((child.c.type == "object", child.c.value))
    else:
        children = facts["children"]
        child = (
            func.jsonb_array_elements(case((func.jsonb_typeof(children) == "array", children)))
            .table_valued(column("value", JSONB), with_ordinality="ordinality", name="child")
            .lateral()
        )
        index = child.c.ordinality - 1
        is_list = true()
        value = child.c.value
    schooled = (
        select(literal_column("1"))
        .where(
            col(school.case_id) == col(placed.case_id),
            col(school.kind) == "schooling_started",
            col(school.on) >= col(placed.on),
            col(school.on) <= _add_days(dialect, col(placed.on), config.schooling_days),
            _json_number(dialect, school.payload, "child") == index,
        )
        .exists()
    )
    where = [
        col(placed.kind) == "placement_started",
        col(placed.on) >= start,
        col(placed.on) <= end,
        is_list,
        _json_true(dialect, value, "accompanying"),
        or_(
            _json_true(dialect, value, "in_school"),
            _json_number(dialect, value, "age").between(config.school_age_min, config.school_age_max),
        ),
    ]
    if district is not None:
        where.append(col(Case.district) == district)
    year = _year(col(placed.on))
    statement = (
        select(col(Case.district), year, func.sum(case((schooled, 1), else_=0)), func.count())
        .select_from(placed)
        .join(Case, col(Case.id) == col(placed.case_id))
        .join(child, true())
        .where(*where)
        .group_by(col(Case.district), year)
    )
    return _rows(conn, statement)


# --- the report -----------------------------------------------------------------------------


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
    queries: dict[str, Callable[[Connection], Any]] = {
        "schooling": lambda conn: _schooling(conn, years, district, config),
        "housing": lambda conn: _housing(conn, years, district, config),
        "reactualised": lambda conn: _closed_clients(conn, years, district, config, came_back=True),
        "closed": lambda conn: _closed_clients(conn, years, district, config, came_back=False),
        "referrals": lambda conn: _referrals(conn, sorted({*years, config.referral_baseline_year}), district),
        "routines": lambda conn: _routines(conn, years, counted),
    }
    if isinstance(bind, Engine):
        with ThreadPoolExecutor(max_workers=len(queries), thread_name_prefix="goals") as pool:
            futures = {name: pool.submit(_on_own_connection, bind, query) for name, query in queries.items()}
            results = {name: future.result() for name, future in futures.items()}
    else:
        conn = bind.connection() if isinstance(bind, Session) else bind
        _tune(conn)
        results = {name: query(conn) for name, query in queries.items()}
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


def _tune(conn: Connection) -> None:
    """Settings for this connection's report queries."""
    if conn.dialect.name == "sqlite":
        # Read the file through a memory map: the queries probe indexes at random, and page reads
        # through read() calls cost a third of the time (bench/goals.py).  Kept by the pooled connection.
        conn.exec_driver_sql(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    elif conn.dialect.name == "postgresql":
        # For this transaction only: no JIT (compiling the schooling query took a second, longer than
        # running it), and room to sort the grouped rows in memory.
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")


def _on_own_connection(engine: Engine, query: Callable[[Connection], Any]) -> Any:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # The service's reader engine runs in autocommit; SET LOCAL needs a transaction.
            conn.execution_options(isolation_level="READ COMMITTED")
        _tune(conn)
        if conn.dialect.name == "postgresql":
            # The five queries already keep the cores busy: parallel workers on top only contend.
            conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        result = query(conn)
        conn.rollback()
        return result


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


def client_units(compiled_units: Mapping[str, Any], config: GoalSettings) -> list[str]:
    """The units of one district's process that count for goal 1 (``routine_unit_kinds``)."""
    return [unit_id for unit_id, unit in compiled_units.items() if unit.kind in config.routine_unit_kinds]


def units_by_district(districts: Mapping[str, Any], config: GoalSettings) -> tuple[dict[str, list[str]], dict[str, str]]:
    """From a registry snapshot's districts: the counted units and the label of each district."""
    units: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for name, state in districts.items():
        labels[name] = state.label
        if state.compiled is not None:
            units[name] = client_units(state.compiled.process.units, config)
    return units, labels


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


# --- the terminal ---------------------------------------------------------------------------


def _shown(goal: GoalDefinition, value: float | None) -> str:
    if value is None:
        return "–"
    if goal.kind == "ratio":
        return f"{value:.2f}".replace(".", ",")
    return f"{value * 100:.1f} %".replace(".", ",")


def _area(label: str) -> str:
    """ "Skärholmens stadsdelsförvaltning" → "Skärholmen" (no district's name ends in s)."""
    name = label.removesuffix(" stadsdelsförvaltning")
    return name.removesuffix("s") if name != label else name


def rich_tables(report: GoalsReport) -> list[Any]:
    """One rich table per year: districts (and the city) × the five goals, value (numerator/denominator),
    green where the target is met, red where it is not."""
    from rich.markup import escape
    from rich.table import Table

    goals = report.goals
    cells = {(r.goal, r.year, r.district): r for r in report.indicators}
    places: list[str | None] = [*report.districts, *([None] if report.district is None else [])]
    last_district = next(reversed(report.districts), None)
    tables = []
    for year in report.years:
        table = Table(title=f"Bryt upp – effektmål {year}", title_justify="left")
        table.add_column("Stadsdelsområde")
        for goal in goals:
            sign = "≤" if goal.direction == "at_most" else "≥"
            table.add_column(f"{goal.goal}. {goal.label}\n(mål {sign} {_shown(goal, goal.target)})", justify="right")
        for place in places:
            name = "Hela staden" if place is None else escape(_area(report.districts[place]))
            row = [f"[bold]{name}[/bold]" if place is None else name]
            for goal in goals:
                cell = cells.get((goal.goal, year, place))
                if cell is None:
                    row.append("")
                    continue
                style = "" if cell.met is None else ("green" if cell.met else "red")
                text = f"{_shown(goal, cell.value)} ({cell.numerator}/{cell.denominator})"
                row.append(f"[{style}]{text}[/{style}]" if style else text)
            table.add_row(*row, end_section=report.district is None and place == last_district)
        tables.append(table)
    return tables


def report_for(
    database_url: str, processes: Iterable[Any], years: Iterable[int], district: str | None, config: GoalSettings
) -> GoalsReport:
    """The report straight from a database (migrated first, as the service does at start) and the
    process files: for ``brytupp goals``."""
    from .db import make_engine, migrate
    from .registry import Registry

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
