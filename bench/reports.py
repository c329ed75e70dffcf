"""Benchmark: the live figures per step (``GET /reports/steps``, api/step_figures.py) over a large
district, beside a count of the events in the same run.

One run, for SQLite and for PostgreSQL (a server this script starts, as the tests do): the service
in process (TestClient) on a fresh database (migrated, the process files published), and
``--cases`` Farsta cases (default 100,000) bulk-inserted with their opening event, two to four
stored open steps each (bench/worklist.py's cases) and the steps they passed over the last two
years (``step_passages``: four to twelve per case, 0–40 days from opening to completion, a due date
on two in three, and their counts per month in ``step_months`` as the service keeps them).
Timed through the HTTP layer, median of ``--calls`` after two warm-up calls:

  GET /reports/steps?district=farsta        a district's report, with the city's median beside it
  GET /reports/steps                        the city's report

beside the baseline ``SELECT count(*) FROM case_events``: the least a report over every case's
history could read.  Goal (issue 17): ≤ 1 s on both databases at 100,000 cases.

Run: .venv/bin/python bench/reports.py [--cases 100000] [--only sqlite|postgresql] [--calls 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from databases import on_each_database  # noqa: E402
from worklist import DISTRICT, bulk, median_ms, open_cases, unit_of  # noqa: E402

from api.auth import Role  # noqa: E402
from api.models import Case, CaseEvent, OpenStep, StepMonth, StepPassage  # noqa: E402
from engine import CompiledProcess  # noqa: E402
from tests.postgres import PostgresServer  # noqa: E402
from tests.service import Service, copy_processes, fresh_database, settings_for  # noqa: E402


def passages(cases: list[dict[str, Any]], compiled: CompiledProcess, today: dt.date, seed: int) -> list[dict[str, Any]]:
    """The steps each case passed, in the process's order, as ``store_steps`` records them."""
    rng = random.Random(seed)
    order = list(compiled.process.steps)
    out = []
    for case in cases:
        on = today - dt.timedelta(days=rng.randrange(30, 730))
        for step in order[: rng.randrange(4, 13)]:
            took = rng.choice([0, 0, 1, 2, 3, 5, 8, 13, 21, 40])
            due = on + dt.timedelta(days=rng.choice([1, 7, 14, 30])) if rng.random() < 0.66 else None
            done = on + dt.timedelta(days=took)
            out.append(
                {
                    "case_id": case["id"],
                    "step": step,
                    "child": -1,
                    "opened_on": on,
                    "district": DISTRICT,
                    "unit": unit_of(compiled, step) if compiled.process.steps[step].role else None,
                    "phase": compiled.process.steps[step].phase,
                    "completed_on": done,
                    "due_on": due,
                    "days": took,
                    "kept": None if due is None else done <= due,
                }
            )
            on += dt.timedelta(days=took)
    return out


MONTH_KEY = ("district", "step", "month", "days")


def count_months(months: dict[tuple[Any, ...], dict[str, int]], passed: list[dict[str, Any]]) -> None:
    """The monthly counts ``store_steps`` keeps (api/worklist.py), for passages bulk-inserted here."""
    for p in passed:
        key = (p["district"], p["step"], p["completed_on"].replace(day=1), p["days"])
        row = months.setdefault(key, {"passed": 0, "with_due": 0, "kept": 0})
        row["passed"] += 1
        row["with_due"] += p["kept"] is not None
        row["kept"] += bool(p["kept"])


def run(kind: str, postgres: PostgresServer | None, args: argparse.Namespace, tmp: Path) -> None:
    where = tmp / kind
    where.mkdir()
    settings = settings_for(fresh_database(kind, where, postgres.url if postgres else None), copy_processes(where))
    with Service(settings) as service:
        client = service.client
        engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
        compiled: CompiledProcess = service.registry.snapshot.districts[DISTRICT].compiled
        today = dt.datetime.now(ZoneInfo(settings.timezone)).date()
        total, months = 0, {}
        for first in range(0, args.cases, 20_000):
            cases, events, steps = open_cases(first, min(20_000, args.cases - first), compiled, today, seed=first)
            passed = passages(cases, compiled, today, seed=first)
            bulk(engine, (Case, cases), (CaseEvent, events), (OpenStep, steps), (StepPassage, passed))
            total += len(passed)
            count_months(months, passed)
        bulk(engine, (StepMonth, [{**dict(zip(MONTH_KEY, k, strict=True)), **v} for k, v in months.items()]))
        if kind == "postgresql":
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\n{kind}: {args.cases:,} cases, {total:,} passages; median of {args.calls} calls")
        print(f"  ({os.cpu_count()} cores, load average {load})")
        manager = service.headers(Role.manager, None, subject="stadens-chef")

        def report(**params: str) -> None:
            answer = client.get("/reports/steps", params=params, headers=manager)
            assert answer.status_code == 200, answer.text

        def count() -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT count(*) FROM case_events")).scalar_one()

        rows = [
            ("SELECT count(*) FROM case_events (baseline)", median_ms(count, args.calls)),
            ("GET /reports/steps?district=farsta", median_ms(lambda: report(district=DISTRICT), args.calls)),
            ("GET /reports/steps (the city)", median_ms(report, args.calls)),
        ]
        for name, ms in rows:
            print(f"  {name:<48} {ms:9.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    on_each_database(run, args)


if __name__ == "__main__":
    main()
