"""Workload for managers: per district, the open cases and, by unit and by phase, the open and the
overdue steps — counts only, never a case, a reference or a fact.

Read from the open steps stored with each case (``open_steps``, api/worklist.py) in one grouped
query and the open cases in another, so the report costs the same however long the cases' logs
are.  A step waiting at a join for other branches is not work anyone can do yet and is not
counted.  Overdue is a due date before today (Europe/Stockholm, the service's day).

Small numbers can identify a client: a district's figures are exact for its own manager (the
district is its own authority under OSL and its manager answers for these clients).  For anyone
else, the city's managers included, and in the city's own figures, 1–4 is shown as ``"<5"`` and
every other count is rounded to the nearest 5 (``shown``): with exact counts beside a masked one,
a total minus its other parts (a district's units, the city's districts, one period minus
another) would give the masked one back.  A share or a median is shown only where every count it
is made of is 0 or at least 5 (``telling``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import case, distinct, func, select
from sqlmodel import Session, col

from engine import CompiledProcess

from .auth import Principal
from .models import Case, OpenStep

SMALL = 5
Count = int | Literal["<5"]
NO_UNIT = "Ingen ansvarig enhet"


def shown(n: int, exact: bool) -> Count:
    """``n`` for the district's own staff; for anyone else ``"<5"`` for 1–4 and ``n`` rounded to the
    nearest 5 otherwise (7 shows as 5, 8 as 10)."""
    if exact or n == 0:
        return n
    return "<5" if n < SMALL else (n + SMALL // 2) // SMALL * SMALL


def telling(exact: bool, *parts: int) -> bool:
    """Whether a share or a median made of ``parts`` may be shown: always to the district's own
    staff; to anyone else only if no part is 1–4 (a share of 3 in 7 gives both 3 and 4 back)."""
    return exact or all(part == 0 or part >= SMALL for part in parts)


class Load(BaseModel):
    id: str | None = Field(description="The unit or phase; None for steps without a responsible unit.")
    label: str
    open_cases: Count = Field(description="Cases with at least one open step here.")
    open_steps: Count
    overdue_steps: Count


class DistrictLoad(BaseModel):
    district: str
    label: str
    exact: bool = Field(description="False where counts of 1-4 are shown as '<5' and the others rounded to 5.")
    open_cases: Count
    open_steps: Count
    overdue_steps: Count
    units: list[Load]
    phases: list[Load]


class Workload(BaseModel):
    today: dt.date
    districts: list[DistrictLoad]

    def to_csv_rows(self) -> Iterable[list[str]]:
        yield ["stadsdel", "grupp", "id", "namn", "öppna ärenden", "öppna steg", "försenade steg"]
        for d in self.districts:
            yield [d.district, "stadsdel", d.district, d.label, *_counts(d)]
            for kind, loads in (("enhet", d.units), ("fas", d.phases)):
                for load in loads:
                    yield [d.district, kind, load.id or "", load.label, *_counts(load)]


def _counts(load: Load | DistrictLoad) -> list[str]:
    return [str(load.open_cases), str(load.open_steps), str(load.overdue_steps)]


Counts = tuple[int, int, int]  # cases, steps, overdue steps


def _grouped(session: Session, districts: list[str], today: dt.date, by: str | None) -> dict[tuple[str, str | None], Counts]:
    """(district, the unit or phase) -> counts, counted in the database: one row per group, never one
    per case, so the report costs the same for a district of 300,000 open steps (sort_due, not
    due_on, for overdue: the same test, from the worklist's index)."""
    key = col(OpenStep.district)
    part = col(getattr(OpenStep, by)) if by else None
    late = func.sum(case((col(OpenStep.sort_due) < today, 1), else_=0))
    query = select(key, *([part] if part is not None else []), func.count(distinct(col(OpenStep.case_id))), func.count(), late)
    query = query.where(key.in_(districts), col(OpenStep.waiting).is_(False))
    query = query.group_by(key, *([part] if part is not None else []))
    out: dict[tuple[str, str | None], Counts] = {}
    for row in session.execute(query).all():
        district, group, counts = row[0], (row[1] if part is not None else None), row[-3:]
        out[district, group] = (int(counts[0]), int(counts[1]), int(counts[2] or 0))
    return out


def workload(
    session: Session, principal: Principal, processes: Mapping[str, CompiledProcess], labels: Mapping[str, str], today: dt.date
) -> Workload:
    """The figures of every district in ``processes`` (the caller has chosen those the principal sees)."""
    districts = sorted(processes)
    totals = _grouped(session, districts, today, None)
    units = _grouped(session, districts, today, "unit")
    phases = _grouped(session, districts, today, "phase")
    cases: dict[str, int] = {
        district: n
        for district, n in session.execute(
            select(col(Case.district), func.count())
            .where(col(Case.district).in_(districts), col(Case.closed).is_(False))
            .group_by(col(Case.district))
        ).all()
    }
    out = []
    for district in districts:
        process = processes[district].process
        exact = principal.district == district
        _, steps, late = totals.get((district, None), (0, 0, 0))
        out.append(
            DistrictLoad(
                district=district,
                label=labels.get(district, district),
                exact=exact,
                open_cases=shown(cases.get(district, 0), exact),
                open_steps=shown(steps, exact),
                overdue_steps=shown(late, exact),
                units=_loads(district, units, {u: unit.label for u, unit in process.units.items()}, exact),
                phases=_loads(district, phases, {p: phase.label for p, phase in process.phases.items()}, exact),
            )
        )
    return Workload(today=today, districts=out)


def _loads(district: str, table: Mapping[tuple[str, str | None], Counts], labels: Mapping[str, str], exact: bool) -> list[Load]:
    # In the process's own order (phases as the pathway runs, units as the district declares them).
    rank = {key: i for i, key in enumerate(labels)}
    keys = sorted((k for d, k in table if d == district), key=lambda k: (k is None, rank.get(k or "", len(rank)), k or ""))
    loads = []
    for key in keys:
        n_cases, steps, late = table[district, key]
        label = labels.get(key, key) if key is not None else NO_UNIT
        counts = {"open_cases": shown(n_cases, exact), "open_steps": shown(steps, exact), "overdue_steps": shown(late, exact)}
        loads.append(Load(id=key, label=label, **counts))
    return loads
