"""durable-rules and the plain-Python oracle agree on which conditions hold."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Build, CompiledProcess, build
from engine.case import normalize_facts
from engine.language import RulesError
from engine.rules import DurableMatcher, PythonMatcher, facts_key, rules_of, ruleset_definition
from tests.conftest import ROOT, wrong_in_threads
from tests.strategies import facts_of


@pytest.fixture(scope="module")
def real() -> Build:
    return build([ROOT / "processes", ROOT / "local_overrides"])


REAL = build([ROOT / "processes", ROOT / "local_overrides"])
CENTRAL = REAL.central["bryt_upp"].compiled
JARVA = REAL.districts["jarva"].compiled
assert CENTRAL is not None and JARVA is not None
DURABLE = DurableMatcher()
ORACLE = PythonMatcher()


@settings(max_examples=1500, deadline=None)
@given(facts_of(CENTRAL.process.facts), st.sampled_from([CENTRAL, JARVA]))
def test_durable_rules_and_the_oracle_agree(raw: dict[str, Any], compiled: CompiledProcess) -> None:
    facts = normalize_facts(compiled.process.facts, raw)
    assert DURABLE.match(compiled, facts) == ORACLE.match(compiled, facts)


def test_every_condition_of_every_district_translates(real: Build) -> None:
    for built in real.districts.values():
        assert built.compiled is not None
        rules = ruleset_definition(built.compiled)
        assert len(rules.definition) - 2 + len(rules.never) + len(rules.always) == len(rules_of(built.compiled))


def test_the_ruleset_is_plain_json_named_after_the_version() -> None:
    import json

    rules = ruleset_definition(JARVA)
    assert JARVA.version in rules.name
    json.dumps(rules.definition)


def test_comparing_two_facts_is_refused_by_the_rules_backend(central: Any) -> None:
    from tests.conftest import MINI

    compiled = central(MINI.replace("risk_level == 'high'", "age == age"))
    with pytest.raises(RulesError, match="compares a fact with a value only"):
        ruleset_definition(compiled)


@pytest.mark.parametrize("matcher", [DURABLE, DurableMatcher(max_versions=1)], ids=["one", "evicting"])
def test_many_threads_deciding_at_once_lose_nothing(matcher: DurableMatcher) -> None:
    """8 threads share one matcher; every result equals the oracle's (the full bar, 8 x 100,000, is in bench/decide.py)."""
    samples = [
        normalize_facts(CENTRAL.process.facts, raw)
        for raw in [
            {"age": 70, "needs": ["housing"], "risk_level": "high"},
            {"age": 16, "honour_related": True, "children": [{"age": 7, "witnessed_violence": True, "accompanying": True}]},
            {"age": 40, "consent_joint_handling": True, "needs": ["substance", "psychiatric"], "outcome": "declined"},
            {"protected_housing": {"needed": True, "placed": True, "completed": True, "ended": True}},
        ]
    ]
    versions = [CENTRAL, JARVA]  # with max_versions=1, each version's ruleset pushes out the other's
    expected = [ORACLE.match(versions[i % 2], f) for i, f in enumerate(samples)]
    assert wrong_in_threads(lambda i: matcher.match(versions[i % 2], samples[i]), expected, runs=2000) == []


def test_rules_sharing_a_condition_are_asked_once_and_all_hold() -> None:
    facts = normalize_facts(CENTRAL.process.facts, {"age": 40, "needs": ["financial"]})
    financial = {r.id for r in rules_of(CENTRAL) if str(r.expr) == "'financial' in needs"}
    assert len(financial) > 1
    version = DURABLE._version(CENTRAL)
    assert len([name for name, ids in version.ids.items() if set(ids) & financial]) == 1
    assert {(rule, None) for rule in financial} <= DURABLE.match(CENTRAL, facts) == ORACLE.match(CENTRAL, facts)


def test_versions_are_kept_up_to_a_bound() -> None:
    matcher = DurableMatcher(max_versions=1)
    facts = normalize_facts(CENTRAL.process.facts, {"age": 70, "needs": ["housing"]})
    for compiled in (CENTRAL, JARVA, CENTRAL):
        assert matcher.match(compiled, facts) == ORACLE.match(compiled, facts)
    assert len(matcher._versions) == 1


def test_equal_facts_share_a_key_and_different_ones_do_not() -> None:
    child = {"age": 7, "witnessed_violence": True}
    one = normalize_facts(CENTRAL.process.facts, {"age": 40, "children": [child]})
    assert facts_key(one) == facts_key(normalize_facts(CENTRAL.process.facts, {"children": [dict(child)], "age": 40}))
    assert facts_key(one) != facts_key(normalize_facts(CENTRAL.process.facts, {"age": 40, "children": [child, child]}))
    assert facts_key(one) != facts_key(normalize_facts(CENTRAL.process.facts, {"age": 41, "children": [child]}))


def test_only_declared_fields_of_a_list_reach_durable_rules() -> None:
    """A key in a child that the vocabulary does not declare (here the matcher's own child index)
    is not sent, so it cannot be read back as which child a rule matched for."""
    child = {"age": 7, "witnessed_violence": True, "accompanying": True}
    facts = normalize_facts(CENTRAL.process.facts, {"age": 30, "children": [child]})
    smuggled = {**facts, "children": [{**facts["children"][0], "_ci": 9}]}
    assert DURABLE.match(CENTRAL, smuggled) == ORACLE.match(CENTRAL, facts)
