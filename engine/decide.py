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

What is kept between calls, per process version (``CompiledProcess.derived``),
none of which changes a result: the tables built from the process (routes with
their reasons, join feeders, a planned fact normalizer, each step's part of the
documents); per set of hits and number of children, where each step instance
leads (a routing); and, bounded and per matcher, the outline of the decision on
a case state, keyed by its facts, history, opening and completed steps.
Caseworkers ask about a case many times between events, so asking again costs
making the key (the facts pickled), a lookup and filling in the day: whether
each open step is overdue.  A matcher that keeps nothing (the oracle,
durable-rules with its cache off) is asked on every call, and no outline is
kept for it.  The NextSteps and PendingGuarantees of a decision are frozen
(their lists are tuples) and shared between decisions, as are units, deadlines
and reasons; the Decision and its lists are each caller's own.

A decision's work grows linearly with the facts: every child has its own step
instances, so nothing is worked out per instance by going through all the
others (a deadline's event date, a join's open branches), and the matcher sends
no list in a child's fact.  tests/engine/test_decide.py counts the work for 20, 40 and
80 children.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import pickle
import threading
import weakref
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from .cache import LruCache
from .case import CaseState, CompletedStep, FactsError, fact_normalizer
from .compile import CompiledProcess, loop_edges
from .errors import did_you_mean
from .language import CHILDREN, Otherwise, lookup
from .rules import DurableMatcher, Hit, Matcher, transition_rule
from .schema import STEP_OPENED, Contact, parse_duration


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
    # Frozen, its lists tuples: one NextStep is shared by every decision that shows the step
    # instance the same way (the same case state, overdue or not).
    model_config = ConfigDict(frozen=True)

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
    model_config = ConfigDict(frozen=True)  # shared, like NextStep

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


class DecisionError(FactsError):
    """A case state that does not fit the process (unknown step, child index…)."""


Instance = tuple[str, int | None]
Successors = tuple[tuple[Instance, Reason], ...]
M = TypeVar("M", bound=BaseModel)


def _built(cls: type[M], values: dict[str, Any]) -> M:
    """The model validation would build from ``values``: every field, in field order, already of its type.

    Validating a NextStep costs ~5 µs and ``model_construct`` ~8 µs (it walks every field for
    defaults and aliases); a decision makes several.  This is ``model_construct`` without that
    walk; tests/engine/test_decide.py checks it builds models equal to validated ones.
    """
    model = _new(cls)
    _set(model, "__dict__", values)
    fields = _fields.get(cls) or _fields.setdefault(cls, set(cls.model_fields))
    _set(model, "__pydantic_fields_set__", fields.copy())  # every field is set: a copy costs less than set(values)
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


_set = object.__setattr__  # pydantic models refuse their own __setattr__ for these
_new = object.__new__  # what BaseModel's __new__ is, without looking it up
_fields: dict[type[BaseModel], set[str]] = {}


_default_matcher: DurableMatcher | None = None


def default_matcher() -> DurableMatcher:
    global _default_matcher
    if _default_matcher is None:
        _default_matcher = DurableMatcher()
    return _default_matcher


def decide(compiled: CompiledProcess, state: CaseState, matcher: Matcher | None = None) -> Decision:
    plan = _plan(compiled)
    matcher = matcher or default_matcher()
    outlines = plan.outlines(matcher)
    key = _input_key(state) if outlines is not None else None
    if key is not None and outlines is not None:
        # Caseworkers ask again about a case that has not moved: the same facts, history and
        # completed steps give the same decision but for what depends on the day (_render).
        kept = outlines.get(key)
        if kept is not None:
            return _render(kept, state.today)
    facts = plan.normalize(state.facts)
    history = [(entry.on, plan.normalize(entry.facts)) for entry in state.history]
    outline = _outline(plan, state, facts, _play(plan, matcher, state, facts, history))
    if key is not None and outlines is not None:
        outlines.put(key, outline)
    return _render(outline, state.today)


