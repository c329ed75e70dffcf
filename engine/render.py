"""Process diagrams with Graphviz: ``CompiledProcess`` -> ``graphviz.Digraph`` -> SVG, PNG or PDF.

Every view is drawn from the compiled graph (``compiled.graph`` and
``compiled.process``), never from the YAML, so the picture is what the engine
runs.  Five views:

* ``process_diagram(central)``: the city-wide process, each step with its
  responsible role;
* ``process_diagram(district, central)``: a district's effective process, each
  step with its responsible unit and deadline, the parts the district added or
  changed marked (``central`` makes the marks say what changed);
* ``diff_diagram(district, central)``: only what the district does differently,
  with the steps next to each change greyed out for context (see its docstring);
* ``change_diagram(draft, live)``: what a draft of a district's file changes against
  the district's live version, drawn as the diff is, with notes left beside a new unit
  marked for review (the changes are ``compare.compare``'s, as the diff's are);
* ``case_diagram(district, decision, state)``: one client's path: done, open
  now, overdue, not reached.

How it is drawn: left to right, one cluster per phase in phase order, steps as
rounded boxes (node id = step id), a start circle, and BPMN-like diamonds
where a step branches (``×`` exactly one way, ``○`` every way whose condition
holds, ``+`` all ways) or where a ``join: all`` step waits for every branch
(``+``); the conditions are the edge labels (the transition's Swedish
``label``, else the condition as written, ``annars`` for ``otherwise``).
Transitions that loop back do not constrain the layout.  Every view has a
legend (``Teckenförklaring``).  Labels are Graphviz HTML-like labels whose text
is always ``html.escape``d (and its backslashes doubled); plain attributes (tooltips) are escaped for DOT's
escString.  Output is deterministic: steps and transitions in process order,
attributes sorted, so the DOT source can be kept as a golden file.  SVG
elements carry ``class`` names (``step``, ``local``, ``changed``,
``guaranteed``, ``done``, ``open``, ``overdue``…) for the web pages.

``render(diagram, format)`` runs ``dot``; ``render_process``, ``render_changes`` and
``render_case`` are the cached entry points: keyed by the process version (and
the central one's), view and format, the case view also by a hash of the
decision and the completed steps, in a bounded LRU of ``CACHE_SIZE`` entries.
"""

from __future__ import annotations

import hashlib
import html
import textwrap
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import graphviz

from .case import CaseState, CompletedStep
from .compare import ProcessChanges, compare, deadline_sv, duration_sv
from .compile import CompiledProcess, back_edges
from .decide import Decision, NextStep
from .schema import EffectiveProcess, Transition

RenderFormat = Literal["svg", "png", "pdf"]
ProcessView = Literal["process", "diff"]
FORMATS: tuple[RenderFormat, ...] = ("svg", "png", "pdf")
CACHE_SIZE = 64

FONT = "Helvetica,Arial,sans-serif"
WRAP = 30  # characters per line in a step's label

# --- colours and styles (one place, so the legend shows exactly what the diagram uses) ---

INK = "#263238"
GREY = "#9e9e9e"
LIGHT_GREY = "#e0e0e0"
LOCAL = {"fillcolor": "#ffe0b2", "color": "#e65100", "penwidth": "2", "style": "rounded,filled,dashed"}
CHANGED = {"fillcolor": "#fff59d", "color": "#f9a825", "penwidth": "2"}
NOTED = {"fillcolor": "#fffde7", "color": "#f9a825", "style": "rounded,filled,dotted"}
REVIEW = {"fillcolor": "#f8bbd0", "color": "#ad1457", "penwidth": "2", "style": "rounded,filled,dashed"}
REMOVED = {"fillcolor": "#f5f5f5", "color": GREY, "fontcolor": GREY, "style": "rounded,filled,dashed"}
CONTEXT = {"fillcolor": "white", "color": "#bdbdbd", "fontcolor": GREY}
GUARANTEED = {"color": "#1a237e", "penwidth": "3"}
TERMINAL = {"fillcolor": "#eceff1", "peripheries": "2"}
DONE = {"fillcolor": "#c8e6c9", "color": "#2e7d32"}
OPEN = {"fillcolor": "#e3f2fd", "color": "#0d47a1", "penwidth": "3", "style": "rounded,filled,bold"}
OVERDUE = {"fillcolor": "#ffcdd2", "color": "#c62828", "penwidth": "3", "style": "rounded,filled,bold", "fontcolor": "#b71c1c"}
WAITING = {"fillcolor": "#e3f2fd", "color": "#0d47a1", "penwidth": "2", "style": "rounded,filled,dashed"}
NOT_REACHED = {"fillcolor": "white", "color": "#bdbdbd", "fontcolor": GREY}
EDGE_LOCAL = {"color": "#e65100", "fontcolor": "#e65100", "penwidth": "1.6"}
EDGE_REDIRECT = {**EDGE_LOCAL, "style": "dashed"}
EDGE_CONTEXT = {"color": "#bdbdbd", "fontcolor": GREY}
EDGE_REMOVED = {"color": GREY, "fontcolor": GREY, "style": "dotted"}
EDGE_TRAVELLED = {"color": "#2e7d32", "penwidth": "1.6"}

