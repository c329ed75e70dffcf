"""The diagram model (engine/diagram.py): gateways, loops, phases, lanes and origins, and that both notations draw it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest

from engine import CaseState, CompiledProcess, build, decide, export_bpmn, process_diagram
from engine.diagram import CasePath, changes, diagram_of
from tests.conftest import MINI, ROOT
from tests.engine.test_render import OVERRIDE_REDIRECT

Central = Callable[..., CompiledProcess]
District = Callable[..., CompiledProcess]

ADVICE_NEXT = "    next:\n      closed:\n"
assert MINI.count(ADVICE_NEXT) == 1
# advice may send the client back to intake: a loop, and a second way into the start step
LOOPING = MINI.replace(
    ADVICE_NEXT, "    next:\n      closed:\n      intake: {when: \"risk_level == 'high'\", label: Ny bedömning}\n"
)


def test_the_mini_process(central: Central) -> None:
    m = diagram_of(central())
    assert list(m.nodes) == ["intake", "triage", "advice", "closed"]
    assert [(e.source, e.target, e.kind) for e in m.edges] == [
        ("intake", "advice", "when"),
        ("intake", "triage", "otherwise"),
        ("triage", "advice", "always"),
        ("advice", "closed", "always"),
    ]
    assert [e.text for e in m.edges] == ["risk_level == 'high'", "annars", None, None]
    # a split where the step chooses; a single unconditional way on is none
    assert list(m.splits) == ["intake"]
    assert m.splits["intake"].kind == "exclusive" and m.splits["intake"].choice
    # a join where two ways lead in; join: any starts the step on each arrival, so nothing waits
    assert list(m.joins) == ["advice"]
    assert m.joins["advice"].sources == ("intake", "triage") and not m.joins["advice"].waits
    assert not m.loops and not any(e.loop for e in m.edges)
    closed = m.nodes["closed"]
    assert closed.kind == "terminal" and closed.end and closed.phase == "closure"
    assert m.nodes["advice"].guaranteed and not m.nodes["intake"].guaranteed


def test_phases_and_the_flows_between_them(central: Central) -> None:
    m = diagram_of(central())
    assert [(p.id, p.number, p.label, p.steps) for p in m.phases.values()] == [
        ("intake", 1, "Mottagning", ("intake", "triage")),
        ("support", 2, "Stöd", ("advice",)),
        ("closure", 3, "Avslut", ("closed",)),
    ]
    flows = m.phase_flows()
    assert list(flows) == [("intake", "support"), ("support", "closure")]
    assert [(e.source, e.target) for e in flows[("intake", "support")]] == [("intake", "advice"), ("triage", "advice")]


def test_a_loop_back_is_marked_and_the_start_counts_as_a_way_in(central: Central) -> None:
    m = diagram_of(central(LOOPING))
    assert m.loops == {("advice", "intake")}
    assert [e.target for e in m.edges if e.loop] == ["intake"]
    assert m.splits["advice"].kind == "inclusive" and m.splits["advice"].choice
    join = m.joins["intake"]
    assert join.from_start and join.sources == ("advice",) and not join.waits
    assert m.phase_flows()[("support", "intake")][0].text == "Ny bedömning"


def test_a_join_all_waits_only_with_two_transitions_in(central: Central) -> None:
    text = MINI.replace("    gateway: inclusive\n", "    gateway: inclusive\n    join: all\n")
    assert diagram_of(central(text)).joins["advice"].waits


def test_lanes_are_units_in_a_district_and_roles_in_the_city(central: Central, district: District) -> None:
    city = diagram_of(central())
    assert [(lane.key, lane.label) for lane in city.lanes.values()] == [
        ("intake", "Mottagning"),
        ("rvt", "Relationsvåldsteam"),
        ("none", "Utan ansvarig"),
    ]
    assert city.nodes["intake"].unit is None and city.nodes["closed"].lane == "none"
    testby = diagram_of(district())
    assert [(lane.key, lane.label) for lane in testby.lanes.values()][:2] == [
        ("mottagningen", "Mottagningen"),
        ("rvt_testby", "Relationsvåldsteamet"),
    ]
    assert testby.nodes["advice"].unit == "rvt_testby" and testby.nodes["advice"].role == "rvt"


def test_origins_say_what_the_district_added_changed_and_redirected(district: District) -> None:
    compiled = district(OVERRIDE_REDIRECT)
    m = diagram_of(compiled)
    assert m.nodes["local_check"].origin == "local"
    assert m.nodes["triage"].origin == "changed"
    assert m.nodes["intake"].origin == "central"
    edges = {(e.source, e.target): e for e in m.edges}
    assert edges[("triage", "local_check")].origin == "redirect"
    assert edges[("triage", "local_check")].replaces == "advice"
    assert edges[("local_check", "advice")].origin == "local"
    assert edges[("intake", "advice")].origin == "central"
    # without a base, the marks are the model's; against the central process, compare's words
    marks = changes(compiled)
    assert marks.local == {"local_check"} and marks.changed == {"triage": []}
    assert marks.redirects == {("triage", "local_check"): "advice"}
    assert marks.local_edges == {("local_check", "advice")}


def test_changes_against_a_base_say_what_changed(district: District, central: Central) -> None:
    marks = changes(district(OVERRIDE_REDIRECT), central())
    assert marks.local == {"local_check"}
    assert any("tidsfrist" in text for text in marks.changed["triage"])
    assert marks.redirects == {("triage", "local_check"): "advice"}


def test_the_model_is_built_once_per_version(central: Central) -> None:
    first = central()
    assert diagram_of(first) is diagram_of(first)
    assert diagram_of(central()) is diagram_of(first)  # another load, the same content
    assert diagram_of(central(LOOPING)) is not diagram_of(first)


# --- the real processes: both notations draw the model's gateways and loops ---------------------

REAL = build([ROOT / "processes", ROOT / "local_overrides"])
CENTRAL = REAL.central["bryt_upp"].compiled
assert CENTRAL is not None
ALL = {name: built.compiled for name, built in sorted(REAL.districts.items()) if built.compiled is not None}
ALL["bryt_upp"] = CENTRAL


@pytest.mark.parametrize("name", sorted(ALL))
def test_graphviz_and_bpmn_draw_the_models_gateways(name: str) -> None:
    compiled = ALL[name]
    m = diagram_of(compiled)
    assert len(m.edges) == compiled.graph.number_of_edges()
    assert m.loops, "the real process loops back (follow-up to a new assessment)"
    source = process_diagram(compiled).source
    assert set(re.findall(r"^\t+_gw_(\w+) \[", source, re.M)) == {s for s, split in m.splits.items() if split.choice}
    assert set(re.findall(r"^\t+_join_(\w+) \[", source, re.M)) == {s for s, join in m.joins.items() if join.waits}
    for u, v in m.loops:
        edge = next(line for line in source.splitlines() if re.match(rf"\t+(_gw_)?{u} -> (_join_)?{v} ", line))
        assert "constraint=false" in edge and "loop" in edge
    xml = export_bpmn(compiled, diagram=False)
    assert set(re.findall(r'id="(\w+)-split"', xml)) == set(m.splits)
    assert set(re.findall(r'id="(\w+)-join"', xml)) == set(m.joins)
    assert set(re.findall(r'id="lane-(\w+)"', xml)) == set(m.lanes)


def test_a_case_path_says_where_each_step_stands() -> None:
    compiled = ALL["jarva"]
    state = CaseState(
        facts={"entry_channel": "police", "risk_level": "high", "age": 34, "report_received": "2025-03-01"},
        opened=dt.date(2025, 3, 1),
        today=dt.date(2025, 3, 20),
        completed=[{"step": "actualisation", "on": "2025-03-01"}, {"step": "intake_registration", "on": "2025-03-01"}],
    )
    decision = decide(compiled, state)
    path = CasePath.of(decision, state)
    assert path.status("actualisation") == "done" and path.reached("actualisation")
    assert path.status("closed_declined") == "not-reached" and not path.reached("closed_declined")
    for step in decision.next_steps:
        assert path.status(step.step) == ("overdue" if step.overdue else "open")