def _input_key(state: CaseState) -> tuple[Any, ...] | None:
    """What the game reads of a case state, as a key: None when pickle cannot write the facts.

    The facts are pickled rather than normalized for the key: pickle writes each value with
    its type (``True`` is not ``1``), so equal bytes mean facts that normalize alike, and it
    writes them in C in half the time normalizing takes.
    """
    try:
        facts = pickle.dumps((state.facts, [entry.facts for entry in state.history]), pickle.HIGHEST_PROTOCOL)
    except Exception:  # pickle raises several kinds for what it cannot write; such facts are not kept
        return None
    completed = tuple([(d.step, d.child, d.on, d.facts_from) for d in state.completed])
    return facts, tuple([entry.on for entry in state.history]), state.opened, completed


History = list[tuple[dt.date, dict[str, Any]]]  # (from, normalized facts)


def _play(plan: _Plan, matcher: Matcher, state: CaseState, facts: dict[str, Any], history: History) -> _Played:
    """Matches the facts (each distinct set once: histories repeat facts, an entry per event,
    most changing nothing) and plays the game under their routings."""
    match, compiled = matcher.match, plan.compiled
    children = len(facts.get(CHILDREN) or ())
    now = _Facts(facts, plan.routing(match(compiled, facts), children))
    seen = [now]
    earlier: list[tuple[dt.date, _Facts]] = []
    for on, then in history:
        # Normalized facts give each fact one type, so == cannot take True for 1.
        snapshot = next((s for s in seen if s.values == then), None)
        if snapshot is None:
            snapshot = _Facts(then, plan.routing(match(compiled, then), children))
            seen.append(snapshot)
        earlier.append((on, snapshot))
    return _Game(plan, state, now, earlier, children).played()


@dataclass(frozen=True)
class _Route:
    target: str
    rule: str | None  # None: unconditional; "": otherwise; else the rule whose hit takes it
    reason: Reason
    per_child: bool  # the target is done per child
    admits: str | None  # the target's for_each_when rule


@dataclass(frozen=True)
class _StepPlan:
    exclusive: bool
    routes: tuple[_Route, ...]
    per_child: bool
    terminal: bool
    join_all: bool


@dataclass(frozen=True)
class _View:
    """What a step puts in every NextStep (or PendingGuarantee) of it: the same for every case."""

    fields: dict[str, Any]  # the model's fields in order; those of the case are filled per decision
    deadline: DeadlineInfo | None = None
    event: str | None = None
    contacts: tuple[Contact, ...] = ()


class _Routing(dict[Instance, Successors]):
    """Where each step instance leads for one set of hits and number of children: ``routing[inst]``.

    Filled as games ask and kept: the same facts give the same hits, so decisions for a
    case asked about again (or any case matching the same conditions) look it up in C.
    """

    def __init__(self, steps: dict[str, _StepPlan], hits: frozenset[Hit], children: int) -> None:
        super().__init__()
        self._steps = steps
        self._hits = hits
        self._children = children
        self.key = (hits, children)

    def __missing__(self, inst: Instance) -> Successors:
        found = self[inst] = self._successors(inst)
        return found

    def _successors(self, inst: Instance) -> Successors:
        step_id, child = inst
        step, hits = self._steps[step_id], self._hits
        chosen: list[_Route] = []
        otherwise: _Route | None = None
        for route in step.routes:
            if route.rule is None or (route.rule and (route.rule, child) in hits):
                chosen.append(route)
            elif not route.rule:
                otherwise = route
        if not chosen and otherwise is not None:
            chosen = [otherwise]
        out: list[tuple[Instance, Reason]] = []
        for route in chosen[:1] if step.exclusive else chosen:
            if not route.per_child:
                out.append(((route.target, None), route.reason))
                continue
            for i in range(self._children) if child is None else (child,):
                if route.admits is None or (route.admits, i) in hits:
                    out.append(((route.target, i), route.reason))
        return tuple(out)