GATEWAY_MARK = {"exclusive": "×", "inclusive": "○", "parallel": "+"}
GATEWAY_TEXT = {
    "exclusive": "Vägval: exakt en väg (×)",
    "inclusive": "Vägval: varje väg vars villkor gäller (○)",
    "parallel": "Parallellt: alla vägar (+)",
}
JOIN_TEXT = "Inväntar alla påbörjade grenar (+)"


# --- text ---------------------------------------------------------------------


def _text(text: str) -> str:
    """Text inside an HTML-like label: XML-escaped, and backslashes doubled, since Graphviz
    still expands ``\\N``, ``\\G``… there (even when written as ``&#92;``)."""
    return html.escape(text).replace("\\", "\\\\")


def _html(*lines: str | tuple[str, dict[str, str]]) -> str:
    """An HTML-like label: each line escaped; ``(text, {"B": ""} or font attributes)`` styles one."""
    out = []
    for line in lines:
        if isinstance(line, str):
            out.append(_text(line))
            continue
        text, style = line
        body = _text(text)
        style = dict(style)
        if style.pop("B", None) is not None:
            body = f"<B>{body}</B>"
        if style.pop("I", None) is not None:
            body = f"<I>{body}</I>"
        if style:
            attrs = " ".join(f'{k}="{html.escape(v)}"' for k, v in sorted(style.items()))
            body = f"<FONT {attrs}>{body}</FONT>"
        out.append(body)
    return "<" + "<BR/>".join(out) + ">"


def _esc(text: str) -> str:
    """Plain text for a DOT escString attribute (tooltip): literal backslashes and entities."""
    escaped: str = graphviz.escape(text.replace("&", "&amp;"))
    return escaped


def _tooltip(*parts: str | None) -> str:
    # "\n" is escString's newline; the parts are escaped first so theirs stay literal.
    text: str = graphviz.nohtml("\\n".join(_esc(" ".join(p.split())) for p in parts if p))
    return text


def _wrap(text: str, width: int = WRAP) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [text]


def _edge_text(transition: Transition) -> str | None:
    if transition.label:
        return transition.label
    if transition.when is None:
        return None
    return "annars" if transition.when.strip() == "otherwise" else transition.when


# --- what changed ------------------------------------------------------------------


@dataclass
class _Changes:
    """A process's differences from a base (the central process, or a live version), as the diagrams mark them."""

    local: set[str] = field(default_factory=set)
    changed: dict[str, list[str]] = field(default_factory=dict)  # step -> what changed, in Swedish
    removed: list[str] = field(default_factory=list)
    noted: set[str] = field(default_factory=set)  # instruction or contacts (changed)
    local_edges: set[tuple[str, str]] = field(default_factory=set)
    redirects: dict[tuple[str, str], str] = field(default_factory=dict)  # (step, new target) -> old target
    removed_edges: set[tuple[str, str]] = field(default_factory=set)  # transitions of the base the process dropped
    review: dict[str, str] = field(default_factory=dict)  # step -> its note, left beside a new unit


def _changes(compiled: CompiledProcess, base: CompiledProcess | None) -> _Changes:
    """``compiled`` against ``base`` (``compare``); without a base, the marks its merge left: what its district
    added and changed, without saying what (transitions between central steps cannot be told from added ones)."""
    if base is not None:
        return _marks(compiled, compare(base, compiled))
    p = compiled.process
    ch = _Changes(local=set(p.local_steps), removed=list(p.removed_steps), noted=set(p.step_notes) | set(p.step_contacts))
    ch.changed = {step_id: [] for step_id in p.changed_steps}
    ch.redirects = {(step_id, new): old for step_id, old, new in p.redirects}
    ch.local_edges = {(u, v) for u, v in compiled.graph.edges if (u, v) not in ch.redirects and ch.local & {u, v}}
    return ch


def _marks(compiled: CompiledProcess, found: ProcessChanges) -> _Changes:
    ch = _Changes(review={r.step: r.note for r in found.review_notes})
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
    ch.local_edges |= {(u, v) for u, v in compiled.graph.edges if ch.local & {u, v}}
    return ch


# --- the drawing ------------------------------------------------------------------


class _Node(NamedTuple):
    label: str
    attrs: dict[str, str]


NodeFn = Callable[[str], _Node]
EdgeFn = Callable[[str, str], dict[str, str]]


def _unit_line(p: EffectiveProcess, step_id: str) -> str | None:
    step = p.steps[step_id]
    if step.role is None:
        return None
    unit = p.unit_for(step_id)
    if unit is not None:
        return unit.label
    role = p.roles.get(step.role)
    return f"Roll: {role.label if role else step.role}"


