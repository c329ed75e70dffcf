"""BPMN 2.0 export, read back by an independent implementation: SpiffWorkflow's parser with the BPMN XSD."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, BpmnValidator
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.defaults import (
    EndEvent,
    ExclusiveGateway,
    InclusiveGateway,
    ParallelGateway,
    ParallelMultiInstanceTask,
    UserTask,
)
from SpiffWorkflow.util.task import TaskState
from typer.testing import CliRunner

from engine import CaseState, CompiledProcess, bpmn_process_id, build, decide, export_bpmn, normalize_facts
from engine.bpmn import python_condition
from engine.case import CompletedStep
from engine.cli import app
from engine.language import Otherwise, evaluate
from tests.conftest import ROOT
from tests.strategies import facts_of

REAL = build([ROOT / "processes", ROOT / "local_overrides"])
CENTRAL = REAL.central["bryt_upp"].compiled
assert CENTRAL is not None
DISTRICTS = {name: built.compiled for name, built in sorted(REAL.districts.items()) if built.compiled is not None}
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
B = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DC = "{http://www.omg.org/spec/DD/20100524/DC}"
GATEWAYS = (ExclusiveGateway, InclusiveGateway, ParallelGateway)
DAY = dt.date(2025, 3, 3)
KINDS = {"exclusive": ExclusiveGateway, "inclusive": InclusiveGateway, "parallel": ParallelGateway}


def parse(xml: str, compiled: CompiledProcess) -> BpmnProcessSpec:
    """SpiffWorkflow's parser, validating against the BPMN 2.0 XSD it ships."""
    parser = BpmnParser(validator=BpmnValidator())
    parser.add_bpmn_str(xml.encode("utf-8"))
    return parser.get_spec(bpmn_process_id(compiled))


def task_of(spec: BpmnProcessSpec, step_id: str) -> Any:
    """The user task of a step: the step itself, or the instance task of a multi-instance one."""
    task = spec.task_specs[step_id]
    return spec.task_specs[f"{step_id} [child]"] if isinstance(task, ParallelMultiInstanceTask) else task


def steps_after(spec: BpmnProcessSpec, name: str) -> set[str]:
    """The steps a task leads to, through gateways."""
    found: set[str] = set()
    for output in spec.task_specs[name].outputs:
        if isinstance(output, GATEWAYS):
            found |= steps_after(spec, output.name)
        elif not isinstance(output, EndEvent):
            found.add(output.name)
    return found


def unit_label(compiled: CompiledProcess, step_id: str) -> str:
    unit = compiled.process.unit_for(step_id)
    if unit is not None:
        return unit.label
    role = compiled.step(step_id).role
    assert role is not None
    return compiled.process.roles[role].label


ALL = {**DISTRICTS, "bryt_upp": CENTRAL}


def test_all_eleven_districts_are_exported() -> None:
    assert len(DISTRICTS) == 11