class _Plan:
    """What deciding needs of one process version, worked out once (``CompiledProcess.derived``)."""

    def __init__(self, compiled: CompiledProcess, routings: int = 512, outlines: int = 1024) -> None:
        p = compiled.process
        self.compiled = compiled
        self.normalize = fact_normalizer(p.facts)
        self.start_reason = Reason(rule="start", condition=None, source=str(compiled.source.at(("start",))), origin="central")
        self.order = {step_id: n for n, step_id in enumerate(p.steps)}
        self.guarantees = [step_id for step_id, step in p.steps.items() if step.guaranteed and step.intervention is not None]
        self.steps = {step_id: self._step(step_id) for step_id in p.steps}
        self.district = compiled.district
        self.views: dict[type, dict[str, _View]] = {NextStep: {}, PendingGuarantee: {}}
        self._routings: LruCache[tuple[AbstractSet[Hit], int], _Routing] = LruCache(routings)
        # Outlines of decisions, per matcher (what one matcher said is not taken for another's
        # answer) and by case state: a few KB each.
        self._outlines: weakref.WeakKeyDictionary[Matcher, _Kept] = weakref.WeakKeyDictionary()
        self._outlines_size = outlines
        self._lock = threading.Lock()

    def _step(self, step_id: str) -> _StepPlan:
        steps = self.compiled.process.steps
        step = steps[step_id]
        routes = []
        for target, _, condition in self.compiled.outgoing(step_id):
            rule = None if condition is None else "" if isinstance(condition, Otherwise) else transition_rule(step_id, target)
            per_child = steps[target].for_each == "child"
            admits = f"{target}:for_each_when" if per_child and steps[target].for_each_when is not None else None
            routes.append(_Route(target, rule, self._reason(step_id, target, condition), per_child, admits))
        return _StepPlan(step.gateway == "exclusive", tuple(routes), step.for_each == "child", step.terminal, step.join == "all")

    def _reason(self, source: str, target: str, condition: Any) -> Reason:
        c = self.compiled
        pos = c.source.at(("steps", source, "next", target))
        origin: Literal["central", "district"] = "central" if pos.file == c.source.file else "district"
        return Reason(
            rule=transition_rule(source, target),
            condition=str(condition) if condition is not None else None,
            source=str(pos),
            origin=origin,
        )

    def outlines(self, matcher: Matcher) -> _Kept | None:
        """The outlines kept for ``matcher``; None for a matcher that keeps no results (the
        oracle, or durable-rules with its cache off), which is then asked on every call."""
        if not getattr(matcher, "keeps_results", False):  # a matcher from elsewhere may not say
            return None
        try:
            kept = self._outlines.get(matcher)
            if kept is None:
                with self._lock:
                    kept = self._outlines.setdefault(matcher, LruCache(self._outlines_size))
        except TypeError:  # a matcher that cannot be weakly referenced or hashed: nothing kept for it
            return None
        return kept

    def routing(self, hits: AbstractSet[Hit], children: int) -> _Routing:
        key = (hits if isinstance(hits, frozenset) else frozenset(hits), children)
        found = self._routings.get(key)  # a routing not filled yet is an empty dict: test for None
        return found if found is not None else self._routings.put(key, _Routing(self.steps, key[0], children))

    def view(self, model: type[NextStep | PendingGuarantee], step_id: str) -> _View:
        """Built the first time it is needed, so a process with a broken step fails only when it opens."""
        views = self.views[model]
        found = views.get(step_id)
        if found is None:
            build = self._next_step_view if model is NextStep else self._guarantee_view
            found = views[step_id] = build(step_id)
        return found

    def _next_step_view(self, step_id: str) -> _View:
        p = self.compiled.process
        step = p.steps[step_id]
        deadline = event = None
        if step.deadline is not None:
            event = step.deadline.from_
            label = "steget öppnades" if event == STEP_OPENED else p.events[event].label
            within, note = step.deadline.within, step.deadline.note
            deadline = DeadlineInfo(within=within, counts_from=event, counts_from_label=label, note=note)
        intervention = p.interventions.get(step.intervention) if step.intervention else None
        role = p.roles.get(step.role) if step.role else None
        unit = self._unit(step.role)
        fields = {
            "step": step_id,
            "label": step.label,
            "phase": step.phase,
            "phase_label": p.phases[step.phase].label,
            "intervention": step.intervention,
            "intervention_label": intervention.label if intervention else None,
            "role": step.role,
            "role_label": role.label if role else None,
            "unit": unit,
            "child": None,
            "guaranteed": step.guaranteed,
            "opened_on": None,
            "deadline": deadline,
            "due": None,
            "overdue": False,
            "waiting_for": None,
            "note": p.step_notes.get(step_id),
            "contacts": None,
            "reasons": None,
        }
        contacts = tuple(p.contacts[c] for c in p.step_contacts.get(step_id, []))
        return _View(fields, deadline, event, contacts)

    def _guarantee_view(self, step_id: str) -> _View:
        p = self.compiled.process
        step = p.steps[step_id]
        intervention = step.intervention or ""
        fields = {
            "step": step_id,
            "label": step.label,
            "intervention": intervention,
            "intervention_label": p.interventions[intervention].label,
            "unit": self._unit(step.role),
            "reasons": None,
        }
        return _View(fields)

    def _unit(self, role: str | None) -> UnitRef | None:
        p = self.compiled.process
        unit_id = p.bindings.get(role) if role else None
        unit = p.units.get(unit_id) if unit_id else None
        if unit is None or unit_id is None:
            return None
        return UnitRef(id=unit_id, label=unit.label, kind=unit.kind, contact=unit.contact)


