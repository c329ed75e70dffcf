"""A process at two levels, each readable on a screen without zooming, and live figures on them.

The whole process of a district is some 55 steps and 80 transitions: drawn at once it is thousands of
units wide and its text a few pixels high on a laptop.  So the pages start from ``overview_diagram``
(one node per phase, its steps counted, what the district changed in it, the flows between phases from
``Diagram.phase_flows()``) and open ``phase_diagram`` (one phase's steps, with the steps just outside
it that lead in and out, greyed, linking to their own phase).  Both are drawn top to bottom: a phase
has few steps side by side, so the picture fits the page's width and its text keeps its size.

``Figures`` colours a phase view's steps on a scale of one measure (the pages pass the live figures
from the database; the engine knows nothing of where they come from): five light fills, from the
best to the worst value shown, each with its range in the legend, and the figure written in the node,
so that colour is never the only carrier.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import graphviz

from .compile import CompiledProcess
from .diagram import Changes, changes, diagram_of
from .dot import (
    CHANGED,
    CONTEXT,
    EDGE_CONTEXT,
    EDGE_LOCAL,
    FONT,
    GUARANTEED,
    INK,
    LOCAL,
    LOCALLY,
    ORANGE_TEXT,
    Drawing,
    Look,
    base_attrs,
    html_label,
    local_edge,
    marked,
    step_lines,
    title_lines,
    tooltip,
    wrap,
)
from .render import RenderFormat, _cached, _check_format, render

# Best to worst; all light, so that the ink (#263238) stays above 9:1 on each.
SCALE = ("#e3f2fd", "#e8f5e9", "#fff9c4", "#ffe0b2", "#ffcdd2")
NO_FIGURE = {"fillcolor": "white", "style": "rounded,filled,dashed"}


@dataclass(frozen=True)
class Figures:
    """One measure per step: ``values[step] = (value or None, what to write in the node)``."""

    title: str  # what the value is, in Swedish: "Mediantid i dagar"
    values: Mapping[str, tuple[float | None, str]]
    higher_is_worse: bool = True

    def bins(self) -> list[tuple[float, float]]:
        """The scale's ranges (best first): the span of the values shown, cut in five."""
        known = [v for v, _ in self.values.values() if v is not None]
        if not known:
            return []
        lo, hi = min(known), max(known)
        if lo == hi:  # one value: one fill, not five ranges of nothing
            return [(lo, hi)]
        step = (hi - lo) / len(SCALE)
        edges = [(lo + i * step, lo + (i + 1) * step) for i in range(len(SCALE))]
        return edges if self.higher_is_worse else [(b, a) for a, b in reversed(edges)]

    def colour(self, step_id: str) -> str | None:
        value = self.values.get(step_id, (None, ""))[0]
        bins = self.bins()
        if value is None or not bins:
            return None
        lo, hi = min(min(b) for b in bins), max(max(b) for b in bins)
        if hi == lo:
            return SCALE[0]
        share = (value - lo) / (hi - lo)
        index = min(int(share * len(SCALE)), len(SCALE) - 1)
        return SCALE[index if self.higher_is_worse else len(SCALE) - 1 - index]

    def key(self) -> str:
        return repr((self.title, sorted(self.values.items()), self.higher_is_worse))


def _number(value: float) -> str:
    return f"{value:.1f}".replace(".", ",").removesuffix(",0")


def _phase_of_removed(ch: Changes, central: CompiledProcess | None) -> dict[str, str]:
    steps = central.process.steps if central is not None else {}
    return {s: steps[s].phase for s in ch.removed if s in steps}