def _step_lines(p: EffectiveProcess, step_id: str) -> list[str | tuple[str, dict[str, str]]]:
    """The step's label (bold), its unit (or role) and deadline; the closure reason of a terminal step."""
    step = p.steps[step_id]
    lines: list[str | tuple[str, dict[str, str]]] = [(line, {"B": ""}) for line in _wrap(step.label)]
    unit = _unit_line(p, step_id)
    if unit:
        lines.extend((line, {"POINT-SIZE": "9"}) for line in _wrap(unit, WRAP + 6))
    if step.deadline is not None:
        lines.extend((line, {"POINT-SIZE": "9"}) for line in _wrap(deadline_sv(p, step.deadline), WRAP + 6))
    if step.closure_reason:
        reason = p.closure_reasons.get(step.closure_reason, step.closure_reason)
        lines.append((f"Avslut: {reason}", {"POINT-SIZE": "9"}))
    if step.for_each == "child":
        lines.append(("För varje barn", {"POINT-SIZE": "9", "I": ""}))
    if step.guaranteed:
        lines.append(("★ Garanterad insats", {"POINT-SIZE": "9", "COLOR": "#1a237e", "B": ""}))
    return lines


def _base_attrs(p: EffectiveProcess, step_id: str, classes: Iterable[str] = ()) -> dict[str, str]:
    step = p.steps[step_id]
    attrs: dict[str, str] = {}
    names = ["step", *classes]
    if step.terminal:
        attrs.update(TERMINAL)
        names.append("terminal")
    if step.guaranteed:
        attrs.update(GUARANTEED)
        names.append("guaranteed")
    note = p.step_notes.get(step_id)
    contacts = [p.contacts[c].label for c in p.step_contacts.get(step_id, []) if c in p.contacts]
    attrs["tooltip"] = _tooltip(
        step.label,
        step.description,
        f"Lokal anvisning: {note}" if note else None,
        "Kontakter: " + "; ".join(contacts) if contacts else None,
    )
    attrs["class"] = " ".join(dict.fromkeys(names))
    return attrs