def _plan(compiled: CompiledProcess) -> _Plan:
    plan: _Plan | None = compiled.derived.get("plan")
    if plan is None:
        plan = compiled.derived["plan"] = _Plan(compiled)
    return plan


@dataclass(frozen=True)
class _Facts:
    values: Mapping[str, Any]
    routing: _Routing


def back_edges(compiled: CompiledProcess) -> set[tuple[str, str]]:
    """Edges that loop back (to a step on the current path of a depth-first walk from the start)."""
    successors = {step: [t for t, _, _ in compiled.outgoing(step)] for step in compiled.graph}
    return set(loop_edges(successors, compiled.process.start))


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
    months, days = _duration(text)
    if months:
        month_index = start.month - 1 + months
        year, month = start.year + month_index // 12, month_index % 12 + 1
        start = start.replace(year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1]))
    return start + dt.timedelta(days=days)


_duration = functools.lru_cache(maxsize=256)(parse_duration)  # a process has a handful of distinct deadlines


# A step instance's token in the game: [arrivals as (seq, date, reason), seq of its last
# completion (-1: none), completion dates].  A list, not a class: a game makes a dozen or more.
Token = list[Any]
ARRIVALS, LAST_DONE, DONE = 0, 1, 2


@dataclass(frozen=True)
class _Played:
    """What the token game leaves for a case history under one set of routings; read, never changed."""

    tokens: dict[Instance, Token]
    closed_by: str | None
    # Open instances: the open steps a join waits for, the day it opened and the reasons it did.
    open: list[tuple[Instance, list[str], dt.date, tuple[Reason, ...]]]
    guarantees: list[tuple[str, Reason]]  # pending guarantees: the step and the transition leading there

    @functools.cached_property
    def last_done(self) -> dict[Instance, dt.date]:
        """Each completed step instance's last completion: deadlines counting from a step's
        completion look it up per open instance, where a scan of the tokens would make a
        case's cost grow with the square of its children."""
        return {inst: max(token[DONE]) for inst, token in self.tokens.items() if token[DONE]}


