"""BPMN 2.0 export: ``CompiledProcess`` -> a BPMN document (XML text), one per district.

Made from the diagram model (``diagram.py``), not from the YAML, so the model
is what the engine runs, and its gateways, lanes and loops are the ones the
Graphviz views draw.  The document holds:

* a ``collaboration`` with one ``participant`` (the district administration, or
  the city for the central process) and its ``process`` (``bpmn_process_id``);
* a ``laneSet`` with one lane per responsible unit, named with the unit's
  Swedish label (for the central process, where nothing is bound, one lane per
  role); every flow node is in exactly one lane: a step in its unit's, a
  gateway or end event after a step in that step's, a gateway before a step and
  the start event in that step's;
* a ``userTask`` per step, id = the step id, name = its Swedish label; the
  documentation says who does it, the deadline, the guarantee, the legal basis,
  local changes and notes.  A per-child step (``for_each: child``) carries a
  parallel ``multiInstanceLoopCharacteristics`` whose ``loopCardinality``
  counts the children it repeats for;
* one ``startEvent`` (``start-event``) before the start step, and an
  ``endEvent`` after every step without a way on (``<step>-end``); a closing
  step's end event is a terminate end event named with the closure reason;
* gateways.  A step that branches (more than one way on, or a conditional one)
  stays a task and is followed by a diverging gateway of its kind
  (``<step>-split``: exclusive, inclusive or parallel); a step with more than
  one way in is preceded by a converging gateway (``<step>-join``): inclusive
  for ``join: all`` (BPMN's inclusive join waits for the branches that were
  started, as the engine does), exclusive for ``join: any`` (the step starts on
  each arrival).  In BPMN a task may not carry the branching itself, and a
  gateway cannot be anyone's work, so the engine's "step that is a gateway"
  becomes a task and a gateway;
* a ``sequenceFlow`` per transition, id ``flow-<source>-<target>`` (from the
  step, or from its split gateway, to the target step or its join gateway);
  the other flows (start event to step, task to its gateways and end event)
  have ids starting ``aux-``.  A flow's name is the transition's Swedish label
  (else its condition); its documentation is the condition as written in the
  process file, the authoritative text.  ``otherwise`` is the gateway's
  default flow.

Conditions.  The engine's condition language is not a BPMN expression
language, so the documentation carries it verbatim.  A conditional gateway's
non-default flows must still have a ``conditionExpression`` (BPMN engines such
as SpiffWorkflow refuse them without), so each carries the same condition in
Python (``language="python"``), over the case's facts as top-level names (the
normalized facts, ``normalize_facts``, where every declared fact is present)
with the condition language's rules: ordering comparisons and ``in`` with a
missing value are false.  An unconditional flow out of an inclusive gateway is
``True``.  After a per-child step the gateway decides once for all children: a
``child.x`` condition holds when it holds for some child the step repeats for.
That and the multi-instance loop are where the model is coarser than the
engine, which follows each child on its own path; due dates, the join rules
for loops (the feeders in ``memo.py``) and pending guarantees are the engine's.

Diagram.  With ``diagram=True`` (the default) a ``BPMNDiagram`` places the
shapes, so the file opens laid out in bpmn.io / Camunda Modeler and similar
tools: columns by the longest path from the start (loops left out), one band
per lane, orthogonal edges.  It is a readable first layout, not a drawn one.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field

import networkx as nx

from .compile import CompiledProcess
from .diagram import Edge, diagram_of
from .language import Expr, Otherwise
from .language import python_source as _py
from .schema import STEP_OPENED, Step

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
for _prefix, _uri in (("bpmn", BPMN), ("bpmndi", BPMNDI), ("dc", DC), ("di", DI), ("xsi", XSI)):
    ET.register_namespace(_prefix, _uri)

CONDITION_LANGUAGE = "python"
CHILDREN = "children"
GATEWAY_TAGS = {"exclusive": "exclusiveGateway", "inclusive": "inclusiveGateway", "parallel": "parallelGateway"}
SPLIT_DOC = {
    "exclusive": "Exakt en väg följs: den vars villkor gäller, annars standardflödet.",
    "inclusive": "Varje väg vars villkor gäller följs.",
    "parallel": "Alla vägar följs.",
}
JOIN_DOC = {
    "all": "Steget väntar in alla grenar som har påbörjats (join: all).",
    "any": "Steget påbörjas när någon gren kommer fram (join: any).",
}


def bpmn_process_id(compiled: CompiledProcess) -> str:
    """The id of the exported ``process`` element, e.g. ``process-farsta``."""
    return f"process-{compiled.name}"


def export_bpmn(compiled: CompiledProcess, diagram: bool = True) -> str:
    """The compiled process as a BPMN 2.0 document (XML text, UTF-8 declared)."""
    model = _Model.of(compiled)
    root = model.xml(compiled, diagram)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --- conditions as Python ---------------------------------------------------------------------


def python_condition(expr: Expr, step: Step | None = None) -> str:
    """A transition's condition as a Python expression over the facts (top-level names).

    Out of a per-child ``step``, the condition holds when it holds for some child
    the step repeats for (``for_each_when``).
    """
    if isinstance(expr, Otherwise):
        raise ValueError("'otherwise' is a default flow, not an expression")
    if step is None or step.for_each != "child":
        return _py(expr)
    admitted = step.for_each_when.ast if step.for_each_when is not None else None  # type: ignore[attr-defined]
    where = f" if {_py(admitted, child='child')}" if admitted is not None else ""
    return f"any({_py(expr, child='child')} for child in ({CHILDREN} or ()){where})"


# --- the model, before it is XML ---------------------------------------------------------------


@dataclass
class _Node:
    id: str
    tag: str
    lane: str
    name: str | None = None
    documentation: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    cardinality: str | None = None  # multi-instance: how many
    terminate: bool = False
    incoming: list[str] = field(default_factory=list)
    outgoing: list[str] = field(default_factory=list)


@dataclass
class _Flow:
    id: str
    source: str
    target: str
    name: str | None = None
    documentation: str | None = None
    condition: str | None = None
    loop: bool = False  # closes a loop: left out of the layout's columns


@dataclass
class _Lane:
    id: str
    name: str
    nodes: list[str] = field(default_factory=list)


@dataclass
class _Model:
    name: str
    label: str
    nodes: dict[str, _Node] = field(default_factory=dict)
    flows: list[_Flow] = field(default_factory=list)
    lanes: dict[str, _Lane] = field(default_factory=dict)

    @classmethod
    def of(cls, compiled: CompiledProcess) -> _Model:
        p = compiled.process
        m = diagram_of(compiled)
        label = p.district.label if p.district else f"{p.process.label} ({p.process.owner})"
        model = cls(compiled.name, label)
        model.lanes = {f"lane-{lane.key}": _Lane(f"lane-{lane.key}", lane.label) for lane in m.lanes.values()}

        def entry(step_id: str) -> str:
            return f"{step_id}-join" if step_id in m.joins else step_id

        model.add(_Node("start-event", "startEvent", f"lane-{m.nodes[m.start].lane}", name="Ärendet aktualiseras"))
        model.flow(_Flow("aux-start", "start-event", entry(m.start)))
        for step_id, step in p.steps.items():
            lane = f"lane-{m.nodes[step_id].lane}"
            join = m.joins.get(step_id)
            if join is not None:
                tag = "inclusiveGateway" if join.kind == "all" else "exclusiveGateway"
                model.add(
                    _Node(
                        f"{step_id}-join", tag, lane, documentation=JOIN_DOC[join.kind], attrs={"gatewayDirection": "Converging"}
                    )
                )
                model.flow(_Flow(f"aux-{step_id}-join", f"{step_id}-join", step_id))
            task = _Node(step_id, "userTask", lane, name=step.label, documentation=_task_documentation(compiled, step_id))
            if step.for_each == "child":
                admitted = step.for_each_when.ast if step.for_each_when is not None else None  # type: ignore[attr-defined]
                where = f" if {_py(admitted, child='child')}" if admitted is not None else ""
                task.cardinality = f"len([child for child in ({CHILDREN} or ()){where}])"
            model.add(task)
            if m.nodes[step_id].end:
                reason = p.closure_reasons.get(step.closure_reason) if step.closure_reason else None
                model.add(_Node(f"{step_id}-end", "endEvent", lane, name=reason, terminate=step.terminal))
                model.flow(_Flow(f"aux-{step_id}-end", step_id, f"{step_id}-end"))
                continue
            split = m.splits.get(step_id)
            source = step_id if split is None else f"{step_id}-split"
            if split is not None:
                attrs = {"gatewayDirection": "Diverging"}
                model.add(_Node(source, GATEWAY_TAGS[split.kind], lane, documentation=SPLIT_DOC[split.kind], attrs=attrs))
                model.flow(_Flow(f"aux-{step_id}-split", step_id, source))
            for edge in m.outgoing[step_id]:
                name = edge.transition.label or (str(edge.transition.when) if edge.kind == "when" else None)
                flow = _Flow(
                    f"flow-{step_id}-{edge.target}", source, entry(edge.target), name, _flow_documentation(edge), loop=edge.loop
                )
                if split is not None and split.kind != "parallel":
                    if edge.kind == "otherwise":
                        model.nodes[source].attrs["default"] = flow.id
                    else:
                        flow.condition = "True" if edge.condition is None else python_condition(edge.condition, step)
                model.flow(flow)
        model.wire()
        return model

    def add(self, node: _Node) -> None:
        if node.id in self.nodes:
            raise ValueError(f"two BPMN elements with id {node.id!r}")
        self.nodes[node.id] = node
        self.lanes[node.lane].nodes.append(node.id)

    def flow(self, flow: _Flow) -> None:
        self.flows.append(flow)

    def wire(self) -> None:
        for flow in self.flows:
            self.nodes[flow.source].outgoing.append(flow.id)
            self.nodes[flow.target].incoming.append(flow.id)

    # --- XML ---

    def xml(self, compiled: CompiledProcess, diagram: bool) -> ET.Element:
        process_id = bpmn_process_id(compiled)
        collaboration_id = f"collaboration-{self.name}"
        participant_id = f"participant-{self.name}"
        root = ET.Element(
            _q(BPMN, "definitions"),
            {
                "id": f"definitions-{self.name}",
                "targetNamespace": "urn:brytupp:bpmn",
                "exporter": "brytupp",
                "exporterVersion": compiled.version,
            },
        )
        collaboration = ET.SubElement(root, _q(BPMN, "collaboration"), id=collaboration_id)
        ET.SubElement(collaboration, _q(BPMN, "participant"), id=participant_id, name=self.label, processRef=process_id)
        process = ET.SubElement(
            root, _q(BPMN, "process"), id=process_id, name=compiled.process.process.label, isExecutable="true"
        )
        _documentation(process, f"{compiled.process.process.label}, {self.label}; processversion {compiled.version}.")
        lane_set = ET.SubElement(process, _q(BPMN, "laneSet"), id=f"lanes-{self.name}")
        for lane in self.lanes.values():
            element = ET.SubElement(lane_set, _q(BPMN, "lane"), id=lane.id, name=lane.name)
            for node_id in lane.nodes:
                ET.SubElement(element, _q(BPMN, "flowNodeRef")).text = node_id
        for node in self.nodes.values():
            self._node_xml(process, node)
        for flow in self.flows:
            attrs = {"id": flow.id, "sourceRef": flow.source, "targetRef": flow.target}
            if flow.name:
                attrs["name"] = flow.name
            element = ET.SubElement(process, _q(BPMN, "sequenceFlow"), attrs)
            if flow.documentation:
                _documentation(element, flow.documentation)
            if flow.condition is not None:
                _expression(element, "conditionExpression", flow.condition)
        if diagram:
            _Layout(self).xml(root, collaboration_id, participant_id)
        return root

    def _node_xml(self, process: ET.Element, node: _Node) -> None:
        attrs = {"id": node.id, **({"name": node.name} if node.name else {}), **node.attrs}
        element = ET.SubElement(process, _q(BPMN, node.tag), attrs)
        if node.documentation:
            _documentation(element, node.documentation)
        for flow_id in node.incoming:
            ET.SubElement(element, _q(BPMN, "incoming")).text = flow_id
        for flow_id in node.outgoing:
            ET.SubElement(element, _q(BPMN, "outgoing")).text = flow_id
        if node.cardinality is not None:
            loop = ET.SubElement(element, _q(BPMN, "multiInstanceLoopCharacteristics"), isSequential="false")
            _expression(loop, "loopCardinality", node.cardinality)
        if node.terminate:
            ET.SubElement(element, _q(BPMN, "terminateEventDefinition"), id=f"{node.id}-terminate")


def _q(namespace: str, tag: str) -> str:
    return f"{{{namespace}}}{tag}"


def _documentation(parent: ET.Element, text: str) -> None:
    ET.SubElement(parent, _q(BPMN, "documentation"), textFormat="text/plain").text = text


def _expression(parent: ET.Element, tag: str, text: str) -> None:
    element = ET.SubElement(parent, _q(BPMN, tag), {_q(XSI, "type"): "bpmn:tFormalExpression", "language": CONDITION_LANGUAGE})
    element.text = text


def _flow_documentation(edge: Edge) -> str | None:
    lines = []
    if edge.kind == "otherwise":
        lines.append("Villkor: otherwise (när inget annat villkor gäller)")
    elif edge.kind == "when":
        lines.append(f"Villkor: {edge.transition.when}")
    if edge.transition.note:
        lines.append(edge.transition.note)
    return "\n".join(lines) or None


def _task_documentation(compiled: CompiledProcess, step_id: str) -> str:
    p = compiled.process
    step = p.steps[step_id]
    lines = []
    if step.description:
        lines.append(" ".join(step.description.split()))
    unit = p.unit_for(step_id)
    role = p.roles[step.role].label if step.role and step.role in p.roles else step.role
    if unit is not None:
        lines.append(f"Ansvarig enhet: {unit.label} (roll: {role}).")
    elif role:
        lines.append(f"Ansvarig roll: {role}.")
    if step.deadline is not None:
        d = step.deadline
        event = "steget öppnas" if d.from_ == STEP_OPENED else p.events[d.from_].label.lower() if d.from_ in p.events else d.from_
        lines.append(f"Tidsfrist: {d.within} från {event}." + (f" {' '.join(d.note.split())}" if d.note else ""))
    if step.intervention is not None:
        label = p.interventions[step.intervention].label if step.intervention in p.interventions else step.intervention
        lines.append(f"{'Garanterad insats' if step.guaranteed else 'Insats'}: {label}.")
    elif step.guaranteed:
        lines.append("Garanterat steg: ingen stadsdel får ta bort eller försvaga det.")
    if step.for_each == "child":
        lines.append("Görs för varje barn" + (f" där {step.for_each_when}." if step.for_each_when else "."))
    if step.legal:
        lines.append("Lagrum: " + "; ".join(ref.ref + (f" ({ref.note})" if ref.note else "") for ref in step.legal) + ".")
    if step_id in p.local_steps:
        lines.append("Lokalt steg i stadsdelen.")
    elif step_id in p.changed_steps:
        lines.append("Ändrat av stadsdelen.")
    if step_id in p.step_notes:
        lines.append("Lokal anvisning: " + " ".join(p.step_notes[step_id].split()))
    if step_id in p.step_contacts:
        lines.append("Kontakter: " + ", ".join(p.contacts[c].label for c in p.step_contacts[step_id] if c in p.contacts) + ".")
    if step.terminal and step.closure_reason:
        lines.append(f"Avslutar ärendet: {p.closure_reasons.get(step.closure_reason, step.closure_reason)}.")
    return "\n".join(lines)


# --- the diagram ------------------------------------------------------------------------------

SIZES = {"userTask": (140.0, 80.0), "startEvent": (36.0, 36.0), "endEvent": (36.0, 36.0)}
GATEWAY_SIZE = (50.0, 50.0)
COLUMN, ROW = 190.0, 110.0
POOL_LABEL, LANE_LABEL, PAD = 30.0, 30.0, 10.0
ORIGIN = (100.0, 60.0)

Box = tuple[float, float, float, float]  # x, y, width, height


class _Layout:
    """Columns by longest path from the start (loop-back flows left out), one band per lane."""

    def __init__(self, model: _Model) -> None:
        self.model = model
        graph: nx.DiGraph = nx.DiGraph()
        graph.add_nodes_from(model.nodes)
        graph.add_edges_from((f.source, f.target) for f in model.flows)
        dag = graph.copy()
        dag.remove_edges_from((f.source, f.target) for f in model.flows if f.loop)
        rank: dict[str, int] = {}
        for node in nx.topological_sort(dag):
            rank[node] = max((rank[u] + 1 for u in dag.predecessors(node)), default=0)
        self.rank = rank
        lanes = sorted(model.lanes.values(), key=lambda lane: min(rank[n] for n in lane.nodes) if lane.nodes else 0)
        self.boxes: dict[str, Box] = {}
        self.lane_boxes: dict[str, Box] = {}
        width = POOL_LABEL + LANE_LABEL + (max(rank.values(), default=0) + 1) * COLUMN
        y = ORIGIN[1]
        for lane in lanes:
            slots: dict[int, int] = defaultdict(int)
            placed: list[tuple[str, int, int]] = []
            for node_id in lane.nodes:
                r = rank[node_id]
                placed.append((node_id, r, slots[r]))
                slots[r] += 1
            height = max(slots.values(), default=1) * ROW + 2 * PAD
            for node_id, r, slot in placed:
                w, h = SIZES.get(model.nodes[node_id].tag, GATEWAY_SIZE)
                cx = ORIGIN[0] + POOL_LABEL + LANE_LABEL + r * COLUMN + COLUMN / 2
                cy = y + PAD + slot * ROW + ROW / 2
                self.boxes[node_id] = (cx - w / 2, cy - h / 2, w, h)
            self.lane_boxes[lane.id] = (ORIGIN[0] + POOL_LABEL, y, width - POOL_LABEL, height)
            y += height
        self.pool: Box = (ORIGIN[0], ORIGIN[1], width, y - ORIGIN[1])

    def waypoints(self, flow: _Flow) -> list[tuple[float, float]]:
        sx, sy, sw, sh = self.boxes[flow.source]
        tx, ty, tw, th = self.boxes[flow.target]
        scy, tcy = sy + sh / 2, ty + th / 2
        if tx > sx + sw:  # forwards: out on the right, in on the left
            if scy == tcy:
                return [(sx + sw, scy), (tx, tcy)]
            mid = tx - (tx - sx - sw) / 2
            return [(sx + sw, scy), (mid, scy), (mid, tcy), (tx, tcy)]
        below = max(sy + sh, ty + th) + PAD * 2  # backwards: round underneath
        return [(sx + sw / 2, sy + sh), (sx + sw / 2, below), (tx + tw / 2, below), (tx + tw / 2, ty + th)]

    def xml(self, root: ET.Element, collaboration_id: str, participant_id: str) -> None:
        diagram = ET.SubElement(root, _q(BPMNDI, "BPMNDiagram"), id=f"diagram-{self.model.name}")
        plane = ET.SubElement(diagram, _q(BPMNDI, "BPMNPlane"), id=f"plane-{self.model.name}", bpmnElement=collaboration_id)
        _shape(plane, participant_id, self.pool, isHorizontal="true")
        for lane_id, box in self.lane_boxes.items():
            _shape(plane, lane_id, box, isHorizontal="true")
        for node_id, box in self.boxes.items():
            extra = {"isMarkerVisible": "true"} if self.model.nodes[node_id].tag == "exclusiveGateway" else {}
            _shape(plane, node_id, box, **extra)
        for flow in self.model.flows:
            edge = ET.SubElement(plane, _q(BPMNDI, "BPMNEdge"), id=f"{flow.id}-di", bpmnElement=flow.id)
            for x, y in self.waypoints(flow):
                ET.SubElement(edge, _q(DI, "waypoint"), x=_num(x), y=_num(y))


def _shape(plane: ET.Element, element: str, box: Box, **attrs: str) -> None:
    shape = ET.SubElement(plane, _q(BPMNDI, "BPMNShape"), {"id": f"{element}-di", "bpmnElement": element, **attrs})
    x, y, w, h = box
    ET.SubElement(shape, _q(DC, "Bounds"), x=_num(x), y=_num(y), width=_num(w), height=_num(h))


def _num(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


__all__ = ["bpmn_process_id", "export_bpmn", "python_condition"]
