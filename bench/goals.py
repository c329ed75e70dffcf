"""Benchmark: the effect-goal report (api/goals/) over 100,000 cases and about 1,000,000 events.

One run, for SQLite and for PostgreSQL (a server this script starts with
tests/postgres.py, as the tests do): a fresh database migrated as the service
migrates it (so with the migration's indexes), bulk-loaded, then the full
report (all 11 districts and the city, three years, five goals) timed beside
a baseline query over the same table in the same run:

  (a) ``SELECT count(*) FROM case_events``: one pass over the event table;
  (b) ``goals_report(connection, …)``: the report's queries in turn on one connection;
  (c) ``goals_report(engine, …)``: as the service runs it, the queries at once on
      connections of their own.

Goal (issue 6): the report ≤ 1 s on each database.

The data are made with the demo data set's own stories (``api/demo_data.py``:
the districts' profiles, placements, schooling, housing, referrals, closures,
re-actualisations) plus the everyday events around them (case opened, steps
completed, facts updated), so about ten events a case.  They are written with
raw bulk inserts (SQLite ``executemany``, PostgreSQL ``COPY``), in the shapes
the API stores (payloads with ``completes``, facts snapshots): this is the one
place raw inserts are fine, as pushing a million events through the API would
take an hour and measure the API, not the report.  After the load, SQLite gets
``ANALYZE`` and PostgreSQL ``VACUUM ANALYZE``, what its autovacuum does on its
own after a large insert (the visibility map lets the covering indexes answer
without the table).

Run: .venv/bin/python bench/goals.py [--cases 100000] [--repeat 5] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine, make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from databases import on_each_database  # noqa: E402

from api.db import make_engine, migrate  # noqa: E402
from api.demo_data import DEFAULT, PROFILES, case_story, make_children  # noqa: E402
from api.goals import GoalSettings, goals_report, units_by_district  # noqa: E402
from api.models import UnitRoutine  # noqa: E402
from api.registry import Registry  # noqa: E402
from tests.postgres import PostgresServer  # noqa: E402
from tests.service import fresh_database  # noqa: E402

YEARS = [2023, 2024, 2025]
FILLER = [
    "actualisation",
    "intake_registration",
    "initial_safety_assessment",
    "risk_assessment",
    "consent_joint_handling",
    "needs_assessment",
    "intervention_decision",
    "follow_up",
]
CASE_COLUMNS = "id, district, reference, facts, opened, process_version, row_version, closed, closed_on, created_at, updated_at"
EVENT_COLUMNS = 'case_id, kind, "on", payload, facts, recorded_at, recorded_by'


def generate(cases: int, seed: int) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """(case row, its event rows) with ids as uuid.UUID, dates as dt.date, JSON as dicts."""
    rng = random.Random(seed)
    districts = list(PROFILES)
    weights = [PROFILES[d].weight for d in districts]
    first, last = dt.date(YEARS[0], 1, 1), dt.date(YEARS[-1], 12, 31)
    horizon = last + dt.timedelta(days=90)
    now = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    made = number = 0
    while made < cases:
        number += 1
        district = rng.choices(districts, weights)[0]
        profile = PROFILES.get(district, DEFAULT)
        reference = f"bench-{number:07d}"
        opened = first + dt.timedelta(days=rng.randrange((last - first).days))
        children = make_children(rng) if rng.random() < 0.5 else []
        while made < cases:
            facts: dict[str, Any] = {"age": rng.randrange(18, 80), "entry_channel": "police", "district": district}
            if children:
                facts["children"] = children
            story, closed = case_story(rng, profile, opened, horizon, YEARS[0], children)
            case_id = uuid.uuid4()
            events: list[tuple[Any, ...]] = [(case_id, "case_opened", opened, {}, facts, now, "bench")]
            for n, step in enumerate(FILLER[: rng.randrange(4, len(FILLER) + 1)]):
                on = opened + dt.timedelta(days=n)
                events.append(
                    (
                        case_id,
                        "step_completed",
                        on,
                        {"step": step, "completes": {"step": step, "on": on.isoformat()}},
                        None,
                        now,
                        "bench",
                    )
                )
            if rng.random() < 0.6:
                facts = {**facts, "risk_level": "high"}
                events.append((case_id, "facts_updated", opened + dt.timedelta(days=2), {}, facts, now, "bench"))
            housing: dict[str, Any] = {}
            for event in story:
                kind, on = event["kind"], dt.date.fromisoformat(event["on"])
                payload = {k: v for k, v in event.items() if k not in ("kind", "on")}
                after: dict[str, Any] | None = None
                if kind == "placement_started":
                    housing = {"needed": True, "placed": True, "start_date": event["on"]}
                    after = facts = {**facts, "protected_housing": housing}
                    payload["decision_expires"] = payload["decision_expires"].isoformat()
                elif kind == "placement_ended":
                    housing = {**housing, "ended": True, "end_date": event["on"], "completed": event["completed"]}
                    after = facts = {**facts, "protected_housing": housing}
                elif kind == "housing_outcome":
                    after = facts = {**facts, "housing_outcome": {k: payload[k] for k in ("type", "contract_months")}}
                elif kind == "schooling_started":
                    payload["completes"] = {"step": "schooling", "on": event["on"], "child": event["child"]}
                elif kind == "referral_sent":
                    payload["completes"] = {"step": "shis_mellanbo_referral", "on": event["on"]}
                elif kind == "case_closed":
                    payload["completes"] = {"step": f"closed_{event['reason']}", "on": event["on"], "outcome": event["reason"]}
                events.append((case_id, kind, on, payload, after, now, "bench"))
            case = (case_id, district, reference, facts, opened, "bench-v1", len(events), closed is not None, closed, now, now)
            made += 1
            yield case, events
            if closed is None or rng.random() >= profile.reactualised + 0.05:
                break
            opened = closed + dt.timedelta(days=rng.randrange(3, 700 if rng.random() < 0.2 else 366))
            if opened > horizon:
                break


def load_sqlite(engine: Engine, rows: Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]) -> tuple[int, int]:
    """executemany on the driver, in SQLAlchemy's SQLite storage formats (UUID as 32 hex digits)."""
    path = make_url(str(engine.url)).database
    assert path is not None
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    ts = "%Y-%m-%d %H:%M:%S.%f"
    counted = [0, 0]

    def batches() -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        cases: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        for case, case_events in rows:
            cid, district, ref, facts, opened, version, rv, closed, closed_on, created, updated = case
            cases.append(
                (
                    cid.hex,
                    district,
                    ref,
                    json.dumps(facts),
                    opened.isoformat(),
                    version,
                    rv,
                    int(closed),
                    closed_on.isoformat() if closed_on else None,
                    created.strftime(ts),
                    updated.strftime(ts),
                )
            )
            for c, kind, on, payload, after, at, by in case_events:
                events.append(
                    (
                        c.hex,
                        kind,
                        on.isoformat(),
                        json.dumps(payload),
                        None if after is None else json.dumps(after),
                        at.strftime(ts),
                        by,
                    )
                )
            if len(events) >= 50_000:
                yield cases, events
                cases, events = [], []
        yield cases, events

    for cases, events in batches():
        conn.executemany(f"INSERT INTO cases ({CASE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", cases)
        conn.executemany(f"INSERT INTO case_events ({EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?)", events)
        counted[0] += len(cases)
        counted[1] += len(events)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    return counted[0], counted[1]