class _Game:
    """Plays a case's completed steps and reads the open instances and pending guarantees off the tokens."""

    def __init__(self, plan: _Plan, state: CaseState, now: _Facts, earlier: list[tuple[dt.date, _Facts]], children: int) -> None:
        self.plan = plan
        self.state = state
        self.now = now
        self.earlier = earlier
        self.children = children
        self.tokens: dict[Instance, Token] = {}
        self.closed_by: str | None = None

    def played(self) -> _Played:
        self.play()
        open_insts, busy = self.read_tokens()
        steps = self.plan.steps
        opened = []
        open_steps = {inst[0] for inst in open_insts}  # not per instance: a case has one per child
        for inst in open_insts:
            blockers: list[str] = []
            if steps[inst[0]].join_all:
                feeders = join_feeders(self.plan.compiled, inst[0])
                blockers = sorted(step for step in open_steps if step != inst[0] and step in feeders)
            arrivals, last_done, _ = self.tokens[inst]
            pending = [(on, reason) for seq, on, reason in arrivals if seq > last_done]
            opened.append((inst, blockers, pending[0][0], tuple(reason for _, reason in pending)))
        return _Played(self.tokens, self.closed_by, opened, self.pending_guarantees(busy))

    def facts_on(self, day: dt.date, index: int | None = None) -> _Facts:
        """The facts as they were on ``day``, or history entry ``index`` (the current ones without history)."""
        if index is not None and index < len(self.earlier):
            return self.earlier[index][1]
        chosen = self.earlier[0][1] if self.earlier else self.now
        for on, facts in self.earlier:
            if on <= day:
                chosen = facts
        return chosen

    def in_order(self) -> list[tuple[int, CompletedStep]]:
        """The completed steps by date, ties in the order given."""
        completed = self.state.completed
        dates = [done.on for done in completed]
        if dates == sorted(dates):  # the usual case, and cheaper to check than to sort with a key
            return list(enumerate(completed))
        return sorted(enumerate(completed), key=lambda item: (item[1].on, item[0]))

    def play(self) -> None:
        tokens = self.tokens
        seq = 1
        tokens[(self.plan.compiled.process.start, None)] = [[(seq, self.state.opened, self.plan.start_reason)], -1, []]
        steps, children = self.plan.steps, self.children
        routing = self.now.routing
        problems: dict[str, str] = {}
        for index, done in self.in_order():
            step_id, child = done.step, done.child
            step = steps.get(step_id)
            if step is None or step.per_child != (child is not None) or (child is not None and child >= children):
                field, problem = self.problem(step_id, step, child)
                problems[f"completed[{index}].{field}"] = problem
                continue
            inst = (step_id, child)
            token = tokens.get(inst)
            if token is None:
                token = tokens[inst] = [[], -1, []]
            seq += 1
            token[LAST_DONE] = seq
            token[DONE].append(done.on)
            if step.terminal:
                self.closed_by = step_id
            if self.earlier:
                routing = self.facts_on(done.on, done.facts_from).routing
            for target, reason in routing[inst]:
                seq += 1
                arrived = tokens.get(target)
                if arrived is None:
                    tokens[target] = [[(seq, done.on, reason)], -1, []]
                else:
                    arrived[ARRIVALS].append((seq, done.on, reason))
        if problems:
            raise DecisionError(problems)

    def problem(self, step_id: str, step: _StepPlan | None, child: int | None) -> tuple[str, str]:
        """What is wrong with a completed step, as ``(field, message)``.

        The step id and child index are what the caller sent: the message names the
        process's steps and the case's children instead of repeating them.
        """
        if step is None:
            return "step", f"not a step of this process{did_you_mean(step_id, self.plan.steps)}"
        if not step.per_child:
            return "child", "this step is done once for the case, not per child: leave out child"
        if child is None:
            return "child", "this step is done per child: give the index of a child in facts.children"
        return "child", f"no such child: facts.children has {self.children} items"

    def read_tokens(self) -> tuple[list[Instance], set[str]]:
        """The open step instances, and the steps with an instance done or open."""
        open_insts: list[Instance] = []
        busy: set[str] = set()
        # One loop, the test written out: a game has a dozen tokens or more, and calls cost.
        for inst, (arrivals, last_done, done) in self.tokens.items():
            if arrivals and arrivals[-1][0] > last_done:  # arrivals come in seq order
                open_insts.append(inst)
                busy.add(inst[0])
            elif done:
                busy.add(inst[0])
        return open_insts, busy

    def pending_guarantees(self, busy: set[str]) -> list[tuple[str, Reason]]:
        """Guaranteed interventions this client's case would still reach, along transitions
        whose conditions hold now, from any step it has reached, that are neither done nor open."""
        reached = list(self.tokens)  # a token exists once its step is reached or done
        via: dict[str, Reason] = {}
        seen = set(reached)
        frontier = reached
        routing = self.now.routing
        while frontier:
            for target, reason in routing[frontier.pop()]:
                if target not in seen:
                    seen.add(target)
                    if target[0] not in via:
                        via[target[0]] = reason
                    frontier.append(target)
        return [(step_id, via[step_id]) for step_id in self.plan.guarantees if step_id in via and step_id not in busy]


