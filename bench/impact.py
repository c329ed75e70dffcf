"""Benchmark: the effect of a draft on a district's open cases (``api.impact.replay``).

One run, for SQLite and for PostgreSQL (a server this script starts, as the tests do):
the service in process on a fresh database (migrated, the process files published),
then 1,000 and 10,000 open Farsta cases, each with its log as the API stores it (opened,
two to six completed steps, some a facts update, a child's steps for a quarter of them),
bulk-inserted through the models.  Timed per size, beside a baseline in the same run:

  (a) reading the open cases and their logs as the replay does (``api.impact.open_cases``), nothing else;
  (b) ``replay``: that read, and every case decided on its own version and on the draft
      (tests/api/test_impact.py's edits of farsta.yaml: a role to another unit, a tighter
      deadline, a step removed), compared and classified.

Goal: 10,000 open cases replayed in ≤ 10 s.  Each is timed on a cold run (the engine's
decision cache holds none of these cases) and again warm; beside the wall clock, the CPU seconds
of this process, which hold when other work shares the machine.

Run: .venv/bin/python bench/impact.py [--sizes 1000 10000] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from databases import on_each_database  # noqa: E402

from api.impact import Impact, OpenCase, open_cases, replay  # noqa: E402
from api.models import Case, CaseEvent  # noqa: E402
from engine import CompiledProcess  # noqa: E402
from tests.api.test_impact import EDITS, draft, version_of  # noqa: E402
from tests.postgres import PostgresServer  # noqa: E402
from tests.service import Service, copy_processes, fresh_database, settings_for  # noqa: E402

TODAY = dt.date(2025, 6, 2)
STEPS = ["actualisation", "intake_registration", "initial_safety_assessment", "risk_assessment", "consent_joint_handling"]
CHILD_STEPS = ["child_protection_assessment", "child_preliminary_assessment"]


def rows(first: int, count: int, version: str, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``count`` open Farsta cases and their logs, as the API would have stored them."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    cases: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for n in range(first, first + count):
        opened = TODAY - dt.timedelta(days=rng.randrange(1, 120))
        facts: dict[str, Any] = {
            "district": "farsta",
            "age": rng.randrange(18, 80),
            "entry_channel": rng.choice(["self_referral", "police", "health_care"]),
            "needs": rng.choice([["financial"], ["practical", "housing"], []]),
            "consent_joint_handling": rng.random() < 0.5,
            "risk_level": rng.choice(["low", "medium", "high"]),
        }
        steps = [(step, None) for step in STEPS[: rng.randrange(2, len(STEPS) + 1)]]
        if n % 4 == 0:
            facts["children"] = [{"age": 7, "witnessed_violence": False, "accompanying": False, "in_school": True}]
            facts["report_received"] = opened.isoformat()
            if len(steps) >= 3:
                steps += [(step, 0) for step in CHILD_STEPS[: rng.randrange(0, 3)]]
        case_id = uuid.uuid4()
        log: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [("case_opened", {}, facts)]
        for step, child in steps:
            done = {"step": step, "on": "", **({"child": child} if child is not None else {})}
            log.append(("step_completed", {"step": step, "child": child, "outcome": None, "completes": done}, None))
        if rng.random() < 0.3:
            facts = {**facts, "risk_level": "high"}
            log.insert(2, ("facts_updated", {}, facts))
        for day, (kind, payload, after) in enumerate(log):
            on = opened + dt.timedelta(days=day)
            if "completes" in payload:
                payload["completes"]["on"] = on.isoformat()
            events.append(
                {
                    "case_id": case_id,
                    "kind": kind,
                    "on": on,
                    "payload": payload,
                    "facts": after,
                    "recorded_by": "bench",
                    "recorded_at": now,
                }
            )
        cases.append(
            {
                "id": case_id,
                "district": "farsta",
                "reference": f"bench-{n:06d}",
                "facts": facts,
                "opened": opened,
                "process_version": version,
                "row_version": len(log),
                "closed": False,
                "created_at": now,
                "updated_at": now,
            }
        )
    return cases, events


def timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall-clock and this process's CPU seconds: the CPU figure holds when other work shares the machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def run(kind: str, postgres: PostgresServer | None, args: argparse.Namespace, tmp: Path) -> None:
    where = tmp / kind
    where.mkdir()
    url = fresh_database(kind, where, postgres.url if postgres else None)
    with Service(settings_for(url, copy_processes(where))) as service:
        engine = service.client.app.state.engine  # type: ignore[attr-defined]
        version = service.registry.current("farsta").version
        lookup = version_of(service)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\n{kind}: replay of Farsta's open cases on a draft ({os.cpu_count()} cores, load average {load})")
        print(
            "  draft A: a role to another unit, a tighter deadline, a step removed; B: the first two only (no condition changed)"
        )
        heads = ("open cases", 10), ("events", 7), ("(a) read", 9), ("draft", 5), ("(b) replay", 10), ("(b) CPU", 8)
        print("  " + "  ".join(f"{head:>{width}}" for head, width in heads) + f"  {'warm':>7}  {'per case':>8}")
        drafts = {"A": draft(service), "B": draft(service, EDITS[:2])}
        inserted, worst = 0, 0.0
        for size in args.sizes:
            cases, events = rows(inserted, size - inserted, version, seed=size)
            with Session(engine) as session:
                session.execute(insert(Case), cases)
                session.execute(insert(CaseEvent), events)
                session.commit()
            inserted = size

            def read() -> list[OpenCase]:
                gc.disable()  # as the replay reads
                try:
                    with Session(engine) as session:
                        return [case for chunk in open_cases(session, "farsta") for case in chunk]
                finally:
                    gc.enable()

            baseline, _, found = timed(read)
            counted = sum(len(case.log) for case in found)
            for name, target in drafts.items():

                def replayed(target: CompiledProcess = target) -> Impact:
                    with Session(engine) as session:
                        return replay(session, "farsta", target, TODAY, lookup)

                cold, cpu, impact = timed(replayed)
                warm, _, _ = timed(replayed)
                assert impact.open_cases == size == len(found)
                figures = f"{baseline:>8.2f}s  {name:>5}  {cold:>9.2f}s  {cpu:>7.2f}s  {warm:>6.2f}s  {cold / size * 1e3:>6.2f}ms"
                print(f"  {size:>10,}  {counted:>7,}  {figures}")
                print("  " + " " * 20 + ", ".join(f"{k} {v}" for k, v in impact.counts.model_dump().items() if v))
                worst = max(worst, cold) if size >= 10_000 else worst
        if worst > 10:
            print("  !! over the goal: 10,000 open cases in ≤ 10 s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    on_each_database(run, args)


if __name__ == "__main__":
    main()
