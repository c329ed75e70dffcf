"""Process diagrams with Graphviz: ``CompiledProcess`` -> ``graphviz.Digraph`` -> SVG, PNG or PDF.

Every view is drawn from the diagram model (``diagram.py``, built once per
compiled process), never from the YAML, so the picture is what the engine
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

The pages open on two smaller pictures instead of the whole process, ``overview.py``'s
overview by phase and a phase's view (with live figures per step).

How it is drawn (``dot.py``): left to right, one cluster per phase in phase
order, steps as rounded boxes (node id = step id), a start circle, and
BPMN-like diamonds where a step branches (``×`` exactly one way, ``○`` every
way whose condition holds, ``+`` all ways) or where a ``join: all`` step waits
for every branch (``+``); the conditions are the edge labels (the
transition's Swedish ``label``, else the condition as written, ``annars`` for
``otherwise``).  Transitions that loop back do not constrain the layout.
Every view has a legend (``Teckenförklaring``).  Output is deterministic:
steps and transitions in process order, attributes sorted, so the DOT source
can be kept as a golden file.  SVG elements carry ``class`` names (``step``,
``local``, ``changed``, ``guaranteed``, ``done``, ``open``, ``overdue``…) for
the web pages.

``render(diagram, format)`` runs ``dot``; ``render_process``, ``render_changes`` and
``render_case`` are the cached entry points: keyed by the process version (and
the central one's), view and format, the case view also by a hash of the
decision and the completed steps, in a bounded ``LruCache`` of ``CACHE_SIZE`` entries.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Literal, NamedTuple

import graphviz

from .cache import LruCache
from .case import CaseState
from .compare import deadline_sv, duration_sv
from .compile import CompiledProcess
from .decide import Decision, NextStep
from .diagram import CasePath, changes, diagram_of
from .dot import (
    CHANGED,
    CONTEXT,
    DONE,
    EDGE_CONTEXT,
    EDGE_LOCAL,
    EDGE_REDIRECT,
    EDGE_REMOVED,
    EDGE_TRAVELLED,
    GUARANTEED,
    IN_DRAFT,
    LOCAL,
    LOCALLY,
    NOT_REACHED,
    NOTED,
    OPEN,
    OVERDUE,
    REMOVED,
    REVIEW,
    SMALL,
    TERMINAL,
    WAITING,
    WRAP,
    Drawing,
    Look,
    Words,
    base_attrs,
    html_label,
    local_edge,
    marked,
    step_lines,
    title_lines,
    tooltip,
    wrap,
)

RenderFormat = Literal["svg", "png", "pdf"]
ProcessView = Literal["process", "diff"]
FORMATS: tuple[RenderFormat, ...] = ("svg", "png", "pdf")
CACHE_SIZE = 64


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


# --- the views ----------------------------------------------------------------------


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
    ch = changes(compiled, central)
    title = title_lines(compiled, "processen som den körs" if district else "stadsövergripande process")
    if ch.removed:
        steps = central.process.steps if central else {}
        title.append("Borttaget lokalt: " + ", ".join(steps[s].label if s in steps else s for s in ch.removed))
    d = Drawing(compiled, title, compiled.name)
    shown = list(p.steps)
    d.steps(shown, lambda step_id: marked(p, ch, step_id, LOCALLY, "Lokal anvisning", noted_style=False))
    d.transitions(shown, local_edge(ch))
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


def _change_view(compiled: CompiledProcess, base: CompiledProcess, words: Words) -> graphviz.Digraph:
    p, b = compiled.process, base.process
    m, before = diagram_of(compiled), diagram_of(base)
    ch = changes(compiled, base)
    structural = set(ch.local) | set(ch.changed)
    context: set[str] = set()
    for step_id in structural:
        context.update(m.sources[step_id])
        context.update(m.targets(step_id))
    for u, v in ch.local_edges | set(ch.redirects) | ch.removed_edges:
        context.update((u, v))
    removed_edges: list[tuple[str, str]] = sorted(ch.removed_edges)
    for step_id in ch.removed:
        removed_edges.extend((u, step_id) for u in before.sources[step_id])
        removed_edges.extend((step_id, v) for v in before.targets(step_id))
        context.update(u for u, _ in removed_edges if u in p.steps)
        context.update(v for _, v in removed_edges if v in p.steps)
    shown_set = structural | (context & set(p.steps)) | ch.noted | set(ch.review)
    shown = [s for s in p.steps if s in shown_set]
    title = title_lines(compiled, words.what.format(version=base.version))
    d = Drawing(compiled, title, f"{compiled.name}_{words.name}")

    def node(step_id: str) -> Look:
        if step_id in structural or step_id in ch.noted or step_id in ch.review:
            return marked(p, ch, step_id, words, words.noted, noted_style=True)
        attrs = {**base_attrs(p, step_id, ["context"]), **CONTEXT}
        return Look(html_label(*[(line, {}) for line in wrap(p.steps[step_id].label)]), attrs)

    extra: dict[str, list[tuple[str, Look]]] = {}
    for step_id in ch.removed:
        step = b.steps[step_id]
        label = html_label(*[(line, {"B": ""}) for line in wrap(step.label)], (words.removed, {**SMALL, "B": ""}))
        attrs = {**REMOVED, "class": "step removed", "tooltip": tooltip(step.label, step.description)}
        extra.setdefault(step.phase, []).append((step_id, Look(label, attrs)))
    if not shown and not extra:
        d.g.node("_nothing", html_label(words.nothing), shape="plaintext")
    d.steps(shown, node, extra, chain=True)

    def edge(u: str, v: str) -> dict[str, str]:
        return local_edge(ch)(u, v) or {**EDGE_CONTEXT, "class": "transition context"}

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
    path = CasePath.of(decision, state)

    def edge(u: str, v: str) -> dict[str, str]:
        if u in path.done and path.reached(v):
            return {**EDGE_TRAVELLED, "class": "transition travelled"}
        if not path.reached(v):
            return {**EDGE_CONTEXT, "class": "transition not-reached"}
        return {}

    def lead(step_id: str) -> dict[str, str]:
        return dict(EDGE_TRAVELLED) if step_id in path.done else {} if path.reached(step_id) else dict(EDGE_CONTEXT)

    what = f"ärendets väg per {decision.today.isoformat()}"
    if decision.closed:
        what += f" (avslutat: {decision.closure_label or decision.closure_reason})"
    d = Drawing(compiled, title_lines(compiled, what), f"{compiled.name}_case")
    shown = list(p.steps)
    d.steps(shown, lambda step_id: _case_step(compiled, path, step_id))
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


CASE_STYLE = {"overdue": OVERDUE, "open": OPEN, "waiting": WAITING, "done": DONE, "not-reached": NOT_REACHED}


def _case_step(compiled: CompiledProcess, path: CasePath, step_id: str) -> Look:
    p = compiled.process
    status = path.status(step_id)
    pending = step_id in path.pending
    attrs = {**base_attrs(p, step_id, [status] + (["pending"] if pending else [])), **CASE_STYLE[status]}
    if status == "not-reached" and p.steps[step_id].guaranteed:
        attrs["color"] = "#9fa8da"  # still shows the guarantee, faintly
    lines = step_lines(p, step_id)
    lines += _open_lines(path.open.get(step_id, []))
    for s in path.waiting.get(step_id, []):
        names = ", ".join(p.steps[w].label if w in p.steps else w for w in s.waiting_for)
        lines.extend(
            (line, {"POINT-SIZE": "9", "COLOR": "#0d47a1"}) for line in wrap(f"{_child(s.child)}Väntar på: {names}", WRAP + 6)
        )
    for item in sorted(path.done.get(step_id, []), key=lambda c: (c.on, -1 if c.child is None else c.child)):
        lines.append((f"{_child(item.child)}Klart {item.on.isoformat()}", {"POINT-SIZE": "9", "COLOR": "#1b5e20"}))
    if pending:
        lines.append(("Kvalificerar, inte erbjuden än", {"POINT-SIZE": "9", "COLOR": "#1a237e", "I": ""}))
    return Look(html_label(*lines), attrs)


def _open_lines(steps: list[NextStep]) -> list[str | tuple[str, dict[str, str]]]:
    lines: list[str | tuple[str, dict[str, str]]] = []
    for s in steps:
        due = s.due.isoformat() if s.due else None
        if s.overdue:
            text = f"{_child(s.child)}FÖRSENAT, skulle vara klart {due}"
            lines.append((text, {"POINT-SIZE": "10", "COLOR": "#b71c1c", "B": ""}))
        else:
            text = f"{_child(s.child)}Öppet nu" + (f", senast {due}" if due else "")
            lines.append((text, {"POINT-SIZE": "10", "COLOR": "#0d47a1", "B": ""}))
    return lines


def _child(index: int | None) -> str:
    return "" if index is None else f"Barn {index + 1}: "


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


# Counted here, not in LruCache, which keeps no statistics for the engine's other caches.
_cache: LruCache[tuple[str, ...], bytes] = LruCache(CACHE_SIZE)
_counts = [0, 0]  # hits, misses
_counts_lock = threading.Lock()


def _cached(key: tuple[str, ...], make: Callable[[], bytes]) -> bytes:
    """The rendered bytes under ``key``, or ``make()``'s, kept; rendering happens outside any lock."""
    found = _cache.get(key)
    with _counts_lock:
        _counts[0 if found is not None else 1] += 1
    return found if found is not None else _cache.put(key, make())


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
        return _cached(
            ("diff", compiled.version, central.version, format), lambda: render(diff_diagram(compiled, central), format)
        )
    if view != "process":
        raise ValueError(f"unknown view '{view}'; expected process or diff")
    key = ("process", compiled.version, central.version if central else "", format)
    return _cached(key, lambda: render(process_diagram(compiled, central), format))


def render_changes(new: CompiledProcess, base: CompiledProcess, format: RenderFormat = "svg") -> bytes:
    """``change_diagram`` rendered, cached by both versions and format."""
    _check_format(format)
    return _cached(("changes", new.version, base.version, format), lambda: render(change_diagram(new, base), format))


def decision_hash(decision: Decision, state: CaseState) -> str:
    """What the case view depends on: the decision and the completed steps."""
    text = decision.model_dump_json() + "\n" + state.model_dump_json(include={"completed"})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render_case(compiled: CompiledProcess, decision: Decision, state: CaseState, format: RenderFormat = "svg") -> bytes:
    """``case_diagram`` rendered, cached by process version, a hash of the decision and format."""
    _check_format(format)
    key = ("case", compiled.version, decision_hash(decision, state), format)
    return _cached(key, lambda: render(case_diagram(compiled, decision, state), format))


def render_cache_info() -> RenderCacheInfo:
    with _counts_lock:
        return RenderCacheInfo(_counts[0], _counts[1], len(_cache), _cache.size)


def clear_render_cache() -> None:
    global _cache
    with _counts_lock:
        _cache = LruCache(CACHE_SIZE)
        _counts[:] = [0, 0]


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
