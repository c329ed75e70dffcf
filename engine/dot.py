"""Graphviz drawing of the diagram model (``diagram.py``): styles, labels, phase clusters, gateways, legend.

The views (``render.py``) decide what to show and how each step and transition
looks; ``Drawing`` places them: left to right, one cluster per phase, gateway
diamonds where the model has a split with a choice or a join that waits.
Labels are Graphviz HTML-like labels whose text is always ``html.escape``d
(backslashes doubled); plain attributes (tooltips) are escaped for DOT's
escString.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

import graphviz

from .compare import deadline_sv
from .compile import CompiledProcess
from .diagram import Changes, Edge, diagram_of
from .schema import EffectiveProcess

FONT = "Helvetica,Arial,sans-serif"
WRAP = 30  # characters per line in a step's label

# --- colours and styles (one place, so the legend shows exactly what the diagram uses) ---

INK = "#263238"
GREY = "#9e9e9e"  # lines only: as text it is 2.7:1 on white
# Text colours are at least 4.5:1 (WCAG AA) on every fill they are drawn on (tests/engine/test_render.py)
GREY_TEXT = "#616161"
ORANGE_TEXT = "#a84300"  # the local orange, dark enough for text on the local fill
LOCAL = {"fillcolor": "#ffe0b2", "color": "#e65100", "penwidth": "2", "style": "rounded,filled,dashed"}
CHANGED = {"fillcolor": "#fff59d", "color": "#f9a825", "penwidth": "2"}
NOTED = {"fillcolor": "#fffde7", "color": "#f9a825", "style": "rounded,filled,dotted"}
REVIEW = {"fillcolor": "#f8bbd0", "color": "#ad1457", "penwidth": "2", "style": "rounded,filled,dashed"}
REMOVED = {"fillcolor": "#f5f5f5", "color": GREY, "fontcolor": GREY_TEXT, "style": "rounded,filled,dashed"}
CONTEXT = {"fillcolor": "white", "color": "#bdbdbd", "fontcolor": GREY_TEXT}
GUARANTEED = {"color": "#1a237e", "penwidth": "3"}
TERMINAL = {"fillcolor": "#eceff1", "peripheries": "2"}
DONE = {"fillcolor": "#c8e6c9", "color": "#2e7d32"}
OPEN = {"fillcolor": "#e3f2fd", "color": "#0d47a1", "penwidth": "3", "style": "rounded,filled,bold"}
OVERDUE = {"fillcolor": "#ffcdd2", "color": "#c62828", "penwidth": "3", "style": "rounded,filled,bold", "fontcolor": "#b71c1c"}
WAITING = {"fillcolor": "#e3f2fd", "color": "#0d47a1", "penwidth": "2", "style": "rounded,filled,dashed"}
NOT_REACHED = {"fillcolor": "white", "color": "#bdbdbd", "fontcolor": GREY_TEXT}
EDGE_LOCAL = {"color": "#e65100", "fontcolor": ORANGE_TEXT, "penwidth": "1.6"}
EDGE_REDIRECT = {**EDGE_LOCAL, "style": "dashed"}
EDGE_CONTEXT = {"color": "#bdbdbd", "fontcolor": GREY_TEXT}
EDGE_REMOVED = {"color": GREY, "fontcolor": GREY_TEXT, "style": "dotted"}
EDGE_TRAVELLED = {"color": "#2e7d32", "penwidth": "1.6"}

GATEWAY_MARK = {"exclusive": "×", "inclusive": "○", "parallel": "+"}
GATEWAY_TEXT = {
    "exclusive": "Vägval: exakt en väg (×)",
    "inclusive": "Vägval: varje väg vars villkor gäller (○)",
    "parallel": "Parallellt: alla vägar (+)",
}
JOIN_TEXT = "Inväntar alla påbörjade grenar (+)"
DIAMOND = {
    "shape": "diamond",
    "width": "0.35",
    "height": "0.35",
    "fixedsize": "true",
    "fontsize": "12",
    "style": "filled",
    "fillcolor": "white",
    "color": INK,
}


# --- text ---------------------------------------------------------------------


def _text(text: str) -> str:
    """Text inside an HTML-like label: XML-escaped, and backslashes doubled, since Graphviz
    still expands ``\\N``, ``\\G``… there (even when written as ``&#92;``)."""
    return html.escape(text).replace("\\", "\\\\")


def html_label(*lines: str | tuple[str, dict[str, str]]) -> str:
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


def tooltip(*parts: str | None) -> str:
    # "\n" is escString's newline; the parts are escaped first so theirs stay literal.
    text: str = graphviz.nohtml("\\n".join(_esc(" ".join(p.split())) for p in parts if p))
    return text


def wrap(text: str, width: int = WRAP) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [text]


# --- the drawing ------------------------------------------------------------------


class Look(NamedTuple):
    label: str
    attrs: dict[str, str]


NodeFn = Callable[[str], Look]
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


def step_lines(p: EffectiveProcess, step_id: str) -> list[str | tuple[str, dict[str, str]]]:
    """The step's label (bold), its unit (or role) and deadline; the closure reason of a terminal step."""
    step = p.steps[step_id]
    lines: list[str | tuple[str, dict[str, str]]] = [(line, {"B": ""}) for line in wrap(step.label)]
    unit = _unit_line(p, step_id)
    if unit:
        lines.extend((line, {"POINT-SIZE": "9"}) for line in wrap(unit, WRAP + 6))
    if step.deadline is not None:
        lines.extend((line, {"POINT-SIZE": "9"}) for line in wrap(deadline_sv(p, step.deadline), WRAP + 6))
    if step.closure_reason:
        reason = p.closure_reasons.get(step.closure_reason, step.closure_reason)
        lines.append((f"Avslut: {reason}", {"POINT-SIZE": "9"}))
    if step.for_each == "child":
        lines.append(("För varje barn", {"POINT-SIZE": "9", "I": ""}))
    if step.guaranteed:
        lines.append(("★ Garanterad insats", {"POINT-SIZE": "9", "COLOR": "#1a237e", "B": ""}))
    return lines


def base_attrs(p: EffectiveProcess, step_id: str, classes: Iterable[str] = ()) -> dict[str, str]:
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
    attrs["tooltip"] = tooltip(
        step.label,
        step.description,
        f"Lokal anvisning: {note}" if note else None,
        "Kontakter: " + "; ".join(contacts) if contacts else None,
    )
    attrs["class"] = " ".join(dict.fromkeys(names))
    return attrs


class Drawing:
    """Steps (all or some) of one compiled process in phase clusters, with gateways and a legend."""

    def __init__(self, compiled: CompiledProcess, title: list[str], name: str) -> None:
        self.m = diagram_of(compiled)
        self.g = graphviz.Digraph(name=name, strict=False)
        self.g.attr(
            rankdir="LR",
            newrank="true",
            compound="true",
            fontname=FONT,
            fontsize="16",
            label=html_label(*[(t, {"B": ""} if i == 0 else {"POINT-SIZE": "11"}) for i, t in enumerate(title)]),
            labelloc="t",
            labeljust="l",
            nodesep="0.25",
            ranksep="0.45",
            outputorder="edgesfirst",
            tooltip=tooltip(title[0]),
        )
        self.g.attr("node", shape="box", style="rounded,filled", fillcolor="white", color=INK, fontname=FONT, fontsize="11")
        self.g.attr("edge", color="#546e7a", fontname=FONT, fontsize="9", arrowsize="0.7")

    def steps(
        self, shown: list[str], node: NodeFn, extra: dict[str, list[tuple[str, Look]]] | None = None, chain: bool = False
    ) -> None:
        """Nodes for ``shown`` steps (and ``extra`` ones, per phase), clustered by phase in phase order.

        ``chain``: a step that nothing shown leads to is placed after the previous phase
        (an invisible edge), so that a partial view keeps the phases in order.
        """
        m = self.m
        anchor: str | None = None
        chained: list[tuple[str, str]] = []
        start = m.start
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
                tooltip=tooltip("Start: ärendet aktualiseras"),
                **{"class": "start"},
            )
        for phase in m.phases.values():
            members = [s for s in shown if m.nodes[s].phase == phase.id] if shown else []
            more = (extra or {}).get(phase.id, [])
            if not members and not more:
                continue
            with self.g.subgraph(name=f"cluster_{phase.id}") as sub:
                sub.attr(
                    label=html_label((f"{phase.number}. {phase.label}", {"B": ""})),
                    style="rounded,filled",
                    fillcolor="#f5f7fa",
                    color="#cfd8dc",
                    fontsize="13",
                    tooltip=tooltip(phase.label, phase.description),
                )
                sub.attr(**{"class": f"phase phase-{phase.id}"})
                for step_id in members:
                    n = node(step_id)
                    sub.node(step_id, n.label, **n.attrs)
                    self._gateway_nodes(sub, step_id, shown)
                for node_id, n in more:
                    sub.node(node_id, n.label, **n.attrs)
            loose = [s for s in members if not any(u in shown for u in m.sources[s])] + [i for i, _ in more]
            if chain and anchor is not None:
                chained.extend((anchor, s) for s in loose)
            anchor = (members or [i for i, _ in more])[0]
        for u, v in chained:
            self.g.edge(u, v, style="invis")
        if start in shown:
            self.g.edge("_start", self._entry(start))

    def _targets(self, step_id: str, shown: list[str]) -> list[Edge]:
        return [e for e in self.m.outgoing[step_id] if e.target in shown]

    def _branches(self, step_id: str) -> bool:
        split = self.m.splits.get(step_id)
        return split is not None and split.choice

    def _joins(self, step_id: str) -> bool:
        join = self.m.joins.get(step_id)
        return join is not None and join.waits

    def _gateway_nodes(self, sub: graphviz.Digraph, step_id: str, shown: list[str]) -> None:
        if self._joins(step_id):
            sub.node(f"_join_{step_id}", "+", tooltip=tooltip(JOIN_TEXT), **DIAMOND, **{"class": "gateway join"})
        if self._branches(step_id) and self._targets(step_id, shown):
            kind = self.m.splits[step_id].kind
            sub.node(
                f"_gw_{step_id}",
                GATEWAY_MARK[kind],
                tooltip=tooltip(GATEWAY_TEXT[kind]),
                **DIAMOND,
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
            for e in targets:
                attrs = dict(edge(step_id, e.target))
                if e.text:
                    attrs["label"] = html_label(*[(line, {}) for line in wrap(e.text, 28)])
                when, note = e.transition.when, e.transition.note
                if when is not None or note:
                    attrs["tooltip"] = tooltip(f"Villkor: {when}" if when else None, note)
                if e.loop:  # a loop back must not pull the steps it returns to forward
                    attrs["constraint"] = "false"
                    attrs["class"] = (attrs.get("class", "transition") + " loop").strip()
                attrs.setdefault("class", "transition")
                self.g.edge(source, self._entry(e.target), **attrs)

    def legend(
        self, nodes: list[tuple[str, dict[str, str]]], edges: list[tuple[str, dict[str, str]]], gateways: bool = True
    ) -> None:
        """``Teckenförklaring``: a sample of each node and edge style used."""
        with self.g.subgraph(name="cluster_legend") as sub:
            sub.attr(
                label=html_label(("Teckenförklaring", {"B": ""})),
                style="rounded,filled",
                fillcolor="white",
                color="#90a4ae",
                fontsize="13",
                **{"class": "legend"},
            )
            for i, (text, attrs) in enumerate(nodes):
                node_id = f"_legend_{i}"
                sub.node(node_id, html_label(*[(line, {}) for line in wrap(text, 26)]), **{**attrs, "class": "legend-item"})
            if gateways:
                for kind, text in [*GATEWAY_TEXT.items(), ("join", JOIN_TEXT)]:
                    node_id = f"_legend_{kind}"
                    mark = "+" if kind == "join" else GATEWAY_MARK[kind]
                    sub.node(node_id, mark, **DIAMOND, **{"class": "legend-item"})
                    # the text as the label of an unseen edge, so it lines up with the edge samples' labels
                    sub.node(f"{node_id}_end", "", shape="point", style="invis", width="0.06")
                    sub.edge(node_id, f"{node_id}_end", label=html_label((text, {})), color="transparent", arrowhead="none")
            for i, (text, attrs) in enumerate(edges):
                a, b = f"_legend_e{i}a", f"_legend_e{i}b"
                for node_id in (a, b):
                    sub.node(node_id, "", shape="point", width="0.06", color=INK)
                sub.edge(a, b, label=html_label((text, {})), **{**attrs, "class": "legend-item"})


def title_lines(compiled: CompiledProcess, what: str) -> list[str]:
    p = compiled.process
    who = p.district.label if p.district else p.process.owner
    return [f"{who}: {what}", f"{p.process.label} · processversion {compiled.version}"]


def local_edge(ch: Changes) -> EdgeFn:
    def edge(u: str, v: str) -> dict[str, str]:
        if (u, v) in ch.redirects:
            return {**EDGE_REDIRECT, "class": "transition redirect"}
        if (u, v) in ch.local_edges:
            return {**EDGE_LOCAL, "class": "transition local"}
        return {}

    return edge


# --- the marks of what changed ---------------------------------------------------------------

MARK = {"POINT-SIZE": "9", "COLOR": ORANGE_TEXT, "B": ""}
SMALL = {"POINT-SIZE": "9"}
REVIEW_MARK = {"POINT-SIZE": "9", "COLOR": "#880e4f", "B": ""}


@dataclass(frozen=True)
class Words:
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


LOCALLY = Words(
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
IN_DRAFT = Words(
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


def marked(p: EffectiveProcess, ch: Changes, step_id: str, words: Words, noted_text: str, noted_style: bool) -> Look:
    """A step with its marks: added, changed (and what changed), an instruction, a note to review."""
    lines = step_lines(p, step_id)
    style: dict[str, str] = {}
    classes: list[str] = []
    if step_id in ch.local:
        style, classes = LOCAL, ["local"]
        lines.append((words.added, MARK))
    elif step_id in ch.changed:
        style, classes = CHANGED, ["changed"]
        what = ch.changed[step_id]
        lines.append((words.changed + (":" if what else ""), MARK))
        lines.extend((line, SMALL) for item in what for line in wrap(item, WRAP + 6))
    elif step_id in ch.noted and noted_style:
        style = NOTED
    if step_id in ch.noted:
        lines.append((noted_text, {**SMALL, "I": ""}))
        classes.append("noted")
    if step_id in ch.review:
        style = REVIEW
        lines.append((f"{words.review or 'Anteckning att granska'}: anteckningen är oförändrad", REVIEW_MARK))
        lines.extend((line, {**SMALL, "I": ""}) for line in wrap(f"”{ch.review[step_id]}”", WRAP + 6))
        classes.append("review")
    base = base_attrs(p, step_id, classes)
    # the district's fill and line style; a guaranteed step keeps the guarantee's border
    attrs: dict[str, str] = {**style, **base, **{k: style[k] for k in ("fillcolor", "style") if k in style}}
    return Look(html_label(*lines), attrs)
