"""Workload for managers: per district, the open cases and, by unit and by phase, the open and the
overdue steps — counts only, never a case, a reference or a fact.

Read from the open steps stored with each case (``open_steps``, api/worklist.py) in one grouped
query and the open cases in another, so the report costs the same however long the cases' logs
are.  A step waiting at a join for other branches is not work anyone can do yet and is not
counted.  Overdue is a due date before today (Europe/Stockholm, the service's day).

Small numbers can identify a client: a district's figures are exact for its own manager (the
district is its own authority under OSL and its manager answers for these clients) and shown as
``"<5"`` for 1–4 to anyone else, the city's managers included.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import case, func, select
from sqlmodel import Session, col

from engine import CompiledProcess

from .auth import Principal
from .models import Case, OpenStep

SMALL = 5
Count = int | Literal["<5"]
NO_UNIT = "Ingen ansvarig enhet"


def shown(n: int, exact: bool) -> Count:
    """``n``, or ``"<5"`` for 1–4 where the reader is outside the district."""
    return n if exact or n == 0 or n >= SMALL else "<5"


class Load(BaseModel):
    id: str | None = Field(description="The unit or phase; None for steps without a responsible unit.")
    label: str
    open_cases: Count = Field(description="Cases with at least one open step here.")
    open_steps: Count
    overdue_steps: Count


class DistrictLoad(BaseModel):
    district: str
    label: str
    exact: bool = Field(description="False where counts of 1–4 are shown as '<5'.")
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


@dataclass
class _Tally:
    cases: set[uuid.UUID] = field(default_factory=set)
    steps: int = 0
    overdue: int = 0

    def add(self, case_id: uuid.UUID, steps: int, overdue: int) -> None:
        self.cases.add(case_id)
        self.steps += steps
        self.overdue += overdue

    def load(self, key: str | None, label: str, exact: bool) -> Load:
        return Load(
            id=key,
            label=label,
            open_cases=shown(len(self.cases), exact),
            open_steps=shown(self.steps, exact),
            overdue_steps=shown(self.overdue, exact),
        )


def workload(
    session: Session, principal: Principal, processes: Mapping[str, CompiledProcess], labels: Mapping[str, str], today: dt.date
) -> Workload:
    """The figures of every district in ``processes`` (the caller has chosen those the principal sees)."""
    districts = sorted(processes)
    overdue = func.sum(case((col(OpenStep.due_on) < today, 1), else_=0))
    step = (col(OpenStep.district), col(OpenStep.unit), col(OpenStep.phase), col(OpenStep.case_id))
    rows = session.execute(
        select(*step, func.count(), overdue)
        .where(col(OpenStep.district).in_(districts), col(OpenStep.waiting).is_(False))
        .group_by(*step)
    ).all()
    cases: dict[str, int] = {
        district: n
        for district, n in session.execute(
            select(col(Case.district), func.count())
            .where(col(Case.district).in_(districts), col(Case.closed).is_(False))
            .group_by(col(Case.district))
        ).all()
    }
    by_unit: dict[str, dict[str | None, _Tally]] = defaultdict(dict)
    by_phase: dict[str, dict[str | None, _Tally]] = defaultdict(dict)
    totals: dict[str, _Tally] = defaultdict(_Tally)
    for district, unit, phase, case_id, steps, late in rows:
        by_unit[district].setdefault(unit, _Tally()).add(case_id, steps, late or 0)
        by_phase[district].setdefault(phase, _Tally()).add(case_id, steps, late or 0)
        totals[district].add(case_id, steps, late or 0)
    out = []
    for district in districts:
        process = processes[district].process
        exact = principal.district == district
        total = totals[district]
        out.append(
            DistrictLoad(
                district=district,
                label=labels.get(district, district),
                exact=exact,
                open_cases=shown(cases.get(district, 0), exact),
                open_steps=shown(total.steps, exact),
                overdue_steps=shown(total.overdue, exact),
                units=_loads(by_unit[district], {u: unit.label for u, unit in process.units.items()}, exact),
                phases=_loads(by_phase[district], {p: phase.label for p, phase in process.phases.items()}, exact),
            )
        )
    return Workload(today=today, districts=out)


def _loads(table: Mapping[str | None, _Tally], labels: Mapping[str, str], exact: bool) -> list[Load]:
    # In the process's own order (phases as the pathway runs, units as the district declares them).
    rank = {key: i for i, key in enumerate(labels)}
    keys = sorted(table, key=lambda k: (k is None, rank.get(k or "", len(rank)), k or ""))
    return [table[k].load(k, labels.get(k, k) if k is not None else NO_UNIT, exact) for k in keys]
