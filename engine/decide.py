"""Stage 5, decide: ``CompiledProcess`` + ``CaseState`` -> ``Decision``.

What is open now is found by playing the process like a token game:

* the start step is reached when the case opens;
* every completed step fires once, in date order (ties in the order given):
  an ``exclusive`` step follows its first transition whose condition holds
  (``otherwise`` when none does), ``inclusive`` every one that holds, and
  ``parallel`` all of them; a per-child step is reached once per child (those
  ``for_each_when`` admits) and keeps to its child downstream;
* a step is open when it has been reached since it was last completed; a
  ``join: all`` step also waits while any other open step can still reach it
  (the inclusive join of BPMN);
* a completed closing step closes the case;
* a completed step is routed with the facts as they were when it was completed
  (``CaseState.history``), so a fact learnt later does not re-route a decision
  already made; without history, the current facts route everything.

Which conditions hold is asked of the matcher (durable-rules by default, see
``rules.py``) once per distinct set of facts: the current ones and each earlier
one in the history.  Pending guarantees are the guaranteed interventions the
case would still reach, under the current facts, from any step it has reached.  Due dates count from
the step's deadline event: a date fact, a step's completion, the case's
opening, or the day the step opened.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from .case import CaseState, FactsError, normalize_facts
from .compile import CompiledProcess
from .conditions import Otherwise, lookup
from .facts import CHILDREN
from .rules import DurableMatcher, Hit, Matcher, transition_rule
from .schema import STEP_OPENED, Contact, parse_duration


class UnitRef(BaseModel):
    id: str
    label: str
    kind: str
    contact: Contact | None = None


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)  # shared between decisions of one process version

    rule: str = Field(description="The transition that led here, `from->to`, or `start`.")
    condition: str | None = Field(description="The condition as written in the process file.")
    source: str = Field(description="Where the rule is written: file:line:col.")
    origin: Literal["central", "district"]


class DeadlineInfo(BaseModel):
    within: str
    counts_from: str
    counts_from_label: str
    note: str | None = None


class NextStep(BaseModel):
    step: str
    label: str
    phase: str
    phase_label: str
    intervention: str | None
    intervention_label: str | None
    role: str | None
    role_label: str | None
    unit: UnitRef | None
    child: int | None = Field(description="Index into facts.children for a per-child step.")
    guaranteed: bool
    opened_on: dt.date
    deadline: DeadlineInfo | None
    due: dt.date | None = Field(description="None when the deadline's event date is not known yet.")
    overdue: bool
    waiting_for: list[str] = Field(default_factory=list, description="For a join: open steps it still waits for.")
    note: str | None = None
    contacts: list[Contact] = Field(default_factory=list)
    reasons: list[Reason]


class PendingGuarantee(BaseModel):
    step: str
    label: str
    intervention: str
    intervention_label: str
    unit: UnitRef | None
    reasons: list[Reason]


class Decision(BaseModel):
    district: str | None
    process_version: str
    today: dt.date
    closed: bool
    closure_reason: str | None = None
    closure_label: str | None = None
    next_steps: list[NextStep]
    waiting: list[NextStep] = Field(default_factory=list, description="Joins reached but waiting for open branches.")
    pending_guarantees: list[PendingGuarantee] = Field(
        description="Guaranteed interventions the client qualifies for that are neither done nor open."
    )


class DecisionError(FactsError):
    """A case state that does not fit the process (unknown step, child index…)."""


Instance = tuple[str, int | None]


@dataclass
class _Token:
    arrivals: list[tuple[int, dt.date, Reason]] = field(default_factory=list)
    last_completion_seq: int = -1
    completions: list[dt.date] = field(default_factory=list)

    def pending(self) -> list[tuple[int, dt.date, Reason]]:
        return [a for a in self.arrivals if a[0] > self.last_completion_seq]


_default_matcher: DurableMatcher | None = None


def default_matcher() -> DurableMatcher:
    global _default_matcher
    if _default_matcher is None:
        _default_matcher = DurableMatcher()
    return _default_matcher


def decide(compiled: CompiledProcess, state: CaseState, matcher: Matcher | None = None) -> Decision:
    match = (matcher or default_matcher()).match
    facts = normalize_facts(compiled.process.facts, state.facts)
    now = _Facts(facts, match(compiled, facts))
    earlier: list[tuple[dt.date, _Facts]] = []
    for entry in state.history:
        then = normalize_facts(compiled.process.facts, entry.facts)
        earlier.append((entry.on, now if then == facts else _Facts(then, match(compiled, then))))
    return _Game(compiled, state, now, earlier).decision()


@dataclass(frozen=True)
class _Facts:
    values: Mapping[str, Any]
    hits: set[Hit]


def routes_of(compiled: CompiledProcess) -> dict[str, tuple[bool, list[tuple[str, str | None, Any]]]]:
    """Per step: whether it is exclusive, and its transitions as ``(target, rule id, condition)``;
    the rule id is None for an unconditional transition and "" for ``otherwise``.  Built once per
    process version, since deciding walks them many times."""
    table: dict[str, tuple[bool, list[tuple[str, str | None, Any]]]] | None = compiled.derived.get("routes")
    if table is None:
        table = {}
        for step_id, step in compiled.process.steps.items():
            routes = [
                (target, None if c is None else "" if isinstance(c, Otherwise) else transition_rule(step_id, target), c)
                for target, _, c in compiled.outgoing(step_id)
            ]
            table[step_id] = (step.gateway == "exclusive", routes)
        compiled.derived["routes"] = table
    return table


def back_edges(compiled: CompiledProcess) -> set[tuple[str, str]]:
    """Edges that loop back (to a step on the current path of a depth-first walk from the start)."""
    graph, start = compiled.graph, compiled.process.start
    back: set[tuple[str, str]] = set()
    if start not in graph:
        return back
    on_path, done = {start}, {start}
    stack = [(start, iter([t for t, _, _ in compiled.outgoing(start)]))]
    while stack:
        node, successors = stack[-1]
        target = next(successors, None)
        if target is None:
            stack.pop()
            on_path.discard(node)
        elif target in on_path:
            back.add((node, target))
        elif target not in done:
            done.add(target)
            on_path.add(target)
            stack.append((target, iter([t for t, _, _ in compiled.outgoing(target)])))
    return back


def join_feeders(compiled: CompiledProcess, join: str) -> frozenset[str]:
    """Steps whose open branch a ``join: all`` step waits for: those that reach it
    without going round a loop.  A loop back from late in the process (follow-up ->
    new risk assessment -> …) would otherwise make an early join wait for the late
    steps, and two joins wait for each other."""
    feeders: dict[str, frozenset[str]] = compiled.derived.setdefault("feeders", {})
    found = feeders.get(join)
    if found is None:
        forward = nx.DiGraph(compiled.graph)
        forward.remove_edges_from(back_edges(compiled))
        found = feeders[join] = frozenset(nx.ancestors(forward, join))
    return found


def add_duration(start: dt.date, text: str) -> dt.date:
    months, days = parse_duration(text)
    if months:
        month_index = start.month - 1 + months
        year, month = start.year + month_index // 12, month_index % 12 + 1
        start = start.replace(year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1]))
    return start + dt.timedelta(days=days)


class _Game:
    def __init__(self, compiled: CompiledProcess, state: CaseState, now: _Facts, earlier: list[tuple[dt.date, _Facts]]) -> None:
        self.c = compiled
        self.p = compiled.process
        self.state = state
        self.now = now
        self.earlier = earlier
        self.facts = now.values
        self.hits = now.hits
        self.children = self.facts.get(CHILDREN) or []
        self.tokens: dict[Instance, _Token] = {}
        self.seq = 0
        self.closed_by: str | None = None

    # --- playing -------------------------------------------------------------------

    def arrive(self, inst: Instance, on: dt.date, reason: Reason) -> None:
        self.seq += 1
        self.tokens.setdefault(inst, _Token()).arrivals.append((self.seq, on, reason))

    def reason(self, source: str, target: str, condition: Any) -> Reason:
        reasons: dict[tuple[str, str], Reason] = self.c.derived.setdefault("reasons", {})
        found = reasons.get((source, target))
        if found is None:
            found = reasons[(source, target)] = self._reason(source, target, condition)
        return found

    def _reason(self, source: str, target: str, condition: Any) -> Reason:
        path = ("steps", source, "next", target)
        pos = self.c.source.at(path)
        origin: Literal["central", "district"] = "central" if pos.file == self.c.source.file else "district"
        return Reason(
            rule=transition_rule(source, target),
            condition=str(condition) if condition is not None else None,
            source=str(pos),
            origin=origin,
        )

    def facts_on(self, day: dt.date, index: int | None = None) -> _Facts:
        """The facts as they were on ``day``, or history entry ``index`` (the current ones without history)."""
        if index is not None and index < len(self.earlier):
            return self.earlier[index][1]
        chosen = self.earlier[0][1] if self.earlier else self.now
        for on, facts in self.earlier:
            if on <= day:
                chosen = facts
        return chosen

    def choose(self, step_id: str, child: int | None, hits: set[Hit]) -> list[tuple[str, Any]]:
        """The transitions the step's gateway takes for these facts (and this child)."""
        exclusive, routes = routes_of(self.c)[step_id]
        chosen: list[tuple[str, Any]] = []
        otherwise: tuple[str, Any] | None = None
        for target, rule, condition in routes:
            if rule is None:
                chosen.append((target, condition))
            elif rule == "":
                otherwise = (target, condition)
            elif (rule, child) in hits:
                chosen.append((target, condition))
        if not chosen and otherwise is not None:
            chosen = [otherwise]
        return chosen[:1] if exclusive else chosen

    def successors(self, inst: Instance, hits: set[Hit]) -> list[tuple[Instance, str, Any]]:
        """The step instances ``inst`` leads to with these facts: ``(instance, step, condition)``."""
        step_id, child = inst
        out: list[tuple[Instance, str, Any]] = []
        for target, condition in self.choose(step_id, child, hits):
            target_step = self.p.steps[target]
            if target_step.for_each != "child":
                out.append(((target, None), step_id, condition))
                continue
            for i in range(len(self.children)) if child is None else [child]:
                if target_step.for_each_when is None or (f"{target}:for_each_when", i) in hits:
                    out.append(((target, i), step_id, condition))
        return out

    def fire(self, inst: Instance, on: dt.date, facts_from: int | None = None) -> None:
        for target, source, condition in self.successors(inst, self.facts_on(on, facts_from).hits):
            self.arrive(target, on, self.reason(source, target[0], condition))

    def play(self) -> None:
        start = Reason(rule="start", condition=None, source=str(self.c.source.at(("start",))), origin="central")
        self.arrive((self.p.start, None), self.state.opened, start)
        order = sorted(enumerate(self.state.completed), key=lambda item: (item[1].on, item[0]))
        problems: dict[str, str] = {}
        for index, done in order:
            step = self.p.steps.get(done.step)
            where = f"completed[{index}]"
            if step is None:
                problems[f"{where}.step"] = f"unknown step '{done.step}'"
                continue
            per_child = step.for_each == "child"
            if per_child and (done.child is None or done.child >= len(self.children)):
                problems[f"{where}.child"] = f"'{done.step}' is done per child: give the index of a child in facts.children"
                continue
            if not per_child and done.child is not None:
                problems[f"{where}.child"] = f"'{done.step}' is not a per-child step"
                continue
            inst = (done.step, done.child)
            token = self.tokens.setdefault(inst, _Token())
            self.seq += 1
            token.last_completion_seq = self.seq
            token.completions.append(done.on)
            if step.terminal:
                self.closed_by = done.step
            self.fire(inst, done.on, done.facts_from)
        if problems:
            raise DecisionError(problems)

    # --- reading the result -----------------------------------------------------------

    def decision(self) -> Decision:
        self.play()
        open_insts = [inst for inst, token in self.tokens.items() if token.pending()]
        next_steps: list[NextStep] = []
        waiting: list[NextStep] = []
        for inst in open_insts:
            step = self.p.steps[inst[0]]
            blockers: list[str] = []
            if step.join == "all":
                blockers = [other[0] for other in open_insts if other[0] != inst[0] and other[0] in join_feeders(self.c, inst[0])]
            item = self.next_step(inst, sorted(set(blockers)))
            (waiting if blockers else next_steps).append(item)
        order: dict[str, int] | None = self.c.derived.get("order")
        if order is None:
            order = self.c.derived["order"] = {step_id: n for n, step_id in enumerate(self.p.steps)}
        key = lambda s: (order[s.step], -1 if s.child is None else s.child)  # noqa: E731
        closed = self.closed_by is not None
        reason = self.p.steps[self.closed_by].closure_reason if self.closed_by else None
        return Decision(
            district=self.c.district,
            process_version=self.c.version,
            today=self.state.today,
            closed=closed,
            closure_reason=reason,
            closure_label=self.p.closure_reasons.get(reason) if reason else None,
            next_steps=[] if closed else sorted(next_steps, key=key),
            waiting=[] if closed else sorted(waiting, key=key),
            pending_guarantees=self.pending_guarantees(),
        )

    def unit(self, role: str | None) -> UnitRef | None:
        unit_id = self.p.bindings.get(role) if role else None
        unit = self.p.units.get(unit_id) if unit_id else None
        if unit is None or unit_id is None:
            return None
        return UnitRef(id=unit_id, label=unit.label, kind=unit.kind, contact=unit.contact)

    def next_step(self, inst: Instance, blockers: list[str]) -> NextStep:
        step_id, child = inst
        step = self.p.steps[step_id]
        pending = self.tokens[inst].pending()
        opened_on = pending[0][1]
        deadline = due = None
        if step.deadline is not None:
            event = step.deadline.from_
            label = "steget öppnades" if event == STEP_OPENED else self.p.events[event].label
            deadline = DeadlineInfo(
                within=step.deadline.within, counts_from=event, counts_from_label=label, note=step.deadline.note
            )
            start = opened_on if event == STEP_OPENED else self.event_date(event, child)
            due = add_duration(start, step.deadline.within) if start else None
        intervention = self.p.interventions.get(step.intervention) if step.intervention else None
        role = self.p.roles.get(step.role) if step.role else None
        return NextStep(
            step=step_id,
            label=step.label,
            phase=step.phase,
            phase_label=self.p.phases[step.phase].label,
            intervention=step.intervention,
            intervention_label=intervention.label if intervention else None,
            role=step.role,
            role_label=role.label if role else None,
            unit=self.unit(step.role),
            child=child,
            guaranteed=step.guaranteed,
            opened_on=opened_on,
            deadline=deadline,
            due=due,
            overdue=due is not None and self.state.today > due,
            waiting_for=blockers,
            note=self.p.step_notes.get(step_id),
            contacts=[self.p.contacts[c] for c in self.p.step_contacts.get(step_id, [])],
            reasons=[r for _, _, r in pending],
        )

    def event_date(self, event_id: str, child: int | None) -> dt.date | None:
        event = self.p.events[event_id]
        if event.fact is not None:
            value = lookup(self.facts, tuple(event.fact.split(".")))
            return value if isinstance(value, dt.date) else None
        if event.step is not None:
            dates = [d for (s, c), t in self.tokens.items() if s == event.step and c in (child, None) for d in t.completions]
            return max(dates) if dates else None
        return self.state.opened

    def pending_guarantees(self) -> list[PendingGuarantee]:
        """Guaranteed interventions this client's case would still reach, along transitions
        whose conditions hold now, from any step it has reached, that are neither done nor open."""
        reached = [inst for inst, token in self.tokens.items() if token.arrivals or token.completions]
        via: dict[str, Reason] = {}
        seen = set(reached)
        frontier = list(reached)
        while frontier:
            for target, source, condition in self.successors(frontier.pop(), self.hits):
                if target not in seen:
                    seen.add(target)
                    via.setdefault(target[0], self.reason(source, target[0], condition))
                    frontier.append(target)
        out: list[PendingGuarantee] = []
        for step_id, step in self.p.steps.items():
            if not step.guaranteed or step.intervention is None or step_id not in via:
                continue
            if any(t.completions or t.pending() for (s, _), t in self.tokens.items() if s == step_id):
                continue
            intervention = self.p.interventions[step.intervention]
            out.append(
                PendingGuarantee(
                    step=step_id,
                    label=step.label,
                    intervention=step.intervention,
                    intervention_label=intervention.label,
                    unit=self.unit(step.role),
                    reasons=[via[step_id]],
                )
            )
        return out
