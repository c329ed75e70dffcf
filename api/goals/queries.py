"""The counts behind the five effect goals (``api/goals/definitions.py``), in the database.

Every figure is counted with SQL aggregation (``count``, ``sum(CASE …)``,
``EXISTS``, ``GROUP BY`` district and year): no case is loaded into Python.
The same statements run on SQLite and PostgreSQL; the only dialect branches are
date arithmetic and the expansion of a case's children (``json_each`` on
SQLite, ``jsonb_array_elements … WITH ORDINALITY`` on PostgreSQL).  Each query
answers per district and year; ``api/goals/report.py`` makes the report of them.

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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

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

from ..models import Case, CaseEvent, UnitRoutine
from .definitions import GoalSettings

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


# --- running them ---------------------------------------------------------------------------


def count(
    bind: Engine | Session | Connection,
    years: list[int],
    district: str | None,
    config: GoalSettings,
    units: Mapping[str, Iterable[str]],
) -> dict[str, Any]:
    """Every count the report needs, by name, run as ``goals_report`` says."""
    queries: dict[str, Callable[[Connection], Any]] = {
        "schooling": lambda conn: _schooling(conn, years, district, config),
        "housing": lambda conn: _housing(conn, years, district, config),
        "reactualised": lambda conn: _closed_clients(conn, years, district, config, came_back=True),
        "closed": lambda conn: _closed_clients(conn, years, district, config, came_back=False),
        "referrals": lambda conn: _referrals(conn, sorted({*years, config.referral_baseline_year}), district),
        "routines": lambda conn: _routines(conn, years, units),
    }
    if isinstance(bind, Engine):
        with ThreadPoolExecutor(max_workers=len(queries), thread_name_prefix="goals") as pool:
            futures = {name: pool.submit(_on_own_connection, bind, query) for name, query in queries.items()}
            return {name: future.result() for name, future in futures.items()}
    conn = bind.connection() if isinstance(bind, Session) else bind
    _tune(conn)
    return {name: query(conn) for name, query in queries.items()}


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