@pytest.mark.parametrize("name", sorted(ALL))
def test_export_parses_with_every_step_and_transition(name: str) -> None:
    compiled = ALL[name]
    xml = export_bpmn(compiled)
    spec = parse(xml, compiled)
    p, graph = compiled.process, compiled.graph
    # Every step a user task, by id, with its Swedish label; per-child steps multi-instance.
    for step_id, step in p.steps.items():
        assert step_id in spec.task_specs, step_id
        task = task_of(spec, step_id)
        assert isinstance(task, UserTask), step_id
        assert task.bpmn_name == step.label
        assert isinstance(spec.task_specs[step_id], ParallelMultiInstanceTask) == (step.for_each == "child")
        assert task.lane == unit_label(compiled, step_id), step_id
    # Every transition a flow, and no other way from step to step.
    for step_id in p.steps:
        assert steps_after(spec, step_id) == set(graph.successors(step_id)), step_id
    assert steps_after(spec, "start-event") == {p.start}
    # Gateways of the step's kind; conditions survived in SpiffWorkflow's gateways.
    for step_id, step in p.steps.items():
        outgoing = compiled.outgoing(step_id)
        if len(outgoing) > 1 or (outgoing and outgoing[0][2] is not None):
            gateway = spec.task_specs[f"{step_id}-split"]
            assert type(gateway) is KINDS[step.gateway]
            if step.gateway == "parallel":
                continue
            conditions = {target: c.args[0] for c, target in gateway.cond_task_specs if c is not None}
            for target, _, condition in outgoing:
                entry = f"{target}-join" if f"{target}-join" in spec.task_specs else target
                if isinstance(condition, Otherwise):
                    assert entry not in conditions
                else:
                    expected = "True" if condition is None else python_condition(condition, step)
                    assert conditions[entry] == expected
        if not outgoing:
            (end,) = spec.task_specs[step_id].outputs
            assert isinstance(end, EndEvent)
    # The XML: one flow per transition, named by source and target, the condition as documentation.
    root = ET.fromstring(xml)
    flows = root.findall(".//bpmn:sequenceFlow", NS)
    transition_flows = {f.get("id"): f for f in flows if f.get("id", "").startswith("flow-")}
    assert set(transition_flows) == {f"flow-{a}-{b}" for a, b in graph.edges}
    assert len(flows) == len(set(f.get("id") for f in flows))
    for a, b, data in graph.edges(data=True):
        when = data["transition"].when
        documentation = transition_flows[f"flow-{a}-{b}"].find("bpmn:documentation", NS)
        if when is not None:
            assert documentation is not None and str(when) in (documentation.text or "")
    for expression in root.iter(f"{B}conditionExpression"):
        compile(expression.text or "", "<conditionExpression>", "eval")
    # Lanes: one per responsible unit, every flow node in exactly one.
    lanes = root.findall(".//bpmn:lane", NS)
    assert {lane.get("name") for lane in lanes} == {unit_label(compiled, s) for s in p.steps}
    assert len(lanes) == len({lane.get("name") for lane in lanes})
    refs = [ref.text for lane in lanes for ref in lane.findall("bpmn:flowNodeRef", NS)]
    process = root.find("bpmn:process", NS)
    assert process is not None
    nodes = [e.get("id") for e in process if e.tag.endswith(("Task", "Event", "Gateway"))]
    assert sorted(refs) == sorted(nodes)  # type: ignore[type-var]
    participant = root.find(".//bpmn:participant", NS)
    assert participant is not None and participant.get("processRef") == bpmn_process_id(compiled)


def test_the_diagram_places_every_element_inside_its_lane() -> None:
    compiled = DISTRICTS["jarva"]
    root = ET.fromstring(export_bpmn(compiled))
    bounds = {}
    for shape in root.iter("{http://www.omg.org/spec/BPMN/20100524/DI}BPMNShape"):
        b = shape.find(f"{DC}Bounds")
        assert b is not None
        bounds[shape.get("bpmnElement")] = tuple(float(b.get(k, "0")) for k in ("x", "y", "width", "height"))
    edges = {e.get("bpmnElement") for e in root.iter("{http://www.omg.org/spec/BPMN/20100524/DI}BPMNEdge")}
    assert edges == {f.get("id") for f in root.iter(f"{B}sequenceFlow")}
    for lane in root.iter(f"{B}lane"):
        lx, ly, lw, lh = bounds[lane.get("id")]
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            x, y, w, h = bounds[ref.text]
            assert lx <= x and x + w <= lx + lw and ly <= y and y + h <= ly + lh, ref.text
    plain = export_bpmn(compiled, diagram=False)
    assert "BPMNDiagram" not in plain
    parse(plain, compiled)


CENTRAL_CONDITIONS = [
    (step_id, target, condition)
    for step_id in CENTRAL.process.steps
    for target, _, condition in CENTRAL.outgoing(step_id)
    if condition is not None and not isinstance(condition, Otherwise)
]