class _Drawing:
    """Steps (all or some) of one compiled process in phase clusters, with gateways and a legend."""

    def __init__(self, compiled: CompiledProcess, title: list[str], name: str) -> None:
        self.c = compiled
        self.p = compiled.process
        self.g = graphviz.Digraph(name=name, strict=False)
        self.g.attr(
            rankdir="LR",
            newrank="true",
            compound="true",
            fontname=FONT,
            fontsize="16",
            label=_html(*[(t, {"B": ""} if i == 0 else {"POINT-SIZE": "11"}) for i, t in enumerate(title)]),
            labelloc="t",
            labeljust="l",
            nodesep="0.25",
            ranksep="0.45",
            outputorder="edgesfirst",
            tooltip=_tooltip(title[0]),
        )
        self.g.attr("node", shape="box", style="rounded,filled", fillcolor="white", color=INK, fontname=FONT, fontsize="11")
        self.g.attr("edge", color="#546e7a", fontname=FONT, fontsize="9", arrowsize="0.7")
        self.back = set(back_edges(compiled.graph, compiled.process.start))

    def steps(
        self, shown: list[str], node: NodeFn, extra: dict[str, list[tuple[str, _Node]]] | None = None, chain: bool = False
    ) -> None:
        """Nodes for ``shown`` steps (and ``extra`` ones, per phase), clustered by phase in phase order.

        ``chain``: a step that nothing shown leads to is placed after the previous phase
        (an invisible edge), so that a partial view keeps the phases in order.
        """
        p = self.p
        anchor: str | None = None
        chained: list[tuple[str, str]] = []
        start = p.start
        if start in shown:
            self.g.node(
                "_start",
                "",
                shape="circle",
                width="0.3",
                height="0.3",
                fixedsize="true",
                style="filled",
                fillcolor="white",
                color=INK,
                tooltip=_tooltip("Start: ärendet aktualiseras"),
                **{"class": "start"},
            )
        for number, (phase_id, phase) in enumerate(p.phases.items(), start=1):
            members = [s for s in shown if p.steps[s].phase == phase_id] if shown else []
            more = (extra or {}).get(phase_id, [])
            if not members and not more:
                continue
            with self.g.subgraph(name=f"cluster_{phase_id}") as sub:
                sub.attr(
                    label=_html((f"{number}. {phase.label}", {"B": ""})),
                    style="rounded,filled",
                    fillcolor="#f5f7fa",
                    color="#cfd8dc",
                    fontsize="13",
                    tooltip=_tooltip(phase.label, phase.description),
                )
                sub.attr(**{"class": f"phase phase-{phase_id}"})
                for step_id in members:
                    n = node(step_id)
                    sub.node(step_id, n.label, **n.attrs)
                    self._gateway_nodes(sub, step_id, shown)
                for node_id, n in more:
                    sub.node(node_id, n.label, **n.attrs)
            loose = [s for s in members if not any(u in shown for u in self.c.graph.predecessors(s))] + [i for i, _ in more]
            if chain and anchor is not None:
                chained.extend((anchor, s) for s in loose)
            anchor = (members or [i for i, _ in more])[0]
        for u, v in chained:
            self.g.edge(u, v, style="invis")
        if start in shown:
            self.g.edge("_start", self._entry(start))

    def _targets(self, step_id: str, shown: list[str]) -> list[tuple[str, Transition]]:
        return [(t, tr) for t, tr, _ in self.c.outgoing(step_id) if t in shown]

    def _branches(self, step_id: str) -> bool:
        return len(self.c.outgoing(step_id)) > 1

    def _joins(self, step_id: str) -> bool:
        return self.p.steps[step_id].join == "all" and self.c.graph.in_degree(step_id) > 1

    def _gateway_nodes(self, sub: graphviz.Digraph, step_id: str, shown: list[str]) -> None:
        kind = self.p.steps[step_id].gateway
        diamond = {
            "shape": "diamond",
            "width": "0.35",
            "height": "0.35",
            "fixedsize": "true",
            "fontsize": "12",
            "style": "filled",
            "fillcolor": "white",
            "color": INK,
        }
        if self._joins(step_id):
            sub.node(f"_join_{step_id}", "+", tooltip=_tooltip(JOIN_TEXT), **diamond, **{"class": "gateway join"})
        if self._branches(step_id) and self._targets(step_id, shown):
            sub.node(
                f"_gw_{step_id}",
                GATEWAY_MARK[kind],
                tooltip=_tooltip(GATEWAY_TEXT[kind]),
                **diamond,
                **{"class": f"gateway {kind}"},
            )

    def _entry(self, step_id: str) -> str:
        return f"_join_{step_id}" if self._joins(step_id) else step_id

    def transitions(self, shown: list[str], edge: EdgeFn, lead: Callable[[str], dict[str, str]] | None = None) -> None:
        """Edges between ``shown`` steps, styled by ``edge(source, target)``; ``lead(step)`` styles the
        short edges between a step and its own gateway diamonds."""
        for step_id in shown:
            targets = self._targets(step_id, shown)
            own = lead(step_id) if lead else {}
            if self._joins(step_id):
                self.g.edge(f"_join_{step_id}", step_id, **own)
            if not targets:
                continue
            source = step_id
            if self._branches(step_id):
                source = f"_gw_{step_id}"
                self.g.edge(step_id, source, arrowhead="none", **own)
            for target, transition in targets:
                attrs = dict(edge(step_id, target))
                text = _edge_text(transition)
                if text:
                    attrs["label"] = _html(*[(line, {}) for line in _wrap(text, 28)])
                if transition.when is not None or transition.note:
                    attrs["tooltip"] = _tooltip(f"Villkor: {transition.when}" if transition.when else None, transition.note)
                if (step_id, target) in self.back:
                    attrs["constraint"] = "false"
                    attrs["class"] = (attrs.get("class", "transition") + " loop").strip()
                attrs.setdefault("class", "transition")
                self.g.edge(source, self._entry(target), **attrs)

    def legend(
        self, nodes: list[tuple[str, dict[str, str]]], edges: list[tuple[str, dict[str, str]]], gateways: bool = True
    ) -> None:
        """``Teckenförklaring``: a sample of each node and edge style used."""
        with self.g.subgraph(name="cluster_legend") as sub:
            sub.attr(
                label=_html(("Teckenförklaring", {"B": ""})),
                style="rounded,filled",
                fillcolor="white",
                color="#90a4ae",
                fontsize="13",
                **{"class": "legend"},
            )
            for i, (text, attrs) in enumerate(nodes):
                node_id = f"_legend_{i}"
                sub.node(node_id, _html(*[(line, {}) for line in _wrap(text, 26)]), **{**attrs, "class": "legend-item"})
            if gateways:
                for kind, text in [*GATEWAY_TEXT.items(), ("join", JOIN_TEXT)]:
                    node_id = f"_legend_{kind}"
                    mark = "+" if kind == "join" else GATEWAY_MARK[kind]
                    sub.node(
                        node_id,
                        mark,
                        shape="diamond",
                        width="0.35",
                        height="0.35",
                        fixedsize="true",
                        fontsize="12",
                        style="filled",
                        fillcolor="white",
                        color=INK,
                        **{"class": "legend-item"},
                    )
                    # the text as the label of an unseen edge, so it lines up with the edge samples' labels
                    sub.node(f"{node_id}_end", "", shape="point", style="invis", width="0.06")
                    sub.edge(node_id, f"{node_id}_end", label=_html((text, {})), color="transparent", arrowhead="none")
            for i, (text, attrs) in enumerate(edges):
                a, b = f"_legend_e{i}a", f"_legend_e{i}b"
                for node_id in (a, b):
                    sub.node(node_id, "", shape="point", width="0.06", color=INK)
                sub.edge(a, b, label=_html((text, {})), **{**attrs, "class": "legend-item"})


