"""What deciding keeps of a process version: its tables, worked out once per version.

``CompiledProcess.tables`` builds them on the version's first decision and keeps
them as long as the version lives; nothing is kept per case or per set of facts.
The caches once kept besides (the matcher's hits of recent facts, the outline
of the decision on a recent case state) saved at most 0.3 ms of a next-step
request that costs about 6 ms: switching either or both off moved bench/api.py's
next-step throughput by less than its run-to-run noise, while building these
tables on every request halved it.

The tables hold what is the same for every case of the version: each step's
routes with the reason a transition gives, a ``join: all`` step's feeders, the
fields a NextStep of the step shows, the PendingGuarantee each way into a
guaranteed step gives, the planned fact normalizer and the rules the matchers
ask.  Built before any case reads them and never changed after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx

from .case import Normalizer, fact_normalizer
from .compile import back_edges
from .decide import DeadlineInfo, PendingGuarantee, Reason, UnitRef
from .language import Expr, Otherwise
from .rules import Rule, rules_of, transition_rule
from .schema import STEP_OPENED, Contact, parse_duration

if TYPE_CHECKING:
    from .compile import CompiledProcess


@dataclass(frozen=True)
class Route:
    """A transition out of a step, as the token game follows it."""

    target: str
    rule: str | None  # None: unconditional; "": otherwise; else the rule whose hit takes it
    reason: Reason
    per_child: bool  # the target is done per child
    admits: str | None  # the target's for_each_when rule
    guarantee: PendingGuarantee | None  # the target's pending guarantee, reached this way


@dataclass(frozen=True)
class StepTable:
    order: int  # the step's place in the file: open steps are listed in it
    exclusive: bool
    per_child: bool
    terminal: bool
    routes: tuple[Route, ...]
    # Where it leads whatever the facts, for a step whose every route is unconditional and to
    # a step done once (most are); None for the others, routed per set of hits.
    fixed: tuple[tuple[tuple[str, None], Route], ...] | None
    guarantees_ahead: frozenset[str]  # the guaranteed steps some path leads to from it, conditions aside
    feeders: frozenset[str]  # for a ``join: all`` step, the steps whose open branch it waits for
    shown: Mapping[str, Any]  # the fields of its NextStep that are the same for every case
    deadline: DeadlineInfo | None
    due_in: tuple[int, int]  # the deadline in (months, days)
    counts_from: str | None  # the deadline's event
    fact_path: tuple[str, ...] | None  # the date fact that event reads, if it is one
    step_done: str | None  # the step whose completion that event is, if it is one


@dataclass(frozen=True)
class Tables:
    normalize: Normalizer
    start: str
    start_reason: Reason
    steps: Mapping[str, StepTable]
    guaranteed: tuple[str, ...]  # the steps that give a pending guarantee, in file order
    rules: tuple[Rule, ...]  # every condition but ``otherwise``, in file order

    @classmethod
    def of(cls, compiled: CompiledProcess) -> Tables:
        p = compiled.process
        forward = nx.DiGraph(compiled.graph)
        forward.remove_edges_from(back_edges(compiled.graph, p.start))
        guaranteed = tuple(s for s, step in p.steps.items() if step.guaranteed and step.intervention is not None)
        steps = {
            step_id: _step(compiled, step_id, order, forward if step.join == "all" else None, frozenset(guaranteed))
            for order, (step_id, step) in enumerate(p.steps.items())
        }
        start_reason = Reason(rule="start", condition=None, source=str(compiled.source.at(("start",))), origin="central")
        return cls(fact_normalizer(p.facts), p.start, start_reason, steps, guaranteed, tuple(rules_of(compiled)))


def _step(
    compiled: CompiledProcess, step_id: str, order: int, forward: nx.DiGraph | None, guaranteed: frozenset[str]
) -> StepTable:
    """A step's table.  Joins wait only for steps that reach them without going round a
    loop: a loop back from late in the process (follow-up -> new risk assessment -> …)
    would otherwise make an early join wait for the late steps, and two joins for each other."""
    p = compiled.process
    step = p.steps[step_id]
    routes = []
    for target, _, condition in compiled.outgoing(step_id):
        rule = None if condition is None else "" if isinstance(condition, Otherwise) else transition_rule(step_id, target)
        goes = p.steps[target]
        admits = f"{target}:for_each_when" if goes.for_each == "child" and goes.for_each_when is not None else None
        reason = _reason(compiled, step_id, target, condition)
        routes.append(Route(target, rule, reason, goes.for_each == "child", admits, _guarantee(compiled, target, reason)))
    deadline = event = None
    if step.deadline is not None:
        event = step.deadline.from_
        label = "steget öppnades" if event == STEP_OPENED else p.events[event].label
        deadline = DeadlineInfo(within=step.deadline.within, counts_from=event, counts_from_label=label, note=step.deadline.note)
    counted = p.events.get(event) if event is not None and event != STEP_OPENED else None
    fixed = all(route.rule is None and not route.per_child for route in routes)
    return StepTable(
        order=order,
        exclusive=step.gateway == "exclusive",
        per_child=step.for_each == "child",
        terminal=step.terminal,
        routes=tuple(routes),
        fixed=tuple(((route.target, None), route) for route in routes) if fixed else None,
        guarantees_ahead=frozenset(nx.descendants(compiled.graph, step_id)) & guaranteed,
        feeders=frozenset(nx.ancestors(forward, step_id)) if forward is not None else frozenset(),
        shown=_shown(compiled, step_id, deadline),
        deadline=deadline,
        due_in=parse_duration(step.deadline.within) if step.deadline is not None else (0, 0),
        counts_from=event,
        fact_path=tuple(counted.fact.split(".")) if counted is not None and counted.fact is not None else None,
        step_done=counted.step if counted is not None else None,
    )


def _shown(compiled: CompiledProcess, step_id: str, deadline: DeadlineInfo | None) -> dict[str, Any]:
    p = compiled.process
    step = p.steps[step_id]
    intervention = p.interventions.get(step.intervention) if step.intervention else None
    role = p.roles.get(step.role) if step.role else None
    contacts: tuple[Contact, ...] = tuple(p.contacts[c] for c in p.step_contacts.get(step_id, []))
    return {
        "step": step_id,
        "label": step.label,
        "phase": step.phase,
        "phase_label": p.phases[step.phase].label,
        "intervention": step.intervention,
        "intervention_label": intervention.label if intervention else None,
        "role": step.role,
        "role_label": role.label if role else None,
        "unit": _unit(compiled, step.role),
        "guaranteed": step.guaranteed,
        "deadline": deadline,
        "note": p.step_notes.get(step_id),
        "contacts": contacts,
    }


def _guarantee(compiled: CompiledProcess, step_id: str, reason: Reason) -> PendingGuarantee | None:
    p = compiled.process
    step = p.steps[step_id]
    if not step.guaranteed or step.intervention is None:
        return None
    return PendingGuarantee(
        step=step_id,
        label=step.label,
        intervention=step.intervention,
        intervention_label=p.interventions[step.intervention].label,
        unit=_unit(compiled, step.role),
        reasons=(reason,),
    )


def _reason(compiled: CompiledProcess, source: str, target: str, condition: Expr | None) -> Reason:
    pos = compiled.source.at(("steps", source, "next", target))
    origin: Literal["central", "district"] = "central" if pos.file == compiled.source.file else "district"
    text = str(condition) if condition is not None else None
    return Reason(rule=transition_rule(source, target), condition=text, source=str(pos), origin=origin)


def _unit(compiled: CompiledProcess, role: str | None) -> UnitRef | None:
    p = compiled.process
    unit_id = p.bindings.get(role) if role else None
    unit = p.units.get(unit_id) if unit_id else None
    if unit is None or unit_id is None:
        return None
    return UnitRef(id=unit_id, label=unit.label, kind=unit.kind, contact=unit.contact)
