"""The effect of a process version on a district's open cases, and moving them onto it.

``replay`` reads every open case of a district and its log (a statement for the cases,
one per 2,000 of them for their logs) and decides each case twice: on its own version, and on the target as if migrated today
(the facts with the district, a ``migrated`` entry appended: what ``move_case``
stores).  It compares the open steps, by ``(step, child)``, and classifies:

==================  ==================================================================
``next_steps``      a step opens or closes
``units``           the same open step, another responsible unit
``due_dates``       the same open step, another due date
``becomes_overdue`` a step overdue on the target that was not overdue before
``cannot_migrate``  the facts or the history do not fit the target (with the reason)
``unchanged``       none of the above
==================  ==================================================================

A changed case counts in every class it falls into.  Cases already on the target
are counted apart (``already_on_target``) and not replayed; a case whose own version
cannot be built or decided has an unknown "before" (``before_unknown``) and is listed
with its steps on the target.  Everything said about a case is a case id, step labels,
unit labels and dates: never a fact's value, which may be sensitive.

``migrate_cases`` moves every fitting case, a batch per transaction, each case
locked and read again in it and moved by ``move_case``, the function the case
service moves one case with too (``api/casework.py``: ``/cases/{id}/migrate``, ``/transfer``).
Every case leaves an audit row: ``migrated``, outcome ``ok`` or ``not_migrated``.

Speed (bench/impact.py; 10,000 open cases): the logs are read as columns in chunks, the
cycle collector is off while replaying, and a case's facts are matched once where the target
has the same rules as the case's own version (``_SharedHits``).  What is left is the two
decisions per case.
"""

from __future__ import annotations

import datetime as dt
import gc
import re
import uuid
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from engine import CaseState, CompiledProcess, CompletedStep, Decision, DecisionError, FactsError, decide, normalize_facts
from engine.cache import LruCache
from engine.decide import NextStep, default_matcher
from engine.rules import Hit, Matcher, Rule, facts_key, rules_of

from .auth import Principal
from .events import LoggedEvent, case_state, fold
from .models import Case, CaseEvent, utcnow
from .store import audit, logs_of
from .worklist import store_steps

VersionOf = Callable[[str], CompiledProcess]
CHUNK = 2000


class CaseImpact(BaseModel):
    case_id: uuid.UUID
    from_version: str
    differences: list[str] = Field(description="In Swedish, one sentence each; step and unit labels and dates only.")
    reason: str | None = Field(default=None, description="Why the case cannot be migrated, in Swedish.")


class ImpactCounts(BaseModel):
    next_steps: int = 0
    units: int = 0
    due_dates: int = 0
    becomes_overdue: int = 0
    cannot_migrate: int = 0
    unchanged: int = 0
    before_unknown: int = 0
    already_on_target: int = 0


class Impact(BaseModel):
    district: str
    target_version: str
    today: dt.date
    open_cases: int
    counts: ImpactCounts
    cases: list[CaseImpact] = Field(description="The cases with a difference, or that cannot be migrated.")


class LeftCase(BaseModel):
    case_id: uuid.UUID
    reason: str


class MigrationReport(BaseModel):
    district: str
    target_version: str
    today: dt.date
    moved: int
    already_on_target: int
    left: list[LeftCase]