def _title(compiled: CompiledProcess, what: str) -> list[str]:
    p = compiled.process
    who = p.district.label if p.district else p.process.owner
    return [f"{who}: {what}", f"{p.process.label} · processversion {compiled.version}"]


def _legend_steps(district: bool) -> list[tuple[str, dict[str, str]]]:
    out: list[tuple[str, dict[str, str]]] = [
        ("Steg: ansvarig " + ("enhet" if district else "roll") + " och tidsfrist", {}),
        ("★ Garanterad insats", dict(GUARANTEED)),
        ("Avslut", dict(TERMINAL)),
    ]
    if district:
        out += [
            ("Tillagt lokalt", dict(LOCAL)),
            ("Ändrat lokalt", dict(CHANGED)),
        ]
    return out


def _legend_edges(district: bool) -> list[tuple[str, dict[str, str]]]:
    out: list[tuple[str, dict[str, str]]] = [("Övergång (villkor)", {})]
    if district:
        out += [("Övergång tillagd lokalt", dict(EDGE_LOCAL)), ("Omdirigerad lokalt", dict(EDGE_REDIRECT))]
    return out


def _local_edge(ch: _Changes) -> EdgeFn:
    def edge(u: str, v: str) -> dict[str, str]:
        if (u, v) in ch.redirects:
            return {**EDGE_REDIRECT, "class": "transition redirect"}
        if (u, v) in ch.local_edges:
            return {**EDGE_LOCAL, "class": "transition local"}
        return {}

    return edge


# --- the views ----------------------------------------------------------------------

MARK = {"POINT-SIZE": "9", "COLOR": "#e65100", "B": ""}
SMALL = {"POINT-SIZE": "9"}
REVIEW_MARK = {"POINT-SIZE": "9", "COLOR": "#ad1457", "B": ""}


@dataclass(frozen=True)
class _Words:
    """What the marks say: a district against the city's process, or a draft against the live version."""

    added: str
    changed: str
    removed: str
    noted: str
    nothing: str
    what: str  # the title's; ``{version}`` is the base's version
    name: str  # the graph's name, after the process's
    edge_added: str
    edge_redirect: str
    edge_removed: str
    review: str | None = None


LOCALLY = _Words(
    added="Tillagt lokalt",
    changed="Ändrat lokalt",
    removed="Borttaget lokalt",
    noted="Lokal anvisning eller kontakter",
    nothing="Inga lokala ändringar mot stadens process",
    what="skillnader mot stadens process",
    name="diff",
    edge_added="Övergång tillagd lokalt",
    edge_redirect="Omdirigerad lokalt",
    edge_removed="Övergång i stadens process, borttagen",
)
IN_DRAFT = _Words(
    added="Nytt i utkastet",
    changed="Ändrat i utkastet",
    removed="Borttaget i utkastet",
    noted="Anteckning eller kontakter ändrade i utkastet",
    nothing="Inga ändringar mot den gällande versionen",
    what="utkast jämfört med gällande version {version}",
    name="changes",
    edge_added="Ny övergång i utkastet",
    edge_redirect="Omdirigerad i utkastet",
    edge_removed="Övergång i gällande version, borttagen i utkastet",
    review="Anteckning att granska",
)


def _marked(p: EffectiveProcess, ch: _Changes, step_id: str, words: _Words, noted_text: str, noted_style: bool) -> _Node:
    """A step with its marks: added, changed (and what changed), an instruction, a note to review."""
    lines = _step_lines(p, step_id)
    style: dict[str, str] = {}
    classes: list[str] = []
    if step_id in ch.local:
        style, classes = LOCAL, ["local"]
        lines.append((words.added, MARK))
    elif step_id in ch.changed:
        style, classes = CHANGED, ["changed"]
        what = ch.changed[step_id]
        lines.append((words.changed + (":" if what else ""), MARK))
        lines.extend((line, SMALL) for item in what for line in _wrap(item, WRAP + 6))
    elif step_id in ch.noted and noted_style:
        style = NOTED
    if step_id in ch.noted:
        lines.append((noted_text, {**SMALL, "I": ""}))
        classes.append("noted")
    if step_id in ch.review:
        style = REVIEW
        lines.append((f"{words.review or 'Anteckning att granska'}: anteckningen är oförändrad", REVIEW_MARK))
        lines.extend((line, {**SMALL, "I": ""}) for line in _wrap(f"”{ch.review[step_id]}”", WRAP + 6))
        classes.append("review")
    base = _base_attrs(p, step_id, classes)
    # the district's fill and line style; a guaranteed step keeps the guarantee's border
    attrs: dict[str, str] = {**style, **base, **{k: style[k] for k in ("fillcolor", "style") if k in style}}
    return _Node(_html(*lines), attrs)


