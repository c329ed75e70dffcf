"""Equality in practice: per district, of the clients eligible for each guaranteed intervention, the
share that were offered it, with the city's share beside it and the districts that differ from the
city flagged.

What counts, from what is recorded with every case (api/worklist.py ``store_steps``):

* a case was *offered* intervention X when a guaranteed step whose intervention is X has opened
  for it: the step is open now (``open_steps``, a step waiting at a join included: it has been
  reached) or it was passed (``step_passages``);
* a case is *eligible* for X when it was offered X or its last decision says the client qualifies
  for X and has not been offered it (``pending_interventions``).

Which step gives which intervention is each district's compiled process's (``steps[s].intervention``
and ``.guaranteed``), so a district that gives an intervention through a local step of its own is
counted by that step.  Everything is counted in two grouped queries (by district and intervention,
and by intervention for the city, where a case counts once), never by deciding a case.

A case's pending guarantees are those of its last decision, which a closing keeps: a client who
declines and whose case closes still counts as eligible for what was never offered.  Passages are
recorded from migration 0007 on: for cases older than that, a guaranteed step passed before it is
not seen, and such a case counts as offered only while the step is open.

Small numbers can identify a client: a district's own manager sees its figures exactly; the city's
managers see every district, and everyone the city's figures, with counts of 1–4 as ``"<5"``, the
others rounded to 5, and a share only where the offered and the not offered are each 0 or at least
5 (api/workload.py ``shown`` and ``telling``, as in api/step_figures.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, case, distinct, func, literal, select, union_all
from sqlmodel import Session, col

from engine import CompiledProcess

from .models import Case, OpenStep, PendingIntervention, StepPassage
from .workload import SMALL, Count, shown, telling

Rows = Select[*tuple[Any, ...]]
# A district is flagged when its share is more than this many percentage points from the city's,
# with at least SMALL eligible clients: below that one client moves the share by 20 points or more.
THRESHOLD_POINTS = 10
RULE = (
    f"En stadsdel markeras när dess andel skiljer sig från stadens med mer än {THRESHOLD_POINTS} procentenheter "
    f"och minst {SMALL} klienter i stadsdelen hade rätt till insatsen."
)


class Figure(BaseModel):
    intervention: str
    label: str
    eligible: Count = Field(description="Clients who qualify for the intervention: offered it, or still waiting for it.")
    offered: Count = Field(description="Of those, clients for whom a step giving it has opened.")
    share: float | None = Field(description="offered / eligible (0-1); None when not shown or nobody was eligible.")


class DistrictFigure(Figure):
    city_share: float | None = Field(description="The city's share, every district together.")
    differs: bool = Field(description=f"The share is more than {THRESHOLD_POINTS} points from the city's (≥{SMALL} eligible).")
    difference_points: float | None = Field(description="The share minus the city's, in percentage points, where both are shown.")


class DistrictPractice(BaseModel):
    district: str
    label: str
    exact: bool = Field(description="False where counts of 1-4 are shown as '<5' and the others rounded to 5.")
    interventions: list[DistrictFigure]


class EqualityPractice(BaseModel):
    period_from: dt.date | None = Field(description="Cases opened on or after this day; None: from the first.")
    period_to: dt.date | None = Field(description="Cases opened on or before this day; None: to today.")
    threshold_points: int = THRESHOLD_POINTS
    min_eligible: int = SMALL
    rule: str = RULE
    city: list[Figure]
    districts: list[DistrictPractice]


def guaranteed_steps(processes: Mapping[str, CompiledProcess]) -> dict[str, dict[str, list[str]]]:
    """Per district, per guaranteed intervention, the district's guaranteed steps that give it."""
    out: dict[str, dict[str, list[str]]] = {}
    for district, compiled in processes.items():
        by_intervention: dict[str, list[str]] = {}
        for step_id, step in compiled.process.steps.items():
            if step.guaranteed and step.intervention is not None:
                by_intervention.setdefault(step.intervention, []).append(step_id)
        out[district] = by_intervention
    return out


def intervention_labels(central: CompiledProcess | None, processes: Mapping[str, CompiledProcess]) -> dict[str, str]:
    """The guaranteed interventions in the matrix's order (the central process's steps, then a
    district's own), with their Swedish labels."""
    labels: dict[str, str] = {}
    for compiled in (*([central] if central is not None else []), *(processes[d] for d in sorted(processes))):
        p = compiled.process
        for step in p.steps.values():
            if step.guaranteed and step.intervention is not None and step.intervention not in labels:
                labels[step.intervention] = p.interventions[step.intervention].label
    return labels


