"""SpiffWorkflow as the peer of decide(): the same decision as BPMN, run by a BPMN engine.

``bpmn_xml(compiled)`` writes a compiled process as one BPMN process:

* every step is a ``userTask`` (id = step id), so the open steps are the READY user tasks;
* a step with more than one way on, or a conditional one, is followed by a diverging
  gateway of its kind (exclusive, inclusive, parallel); each condition becomes a
  ``conditionExpression`` in Python, ``otherwise`` the gateway's default flow, and a
  gateway without ``otherwise`` gets a default flow to an end event (when nothing holds,
  nothing opens, as in decide());
* a ``join: all`` step with several incoming flows is preceded by a converging
  inclusive gateway (BPMN's inclusive join, which is what decide() plays);
* a closing step leads to a terminate end event, which ends the case.

Conditions are Python over the normalized facts as top-level names, as the BPMN export
writes them (``engine.bpmn.python_condition``, with the condition language's rules for
missing facts); SpiffWorkflow's script engine ``eval``s them.

``SpiffPeer.open_steps`` does per decision what decide() does: it creates a workflow from the
parsed spec (parsed once, as the process is compiled once), gives it the case's facts,
completes the case's completed steps in date order (each time running the engine steps,
so gateways evaluate their conditions) and reads the READY user tasks.

Where the comparison is not exact:

* per-child steps are one task for all children, not one per child: a per-child
  condition (``child.age >= 6``) holds when it holds for any child the step repeats
  for.  The peer does less work than decide() there;
* decide() also works out, and the peer does not: which joins wait and for what,
  due dates and overdue flags, units and contacts, the reasons, the pending
  guarantees, and building the Decision document;
* the peer routes with the current facts only (the cases it is compared on have no history);
* SpiffWorkflow's task tree keeps one task per arrival: where two branches arrive at one
  step, completing that step completes every READY task of it, as decide() does;
* a completed step that is not READY in the peer (the peer's routing differs, see above)
  is skipped.  The benchmark prints how often the peer's open steps agree with decide()'s.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.util.task import TaskState

from engine import CaseState, CompiledProcess
from engine.bpmn import python_condition
from engine.compile import back_edges
from engine.language import Otherwise

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ET.register_namespace("bpmn", BPMN)


# --- the process as BPMN -----------------------------------------------------------


def bpmn_xml(compiled: CompiledProcess) -> tuple[str, str]:
    """``(process id, BPMN document)`` for a compiled process."""
    process_id = f"brytupp_{compiled.name}"
    definitions = ET.Element(f"{{{BPMN}}}definitions", id="brytupp", targetNamespace="https://brytupp.example/bpmn")
    process = ET.SubElement(definitions, f"{{{BPMN}}}process", id=process_id, isExecutable="true")
    flows = _Flows(process)
    ET.SubElement(process, f"{{{BPMN}}}startEvent", id="start")
    flows.add("start", _entry(compiled, compiled.process.start))
    for step_id, step in compiled.process.steps.items():
        ET.SubElement(process, f"{{{BPMN}}}userTask", id=step_id, name=step.label)
        if step.join == "all" and compiled.graph.in_degree(step_id) > 1:
            ET.SubElement(process, f"{{{BPMN}}}inclusiveGateway", id=f"{step_id}__join")
            flows.add(f"{step_id}__join", step_id)
        _way_on(compiled, step_id, flows)
    return process_id, ET.tostring(definitions, encoding="unicode")


def _entry(compiled: CompiledProcess, step_id: str) -> str:
    """Where a flow into ``step_id`` goes: its join gateway if it has one."""
    join = compiled.step(step_id).join == "all" and compiled.graph.in_degree(step_id) > 1
    return f"{step_id}__join" if join else step_id


def _way_on(compiled: CompiledProcess, step_id: str, flows: _Flows) -> None:
    step = compiled.step(step_id)
    outgoing = compiled.outgoing(step_id)
    if not outgoing:
        flows.end(step_id, terminate=step.terminal)
        return
    if len(outgoing) == 1 and outgoing[0][2] is None:
        flows.add(step_id, _entry(compiled, outgoing[0][0]))
        return
    kind = {"exclusive": "exclusiveGateway", "inclusive": "inclusiveGateway", "parallel": "parallelGateway"}[step.gateway]
    gateway = ET.SubElement(flows.process, f"{{{BPMN}}}{kind}", id=f"{step_id}__split")
    flows.add(step_id, gateway.get("id", ""))
    default = None
    for target, _, cond in outgoing:
        if isinstance(cond, Otherwise):
            default = flows.add(gateway.get("id", ""), _entry(compiled, target))
        elif step.gateway == "parallel":
            flows.add(gateway.get("id", ""), _entry(compiled, target))
        else:
            flows.add(gateway.get("id", ""), _entry(compiled, target), "True" if cond is None else python_condition(cond, step))
    if step.gateway != "parallel":
        gateway.set("default", default or flows.end(gateway.get("id", ""), terminate=False))


class _Flows:
    def __init__(self, process: ET.Element) -> None:
        self.process = process
        self.count = 0

    def add(self, source: str, target: str, condition: str | None = None) -> str:
        self.count += 1
        flow_id = f"flow_{self.count}"
        flow = ET.SubElement(self.process, f"{{{BPMN}}}sequenceFlow", id=flow_id, sourceRef=source, targetRef=target)
        if condition is not None:
            ET.SubElement(flow, f"{{{BPMN}}}conditionExpression").text = condition
        return flow_id

    def end(self, source: str, terminate: bool) -> str:
        end = ET.SubElement(self.process, f"{{{BPMN}}}endEvent", id=f"{source}__end")
        if terminate:  # a closing step ends the case, whatever else is open
            ET.SubElement(end, f"{{{BPMN}}}terminateEventDefinition")
        return self.add(source, end.get("id", ""))


# --- running it -----------------------------------------------------------------------


class SpiffPeer:
    """The compiled process as a SpiffWorkflow spec, parsed once."""

    def __init__(self, compiled: CompiledProcess) -> None:
        process_id, self.xml = bpmn_xml(compiled)
        parser = BpmnParser()
        parser.add_bpmn_str(self.xml.encode("utf-8"))
        self.spec = parser.get_spec(process_id)
        self._hide_loops_from_joins(compiled)

    def _hide_loops_from_joins(self, compiled: CompiledProcess) -> None:
        """BPMN's inclusive join waits for any token that can still reach it, round loops too; on this
        process two joins then wait for each other for ever (needs_assessment is reachable from
        follow_up through the reassessment loop, and the other way round).  decide() waits only for
        branches that reach a join without a loop (its feeders, ``engine/memo.py``).  Taking the loop-back flows out
        of their targets' ``inputs``, which is what the join looks back along, gives SpiffWorkflow that
        rule; tokens still travel along them (``outputs``)."""
        specs = self.spec.task_specs
        for source, target in back_edges(compiled.graph, compiled.process.start):
            source_spec = specs.get(f"{source}__split") or specs[source]
            target_spec = specs[_entry(compiled, target)]
            target_spec.inputs = [spec for spec in target_spec.inputs if spec is not source_spec]

    def open_steps(self, state: CaseState, facts: Mapping[str, Any]) -> set[str]:
        """The READY user tasks after completing the case's completed steps in date order."""
        workflow = BpmnWorkflow(self.spec)
        workflow.get_tasks(state=TaskState.READY)[0].set_data(**facts)
        workflow.do_engine_steps()
        for done in sorted(state.completed, key=lambda d: d.on):
            ready = workflow.get_tasks(state=TaskState.READY, manual=True, spec_name=done.step)
            for task in ready:
                task.run()
            if ready:
                workflow.do_engine_steps()
        return {task.task_spec.name for task in workflow.get_tasks(state=TaskState.READY, manual=True)}