def process_diagram(compiled: CompiledProcess, central: CompiledProcess | None = None) -> graphviz.Digraph:
    """The central process (``compiled`` without a district) or a district's effective process.

    Every step shows its Swedish label, its responsible unit (the role for the
    central process) and its deadline; guaranteed steps have a heavy blue
    border and ``★ Garanterad insats``.  In a district's process, local steps
    are orange with a dashed border (``Tillagt lokalt``), changed steps yellow
    with ``Ändrat lokalt`` and, when ``central`` is given, what changed
    (without it, transitions between central steps cannot be told from added
    ones); transitions the district added are orange and redirected ones
    dashed; steps with a local instruction or contacts say so.
    """
    p = compiled.process
    district = p.district is not None
    ch = _changes(compiled, central)
    title = _title(compiled, "processen som den körs" if district else "stadsövergripande process")
    if ch.removed:
        steps = central.process.steps if central else {}
        title.append("Borttaget lokalt: " + ", ".join(steps[s].label if s in steps else s for s in ch.removed))
    d = _Drawing(compiled, title, compiled.name)
    shown = list(p.steps)
    d.steps(shown, lambda step_id: _marked(p, ch, step_id, LOCALLY, "Lokal anvisning", noted_style=False))
    d.transitions(shown, _local_edge(ch))
    d.legend(_legend_steps(district), _legend_edges(district))
    return d.g


def diff_diagram(compiled: CompiledProcess, central: CompiledProcess) -> graphviz.Digraph:
    """What a district does differently from the central process, for a manager.

    Only the differences are drawn, each with its neighbours (the steps just
    before and after it, greyed, labels only) so that one can see where in the
    process it sits; the phase clusters stay, in phase order, so the place in
    the pathway is named too.  The full 55-step graph with everything
    unchanged greyed out was the alternative: at city scale a tightened
    deadline is one yellow box lost in a large grey picture, while here it is
    one of a handful of boxes that say what changed (``tidsfrist skärpt från
    14 dagar till 10 dagar``, ``ny väg till …``).  The district's whole process
    is ``process_diagram``.

    Shown: steps added locally (orange), changed steps (yellow, with what
    changed), steps removed locally (grey, dashed, with the central
    transitions dotted), steps that only got a local instruction or contacts
    (pale, dotted border, no neighbours: they change nothing in the flow),
    added transitions (orange) and redirects (dashed).
    """
    return _change_view(compiled, central, LOCALLY)


def change_diagram(new: CompiledProcess, base: CompiledProcess) -> graphviz.Digraph:
    """A draft (``new``) with what it changes against ``base``, the live version of the same district,
    for the process owner's review: drawn as ``diff_diagram`` draws a district against the city.

    Shown: steps new in the draft (orange), changed ones (yellow, with what changed, e.g. ``ansvar
    flyttat från Relationsvåldsteamet (RVT) till Boendeenheten``), removed ones (grey, dashed), steps
    whose note or contacts changed (pale, dotted), each with its neighbours greyed; a step whose
    unit changed but whose note did not is pink, ``Anteckning att granska``, with the note; new
    transitions orange, redirected ones dashed, dropped ones dotted.  What ``compare(base, new)`` says.
    """
    return _change_view(new, base, IN_DRAFT)


def _change_view(compiled: CompiledProcess, base: CompiledProcess, words: _Words) -> graphviz.Digraph:
    p, b = compiled.process, base.process
    ch = _changes(compiled, base)
    structural = set(ch.local) | set(ch.changed)
    context: set[str] = set()
    for step_id in structural:
        context.update(compiled.graph.predecessors(step_id))
        context.update(compiled.graph.successors(step_id))
    for u, v in ch.local_edges | set(ch.redirects) | ch.removed_edges:
        context.update((u, v))
    removed_edges: list[tuple[str, str]] = sorted(ch.removed_edges)
    for step_id in ch.removed:
        removed_edges.extend((u, step_id) for u in base.graph.predecessors(step_id))
        removed_edges.extend((step_id, v) for v in base.graph.successors(step_id))
        context.update(u for u, _ in removed_edges if u in p.steps)
        context.update(v for _, v in removed_edges if v in p.steps)
    shown_set = structural | (context & set(p.steps)) | ch.noted | set(ch.review)
    shown = [s for s in p.steps if s in shown_set]
    title = _title(compiled, words.what.format(version=base.version))
    d = _Drawing(compiled, title, f"{compiled.name}_{words.name}")

    def node(step_id: str) -> _Node:
        if step_id in structural or step_id in ch.noted or step_id in ch.review:
            return _marked(p, ch, step_id, words, words.noted, noted_style=True)
        attrs = {**_base_attrs(p, step_id, ["context"]), **CONTEXT}
        return _Node(_html(*[(line, {}) for line in _wrap(p.steps[step_id].label)]), attrs)

    extra: dict[str, list[tuple[str, _Node]]] = {}
    for step_id in ch.removed:
        step = b.steps[step_id]
        label = _html(*[(line, {"B": ""}) for line in _wrap(step.label)], (words.removed, {**SMALL, "B": ""}))
        attrs = {**REMOVED, "class": "step removed", "tooltip": _tooltip(step.label, step.description)}
        extra.setdefault(step.phase, []).append((step_id, _Node(label, attrs)))
    if not shown and not extra:
        d.g.node("_nothing", _html(words.nothing), shape="plaintext")
    d.steps(shown, node, extra, chain=True)

    def edge(u: str, v: str) -> dict[str, str]:
        return _local_edge(ch)(u, v) or {**EDGE_CONTEXT, "class": "transition context"}

    def lead(step_id: str) -> dict[str, str]:
        return {} if step_id in structural else dict(EDGE_CONTEXT)

    d.transitions(shown, edge, lead)
    for u, v in removed_edges:
        if u in shown_set | set(ch.removed) and v in shown_set | set(ch.removed):
            d.g.edge(u, v, **EDGE_REMOVED, **{"class": "transition removed", "constraint": "false"})
    legend = [
        (words.added, dict(LOCAL)),
        (words.changed, dict(CHANGED)),
        (words.removed, dict(REMOVED)),
        (words.noted, dict(NOTED)),
        *([(words.review, dict(REVIEW))] if words.review else []),
        ("Oförändrat steg intill en ändring", dict(CONTEXT)),
        ("★ Garanterad insats", dict(GUARANTEED)),
    ]
    edges = [
        (words.edge_added, dict(EDGE_LOCAL)),
        (words.edge_redirect, dict(EDGE_REDIRECT)),
        (words.edge_removed, dict(EDGE_REMOVED)),
        ("Oförändrad övergång", dict(EDGE_CONTEXT)),
    ]
    d.legend(legend, edges)
    return d.g


