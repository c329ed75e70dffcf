"""The process with its live figures: per step, over a period, the cases that passed it, the median
days from the step opening to its completion, the share completed within the deadline, and what is
open and overdue now — for one district, or for the city (every district together), with the
city's median beside a district's.

A period is whole months.  Read from ``step_months`` (per district, step and month, how many step
instances were completed after how many days: counted with every passage, api/worklist.py) and
``open_steps``, so a report over 100,000 cases reads a few thousand rows and no case, no log
(bench/reports.py).

Small numbers can identify a client: outside the district (the city's managers, the process owner,
another district), and in the city's own figures, counts of 1–4 are shown as ``"<5"`` and the others
rounded to 5, and a median or share is shown only where its counts are 0 or at least 5
(api/workload.py ``shown`` and ``telling``, which say why).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, Field
from sqlalchemy import case, func, select
from sqlmodel import Session, col

from engine import CompiledProcess

from .models import OpenStep, StepMonth
from .workload import SMALL, Count, shown, telling

MAX_MONTHS = 120
# Years 1900-2999: a month whose last day or next month leaves the calendar is not a period.
MONTH = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"


class StepFigures(BaseModel):
    step: str
    label: str
    phase: str
    phase_label: str
    unit: str | None
    unit_label: str | None
    passed: Count = Field(description="Step instances completed in the period.")
    median_days: float | None = Field(description="Median days from the step opening to its completion; None when not shown.")
    with_deadline: Count = Field(description="Of those passed, how many had a due date.")
    within_deadline: float | None = Field(description="Share (0-1) of those with a due date done by it; None when not shown.")
    open_now: Count
    overdue_now: Count
    city_median_days: float | None = Field(default=None, description="The city's median for the step, in a district's report.")


class StepsReport(BaseModel):
    district: str | None = Field(description="None: the city, every district together.")
    label: str
    period_from: dt.date
    period_to: dt.date
    today: dt.date
    exact: bool = Field(description="False where counts of 1-4 are shown as '<5' and the others rounded to 5.")
    steps: list[StepFigures]

    def to_csv_rows(self) -> Iterable[list[str]]:
        yield ["steg", "namn", "fas", "enhet", "passerade", "median dagar", "med tidsfrist", "andel inom frist",
               "öppna nu", "försenade nu", "stadens median dagar"]  # fmt: skip
        for s in self.steps:
            yield [s.step, s.label, s.phase_label, s.unit_label or "", str(s.passed), _number(s.median_days),
                   str(s.with_deadline), _number(s.within_deadline), str(s.open_now), str(s.overdue_now),
                   _number(s.city_median_days)]  # fmt: skip


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


class _Tally:
    """One step's passages as days → count, and how many had a due date and kept it."""

    def __init__(self) -> None:
        self.days: dict[int, int] = defaultdict(int)
        self.with_due = 0
        self.kept = 0

    @property
    def passed(self) -> int:
        return sum(self.days.values())

    def median(self) -> float | None:
        n = self.passed
        if n == 0:
            return None
        return (self._kth((n - 1) // 2) + self._kth(n // 2)) / 2

    def _kth(self, k: int) -> int:
        """The k-th smallest number of days (from 0) of the passages."""
        seen = 0
        for days in sorted(self.days):
            seen += self.days[days]
            if seen > k:
                return days
        raise IndexError(k)


def passages(session: Session, districts: Sequence[str] | None, months: tuple[dt.date, dt.date]) -> dict[str, _Tally]:
    """Per step, the passages completed in the months ``months`` (first days, both included) of
    ``districts`` (None: every district), summed from their months' counts."""
    step, days = col(StepMonth.step), col(StepMonth.days)
    sums = (func.sum(col(StepMonth.passed)), func.sum(col(StepMonth.with_due)), func.sum(col(StepMonth.kept)))
    query = (
        select(step, days, *sums)
        .where(col(StepMonth.month) >= months[0], col(StepMonth.month) <= months[1])
        .group_by(step, days)
    )
    if districts is not None:
        query = query.where(col(StepMonth.district).in_(districts))
    out: dict[str, _Tally] = defaultdict(_Tally)
    for step_id, n_days, passed, with_due, kept in session.execute(query).all():
        tally = out[step_id]
        tally.days[n_days] += int(passed)
        tally.with_due += int(with_due)
        tally.kept += int(kept)
    return out


def open_now(session: Session, districts: Sequence[str] | None, today: dt.date) -> dict[str, tuple[int, int]]:
    """Per step, the open step instances (not waiting at a join) and how many of them are overdue."""
    # sort_due, not due_on: the same test (an undated step sorts after every day) answered from the
    # worklist's index alone, without reading 300,000 rows of a large district one by one.
    late = func.sum(case((col(OpenStep.sort_due) < today, 1), else_=0))
    query = select(col(OpenStep.step), func.count(), late).where(col(OpenStep.waiting).is_(False)).group_by(col(OpenStep.step))
    if districts is not None:
        query = query.where(col(OpenStep.district).in_(districts))
    return {step: (count, int(overdue or 0)) for step, count, overdue in session.execute(query).all()}


def steps_report(
    session: Session,
    district: str | None,
    label: str,
    process: CompiledProcess,
    period: tuple[dt.date, dt.date],
    today: dt.date,
    exact: bool,
) -> StepsReport:
    """The figures of ``district`` (None: the city) for the steps of ``process`` in its order."""
    start, end = period
    chosen = None if district is None else [district]
    passed = passages(session, chosen, period)
    city = passages(session, None, period) if district is not None else passed
    now = open_now(session, chosen, today)
    return StepsReport(
        district=district,
        label=label,
        period_from=start,
        period_to=_last_day(end),
        today=today,
        exact=exact,
        steps=[
            _figures(process, step, passed.get(step), city.get(step), now.get(step, (0, 0)), exact, district)
            for step in process.process.steps
        ],
    )


def _figures(
    process: CompiledProcess,
    step_id: str,
    tally: _Tally | None,
    city: _Tally | None,
    now: tuple[int, int],
    exact: bool,
    district: str | None,
) -> StepFigures:
    step = process.step(step_id)
    tally = tally or _Tally()
    n = tally.passed
    # From fewer than SMALL passages a median describes a handful of clients, and a share of
    # steps done in time gives back how many were late.
    kept, late = tally.kept, tally.with_due - tally.kept
    role = step.role
    unit = process.process.bindings.get(role) if role else None
    return StepFigures(
        step=step_id,
        label=step.label,
        phase=step.phase,
        phase_label=process.process.phases[step.phase].label,
        unit=unit,
        unit_label=process.process.units[unit].label if unit in process.process.units else None,
        passed=shown(n, exact),
        median_days=tally.median() if telling(exact, n) else None,
        with_deadline=shown(tally.with_due, exact),
        within_deadline=round(kept / tally.with_due, 3) if tally.with_due and telling(exact, kept, late) else None,
        open_now=shown(now[0], exact),
        overdue_now=shown(now[1], exact),
        city_median_days=city.median() if district is not None and city is not None and city.passed >= SMALL else None,
    )


def period_of(first: str | None, last: str | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """The chosen months (``YYYY-MM``) as their first days; by default the twelve months up to and
    including this one; at most ten years."""
    end = _month(last) if last else today.replace(day=1)
    start = _month(first) if first else _add_months(end, -11)
    if start > end:
        raise ValueError("from must be the same month as to or earlier")
    if (end.year - start.year) * 12 + end.month - start.month >= MAX_MONTHS:
        raise ValueError("the period may be at most ten years")
    return start, end


def _month(text: str) -> dt.date:
    year, month = text.split("-")
    return dt.date(int(year), int(month), 1)


def _add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def _last_day(month: dt.date) -> dt.date:
    return _add_months(month, 1) - dt.timedelta(days=1)
