"""A unit's work: the open steps of every case, stored with the case, and the lists read from them.

Every write to a case (registering it, an event, new facts, a transfer, a migration) decides the
case as it now stands; ``store_steps`` keeps that decision's open steps in ``open_steps`` in the
same transaction, so the stored steps and the case's next steps can never disagree.  A unit's
worklist and overdue list are then one indexed query, however many cases the district has,
instead of deciding every open case on every call.

What depends on the day is handled two ways: overdue is ``due_on`` before today, worked out when
a list is read; whatever else a decision could owe to the day (a fact compared with today's date)
is brought up to date by ``refresh`` (``brytupp refresh``, the daily job: idempotent, safe on
every instance at once, since each case is locked while its steps are replaced).  A case whose
steps could not be worked out has ``steps_as_of`` empty and is listed first with a problem.

Worklists page with a cursor (the position of the last row, signed so that a cursor that was
changed is refused), and one audit row per page names every case the page showed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import delete, literal, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from engine import CompiledProcess, Decision, decide
from engine.errors import BrytUppError

from .errors import invalid
from .events import Folded, fold
from .models import Case, OpenStep, PendingIntervention, ProcessVersion, StepMonth, StepPassage
from .store import logs_of
from .versions import build_stored

# A step without a due date (its deadline's event has not happened) sorts after every dated one.
NO_DUE = dt.date(9999, 12, 31)
MAX_PAGE = 200


def store_steps(
    session: Session, case: Case, decision: Decision, as_of: dt.date, completes: Mapping[str, Any] | None = None
) -> None:
    """Replace the case's stored open steps with those of ``decision`` (in the caller's transaction),
    decided on ``as_of`` (the service's today: an event may be dated earlier).  ``completes`` is the
    completion this write records (``{step, on, child}``, an event's ``payload.completes``): the open
    step it closes is kept as a passage (``step_passages``: the day it opened, the day it was done,
    its due date then) and counted in its month.  The guaranteed interventions the client qualifies
    for and was not offered are kept beside the open steps (``pending_interventions``)."""
    # Without flushing what the caller has pending: its own checks (a duplicate reference) fail at its commit.
    with session.no_autoflush:
        passed = _passage(session, case, completes) if completes is not None else []
        session.exec(delete(OpenStep).where(col(OpenStep.case_id) == case.id))
        session.exec(delete(PendingIntervention).where(col(PendingIntervention.case_id) == case.id))
        _count(session, passed)
    for waiting, steps in ((False, decision.next_steps), (True, decision.waiting)):
        for step in steps:
            session.add(
                OpenStep(
                    case_id=case.id,
                    step=step.step,
                    child=-1 if step.child is None else step.child,
                    district=case.district,
                    unit=step.unit.id if step.unit is not None else None,
                    phase=step.phase,
                    guaranteed=step.guaranteed,
                    opened_on=step.opened_on,
                    due_on=step.due,
                    sort_due=step.due or NO_DUE,
                    waiting=waiting,
                )
            )
    session.add_all(passed)
    session.add_all(
        PendingIntervention(case_id=case.id, step=p.step, intervention=p.intervention, district=case.district)
        for p in decision.pending_guarantees
    )
    case.steps_as_of = as_of


def _passage(session: Session, case: Case, completes: Mapping[str, Any]) -> list[StepPassage]:
    # Only the completion this write records is a passage: a step that leaves the open steps for any
    # other reason (new facts re-route it, a move, a closing) was not done, and a step a loop opens
    # again the same day it was done is still the one this completion closed.
    child = -1 if completes.get("child") is None else int(completes["child"])
    on = completes["on"] if isinstance(completes["on"], dt.date) else dt.date.fromisoformat(str(completes["on"]))
    # Columns, not a row: a loaded row would sit in the session beside the new one of the same key.
    columns = (OpenStep.opened_on, OpenStep.unit, OpenStep.phase, OpenStep.due_on)
    row = session.execute(
        sa_select(*(col(c) for c in columns)).where(
            col(OpenStep.case_id) == case.id,
            col(OpenStep.step) == completes["step"],
            col(OpenStep.child) == child,
            col(OpenStep.waiting).is_(False),
        )
    ).first()
    if row is None or on < row.opened_on:
        return []
    return [
        StepPassage(
            case_id=case.id,
            step=completes["step"],
            child=child,
            opened_on=row.opened_on,
            district=case.district,
            unit=row.unit,
            phase=row.phase,
            completed_on=on,
            due_on=row.due_on,
            days=(on - row.opened_on).days,
            kept=None if row.due_on is None else on <= row.due_on,
        )
    ]


def _count(session: Session, passed: Sequence[StepPassage]) -> None:
    """Add the passages to their months' counts (``step_months``): an upsert, so two cases completing
    the same step in the same month at once both count (the second waits for the first's row lock)."""
    if not passed:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    for p in passed:
        kept = 1 if p.kept else 0
        statement = insert(StepMonth).values(
            district=p.district,
            step=p.step,
            month=p.completed_on.replace(day=1),
            days=max(0, p.days),
            passed=1,
            with_due=0 if p.kept is None else 1,
            kept=kept,
        )
        counts = statement.excluded
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["district", "step", "month", "days"],
                set_={
                    "passed": col(StepMonth.passed) + counts.passed,
                    "with_due": col(StepMonth.with_due) + counts.with_due,
                    "kept": col(StepMonth.kept) + counts.kept,
                },
            )
        )


# --- the daily refresh ----------------------------------------------------------------------


@dataclass
class Refreshed:
    cases: int = 0
    problems: int = 0


def refresh(
    engine: Engine, today: dt.date, version_of: Callable[[Session, str], CompiledProcess] | None = None, batch_size: int = 500
) -> Refreshed:
    """Decide every open case for ``today`` and store its open steps, a batch per transaction.
    ``version_of`` finds a case's process version (default: built from the texts stored with it)."""
    version_of = version_of or _stored_versions()
    with Session(engine) as session:
        ids = list(session.exec(select(Case.id).where(col(Case.closed).is_(False)).order_by(col(Case.id))))
    done = Refreshed()
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        with Session(engine) as session:
            cases = session.exec(select(Case).where(col(Case.id).in_(batch)).order_by(col(Case.id)).with_for_update()).all()
            logs = logs_of(session, batch)
            for case in cases:
                if case.closed:
                    continue
                done.cases += 1
                # From the log, the truth: the fold stored with the case is brought back in line with it too.
                folded = fold(case.opened, logs[case.id])
                try:
                    compiled = version_of(session, case.process_version)
                    store_steps(session, case, decide(compiled, folded.state(case.opened, case.facts, today)), today)
                    case.state = folded.model_dump(mode="json")
                except (BrytUppError, LookupError, ValueError):
                    # Listed with a problem until a caseworker puts it right (api/routes/worklists.py); its
                    # next steps fold the log again and say why.
                    session.exec(delete(OpenStep).where(col(OpenStep.case_id) == case.id))
                    session.exec(delete(PendingIntervention).where(col(PendingIntervention.case_id) == case.id))
                    case.steps_as_of, case.state = None, None
                    done.problems += 1
                session.add(case)
            session.commit()
    return done


@dataclass
class Verified:
    cases: int = 0
    # (case id, what differs): the fold stored with the case, or its stored open steps.
    differences: list[tuple[uuid.UUID, str]] = field(default_factory=list)


def verify(
    engine: Engine, version_of: Callable[[Session, str], CompiledProcess] | None = None, batch_size: int = 500
) -> Verified:
    """Fold every case's log again and compare with what is stored with it: the fold, and for an
    open case its open steps as decided on the day they were stored.  Reads only."""
    version_of = version_of or _stored_versions()
    with Session(engine) as session:
        ids = list(session.exec(select(Case.id).order_by(col(Case.id))))
    done = Verified()
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        with Session(engine) as session:
            cases = session.exec(select(Case).where(col(Case.id).in_(batch))).all()
            logs = logs_of(session, batch)
            stored: dict[uuid.UUID, set[tuple[object, ...]]] = {case_id: set() for case_id in batch}
            for row in session.exec(select(OpenStep).where(col(OpenStep.case_id).in_(batch))):
                stored[row.case_id].add(_key(row.step, row.child, row.unit, row.due_on, row.waiting))
            for case in cases:
                done.cases += 1
                folded = fold(case.opened, logs[case.id])
                if case.state is not None and Folded.model_validate(case.state) != folded:
                    done.differences.append((case.id, "the fold stored with the case is not its log's"))
                if case.closed or case.steps_as_of is None:
                    continue
                try:
                    decided = decide(
                        version_of(session, case.process_version), folded.state(case.opened, case.facts, case.steps_as_of)
                    )
                except (BrytUppError, LookupError, ValueError):
                    done.differences.append((case.id, "its log cannot be decided, but it has stored steps"))
                    continue
                expected = {
                    _key(s.step, -1 if s.child is None else s.child, s.unit.id if s.unit else None, s.due, waiting)
                    for waiting, steps in ((False, decided.next_steps), (True, decided.waiting))
                    for s in steps
                }
                if expected != stored[case.id]:
                    done.differences.append((case.id, "its stored open steps are not its log's"))
    return done


def _key(step: str, child: int, unit: str | None, due: dt.date | None, waiting: bool) -> tuple[object, ...]:
    return (step, child, unit, due, waiting)


def _stored_versions() -> Callable[[Session, str], CompiledProcess]:
    built: dict[str, CompiledProcess] = {}

    def version_of(session: Session, version: str) -> CompiledProcess:
        if version not in built:
            row = session.get(ProcessVersion, version)
            if row is None:
                raise LookupError(version)
            built[version] = build_stored(row)
        return built[version]

    return version_of


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    due: dt.date
    case_id: uuid.UUID
    step: str
    child: int


class Cursors:
    """Signed positions: a cursor names where a page ended, and only this service's cursors are taken."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def encode(self, position: Position) -> str:
        body = json.dumps([position.due.isoformat(), str(position.case_id), position.step, position.child]).encode()
        mac = hmac.new(self.key, body, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(mac + body).decode().rstrip("=")

    def decode(self, cursor: str) -> Position:
        refused = invalid({"cursor": "not a cursor this service gave; start again without one"}, where="query")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            mac, body = raw[:16], raw[16:]
            if not hmac.compare_digest(mac, hmac.new(self.key, body, hashlib.sha256).digest()[:16]):
                raise refused
            due, case_id, step, child = json.loads(body)
            if not isinstance(child, int) or not -1 <= child < 1000:
                raise refused
            return Position(dt.date.fromisoformat(due), uuid.UUID(case_id), str(step), child)
        except (ValueError, TypeError, OverflowError, json.JSONDecodeError):
            raise refused from None


@dataclass(frozen=True)
class Filters:
    district: str
    unit: str
    due_before: dt.date | None = None
    overdue_on: dt.date | None = None  # only steps due before this day
    step: str | None = None
    assigned_to: str | None = None


class Listed(NamedTuple):
    """What a list shows of a case: never its facts."""

    id: uuid.UUID
    reference: str
    assigned_to: str | None
    process_version: str
    steps_as_of: dt.date | None


def worklist(session: Session, filters: Filters, limit: int, after: Position | None) -> list[tuple[OpenStep, Listed]]:
    """The unit's open steps with their cases, by due date (undated last), from ``after`` on."""
    query = (
        select(  # type: ignore[call-overload]
            OpenStep, col(Case.id), col(Case.reference), col(Case.assigned_to), col(Case.process_version), col(Case.steps_as_of)
        )
        .join(Case, col(Case.id) == col(OpenStep.case_id))
        .where(
            col(OpenStep.district) == filters.district,
            col(OpenStep.unit) == filters.unit,
            col(OpenStep.waiting).is_(False),
            col(Case.closed).is_(False),
        )
    )
    if filters.due_before is not None:
        query = query.where(col(OpenStep.sort_due) < filters.due_before)
    if filters.overdue_on is not None:
        query = query.where(col(OpenStep.sort_due) < filters.overdue_on)
    if filters.step is not None:
        query = query.where(col(OpenStep.step) == filters.step)
    if filters.assigned_to is not None:
        query = query.where(col(Case.assigned_to) == filters.assigned_to)
    order = (col(OpenStep.sort_due), col(OpenStep.case_id), col(OpenStep.step), col(OpenStep.child))
    if after is not None:
        query = query.where(
            tuple_(*order) > tuple_(literal(after.due), literal(after.case_id), literal(after.step), literal(after.child))
        )
    rows = session.exec(query.order_by(*order).limit(limit))
    return [(row[0], Listed(*row[1:])) for row in rows]


def position(row: OpenStep) -> Position:
    return Position(row.sort_due, row.case_id, row.step, row.child)


def unsettled(session: Session, district: str) -> list[uuid.UUID]:
    """Open cases whose steps could not be worked out: each needs a caseworker's attention."""
    query = select(Case.id).where(col(Case.district) == district, col(Case.closed).is_(False), col(Case.steps_as_of).is_(None))
    return list(session.exec(query.order_by(col(Case.opened))))