def _child(index: int | None) -> str:
    return "" if index is None else f"Barn {index + 1}: "


def case_diagram(compiled: CompiledProcess, decision: Decision, state: CaseState) -> graphviz.Digraph:
    """A client's path on the district's process: done, open now, overdue, not reached.

    ``decision`` is ``decide(compiled, state)``.  Done steps are filled green
    (``Klart`` and the date), open ones have a heavy blue border and their due
    date, overdue ones are red (``FÖRSENAT``), joins that wait for other
    branches are dashed, and steps not reached are grey; a guaranteed
    intervention the client qualifies for but has not been offered says so.
    Per-child steps list each child's state.
    """
    if decision.process_version != compiled.version:
        raise ValueError(f"the decision is for process version {decision.process_version}, the diagram for {compiled.version}")
    p = compiled.process
    done: dict[str, list[CompletedStep]] = {}
    for item in state.completed:
        done.setdefault(item.step, []).append(item)
    open_: dict[str, list[NextStep]] = {}
    for step in decision.next_steps:
        open_.setdefault(step.step, []).append(step)
    waiting: dict[str, list[NextStep]] = {}
    for step in decision.waiting:
        waiting.setdefault(step.step, []).append(step)
    pending = {g.step for g in decision.pending_guarantees}
    label = {s: st.label for s, st in p.steps.items()}

    def status(step_id: str) -> str:
        if any(s.overdue for s in open_.get(step_id, [])):
            return "overdue"
        if step_id in open_:
            return "open"
        if step_id in waiting:
            return "waiting"
        if step_id in done:
            return "done"
        return "not-reached"

    def node(step_id: str) -> _Node:
        lines = _step_lines(p, step_id)
        for s in open_.get(step_id, []):
            due = s.due.isoformat() if s.due else None
            if s.overdue:
                text = f"{_child(s.child)}FÖRSENAT, skulle vara klart {due}"
                lines.append((text, {"POINT-SIZE": "10", "COLOR": "#b71c1c", "B": ""}))
            else:
                text = f"{_child(s.child)}Öppet nu" + (f", senast {due}" if due else "")
                lines.append((text, {"POINT-SIZE": "10", "COLOR": "#0d47a1", "B": ""}))
        for s in waiting.get(step_id, []):
            names = ", ".join(label.get(w, w) for w in s.waiting_for)
            lines.extend(
                (line, {"POINT-SIZE": "9", "COLOR": "#0d47a1"})
                for line in _wrap(f"{_child(s.child)}Väntar på: {names}", WRAP + 6)
            )
        for item in sorted(done.get(step_id, []), key=lambda c: (c.on, -1 if c.child is None else c.child)):
            lines.append((f"{_child(item.child)}Klart {item.on.isoformat()}", {"POINT-SIZE": "9", "COLOR": "#1b5e20"}))
        if step_id in pending:
            lines.append(("Kvalificerar, inte erbjuden än", {"POINT-SIZE": "9", "COLOR": "#1a237e", "I": ""}))
        state_ = status(step_id)
        style = {"overdue": OVERDUE, "open": OPEN, "waiting": WAITING, "done": DONE, "not-reached": NOT_REACHED}[state_]
        attrs = {**_base_attrs(p, step_id, [state_] + (["pending"] if step_id in pending else [])), **style}
        if state_ == "not-reached" and p.steps[step_id].guaranteed:
            attrs["color"] = "#9fa8da"  # still shows the guarantee, faintly
        return _Node(_html(*lines), attrs)

    reached = set(done) | set(open_) | set(waiting)

    def edge(u: str, v: str) -> dict[str, str]:
        if u in done and v in reached:
            return {**EDGE_TRAVELLED, "class": "transition travelled"}
        if v not in reached:
            return {**EDGE_CONTEXT, "class": "transition not-reached"}
        return {}

    what = f"ärendets väg per {decision.today.isoformat()}"
    if decision.closed:
        what += f" (avslutat: {decision.closure_label or decision.closure_reason})"
    d = _Drawing(compiled, _title(compiled, what), f"{compiled.name}_case")
    shown = list(p.steps)

    def lead(step_id: str) -> dict[str, str]:
        return dict(EDGE_TRAVELLED) if step_id in done else {} if step_id in reached else dict(EDGE_CONTEXT)

    d.steps(shown, node)
    d.transitions(shown, edge, lead)
    legend = [
        ("Klart", dict(DONE)),
        ("Öppet nu", dict(OPEN)),
        ("Försenat", dict(OVERDUE)),
        ("Väntar in andra grenar", dict(WAITING)),
        ("Inte nått", dict(NOT_REACHED)),
    ]
    d.legend(legend, [("Väg som ärendet gått", dict(EDGE_TRAVELLED)), ("Väg som inte nåtts", dict(EDGE_CONTEXT))])
    return d.g


