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
  without going round a loop (the inclusive join of BPMN);
* a completed closing step closes the case;
* a completed step is routed with the facts as they were when it was completed
  (``CaseState.history``), so a fact learnt later does not re-route a decision
  already made; without history, the current facts route everything.

Which conditions hold is asked of the matcher (durable-rules by default, see
``rules.py``) once per distinct set of facts: the current ones and each earlier
one in the history.  Pending guarantees are the guaranteed interventions the
case would still reach, under the current facts, from any step it has reached,
that are neither done nor open.  Due dates count from the step's deadline event:
a date fact, a step's completion, the case's opening, or the day the step opened;
a step is overdue after its due date.

The module reads top to bottom as the decision is made: routing (where a step
instance leads for a set of hits), the token game, building the Decision.
What is the same for every case of a process version (routes and their reasons,
join feeders, what a step shows) is worked out once per version in ``memo.py``;
nothing else is kept between calls.  PendingGuarantees and what NextSteps hold
(units, deadlines, reasons) are frozen and shared; the Decision, its lists and its
NextSteps are each caller's own.

A decision's work grows linearly with the facts: every child has its own step
instances, so nothing is worked out per instance by going through all the
others (a deadline's event date, a join's open branches), and the matcher sends
no list in a child's fact.  tests/engine/test_decide.py counts the work for 20, 40 and
80 children.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .case import CaseState, CompletedStep
from .compile import CompiledProcess
from .errors import DecisionError, did_you_mean
from .language import CHILDREN, lookup
from .rules import DurableMatcher, Hit, Matcher
from .schema import STEP_OPENED, Contact, parse_duration

if TYPE_CHECKING:
    from .memo import Route, StepTable, Tables


class UnitRef(BaseModel):
    model_config = ConfigDict(frozen=True)  # shared between decisions of one process version

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
    model_config = ConfigDict(frozen=True)  # shared between decisions of one process version

    within: str
    counts_from: str
    counts_from_label: str
    note: str | None = None


class NextStep(BaseModel):
    model_config = ConfigDict(frozen=True)  # its lists are tuples: what it shares stays unchanged

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
    waiting_for: tuple[str, ...] = Field(default=(), description="For a join: open steps it still waits for.")
    note: str | None = None
    contacts: tuple[Contact, ...] = ()
    reasons: tuple[Reason, ...]


class PendingGuarantee(BaseModel):
    model_config = ConfigDict(frozen=True)  # built once per version (memo.py) and shared

    step: str
    label: str
    intervention: str
    intervention_label: str
    unit: UnitRef | None
    reasons: tuple[Reason, ...]


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


Instance = tuple[str, int | None]  # a step, and the child for a per-child step

_default_matcher: DurableMatcher | None = None


def default_matcher() -> DurableMatcher:
    global _default_matcher
    if _default_matcher is None:
        _default_matcher = DurableMatcher()
    return _default_matcher


def decide(compiled: CompiledProcess, state: CaseState, matcher: Matcher | None = None) -> Decision:
    tables = compiled.tables
    matcher = matcher or default_matcher()
    facts = tables.normalize(state.facts)
    history = [(entry.on, tables.normalize(entry.facts)) for entry in state.history]
    children = len(facts.get(CHILDREN) or ())
    now = _Routing(tables, matcher.match(compiled, facts), children)
    # Each distinct set of facts is matched once: a history has an entry per event, and most
    # change nothing.  Normalized facts give each fact one type, so == cannot take True for 1.
    seen: list[tuple[Mapping[str, Any], _Routing]] = [(facts, now)]
    earlier: list[tuple[dt.date, _Routing]] = []
    for on, then in history:
        routing = next((r for f, r in seen if f == then), None)
        if routing is None:
            routing = _Routing(tables, matcher.match(compiled, then), children)
            seen.append((then, routing))
        earlier.append((on, routing))
    game = _Game(tables, state, now, earlier, children)
    game.play()
    return _decision(compiled, game, facts)


# --- routing --------------------------------------------------------------------------------


class _Routing:
    """Where each step instance leads under one set of hits (``(rule, child)`` that hold).

    A conditional step instance's successors are worked out once per decision: the game
    routes each completed step with them and the pending-guarantees walk asks again from
    every step reached.  Most steps lead on whatever the facts (``StepTable.fixed``)."""

    def __init__(self, tables: Tables, hits: AbstractSet[Hit], children: int) -> None:
        self.steps = tables.steps
        self.hits = hits
        self.children = children
        self.led: dict[Instance, Sequence[tuple[Instance, Route]]] = {}

    def successors(self, inst: Instance) -> Sequence[tuple[Instance, Route]]:
        fixed = self.steps[inst[0]].fixed
        if fixed is not None:
            return fixed
        found = self.led.get(inst)
        if found is None:
            found = self.led[inst] = self.route(inst)
        return found

    def route(self, inst: Instance) -> list[tuple[Instance, Route]]:
        step_id, child = inst
        step, hits = self.steps[step_id], self.hits
        chosen = [r for r in step.routes if r.rule is None or (r.rule and (r.rule, child) in hits)]
        if not chosen:
            chosen = [r for r in step.routes if r.rule == ""][-1:]  # otherwise
        out: list[tuple[Instance, Route]] = []
        for route in chosen[:1] if step.exclusive else chosen:
            if not route.per_child:
                out.append(((route.target, None), route))
                continue
            for i in range(self.children) if child is None else (child,):
                if route.admits is None or (route.admits, i) in hits:
                    out.append(((route.target, i), route))
        return out


