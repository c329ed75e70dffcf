"""Stage 3: the effective process as a networkx graph with a content-hash version."""

from __future__ import annotations

from collections.abc import Callable

from engine import CompiledProcess
from engine.compile import back_edges
from tests.conftest import MINI


def test_graph_holds_every_step_and_transition_in_file_order(central: Callable[..., CompiledProcess]) -> None:
    c = central()
    assert set(c.graph) == {"intake", "triage", "advice", "closed"}
    assert [target for target, _, _ in c.outgoing("intake")] == ["advice", "triage"]
    _, _, condition = c.outgoing("intake")[0]
    assert str(condition) == "risk_level == 'high'"


def test_district_nodes_carry_their_unit(district: Callable[..., CompiledProcess]) -> None:
    c = district()
    assert c.graph.nodes["advice"]["unit"] == "rvt_testby"


def test_version_is_stable_for_the_same_content_and_ignores_layout(central: Callable[..., CompiledProcess]) -> None:
    first = central().version
    assert central().version == first
    assert central("# a comment moves every line\n" + MINI).version == first


def test_version_changes_with_what_the_engine_runs(central: Callable[..., CompiledProcess]) -> None:
    first = central().version
    assert central(MINI.replace("within: 7d", "within: 6d")).version != first
    assert central(MINI.replace("'high'", "'medium'")).version != first


def test_two_districts_get_different_versions(district: Callable[..., CompiledProcess]) -> None:
    a = district()
    b = district("steps:\n  triage: {role: rvt}\n")
    assert a.version != b.version


def test_back_edges_close_a_loop_on_the_depth_first_path_from_the_start() -> None:
    successors = {"a": ["b"], "b": ["c", "a"], "c": ["b", "d"], "d": []}
    assert back_edges(successors, "a") == [("c", "b"), ("b", "a")]
    assert back_edges(successors, "d") == [] and back_edges(successors, "nowhere") == []


def test_a_version_builds_its_tables_once(central: Callable[..., CompiledProcess]) -> None:
    c = central()
    assert c.tables is c.tables
    assert [route.target for route in c.tables.steps["intake"].routes] == [target for target, _, _ in c.outgoing("intake")]