def _offered(table: type[OpenStep] | type[StepPassage], steps: Mapping[str, Mapping[str, Sequence[str]]]) -> Rows:
    """(case, district, intervention, 1) for each guaranteed step of ``table`` that gives an intervention."""
    district, step = col(table.district), col(table.step)
    whens: list[tuple[ColumnElement[bool], str]] = [
        (and_(district == d, step.in_(list(ids))), intervention)
        for d, by_intervention in steps.items()
        for intervention, ids in by_intervention.items()
    ]
    intervention = case(*whens, else_=None) if whens else literal(None)
    return select(
        col(table.case_id).label("case_id"),
        district.label("district"),
        intervention.label("intervention"),
        literal(1).label("offered"),
    ).where(intervention.is_not(None))


def _counted(
    session: Session, steps: Mapping[str, Mapping[str, Sequence[str]]], period: tuple[dt.date | None, dt.date | None]
) -> tuple[dict[tuple[str, str], tuple[int, int]], dict[str, tuple[int, int]]]:
    """(eligible, offered) per (district, intervention), and per intervention for the city."""
    pending: Rows = select(
        col(PendingIntervention.case_id).label("case_id"),
        col(PendingIntervention.district).label("district"),
        col(PendingIntervention.intervention).label("intervention"),
        literal(0).label("offered"),
    )
    rows = union_all(_offered(OpenStep, steps), _offered(StepPassage, steps), pending).subquery()
    cases = func.count(distinct(rows.c.case_id))
    offered = func.count(distinct(case((rows.c.offered == 1, rows.c.case_id), else_=None)))

    def grouped(*keys: ColumnElement[str]) -> Rows:
        query = select(*keys, cases, offered).group_by(*keys)
        start, end = period
        if start is not None or end is not None:
            query = query.join(Case, col(Case.id) == rows.c.case_id)
            if start is not None:
                query = query.where(col(Case.opened) >= start)
            if end is not None:
                query = query.where(col(Case.opened) <= end)
        return query

    by_district = {
        (d, i): (int(n), int(o)) for d, i, n, o in session.execute(grouped(rows.c.district, rows.c.intervention)).all()
    }
    city = {i: (int(n), int(o)) for i, n, o in session.execute(grouped(rows.c.intervention)).all()}
    return by_district, city


def equality_practice(
    session: Session,
    processes: Mapping[str, CompiledProcess],
    central: CompiledProcess | None,
    seen: Mapping[str, str],
    exact_for: str | None,
    period: tuple[dt.date | None, dt.date | None] = (None, None),
) -> EqualityPractice:
    """The figures of the districts in ``seen`` (id -> label, the caller has chosen those the reader
    may see) against the city's, which is every district in ``processes``; ``exact_for`` is the
    district whose manager is reading (its counts are exact), None for the city's managers."""
    by_district, city = _counted(session, guaranteed_steps(processes), period)
    labels = intervention_labels(central, processes)
    city_figures = [_figure(i, label, *city.get(i, (0, 0)), exact=False) for i, label in labels.items()]
    city_share = {f.intervention: f.share for f in city_figures}
    districts = []
    for district in sorted(seen):
        exact = district == exact_for
        offers = guaranteed_steps({district: processes[district]})[district] if district in processes else {}
        figures = []
        for intervention, label in labels.items():
            if intervention not in offers:
                continue  # the district guarantees it through no step of its own: a local guarantee elsewhere
            eligible, offered = by_district.get((district, intervention), (0, 0))
            figures.append(_district_figure(intervention, label, eligible, offered, exact, city_share[intervention]))
        districts.append(DistrictPractice(district=district, label=seen[district], exact=exact, interventions=figures))
    start, end = period
    return EqualityPractice(period_from=start, period_to=end, city=city_figures, districts=districts)


def _share(eligible: int, offered: int, exact: bool) -> float | None:
    # Outside the district a share of 3 in 7 gives back both the 3 offered and the 4 who were not.
    if eligible == 0 or not telling(exact, offered, eligible - offered):
        return None
    return round(offered / eligible, 3)


def _figure(intervention: str, label: str, eligible: int, offered: int, exact: bool) -> Figure:
    return Figure(
        intervention=intervention,
        label=label,
        eligible=shown(eligible, exact),
        offered=shown(offered, exact),
        share=_share(eligible, offered, exact),
    )


def _district_figure(
    intervention: str, label: str, eligible: int, offered: int, exact: bool, city: float | None
) -> DistrictFigure:
    share = _share(eligible, offered, exact)
    points = None if share is None or city is None else round((share - city) * 100, 1)
    return DistrictFigure(
        **_figure(intervention, label, eligible, offered, exact).model_dump(),
        city_share=city,
        difference_points=points,
        differs=points is not None and eligible >= SMALL and abs(points) > THRESHOLD_POINTS,
    )