class NotMovable(Exception):
    """The case cannot go onto the version: ``message`` for the API, ``reason`` in Swedish
    for reports; neither holds a fact's value."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class OpenCase:
    """A case as deciding needs it, and its log: what the replay reads, nothing it shows."""

    id: uuid.UUID
    opened: dt.date
    facts: dict[str, Any]
    process_version: str
    log: list[LoggedEvent]

    def state(self, today: dt.date, extra: LoggedEvent | None = None) -> CaseState:
        if extra is None:
            return case_state(self.opened, self.facts, self.log, today)
        return case_state(self.opened, extra.facts or self.facts, [*self.log, extra], today)


def moved_decision(
    case: OpenCase,
    target: CompiledProcess,
    kind: str,
    district: str,
    on: dt.date,
    known: CompiledProcess | None = None,
    matcher: Matcher | None = None,
) -> tuple[LoggedEvent, Decision]:
    """The entry moving ``case`` onto ``target`` records, and the case's decision there.
    ``known``: the case's own version, to name steps the target no longer has."""
    facts = {**case.facts, "district": district}
    v = target.version
    entry = LoggedEvent(kind=kind, on=on, payload={}, facts=facts)
    state = case.state(on, entry)
    try:
        return entry, decide(target, state, matcher)
    except DecisionError as exc:
        raise NotMovable(
            f"the case's history does not fit process version {v}: {exc}",
            f"Historiken passar inte version {v}: {_history(exc, state.completed, known, target)}.",
        ) from None
    except FactsError as exc:
        # Deciding checks every facts entry; which one failed is worked out only now, as it is rare.
        try:
            normalize_facts(target.process.facts, facts)
        except FactsError as now:
            raise NotMovable(
                f"the case's facts do not fit {target.name}'s process {v}: {now}",
                f"Uppgifterna {_paths(now)} passar inte version {v}.",
            ) from None
        raise NotMovable(
            f"the case's facts do not fit process version {v}: {exc}",
            f"Uppgifterna {_paths(exc)} i ärendets historik passar inte version {v}.",
        ) from None


def move_case(
    session: Session,
    principal: Principal,
    case: Case,
    log: list[LoggedEvent],
    target: CompiledProcess,
    kind: str,
    district: str,
    on: dt.date,
    known: CompiledProcess | None = None,
) -> None:
    """Move ``case`` (locked, ``log`` its log: ``logs_of``) onto ``target`` in ``district``: the ``kind`` event,
    the case row and the audit row, in the session's transaction; committing is the caller's."""
    if case.closed:
        raise NotMovable("the case is closed", "Ärendet är avslutat.")
    entry, moved = moved_decision(
        OpenCase(case.id, case.opened, case.facts, case.process_version, log), target, kind, district, on, known
    )
    facts = entry.facts or case.facts
    payload = {"from_district": case.district, "from_version": case.process_version, "to_version": target.version}
    session.add(CaseEvent(case_id=case.id, kind=kind, on=on, payload=payload, facts=facts, recorded_by=principal.subject))
    if district != case.district:
        case.assigned_to = None  # the other district's caseworkers take it up
    case.district, case.facts, case.process_version = district, facts, target.version
    case.state = fold(case.opened, [*log, entry]).model_dump(mode="json")
    case.row_version += 1
    case.updated_at = utcnow()
    store_steps(session, case, moved, on)
    session.add(case)
    audit(session, principal, kind, case.id, case_district=district)


def open_cases(session: Session, district: str, chunk: int = CHUNK) -> Iterator[list[OpenCase]]:
    """Every open case of ``district`` with its log, ``chunk`` cases at a time: a statement for the
    cases and one per chunk for their logs.  Columns, not entities: building 50,000 ORM objects took
    longer than deciding on them; chunks, so that the collector never walks every log at once."""
    columns = select(col(Case.id), col(Case.opened), col(Case.facts), col(Case.process_version))
    rows = session.exec(columns.where(col(Case.district) == district, col(Case.closed).is_(False)).order_by(col(Case.id))).all()
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        logs = logs_of(session, [case_id for case_id, *_ in part])
        yield [OpenCase(*row, log=logs[row[0]]) for row in part]


