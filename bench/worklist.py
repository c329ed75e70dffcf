"""Benchmark: a unit's worklist and overdue list (``api/worklist.py``, ``api/routes/worklists.py``),
and how a case's next steps and a new event cost with the length of its log.

One run, for SQLite and for PostgreSQL (a server this script starts, as the tests do): the
service in process (TestClient) on a fresh database (migrated, the process files published).

(1) 1,000 and 10,000 open Farsta cases (``--sizes``; 50,000 adds about three minutes),
    bulk-inserted with their opening event and their stored open steps (``open_steps``, ``steps_as_of`` set): two to four steps
    per case, one or two of them in the Relationsvåldsteamet (``relationsvaldsteamet``), the others
    in other units, a few waiting at a join; due dates spread from 45 days ago to four months
    ahead (about a quarter overdue), a fifth undated.  Timed through the HTTP layer, median of
    ``--calls`` after two warm-up calls (fewer, at least three, where they take over 10 s):

      GET /units/relationsvaldsteamet/worklist?limit=50               the first page
      GET /units/relationsvaldsteamet/worklist?limit=50&overdue=true  the first page of overdue steps
      GET /units/relationsvaldsteamet/overdue                         the whole overdue list

    beside, in the same run, ``worklist()`` itself (the route's query through SQLAlchemy, no
    HTTP, no audit) and the baseline: a plain indexed SELECT of the same rows from
    ``open_steps`` (district, unit, ``due_on`` not null, ordered by ``due_on``; limit 50 for
    the pages, all rows for the overdue list).  Goal (the issue): 10,000 open cases in a
    unit, first page ≤ 100 ms.

(2) Cases whose log holds 1 / 100 / 1,000 events (the opening and ``consent_given`` events,
    each storing the facts after it, as the API stores them): ``GET /cases/{id}/next-steps``
    and ``POST /cases/{id}/events`` (a ``consent_given`` that changes nothing), each call on its
    own case so every POST sees the same log length; beside the baseline of reading one case
    row through SQLAlchemy, and ``GET /cases/{id}`` (an audited read of that row over HTTP).

``--explain`` prints the database's plan of the worklist query at the largest size.

Run: .venv/bin/python bench/worklist.py [--sizes 1000 10000 50000] [--only sqlite|postgresql] [--calls 20] [--explain]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, insert, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from databases import on_each_database  # noqa: E402

from api.events import LoggedEvent, fold  # noqa: E402
from api.models import Case, CaseEvent, OpenStep  # noqa: E402
from api.worklist import NO_DUE, Filters, unsettled, worklist  # noqa: E402
from engine import CompiledProcess  # noqa: E402
from tests.postgres import PostgresServer  # noqa: E402
from tests.service import Service, copy_processes, fresh_database, settings_for  # noqa: E402

DISTRICT = "farsta"
UNIT = "relationsvaldsteamet"  # Farsta's Relationsvåldsteamet: the role vinr_investigator
UNIT_STEPS = [
    "risk_assessment",
    "protection_need",
    "risk_reassessment",
    "protected_housing_decision",
    "consent_joint_handling",
    "joint_handling",
    "needs_assessment",
    "intervention_decision",
    "advice_guidance",
    "follow_up",
]
OTHER_STEPS = [  # in the intake, children's, financial aid and support conversations units
    "intake_registration",
    "initial_safety_assessment",
    "child_protection_assessment",
    "child_preliminary_assessment",
    "financial_aid_assessment",
    "emergency_financial_aid",
    "support_conversations",
]
HISTORIES = [1, 100, 1000]
GOAL_MS = 100.0


def facts_of(rng: random.Random) -> dict[str, Any]:
    return {
        "district": DISTRICT,
        "age": rng.randrange(18, 80),
        "entry_channel": rng.choice(["self_referral", "police", "health_care"]),
        "needs": rng.choice([["financial"], ["practical", "housing"], []]),
        "consent_joint_handling": True,
        "risk_level": rng.choice(["low", "medium", "high"]),
        "risk_instrument": "freda",
    }


def case_row(n: int, case_id: uuid.UUID, facts: dict[str, Any], opened: dt.date, version: str, today: dt.date) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "id": case_id,
        "district": DISTRICT,
        "reference": f"bench-{n:07d}",
        "facts": facts,
        "opened": opened,
        "process_version": version,
        "row_version": 1,
        "closed": False,
        "created_at": now,
        "updated_at": now,
        "steps_as_of": today,
    }


def event_row(
    case_id: uuid.UUID, kind: str, on: dt.date, payload: dict[str, Any], facts: dict[str, Any] | None
) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "case_id": case_id,
        "kind": kind,
        "on": on,
        "payload": payload,
        "facts": facts,
        "recorded_by": "bench",
        "recorded_at": now,
    }


def unit_of(compiled: CompiledProcess, step: str) -> str:
    role = compiled.process.steps[step].role
    unit = compiled.process.bindings.get(role) if role else None
    assert unit is not None, step
    return unit


def open_cases(
    first: int, count: int, compiled: CompiledProcess, today: dt.date, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """``count`` open Farsta cases, their opening events and their stored open steps."""
    rng = random.Random(seed)
    steps = compiled.process.steps
    cases, events, open_steps = [], [], []
    for n in range(first, first + count):
        case_id, facts = uuid.uuid4(), facts_of(rng)
        opened = today - dt.timedelta(days=rng.randrange(1, 180))
        cases.append(case_row(n, case_id, facts, opened, compiled.version, today))
        events.append(event_row(case_id, "case_opened", opened, {}, facts))
        ours = rng.sample(UNIT_STEPS, rng.choice([1, 1, 2]))
        theirs = rng.sample(OTHER_STEPS, rng.randrange(1, 3))
        for step in ours + theirs:
            due = None if rng.random() < 0.2 else today + dt.timedelta(days=rng.randint(-45, 120))
            opened_on = opened + dt.timedelta(days=rng.randrange(0, (today - opened).days + 1))
            open_steps.append(
                {
                    "case_id": case_id,
                    "step": step,
                    "child": -1,
                    "district": DISTRICT,
                    "unit": unit_of(compiled, step),
                    "phase": steps[step].phase,
                    "guaranteed": rng.random() < 0.3,
                    "opened_on": min(opened_on, due) if due is not None else opened_on,
                    "due_on": due,
                    "sort_due": due or NO_DUE,
                    "waiting": rng.random() < 0.05,
                }
            )
    return cases, events, open_steps


def with_history(
    first: int, count: int, length: int, version: str, today: dt.date, stored: bool = True
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``count`` open cases whose logs hold ``length`` events: the opening, then consent_given ones.
    ``stored``: with the folded log kept with the case, as the service writes it; without, as a case
    from before that (every call folds the whole log: the baseline of what the stored fold saves)."""
    rng = random.Random(length)
    cases, events = [], []
    for n in range(first, first + count):
        case_id, facts = uuid.uuid4(), facts_of(rng)
        opened = today - dt.timedelta(days=300)
        log = [event_row(case_id, "case_opened", opened, {}, facts)]
        for i in range(1, length):
            on = opened + dt.timedelta(days=i * 299 // length)
            log.append(event_row(case_id, "consent_given", on, {"consent": "joint_handling"}, facts))
        state = fold(opened, [LoggedEvent(kind=e["kind"], on=e["on"], payload=e["payload"], facts=e["facts"]) for e in log])
        row = {**case_row(n, case_id, facts, opened, version, today), "row_version": length}
        cases.append({**row, "state": state.model_dump(mode="json") if stored else None})
        events.extend(log)
    return cases, events


def median_ms(call: Callable[[], Any], calls: int, warm: int = 2, budget: float = 10.0) -> float:
    """The median of ``calls`` calls after ``warm`` ones; a slow call (the whole overdue list of a big
    district) stops after ``budget`` seconds, with at least three calls."""
    for _ in range(warm):
        call()
    times: list[float] = []
    while len(times) < calls and (len(times) < 3 or sum(times) < budget):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def bulk(engine: Engine, *batches: tuple[Any, list[dict[str, Any]]]) -> None:
    with Session(engine) as session:
        for model, rows in batches:
            for start in range(0, len(rows), 20_000):
                session.execute(insert(model), rows[start : start + 20_000])
        session.commit()


def run(kind: str, postgres: PostgresServer | None, args: argparse.Namespace, tmp: Path) -> None:
    where = tmp / kind
    where.mkdir()
    url = fresh_database(kind, where, postgres.url if postgres else None)
    settings = settings_for(url, copy_processes(where))
    with Service(settings) as service:
        client, headers = service.client, service.headers()
        engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
        compiled: CompiledProcess = service.registry.snapshot.districts[DISTRICT].compiled
        today = dt.datetime.now(ZoneInfo(settings.timezone)).date()
        assert {unit_of(compiled, step) for step in UNIT_STEPS} == {UNIT}
        assert UNIT not in {unit_of(compiled, step) for step in OTHER_STEPS}
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\n{kind}: unit {UNIT} of {DISTRICT}, median of {args.calls} calls ({os.cpu_count()} cores, load average {load})")

        def get(path: str, **params: Any) -> Any:
            answer = client.get(path, params=params, headers=headers)
            assert answer.status_code == 200, answer.text
            return answer.json()

        def plain(overdue: bool, limit: int | None) -> list[tuple[uuid.UUID, str]]:
            # The table alone, in the index's order: what the route adds to it is the join, the labels,
            # the audit row and the HTTP layer.
            query = select(OpenStep).where(
                col(OpenStep.district) == DISTRICT,
                col(OpenStep.unit) == UNIT,
                col(OpenStep.waiting).is_(False),
            )
            if overdue:
                query = query.where(col(OpenStep.sort_due) < today)
            query = query.order_by(col(OpenStep.sort_due), col(OpenStep.case_id), col(OpenStep.step), col(OpenStep.child))
            with Session(engine) as session:
                return [(r.case_id, r.step) for r in session.exec(query.limit(limit) if limit else query)]

        def query_only(overdue: bool, limit: int) -> list[tuple[uuid.UUID, str]]:
            with Session(engine) as session:
                filters = Filters(DISTRICT, UNIT, overdue_on=today if overdue else None)
                return [(r.case_id, r.step) for r, _ in worklist(session, filters, limit, None)]

        heads = "  {:>9}  {:<36} {:>9} {:>10} {:>9} {:>7}  {:>6}"
        print(heads.format("cases", "call", "HTTP p50", "worklist()", "baseline", "HTTP/b", "rows"))
        inserted = 0
        for size in args.sizes:
            cases, events, steps = open_cases(inserted, size - inserted, compiled, today, seed=size)
            started = time.perf_counter()
            bulk(engine, (Case, cases), (CaseEvent, events), (OpenStep, steps))
            loaded = time.perf_counter() - started
            inserted = size
            if kind == "postgresql":
                with engine.begin() as conn:  # committed: the planner's statistics of the new rows
                    conn.execute(text("ANALYZE"))
            path = f"/units/{UNIT}/worklist"
            calls: list[tuple[str, Callable[[], Any], bool, int | None]] = [
                ("worklist, first page", partial(get, path, limit=50), False, 50),
                ("worklist overdue=true, first page", partial(get, path, limit=50, overdue="true"), True, 50),
                ("overdue (whole list)", partial(get, f"/units/{UNIT}/overdue"), True, None),
            ]
            for name, call, overdue, limit in calls:
                http = median_ms(call, args.calls)
                answer = call()
                rows = answer["items"] if isinstance(answer, dict) else answer
                shown = [(uuid.UUID(r["case_id"]), r["step"]) for r in rows]
                query = median_ms(partial(query_only, overdue, limit or 10**6), args.calls)
                base = median_ms(partial(plain, overdue, limit), args.calls)
                same = "" if shown == plain(overdue, limit) else "  (!! not the baseline's rows)"
                line = heads.format(
                    f"{size:,}", name, f"{http:.1f}ms", f"{query:.1f}ms", f"{base:.1f}ms", f"{http / base:.1f}x", len(rows)
                )
                flag = "  !! over 100 ms" if limit == 50 and http > GOAL_MS and not overdue else ""
                print(line + same + flag)
            with Session(engine) as session:
                unit_rows = session.exec(
                    select(OpenStep.case_id).where(col(OpenStep.unit) == UNIT, col(OpenStep.waiting).is_(False))
                ).all()
            parts = median_ms(lambda: _unsettled(engine), args.calls)
            print(
                f"  {'':>9}  ({len(unit_rows):,} open steps in the unit; loaded in {loaded:.1f}s;"
                f" the route's unsettled() scan of the district's cases {parts:.1f}ms)"
            )
        if args.explain:
            explain(kind, engine)
        histories(kind, service, engine, compiled, today, inserted, args.calls)


def _unsettled(engine: Engine) -> list[uuid.UUID]:
    with Session(engine) as session:
        return unsettled(session, DISTRICT)


def explain(kind: str, engine: Engine) -> None:
    """The database's plan of the first page's query, as worklist() sends it (PostgreSQL: run, with its times)."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        captured.append((sql, params))

    with Session(engine) as session:
        event.listen(engine, "before_cursor_execute", capture)
        try:
            list(worklist(session, Filters(DISTRICT, UNIT), 51, None))
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        sql, params = captured[-1]
        prefix = "EXPLAIN (ANALYZE, BUFFERS) " if kind == "postgresql" else "EXPLAIN QUERY PLAN "
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(prefix + sql, params)
        print(f"  plan of the first page's query ({kind}):")
        for row in cursor.fetchall():
            print("    " + " | ".join(str(c) for c in row))
        cursor.close()


def histories(
    kind: str, service: Service, engine: Engine, compiled: CompiledProcess, today: dt.date, first: int, calls: int
) -> None:
    client, headers = service.client, service.headers()
    print(f"\n  {kind}: one case's log, each call on its own case ({calls} cases + 1 warm-up per length)")
    heads = "  {:>9} {:>11}  {:>16} {:>12} {:>16} {:>17}"
    print(heads.format("events", "fold", "GET next-steps", "POST event", "GET /cases/{id}", "baseline: 1 row"))
    for length, stored in [(n, kept) for n in HISTORIES for kept in (False, True)]:
        cases, events = with_history(first, calls + 1, length, compiled.version, today, stored)
        first += calls + 1
        bulk(engine, (Case, cases), (CaseEvent, events))
        ids = [str(c["id"]) for c in cases]

        def timed(call: Callable[[str], Any], ids: list[str] = ids) -> float:
            call(ids[0])  # warm-up
            times = []
            for case_id in ids[1:]:
                start = time.perf_counter()
                call(case_id)
                times.append(time.perf_counter() - start)
            return statistics.median(times) * 1e3

        def next_steps(case_id: str) -> None:
            answer = client.get(f"/cases/{case_id}/next-steps", headers=headers)
            assert answer.status_code == 200, answer.text

        def post(case_id: str) -> None:
            body = {"kind": "consent_given", "on": today.isoformat(), "consent": "joint_handling"}
            answer = client.post(f"/cases/{case_id}/events", json=body, headers=headers)
            assert answer.status_code == 201, answer.text

        def read(case_id: str) -> None:
            answer = client.get(f"/cases/{case_id}", headers=headers)
            assert answer.status_code == 200, answer.text

        def row(case_id: str) -> None:
            with Session(engine) as session:
                assert session.get(Case, uuid.UUID(case_id)) is not None

        figures = [timed(next_steps), timed(post), timed(read), timed(row)]
        print(heads.format(f"{length:,}", "stored" if stored else "from log", *(f"{f:.1f}ms" for f in figures)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    args.sizes = sorted(args.sizes)
    on_each_database(run, args)


if __name__ == "__main__":
    main()