@settings(max_examples=300, deadline=None)
@given(raw=facts_of(CENTRAL.process.facts))
def test_python_conditions_decide_as_the_engine_does(raw: dict[str, Any]) -> None:
    facts = normalize_facts(CENTRAL.process.facts, raw)
    for step_id, target, condition in CENTRAL_CONDITIONS:
        step = CENTRAL.step(step_id)
        if step.for_each == "child":
            admitted = step.for_each_when.ast if step.for_each_when is not None else None  # type: ignore[attr-defined]
            children = [c for c in facts["children"] if admitted is None or evaluate(admitted, facts, child=c)]
            expected = any(evaluate(condition, facts, child=c) for c in children)
        else:
            expected = bool(evaluate(condition, facts))
        python = python_condition(condition, step)
        assert bool(eval(python, dict(facts))) == expected, (step_id, target, python)


@pytest.mark.parametrize(
    "raw",
    [
        {"entry_channel": "police", "risk_level": "high", "age": 30, "children": [{"age": 7, "witnessed_violence": True}]},
        {"age": 16, "honour_related": True, "needs": ["financial"]},
    ],
)
def test_spiffworkflow_runs_the_export_to_the_steps_decide_opens(raw: dict[str, Any]) -> None:
    """Not only parsed: SpiffWorkflow plays the first steps and opens what decide() opens."""
    compiled = DISTRICTS["jarva"]
    workflow = BpmnWorkflow(parse(export_bpmn(compiled), compiled))
    facts = normalize_facts(compiled.process.facts, raw)
    workflow.get_tasks(state=TaskState.READY)[0].set_data(**facts)
    workflow.do_engine_steps()
    done: list[str] = []
    for _ in range(3):
        for task in workflow.get_tasks(state=TaskState.READY, manual=True):
            done.append(task.task_spec.name)
            task.run()
        workflow.do_engine_steps()
    assert done == ["actualisation", "intake_registration", "initial_safety_assessment"]
    ready = {t.task_spec.name.removesuffix(" [child]") for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
    state = CaseState(
        facts=raw,
        opened=DAY,
        today=DAY,
        completed=[CompletedStep(step=s, on=DAY) for s in done],
    )
    assert ready == {s.step for s in decide(compiled, state).next_steps}


runner = CliRunner()
PATHS = ["-p", str(ROOT / "processes"), "-p", str(ROOT / "local_overrides")]


def test_command_writes_a_file_and_prints(tmp_path: Path) -> None:
    target = tmp_path / "farsta.bpmn"
    result = runner.invoke(app, ["export-bpmn", "farsta", "-o", str(target), *PATHS])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == export_bpmn(DISTRICTS["farsta"])
    printed = runner.invoke(app, ["export-bpmn", "farsta", *PATHS])
    assert printed.exit_code == 0 and printed.stdout == export_bpmn(DISTRICTS["farsta"])
    assert runner.invoke(app, ["export-bpmn", "atlantis", *PATHS]).exit_code == 2


def test_documentation_carries_units_deadlines_and_local_changes() -> None:
    root = ET.fromstring(export_bpmn(DISTRICTS["farsta"]))
    task = next(t for t in root.iter(f"{B}userTask") if t.get("id") == "child_preliminary_assessment")
    text = task.findtext(f"{B}documentation") or ""
    assert "Tidsfrist: 10d" in text and "Ändrat av stadsdelen" in text and "Ansvarig enhet: Barn och unga, utredning" in text
    loop = task.find(f"{B}multiInstanceLoopCharacteristics")
    assert loop is not None and loop.findtext(f"{B}loopCardinality", "").startswith("len(")
    end = next(e for e in root.iter(f"{B}endEvent") if e.get("id") == "closed_needs_met-end")
    assert end.find(f"{B}terminateEventDefinition") is not None