def replay(session: Session, district: str, target: CompiledProcess, today: dt.date, version_of: VersionOf) -> Impact:
    """What moving every open case of ``district`` onto ``target`` today would change."""
    impact = Impact(district=district, target_version=target.version, today=today, open_cases=0, counts=ImpactCounts(), cases=[])
    versions = _Versions(version_of)
    with _without_cycle_collection():
        for chunk in open_cases(session, district):
            impact.open_cases += len(chunk)
            for case in chunk:
                _replay_one(case, target, today, versions, impact)
    return impact


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """The cycle collector off while replaying: each chunk's logs and decisions outlive the young
    generations, so full collections kept walking the whole heap, a quarter of the replay's time
    (bench/impact.py).  Reference counting still frees everything as it goes; the collector
    catches up on any cycles when it is back on, a few seconds later."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _replay_one(case: OpenCase, target: CompiledProcess, today: dt.date, versions: _Versions, impact: Impact) -> None:
    counts = impact.counts
    if case.process_version == target.version:
        counts.already_on_target += 1
        return
    known, before, unknown = versions.decide(case, today)
    said = [unknown] if unknown is not None else []
    counts.before_unknown += unknown is not None
    try:
        _, after = moved_decision(case, target, "migrated", impact.district, today, known, versions.matcher)
    except NotMovable as exc:
        counts.cannot_migrate += 1
        impact.cases.append(CaseImpact(case_id=case.id, from_version=case.process_version, differences=said, reason=exc.reason))
        return
    if before is None:
        said.append(f"Öppna steg efter flytt: {', '.join(_step_label(s) for s in after.next_steps) or 'inga'}")
    else:
        classes, said = compare(before, after)
        for name in classes:
            setattr(counts, name, getattr(counts, name) + 1)
    if said:
        impact.cases.append(CaseImpact(case_id=case.id, from_version=case.process_version, differences=said))
    else:
        counts.unchanged += 1


def compare(before: Decision, after: Decision) -> tuple[set[str], list[str]]:
    """The classes a case falls into and the sentences saying why, from its two decisions."""
    was = {(s.step, s.child): s for s in before.next_steps}
    now = {(s.step, s.child): s for s in after.next_steps}
    classes: set[str] = set()
    said: list[str] = []
    for key in now.keys() - was.keys():
        classes.add("next_steps")
        said.append(f"Nytt steg: {_step_label(now[key])}")
    for key in was.keys() - now.keys():
        classes.add("next_steps")
        said.append(f"Steget upphör: {_step_label(was[key])}")
    for key in now.keys() & was.keys():
        old, new = was[key], now[key]
        if _unit(old) != _unit(new):
            classes.add("units")
            said.append(f"Steget {_step_label(new)} ansvar: {_unit(old)} → {_unit(new)}")
        if old.due != new.due:
            classes.add("due_dates")
            said.append(f"Förfallodag för {_step_label(new)} {old.due or 'ingen'} → {new.due or 'ingen'}")
    for key, new in now.items():
        if new.overdue and not (key in was and was[key].overdue):
            classes.add("becomes_overdue")
            said.append(f"Blir försenat: {_step_label(new)} (förföll {new.due})")
    return classes, sorted(said)


def migrate_cases(
    database: Engine | Callable[[], Session],
    district: str,
    target: CompiledProcess,
    today: dt.date,
    principal: Principal,
    batch_size: int = 200,
    version_of: VersionOf | None = None,
) -> MigrationReport:
    """Move every open case of ``district`` not on ``target`` yet onto it: a transaction per batch,
    each case locked and read again in it; the cases left are reported with the reason.
    ``version_of`` (optional) names, in a reason, the steps the target no longer has."""
    sessions = _sessions(database)
    with sessions() as session:
        rows = session.exec(
            select(Case.id, Case.process_version)
            .where(col(Case.district) == district, col(Case.closed).is_(False))
            .order_by(col(Case.id))
        ).all()
    todo = [case_id for case_id, version in rows if version != target.version]
    report = MigrationReport(
        district=district, target_version=target.version, today=today, moved=0, already_on_target=len(rows) - len(todo), left=[]
    )
    versions = _Versions(version_of)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        with sessions() as session:
            locked = session.exec(select(Case).where(col(Case.id).in_(batch)).order_by(col(Case.id)).with_for_update()).all()
            logs = logs_of(session, batch)
            for case in locked:
                _migrate_one(session, principal, case, logs[case.id], target, district, today, versions, report)
            session.commit()
    return report


def _migrate_one(
    session: Session,
    principal: Principal,
    case: Case,
    log: list[LoggedEvent],
    target: CompiledProcess,
    district: str,
    today: dt.date,
    versions: _Versions,
    report: MigrationReport,
) -> None:
    if case.process_version == target.version:  # moved meanwhile, by hand
        report.already_on_target += 1
        return
    try:
        if case.district != district:
            raise NotMovable("the case was transferred", "Ärendet har förts över till en annan stadsdel.")
        move_case(session, principal, case, log, target, "migrated", district, today, versions.known(case.process_version))
    except NotMovable as exc:
        audit(session, principal, "migrated", case.id, "not_migrated", case.district)
        report.left.append(LeftCase(case_id=case.id, reason=exc.reason))
        return
    report.moved += 1


def _sessions(database: Engine | Callable[[], Session]) -> Callable[[], Session]:
    if not isinstance(database, Engine):
        return database

    def session() -> Session:
        return Session(database)

    return session


class _Versions:
    """The cases' own versions, each built once per run; one that cannot be is remembered as such."""

    def __init__(self, version_of: VersionOf | None) -> None:
        self._version_of = version_of
        self._built: dict[str, CompiledProcess | None] = {}
        self.matcher = _SharedHits()

    def known(self, version: str) -> CompiledProcess | None:
        if self._version_of is None:
            return None
        if version not in self._built:
            try:
                self._built[version] = self._version_of(version)
            except Exception:  # whatever the lookup raises (not stored, no longer readable), the version is unknown
                self._built[version] = None
        return self._built[version]

    def decide(self, case: OpenCase, today: dt.date) -> tuple[CompiledProcess | None, Decision | None, str | None]:
        """The case's own version, its decision there, and why that is unknown (in Swedish) where it is."""
        own = self.known(case.process_version)
        if own is None:
            return None, None, f"Nuläget är okänt: ärendets version {case.process_version} kan inte läsas."
        try:
            return own, decide(own, case.state(today), self.matcher), None
        except FactsError:  # DecisionError too
            return own, None, f"Nuläget är okänt: ärendets historik passar inte dess version {case.process_version}."