# --- rendering and the cache ------------------------------------------------------------


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise ValueError(f"unknown format '{format}'; expected one of {', '.join(FORMATS)}")


def render(diagram: graphviz.Digraph, format: RenderFormat = "svg") -> bytes:
    """Run Graphviz's ``dot`` on ``diagram``: SVG (default), PNG or PDF bytes."""
    _check_format(format)
    data: bytes = diagram.pipe(format=format, engine="dot")
    return data


class RenderCacheInfo(NamedTuple):
    hits: int
    misses: int
    size: int
    maxsize: int


class _Cache:
    """A small thread-safe LRU of rendered bytes; rendering happens outside the lock."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.items: OrderedDict[tuple[str, ...], bytes] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple[str, ...], make: Callable[[], bytes]) -> bytes:
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        data = make()
        with self.lock:
            self.items[key] = data
            self.items.move_to_end(key)
            while len(self.items) > self.maxsize:
                self.items.popitem(last=False)
        return data

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.hits = self.misses = 0


_cache = _Cache(CACHE_SIZE)


def render_process(
    compiled: CompiledProcess,
    central: CompiledProcess | None = None,
    *,
    view: ProcessView = "process",
    format: RenderFormat = "svg",
) -> bytes:
    """``process_diagram`` (``view="process"``) or ``diff_diagram`` (``"diff"``, needs ``central``), rendered
    and cached by process version (and the central process's), view and format."""
    _check_format(format)
    if view == "diff":
        if central is None or compiled.process.district is None:
            raise ValueError("the diff view compares a district's process with the central process")
        return _cache.get(
            ("diff", compiled.version, central.version, format), lambda: render(diff_diagram(compiled, central), format)
        )
    if view != "process":
        raise ValueError(f"unknown view '{view}'; expected process or diff")
    key = ("process", compiled.version, central.version if central else "", format)
    return _cache.get(key, lambda: render(process_diagram(compiled, central), format))


def render_changes(new: CompiledProcess, base: CompiledProcess, format: RenderFormat = "svg") -> bytes:
    """``change_diagram`` rendered, cached by both versions and format."""
    _check_format(format)
    return _cache.get(("changes", new.version, base.version, format), lambda: render(change_diagram(new, base), format))


def decision_hash(decision: Decision, state: CaseState) -> str:
    """What the case view depends on: the decision and the completed steps."""
    text = decision.model_dump_json() + "\n" + state.model_dump_json(include={"completed"})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render_case(compiled: CompiledProcess, decision: Decision, state: CaseState, format: RenderFormat = "svg") -> bytes:
    """``case_diagram`` rendered, cached by process version, a hash of the decision and format."""
    _check_format(format)
    key = ("case", compiled.version, decision_hash(decision, state), format)
    return _cache.get(key, lambda: render(case_diagram(compiled, decision, state), format))


def render_cache_info() -> RenderCacheInfo:
    with _cache.lock:
        return RenderCacheInfo(_cache.hits, _cache.misses, len(_cache.items), _cache.maxsize)


def clear_render_cache() -> None:
    _cache.clear()


__all__ = [
    "CACHE_SIZE",
    "FORMATS",
    "ProcessView",
    "RenderCacheInfo",
    "RenderFormat",
    "case_diagram",
    "change_diagram",
    "clear_render_cache",
    "deadline_sv",
    "decision_hash",
    "diff_diagram",
    "duration_sv",
    "process_diagram",
    "render",
    "render_cache_info",
    "render_case",
    "render_changes",
    "render_process",
]
