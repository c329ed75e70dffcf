"""The diagram model: what every picture of a compiled process shows, derived once per process version.

``diagram_of(compiled)`` turns the compiled graph into nodes (kind, label, phase,
unit, lane, guarantee, origin), edges (condition and its kind, origin, whether
it closes a loop), gateways (a split after a step that branches, a join before
a step with more than one way in), phases and lanes.  Graphviz
(``render.py``) and BPMN (``bpmn.py``) draw from it, so the two cannot
disagree on where the process branches, waits or loops; ``Changes`` says
what one version changes against another, and ``CasePath`` where a client's
case stands, for the views that mark them.

Gateways are recorded as the process has them, not as one notation needs
them: a ``Split`` is a step with more than one way on or a conditional one
(BPMN needs a gateway for a single conditional flow, the Graphviz picture
draws a diamond only where there is a choice, ``Split.choice``), a ``Join`` a
step with more than one way in, the start counting as one (``Join.waits``:
a ``join: all`` step with several transitions into it).

Loops are the edges ``compile.back_edges`` finds from the start, following
the transitions in file order, the edges ``decide`` leaves out of its joins;
layouts leave them out too, so that a loop back does not pull the steps it
returns to forward.

Everything a phase-level picture needs is here: each node's phase and origin,
``Phase.steps`` and ``phase_flows()`` (the transitions between phases); ``overview.py`` draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .cache import LruCache
from .case import CaseState, CompletedStep
from .compare import ProcessChanges, compare
from .compile import CompiledProcess, back_edges
from .decide import Decision, NextStep
from .language import Expr, Otherwise
from .schema import Gateway, Transition

NodeKind = Literal["step", "terminal"]  # a terminal step closes the case
Origin = Literal["central", "local", "changed"]
EdgeKind = Literal["always", "when", "otherwise"]
EdgeOrigin = Literal["central", "local", "redirect"]
CaseStatus = Literal["overdue", "open", "waiting", "done", "not-reached"]


@dataclass(frozen=True)
class Lane:
    """Who does the steps in it: a unit (a district's process), else a role (the central one)."""

    key: str  # the unit's id, the role's id, or "none"
    label: str


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    label: str
    phase: str
    role: str | None
    unit: str | None  # the unit bound to the role, in a district's process
    lane: str  # Lane.key
    guaranteed: bool
    for_each_child: bool
    origin: Origin  # as the district's merge marked it
    noted: bool  # the district left an instruction or contacts on it
    end: bool  # no way on: the path ends here


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    transition: Transition
    condition: Expr | None
    kind: EdgeKind
    origin: EdgeOrigin
    loop: bool  # goes back to a step on the way here (see the docstring)
    replaces: str | None = None  # a redirect's target in the central process

    @property
    def text(self) -> str | None:
        """What the edge says: the transition's Swedish label, else its condition (``annars`` for otherwise)."""
        if self.transition.label:
            return self.transition.label
        if self.kind == "always":
            return None
        return "annars" if self.kind == "otherwise" else self.transition.when


@dataclass(frozen=True)
class Split:
    """Where a step branches: exactly one way, every way whose condition holds, or all ways."""

    step: str
    kind: Gateway
    edges: tuple[Edge, ...]

    @property
    def choice(self) -> bool:
        return len(self.edges) > 1


@dataclass(frozen=True)
class Join:
    """A step more than one way leads into: ``all`` waits for the started branches, ``any`` starts on each."""

    step: str
    kind: Literal["all", "any"]
    sources: tuple[str, ...]
    from_start: bool

    @property
    def waits(self) -> bool:
        return self.kind == "all" and len(self.sources) > 1


@dataclass(frozen=True)
class Phase:
    id: str
    number: int  # from 1, in the process's order
    label: str
    description: str | None
    steps: tuple[str, ...]


@dataclass(frozen=True)
class Diagram:
    name: str
    version: str
    start: str
    nodes: dict[str, Node]
    edges: tuple[Edge, ...]
    phases: dict[str, Phase]
    lanes: dict[str, Lane]  # the start's first, then in step order
    splits: dict[str, Split]
    joins: dict[str, Join]
    loops: frozenset[tuple[str, str]]
    removed: tuple[str, ...]  # central steps the district removed
    outgoing: dict[str, tuple[Edge, ...]] = field(repr=False)
    sources: dict[str, tuple[str, ...]] = field(repr=False)

    def targets(self, step_id: str) -> list[str]:
        return [e.target for e in self.outgoing[step_id]]

    def phase_flows(self) -> dict[tuple[str, str], list[Edge]]:
        """The transitions from one phase into another, by (from, to), in process order."""
        flows: dict[tuple[str, str], list[Edge]] = {}
        for edge in self.edges:
            pair = (self.nodes[edge.source].phase, self.nodes[edge.target].phase)
            if pair[0] != pair[1]:
                flows.setdefault(pair, []).append(edge)
        return flows


# Keyed by version: it covers everything the model reads (steps, bindings, the merge's marks).
_models: LruCache[str, Diagram] = LruCache(64)


def diagram_of(compiled: CompiledProcess) -> Diagram:
    """The model of ``compiled``, built on first use and kept for its version."""
    found = _models.get(compiled.version)
    return found if found is not None else _models.put(compiled.version, _build(compiled))


def _build(compiled: CompiledProcess) -> Diagram:
    p = compiled.process
    graph = compiled.graph
    loops = frozenset(back_edges(graph, p.start))
    redirects = {(step_id, new): old for step_id, old, new in p.redirects}
    local = set(p.local_steps)
    lanes: dict[str, Lane] = {}
    if p.start in p.steps:  # the start's lane first: BPMN tools show the first lane on top
        _node(compiled, p.start, lanes)
    nodes = {step_id: _node(compiled, step_id, lanes) for step_id in p.steps}
    outgoing: dict[str, tuple[Edge, ...]] = {}
    for step_id in p.steps:
        outgoing[step_id] = tuple(
            Edge(
                step_id,
                target,
                transition,
                condition,
                "always" if condition is None else "otherwise" if isinstance(condition, Otherwise) else "when",
                "redirect" if (step_id, target) in redirects else "local" if local & {step_id, target} else "central",
                (step_id, target) in loops,
                redirects.get((step_id, target)),
            )
            for target, transition, condition in compiled.outgoing(step_id)
        )
    sources = {s: tuple(graph.predecessors(s)) for s in p.steps}
    splits = {
        s: Split(s, p.steps[s].gateway, edges)
        for s, edges in outgoing.items()
        if len(edges) > 1 or (edges and edges[0].kind != "always")
    }
    joins = {s: Join(s, p.steps[s].join, sources[s], s == p.start) for s in p.steps if len(sources[s]) + (s == p.start) > 1}
    phases = {
        phase_id: Phase(
            phase_id, number, phase.label, phase.description, tuple(s for s in p.steps if p.steps[s].phase == phase_id)
        )
        for number, (phase_id, phase) in enumerate(p.phases.items(), start=1)
    }
    return Diagram(
        compiled.name,
        compiled.version,
        p.start,
        nodes,
        tuple(e for edges in outgoing.values() for e in edges),
        phases,
        lanes,
        splits,
        joins,
        loops,
        tuple(p.removed_steps),
        outgoing,
        sources,
    )


def _node(compiled: CompiledProcess, step_id: str, lanes: dict[str, Lane]) -> Node:
    p = compiled.process
    step = p.steps[step_id]
    unit_id = p.bindings.get(step.role) if step.role else None
    unit = p.units.get(unit_id) if unit_id else None
    if unit_id is not None and unit is not None:
        lane = Lane(unit_id, unit.label)
    elif step.role is not None and step.role in p.roles:
        lane = Lane(step.role, p.roles[step.role].label)
    else:
        lane = Lane("none", "Utan ansvarig")
    lanes.setdefault(lane.key, lane)
    origin: Origin = "local" if step_id in p.local_steps else "changed" if step_id in p.changed_steps else "central"
    return Node(
        step_id,
        "terminal" if step.terminal else "step",
        step.label,
        step.phase,
        step.role,
        unit_id if unit is not None else None,
        lane.key,
        step.guaranteed,
        step.for_each == "child",
        origin,
        step_id in p.step_notes or step_id in p.step_contacts,
        not compiled.outgoing(step_id),
    )


# --- what changed ------------------------------------------------------------------------------


@dataclass
class Changes:
    """A process's differences from a base (the central process, or a live version), as the views mark them."""

    local: set[str] = field(default_factory=set)
    changed: dict[str, list[str]] = field(default_factory=dict)  # step -> what changed, in Swedish
    removed: list[str] = field(default_factory=list)
    noted: set[str] = field(default_factory=set)  # instruction or contacts (changed)
    local_edges: set[tuple[str, str]] = field(default_factory=set)
    redirects: dict[tuple[str, str], str] = field(default_factory=dict)  # (step, new target) -> old target
    removed_edges: set[tuple[str, str]] = field(default_factory=set)  # transitions of the base the process dropped
    review: dict[str, str] = field(default_factory=dict)  # step -> its note, left beside a new unit


def changes(compiled: CompiledProcess, base: CompiledProcess | None = None) -> Changes:
    """``compiled`` against ``base`` (``compare``); without a base, the marks its merge left: what its district
    added and changed, without saying what (transitions between central steps cannot be told from added ones)."""
    if base is not None:
        return _marks(compiled, compare(base, compiled))
    model = diagram_of(compiled)
    return Changes(
        local={s for s, n in model.nodes.items() if n.origin == "local"},
        changed={s: [] for s, n in model.nodes.items() if n.origin == "changed"},
        removed=list(model.removed),
        noted={s for s, n in model.nodes.items() if n.noted},
        local_edges={(e.source, e.target) for e in model.edges if e.origin == "local"},
        redirects={(e.source, e.target): e.replaces for e in model.edges if e.replaces is not None},
    )


def _marks(compiled: CompiledProcess, found: ProcessChanges) -> Changes:
    ch = Changes(review={r.step: r.note for r in found.review_notes})
    for c in found.steps:
        if c.kind == "added":
            ch.local.add(c.step)
        elif c.kind == "removed":
            ch.removed.append(c.step)
        elif c.kind in ("note", "contacts"):
            ch.noted.add(c.step)
        else:
            ch.changed.setdefault(c.step, []).append(c.text)
        if c.kind != "route" or c.target_before == c.target_after:
            continue
        if c.target_after is None:
            ch.removed_edges.add((c.step, str(c.target_before)))
        elif c.target_before is None:
            ch.local_edges.add((c.step, c.target_after))
        else:
            ch.redirects[(c.step, c.target_after)] = c.target_before
    ch.local_edges |= {(e.source, e.target) for e in diagram_of(compiled).edges if ch.local & {e.source, e.target}}
    return ch


# --- a client's case on the process -------------------------------------------------------------


@dataclass(frozen=True)
class CasePath:
    """Where one case stands on its process: each step's completions, open and waiting instances."""

    done: dict[str, list[CompletedStep]]
    open: dict[str, list[NextStep]]
    waiting: dict[str, list[NextStep]]
    pending: frozenset[str]  # guaranteed interventions the client qualifies for, not offered yet

    @classmethod
    def of(cls, decision: Decision, state: CaseState) -> CasePath:
        done: dict[str, list[CompletedStep]] = {}
        for item in state.completed:
            done.setdefault(item.step, []).append(item)
        open_: dict[str, list[NextStep]] = {}
        for step in decision.next_steps:
            open_.setdefault(step.step, []).append(step)
        waiting: dict[str, list[NextStep]] = {}
        for step in decision.waiting:
            waiting.setdefault(step.step, []).append(step)
        return cls(done, open_, waiting, frozenset(g.step for g in decision.pending_guarantees))

    def reached(self, step_id: str) -> bool:
        return step_id in self.done or step_id in self.open or step_id in self.waiting

    def status(self, step_id: str) -> CaseStatus:
        if any(s.overdue for s in self.open.get(step_id, [])):
            return "overdue"
        if step_id in self.open:
            return "open"
        if step_id in self.waiting:
            return "waiting"
        if step_id in self.done:
            return "done"
        return "not-reached"


__all__ = [
    "CasePath",
    "CaseStatus",
    "Changes",
    "Diagram",
    "Edge",
    "EdgeKind",
    "EdgeOrigin",
    "Join",
    "Lane",
    "Node",
    "NodeKind",
    "Origin",
    "Phase",
    "Split",
    "changes",
    "diagram_of",
]