# --- the token game -------------------------------------------------------------------------


@dataclass(slots=True)
class _Token:
    """A step instance's token: when it was reached and completed.  ``seq`` numbers every
    arrival and completion of the game in order, so "reached since last completed" is a
    comparison."""

    arrivals: list[tuple[int, dt.date, Reason]]  # (seq, on, why), in seq order
    last_done: int  # the seq of its last completion; -1: never completed
    done: list[dt.date]  # its completion dates

    @property
    def is_open(self) -> bool:
        return bool(self.arrivals) and self.arrivals[-1][0] > self.last_done

    def pending(self) -> list[tuple[int, dt.date, Reason]]:
        """The arrivals since its last completion: what opened it."""
        return [arrival for arrival in self.arrivals if arrival[0] > self.last_done]


class _Game:
    """Plays a case's completed steps, leaving a token on every step instance reached or done."""

    def __init__(
        self, tables: Tables, state: CaseState, now: _Routing, earlier: list[tuple[dt.date, _Routing]], children: int
    ) -> None:
        self.tables = tables
        self.state = state
        self.now = now
        self.earlier = earlier
        self.children = children
        self.tokens: dict[Instance, _Token] = {}
        self.closed_by: str | None = None

    def routing_on(self, done: CompletedStep) -> _Routing:
        """The routing of the facts a step was completed with: history entry ``facts_from``, or
        the last entry dated on or before its day (the first if none is); without history, now."""
        if not self.earlier:  # what the service sends for a case whose facts never changed
            return self.now
        if done.facts_from is not None and done.facts_from < len(self.earlier):
            return self.earlier[done.facts_from][1]
        chosen = self.earlier[0][1]
        for on, routing in self.earlier:
            if on <= done.on:
                chosen = routing
        return chosen

    def in_order(self) -> list[tuple[int, CompletedStep]]:
        """The completed steps by date, ties in the order given."""
        completed = self.state.completed
        days = [done.on for done in completed]
        if days == sorted(days):  # as the service logs them; sorting a sorted list is one pass
            return list(enumerate(completed))
        return sorted(enumerate(completed), key=lambda item: (item[1].on, item[0]))

    def play(self) -> None:
        tokens, seq, steps = self.tokens, 1, self.tables.steps
        tokens[(self.tables.start, None)] = _Token([(seq, self.state.opened, self.tables.start_reason)], -1, [])
        problems: dict[str, str] = {}
        for index, done in self.in_order():
            step = steps.get(done.step)
            wrong = self.problem(done.step, step, done.child)
            if wrong is not None:
                problems[f"completed[{index}].{wrong[0]}"] = wrong[1]
                continue
            assert step is not None  # problem() says what is wrong with a step that is not
            inst = (done.step, done.child)
            token = tokens.get(inst) or tokens.setdefault(inst, _Token([], -1, []))
            seq += 1
            token.last_done = seq
            token.done.append(done.on)
            if step.terminal:
                self.closed_by = done.step
            routing = self.routing_on(done) if self.earlier else self.now  # without history, now routes all
            for target, route in routing.successors(inst):
                seq += 1
                arrived = tokens.get(target) or tokens.setdefault(target, _Token([], -1, []))
                arrived.arrivals.append((seq, done.on, route.reason))
        if problems:
            raise DecisionError(problems)

    def problem(self, step_id: str, step: StepTable | None, child: int | None) -> tuple[str, str] | None:
        """What is wrong with a completed step, as ``(field, message)``; None if nothing is.

        The step id and child index are what the caller sent: the message names the
        process's steps and the case's children instead of repeating them.
        """
        if step is None:
            return "step", f"not a step of this process{did_you_mean(step_id, self.tables.steps)}"
        if not step.per_child:
            return None if child is None else ("child", "this step is done once for the case, not per child: leave out child")
        if child is None:
            return "child", "this step is done per child: give the index of a child in facts.children"
        return None if child < self.children else ("child", f"no such child: facts.children has {self.children} items")

    def open_instances(self) -> list[Instance]:
        return [inst for inst, token in self.tokens.items() if token.is_open]

    def pending_guarantees(self) -> list[PendingGuarantee]:
        """Guaranteed interventions this client's case would still reach, along transitions
        whose conditions hold now, from any step it has reached, that are neither done nor open.

        The walk is depth first from every reached step, and a guarantee shows the transition
        it was first reached by.  It leaves out the steps from which no path leads to a
        guarantee still wanted, and stops once every one is found: neither changes what is
        reached first."""
        steps = self.tables.steps
        # A step has a token once reached or done, and one reached but never done is open:
        # the steps with a token are the done or open ones.
        wanted = set(self.tables.guaranteed).difference([step_id for step_id, _ in self.tokens])
        if not wanted:  # nothing to walk for
            return []
        via: dict[str, PendingGuarantee] = {}  # step -> its guarantee, by the first way found
        seen = set(self.tokens)  # a token exists once its step is reached or done
        frontier = [inst for inst in self.tokens if not wanted.isdisjoint(steps[inst[0]].guarantees_ahead)]
        successors = self.now.successors
        while frontier and len(via) < len(wanted):
            for target, route in successors(frontier.pop()):
                if target not in seen:
                    seen.add(target)
                    if route.guarantee is not None and target[0] in wanted:
                        via.setdefault(target[0], route.guarantee)
                    if not wanted.isdisjoint(steps[target[0]].guarantees_ahead):
                        frontier.append(target)
        return [via[step_id] for step_id in self.tables.guaranteed if step_id in via]