def load_postgres(url: str, rows: Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]) -> tuple[int, int]:
    parsed = make_url(url)
    conninfo = f"host={parsed.host} port={parsed.port} user={parsed.username} dbname={parsed.database}"
    counted = [0, 0]
    with psycopg.connect(conninfo) as conn:
        all_events: list[tuple[Any, ...]] = []
        with conn.cursor() as cur, cur.copy(f"COPY cases ({CASE_COLUMNS}) FROM STDIN") as copy:
            for case, case_events in rows:
                copy.write_row((*case[:3], json.dumps(case[3]), *case[4:]))
                all_events.extend(case_events)
                counted[0] += 1
        with conn.cursor() as cur, cur.copy(f"COPY case_events ({EVENT_COLUMNS}) FROM STDIN") as copy:
            for c, kind, on, payload, after, at, by in all_events:
                copy.write_row((c, kind, on, json.dumps(payload), None if after is None else json.dumps(after), at, by))
                counted[1] += 1
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return counted[0], counted[1]


def timed(repeat: int, call: Callable[[], Any]) -> tuple[float, float, float]:
    """(first, median, best) in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times[0], statistics.median(times), min(times)


def run(kind: str, postgres: PostgresServer | None, args: argparse.Namespace, tmp: Path) -> None:
    where = tmp / kind
    where.mkdir()
    url = fresh_database(kind, where, postgres.url if postgres else None)
    engine = make_engine(url)
    migrate(engine)
    registry = Registry([ROOT / "processes", ROOT / "local_overrides"])
    registry.reload()
    config = GoalSettings()
    units, labels = units_by_district(registry.snapshot.districts, config)

    start = time.perf_counter()
    rng = random.Random(args.seed)
    adopted = [
        {"district": d, "unit": u, "adopted": dt.date(rng.choice(YEARS), rng.randrange(1, 13), 1), "recorded_by": "bench"}
        for d, ids in units.items()
        for u in ids
        if rng.random() < 0.8
    ]
    with engine.begin() as conn:
        conn.execute(insert(UnitRoutine), adopted)
    rows = generate(args.cases, args.seed)
    cases, events = load_sqlite(engine, rows) if kind == "sqlite" else load_postgres(url, rows)
    loaded = time.perf_counter() - start

    reader = make_engine(url, readonly=True)
    with reader.connect() as conn:
        baseline = timed(args.repeat, lambda: conn.execute(text("SELECT count(*) FROM case_events")).scalar_one())
        conn.rollback()
        one = timed(args.repeat, lambda: goals_report(conn, YEARS, None, config, units, labels))
        conn.rollback()
    service = timed(args.repeat, lambda: goals_report(reader, YEARS, None, config, units, labels))
    result = goals_report(reader, YEARS, None, config, units, labels)
    reader.dispose()
    engine.dispose()

    city = {(r.goal, r.year): r for r in result.indicators if r.district is None}
    print(f"\n{kind}: {cases:,} cases, {events:,} events (bulk load {loaded:.1f} s); first / median / best of {args.repeat}")
    for name, (first, median, best) in (
        ("(a) baseline: SELECT count(*) FROM case_events", baseline),
        ("(b) goals report, the queries in turn on one connection", one),
        ("(c) goals report as the service runs it (at once)", service),
    ):
        print(f"  {name:<58} {first * 1000:8.1f} {median * 1000:8.1f} {best * 1000:8.1f} ms")
    verdict = "met" if service[1] <= 1 else "NOT met"
    print(f"  report (c) = {service[1] / baseline[1]:.1f}× the count's median; goal ≤ 1 s: {verdict}")
    for goal in result.goals:
        row = city[(goal.goal, YEARS[-1])]
        print(f"  city {YEARS[-1]} goal {goal.goal}: {row.numerator:>6} / {row.denominator:<6} = {row.value}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    on_each_database(run, args)


if __name__ == "__main__":
    main()