def _counted(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def overview_diagram(
    compiled: CompiledProcess, central: CompiledProcess | None = None, href: str = "", figures: Figures | None = None
) -> graphviz.Digraph:
    """One node per phase (its number, label, steps counted, the district's changes in it), the flows
    between phases (how many transitions each), a phase with changes filled as a changed step is;
    ``href`` (with ``{phase}``) makes each phase a link to its view; ``figures``, keyed by phase,
    fill the phases on their scale instead (the changes stay written in the node)."""
    m = diagram_of(compiled)
    ch = changes(compiled, central)
    district = compiled.process.district is not None
    removed = _phase_of_removed(ch, central)
    redirected = {u for u, _ in ch.redirects}
    g = graphviz.Digraph(name=f"{compiled.name}_overview", strict=False)
    title = title_lines(compiled, "processen fas för fas")
    g.attr(
        rankdir="TB",
        fontname=FONT,
        fontsize="18",
        label=html_label(*[(t, {"B": ""} if i == 0 else {"POINT-SIZE": "14"}) for i, t in enumerate(title)]),
        labelloc="t",
        labeljust="l",
        nodesep="0.4",
        ranksep="0.5",
        tooltip=tooltip(title[0]),
    )
    g.attr("node", shape="box", style="rounded,filled", fillcolor="white", color=INK, fontname=FONT, fontsize="14")
    g.attr("edge", color="#546e7a", fontname=FONT, fontsize="13", arrowsize="0.8")
    for phase in m.phases.values():
        local = [s for s in phase.steps if s in ch.local]
        changed = [s for s in phase.steps if s in ch.changed or s in redirected]
        gone = [s for s, p in removed.items() if p == phase.id]
        guaranteed = sum(1 for s in phase.steps if m.nodes[s].guaranteed)
        lines: list[str | tuple[str, dict[str, str]]] = [(line, {"B": ""}) for line in wrap(f"{phase.number}. {phase.label}", 28)]
        lines.append(_counted(len(phase.steps), "steg", "steg") + (f", {guaranteed} garanterade" if guaranteed else ""))
        marks = [
            _counted(len(local), "tillagt", "tillagda") if local else "",
            _counted(len(changed), "ändrat", "ändrade") if changed else "",
            _counted(len(gone), "borttaget", "borttagna") if gone else "",
        ]
        said = ", ".join(x for x in marks if x)
        attrs = {"class": "phase-node", "tooltip": tooltip(phase.label, phase.description)}
        if said:
            lines.append((f"Lokalt: {said}", {"COLOR": ORANGE_TEXT, "B": ""}))
            attrs.update(CHANGED if not local else LOCAL)
            attrs["class"] = "phase-node changed"
        if figures is not None:
            fill = figures.colour(phase.id)
            attrs.update({"fillcolor": fill, "style": "rounded,filled"} if fill else NO_FIGURE)
            lines.append((figures.values.get(phase.id, (None, ""))[1] or "Inget att visa", {"B": ""}))
        if href:
            attrs.update(URL=href.format(phase=phase.id), target="_top")
        g.node(f"phase_{phase.id}", html_label(*lines), **attrs)
    if m.start in m.nodes:
        g.node("_start", "", shape="circle", width="0.3", height="0.3", fixedsize="true", tooltip=tooltip("Start"))
        g.edge("_start", f"phase_{m.nodes[m.start].phase}")
    for (a, b), edges in m.phase_flows().items():
        attrs = {"class": "flow"}
        if any(e.origin != "central" for e in edges):
            attrs.update(EDGE_LOCAL, **{"class": "flow local"})
        if all(e.loop for e in edges):
            attrs.update(constraint="false", style="dashed")
        attrs["label"] = html_label(_counted(len(edges), "övergång", "övergångar"))
        attrs["tooltip"] = tooltip("; ".join(f"{m.nodes[e.source].label} → {m.nodes[e.target].label}" for e in edges))
        g.edge(f"phase_{a}", f"phase_{b}", **attrs)
    if figures is not None:
        with g.subgraph(name="cluster_legend") as sub:
            sub.attr(label=html_label(("Teckenförklaring", {"B": ""})), color="#90a4ae", fontsize="14")
            for i, (text, attrs) in enumerate(reversed(_scale_legend(figures))):
                sub.node(f"_legend_{i}", html_label(text), **attrs, **{"class": "legend-item"})
    elif district:
        with g.subgraph(name="cluster_legend") as sub:
            sub.attr(label=html_label(("Teckenförklaring", {"B": ""})), color="#90a4ae", fontsize="14")
            # given last to first: Graphviz lays this legend out right to left
            sub.node(
                "_legend_flow", html_label("Övergång tillagd eller omdirigerad lokalt"), shape="plaintext", fontcolor=ORANGE_TEXT
            )
            sub.node("_legend_changed", html_label("Fas med lokalt ändrade steg"), **CHANGED)
            sub.node("_legend_local", html_label("Fas med lokalt tillagda steg"), **LOCAL)
    return g


def phase_diagram(
    compiled: CompiledProcess,
    phase_id: str,
    central: CompiledProcess | None = None,
    figures: Figures | None = None,
    href: str = "",
) -> graphviz.Digraph:
    """One phase's steps as the full diagram draws them, top to bottom, with the steps just outside the
    phase that lead into it or out of it greyed (linking, through ``href``, to their phase); with
    ``figures`` the phase's steps are filled on its scale and carry their figure."""
    m = diagram_of(compiled)
    if phase_id not in m.phases:
        raise ValueError(f"no phase '{phase_id}' in {compiled.name}")
    p = compiled.process
    phase = m.phases[phase_id]
    ch = changes(compiled, central)
    own = list(phase.steps)
    what = f"fas {phase.number}, {phase.label}" + (f": {figures.title.lower()}" if figures else "")
    d = Drawing(compiled, title_lines(compiled, what), f"{compiled.name}_{phase_id}")
    d.g.attr(rankdir="TB", fontsize="18", nodesep="0.3", ranksep="0.4")
    d.g.attr("node", fontsize="13")
    d.g.attr("edge", fontsize="12")

    def node(step_id: str) -> Look:
        look = marked(p, ch, step_id, LOCALLY, "Lokal anvisning", noted_style=False) if p.district else None
        if look is None:
            look = Look(html_label(*step_lines(p, step_id)), base_attrs(p, step_id))
        # the full diagram's 9 pt lines (unit, deadline) would be below 10 px here: the phase view is read at 1:1
        look = Look(look.label.replace('POINT-SIZE="9"', 'POINT-SIZE="11"'), look.attrs)
        if figures is None:
            return look
        text = figures.values.get(step_id, (None, ""))[1]
        fill = figures.colour(step_id)
        attrs = {**look.attrs, **({"fillcolor": fill} if fill else NO_FIGURE)}
        if p.steps[step_id].guaranteed:
            attrs.update(GUARANTEED)
        label = look.label[:-1] + "<BR/>" + html_label((text or "Inget att visa", {"B": ""}))[1:]
        return Look(label, attrs)

    d.steps(own, node)
    d.transitions(own, local_edge(ch))
    _outside(d, compiled, phase_id, ch, href)
    if figures is not None:
        # Graphviz lays a top-to-bottom picture's legend out right to left: given last to first, it reads in order
        d.legend(list(reversed(_scale_legend(figures))), [], gateways=False)
    else:
        d.legend(
            [("Steg i en annan fas", dict(CONTEXT)), ("Ändrat lokalt", dict(CHANGED)), ("Tillagt lokalt", dict(LOCAL))], [], False
        )
    return d.g


def _scale_legend(figures: Figures) -> list[tuple[str, dict[str, str]]]:
    """The measure's name, each fill with its range, and the fill of no figure."""
    bins = figures.bins()
    entries = [
        (_number(a) if a == b else f"{_number(min(a, b))}–{_number(max(a, b))}", {"fillcolor": SCALE[i]})
        for i, (a, b) in enumerate(bins)
    ]
    return [(f"{figures.title}:", {"shape": "plaintext"}), *entries, ("Inget att visa (inga eller för få)", dict(NO_FIGURE))]


def _outside(d: Drawing, compiled: CompiledProcess, phase_id: str, ch: Changes, href: str) -> None:
    """The other phases the phase's steps come from or lead to, one node each (a link to it), with one
    edge per step and phase: the steps themselves would spread the picture wider than a screen."""
    m = d.m
    own = set(m.phases[phase_id].steps)
    into: dict[str, list[str]] = {}
    out: dict[str, list[str]] = {}
    for e in m.edges:
        if e.target in own and e.source not in own:
            into.setdefault(m.nodes[e.source].phase, []).append(e.target)
        elif e.source in own and e.target not in own:
            out.setdefault(m.nodes[e.target].phase, []).append(e.source)
    for other in dict.fromkeys([*into, *out]):
        phase = m.phases[other]
        names = [m.nodes[s].label for s in phase.steps]
        attrs = {**CONTEXT, "class": "phase-link", "tooltip": tooltip(f"Fas {phase.number}: {phase.label}", ", ".join(names))}
        if href:
            attrs.update(URL=href.format(phase=other), target="_top")
        label = html_label((f"Fas {phase.number}: {phase.label}", {"B": ""}), ("Öppna fasen", {"POINT-SIZE": "11", "I": ""}))
        for side, steps in (("in", into.get(other)), ("out", out.get(other))):
            if not steps:
                continue
            node_id = f"_{side}_{other}"
            d.g.node(node_id, label, **attrs)
            for step_id in dict.fromkeys(steps):
                if side == "in":
                    d.g.edge(node_id, f"_join_{step_id}" if d._joins(step_id) else step_id, **EDGE_CONTEXT)
                else:
                    d.g.edge(step_id, node_id, **EDGE_CONTEXT)


def render_overview(
    compiled: CompiledProcess,
    central: CompiledProcess | None = None,
    href: str = "",
    figures: Figures | None = None,
    format: RenderFormat = "svg",
) -> bytes:
    """``overview_diagram`` rendered, in the render cache by both versions, the links, the figures and format."""
    _check_format(format)
    said = hashlib.sha256(figures.key().encode("utf-8")).hexdigest() if figures else ""
    key = ("overview", compiled.version, central.version if central else "", href, said, format)
    return _cached(key, lambda: render(overview_diagram(compiled, central, href, figures), format))


def render_phase(
    compiled: CompiledProcess,
    phase_id: str,
    central: CompiledProcess | None = None,
    figures: Figures | None = None,
    href: str = "",
    format: RenderFormat = "svg",
) -> bytes:
    """``phase_diagram`` rendered and cached; the figures are part of the key (by a hash: they are many)."""
    _check_format(format)
    said = hashlib.sha256(figures.key().encode("utf-8")).hexdigest() if figures else ""
    key = ("phase", compiled.version, central.version if central else "", phase_id, said, href, format)
    return _cached(key, lambda: render(phase_diagram(compiled, phase_id, central, figures, href), format))


__all__ = ["SCALE", "Figures", "overview_diagram", "phase_diagram", "render_overview", "render_phase"]