# --- the Decision ---------------------------------------------------------------------------


def _decision(compiled: CompiledProcess, game: _Game, facts: Mapping[str, Any]) -> Decision:
    """The Decision, validated.  Not ``model_construct``: pydantic 2.14's runs in Python and
    took 9 µs for a Decision and 8 µs for a NextStep that validation builds in 2.6 and 3.7
    (the shared parts are models already, which validation takes as they are)."""
    p, state = compiled.process, game.state
    closing = p.steps[game.closed_by] if game.closed_by else None
    reason = closing.closure_reason if closing else None
    shown = [] if closing else _next_steps(game, facts)
    return Decision(
        district=compiled.district,
        process_version=compiled.version,
        today=state.today,
        closed=closing is not None,
        closure_reason=reason,
        closure_label=p.closure_reasons.get(reason) if reason else None,
        next_steps=[step for step in shown if not step.waiting_for],
        waiting=[step for step in shown if step.waiting_for],
        pending_guarantees=game.pending_guarantees(),
    )


def _next_steps(game: _Game, facts: Mapping[str, Any]) -> list[NextStep]:
    """The open step instances in file order, a per-child step's by child."""
    steps, today = game.tables.steps, game.state.today
    open_insts = sorted(game.open_instances(), key=lambda inst: (steps[inst[0]].order, -1 if inst[1] is None else inst[1]))
    open_steps = {step_id for step_id, _ in open_insts}  # a set of steps, not instances: a case has one per child
    shown = []
    for inst in open_insts:
        step = steps[inst[0]]
        waiting_for = tuple(sorted(s for s in open_steps if s != inst[0] and s in step.feeders)) if step.feeders else ()
        pending = game.tokens[inst].pending()
        opened_on = pending[0][1]
        due = _due(game, facts, step, inst[1], opened_on)
        shown.append(
            NextStep(
                **step.shown,
                child=inst[1],
                opened_on=opened_on,
                due=due,
                overdue=due is not None and today > due,
                waiting_for=waiting_for,
                reasons=tuple([reason for _, _, reason in pending]),
            )
        )
    return shown


def _due(game: _Game, facts: Mapping[str, Any], step: StepTable, child: int | None, opened_on: dt.date) -> dt.date | None:
    """The step's due date: None without a deadline, or before its event has happened."""
    if step.deadline is None:
        return None
    start: dt.date | None = game.state.opened
    if step.counts_from == STEP_OPENED:
        start = opened_on
    elif step.fact_path is not None:
        value = lookup(facts, step.fact_path)
        start = value if isinstance(value, dt.date) else None
    elif step.step_done is not None:
        # That step's last completion, for this child or for the whole case.
        tokens = [game.tokens.get((step.step_done, None)), game.tokens.get((step.step_done, child))]
        dates = [max(token.done) for token in tokens if token is not None and token.done]
        start = max(dates) if dates else None
    return shifted(start, *step.due_in) if start is not None else None


def add_duration(start: dt.date, text: str) -> dt.date:
    return shifted(start, *parse_duration(text))


def shifted(start: dt.date, months: int, days: int) -> dt.date:
    """``start`` moved on by whole months (to the month's last day where it is shorter), then days."""
    if months:
        month_index = start.month - 1 + months
        year, month = start.year + month_index // 12, month_index % 12 + 1
        start = start.replace(year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1]))
    return start + dt.timedelta(days=days)