class _Row:
    """An open step instance as every decision on one case state shows it: only whether it is
    overdue depends on the day, so its NextStep is built once for each answer."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values  # the NextStep's fields, all but overdue
        self.due: dt.date | None = values["due"]
        self.shown: dict[bool, NextStep] = {}  # overdue -> the NextStep

    def on(self, today: dt.date) -> NextStep:
        overdue = self.due is not None and today > self.due
        found = self.shown.get(overdue)
        if found is None:  # two threads may both build it: equal, and either will do
            values = self.values.copy()
            values["overdue"] = overdue
            found = self.shown[overdue] = _built(NextStep, values)
        return found


@dataclass(frozen=True)
class _Outline:
    """The decision on one case state, worked out once and kept with it: what depends on the
    day (overdue) is filled in by ``_render`` on every call.  Its NextSteps and
    PendingGuarantees are frozen and shared; the Decision and its lists are each caller's own."""

    values: dict[str, Any]  # the Decision's fields that do not change
    next_steps: list[_Row]
    waiting: list[_Row]
    guarantees: list[PendingGuarantee]


# Per case state: the outline of its decision.
_Kept = LruCache[tuple[Any, ...], _Outline]


def _outline(plan: _Plan, state: CaseState, facts: Mapping[str, Any], played: _Played) -> _Outline:
    p = plan.compiled.process
    closing = p.steps[played.closed_by] if played.closed_by else None
    reason = closing.closure_reason if closing else None
    values = {  # in field order, as validation would build them; None: filled in per decision
        "district": plan.district,
        "process_version": plan.compiled.version,
        "today": None,
        "closed": closing is not None,
        "closure_reason": reason,
        "closure_label": p.closure_reasons.get(reason) if reason else None,
        "next_steps": None,
        "waiting": None,
        "pending_guarantees": None,
    }
    rows: list[tuple[tuple[int, int], bool, _Row]] = []
    for inst, blockers, opened_on, reasons in [] if closing else played.open:
        row = _row(plan, state, facts, played, inst, blockers, opened_on, reasons)
        rows.append(((plan.order[inst[0]], -1 if inst[1] is None else inst[1]), bool(blockers), row))
    rows.sort(key=lambda item: item[0])
    guarantees = [_guarantee(plan, step_id, reason) for step_id, reason in played.guarantees]
    return _Outline(values, [r for _, w, r in rows if not w], [r for _, w, r in rows if w], guarantees)


def _row(
    plan: _Plan,
    state: CaseState,
    facts: Mapping[str, Any],
    played: _Played,
    inst: Instance,
    blockers: list[str],
    opened_on: dt.date,
    reasons: tuple[Reason, ...],
) -> _Row:
    step_id, child = inst
    view = plan.view(NextStep, step_id)
    values = view.fields.copy()  # unit and deadline are in already: shared, frozen
    values["child"] = child
    values["opened_on"] = opened_on
    if view.deadline is not None:
        start = opened_on if view.event == STEP_OPENED else _event_date(plan, state, facts, played, view.event, child)
        values["due"] = add_duration(start, view.deadline.within) if start else None
    values["waiting_for"] = tuple(blockers)
    values["contacts"] = view.contacts
    values["reasons"] = reasons
    return _Row(values)


def _event_date(
    plan: _Plan, state: CaseState, facts: Mapping[str, Any], played: _Played, event_id: str | None, child: int | None
) -> dt.date | None:
    """When a deadline's event happened: a date fact, the last completion of a step (for this
    child or the whole case), or the case's opening."""
    event = plan.compiled.process.events[event_id or ""]
    if event.fact is not None:
        value = lookup(facts, tuple(event.fact.split(".")))
        return value if isinstance(value, dt.date) else None
    if event.step is not None:
        done = played.last_done
        dates = [d for d in (done.get((event.step, None)), done.get((event.step, child))) if d is not None]
        return max(dates) if dates else None
    return state.opened


def _guarantee(plan: _Plan, step_id: str, reason: Reason) -> PendingGuarantee:
    values = plan.view(PendingGuarantee, step_id).fields.copy()
    values["reasons"] = (reason,)
    return _built(PendingGuarantee, values)


def _render(outline: _Outline, today: dt.date) -> Decision:
    """The Decision document for an outline on the date of this decision."""
    values = outline.values.copy()
    values["today"] = today
    values["next_steps"] = [row.on(today) for row in outline.next_steps]
    values["waiting"] = [row.on(today) for row in outline.waiting]
    values["pending_guarantees"] = outline.guarantees.copy()
    return _built(Decision, values)