def _paths(exc: FactsError) -> str:
    return ", ".join(sorted(exc.problems))


class _SharedHits:
    """A replay's matcher: the hits of a case's facts on its own version serve the target too
    where both have the same rules and vocabulary (a role, deadline or note changed, no
    condition): the same normalized facts give the same hits.  Matching is half a decision's
    time, and the target's decision then matches nothing (bench/impact.py)."""

    def __init__(self) -> None:
        self._matcher = default_matcher()
        self._rules: dict[str, int] = {}  # version -> the index of its rules in _seen
        self._seen: list[tuple[list[Rule], dict[str, Any]]] = []
        self._hits: LruCache[Hashable, AbstractSet[Hit]] = LruCache(64)

    def match(self, compiled: CompiledProcess, facts: Mapping[str, Any]) -> AbstractSet[Hit]:
        try:
            key = (self._rules_of(compiled), facts_key(facts))
        except TypeError:  # facts that cannot be a key are not normalized: matched as they are
            return self._matcher.match(compiled, facts)
        found = self._hits.get(key)
        return found if found is not None else self._hits.put(key, self._matcher.match(compiled, facts))

    def _rules_of(self, compiled: CompiledProcess) -> int:
        found = self._rules.get(compiled.version)
        if found is None:
            rules = (rules_of(compiled), dict(compiled.process.facts))
            found = next((n for n, seen in enumerate(self._seen) if seen == rules), len(self._seen))
            if found == len(self._seen):
                self._seen.append(rules)
            self._rules[compiled.version] = found
        return found


def _history(exc: DecisionError, completed: Sequence[CompletedStep], *versions: CompiledProcess | None) -> str:
    """What in the history the version cannot take, by step label (``problems`` names ``completed[i].field``)."""
    said: list[str] = []
    for key in exc.problems:
        found = re.fullmatch(r"completed\[(\d+)\]\.(\w+)", key)
        if found is None:
            said.append("ett gjort steg passar inte versionen")
            continue
        label = _label(completed[int(found[1])].step, *versions)
        said.append(f"{label} finns inte i versionen" if found[2] == "step" else f"{label} görs inte per barn som i versionen")
    return "; ".join(dict.fromkeys(said))


def _label(step: str, *versions: CompiledProcess | None) -> str:
    for version in versions:
        if version is not None and step in version.process.steps:
            return version.process.steps[step].label
    return "(ett steg ingen känd version har)"


def _step_label(step: NextStep) -> str:
    return step.label if step.child is None else f"{step.label} (barn {step.child + 1})"


def _unit(step: NextStep) -> str:
    return step.unit.label if step.unit is not None else "ingen enhet"
