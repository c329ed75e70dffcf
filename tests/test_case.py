"""Facts against the vocabulary: the planned normalizer deciding uses agrees with normalize_facts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings

from engine import build
from engine.case import FactsError, fact_normalizer, keyed_normalizer, normalize_facts

from .conftest import ROOT
from .strategies import facts_of

CENTRAL = build([ROOT / "processes"]).central["bryt_upp"].compiled
assert CENTRAL is not None
VOCABULARY = CENTRAL.process.facts
NORMALIZE = fact_normalizer(VOCABULARY)


@settings(max_examples=500, deadline=None)
@given(facts_of(VOCABULARY))
def test_the_planned_normalizer_gives_what_normalize_facts_gives(raw: dict[str, Any]) -> None:
    assert NORMALIZE(raw) == normalize_facts(VOCABULARY, raw)


@pytest.mark.parametrize(
    "raw",
    [
        {"age": 40, "report_received": dt.datetime(2025, 3, 3, 10, 0)},
        {"needs": ("housing",), "age": True},
        {"risk_level": ["high"]},
        {"children": [{"age": 3}], "protected_housing": {"start_date": dt.date(2025, 3, 3)}},
        {"agee": 3},
        {"children": {"age": 3}},
        {"report_received": "2025-13-01"},
        "not facts",
    ],
)
def test_unusual_and_wrong_facts_get_the_same_result_or_error(raw: Any) -> None:
    try:
        expected = normalize_facts(VOCABULARY, raw)
    except FactsError as error:
        with pytest.raises(FactsError) as planned:
            NORMALIZE(raw)
        assert planned.value.problems == error.problems
    else:
        assert NORMALIZE(raw) == expected


KEYED = keyed_normalizer(VOCABULARY)


@settings(max_examples=300, deadline=None)
@given(facts_of(VOCABULARY), facts_of(VOCABULARY))
def test_the_key_is_equal_exactly_when_the_normalized_facts_are(one: dict[str, Any], other: dict[str, Any]) -> None:
    (facts, key), (other_facts, other_key) = KEYED(one), KEYED(other)
    assert facts == normalize_facts(VOCABULARY, one)
    assert (key == other_key) == (facts == other_facts)
    assert KEYED(facts) == (facts, key)  # normalized facts read again: the same facts, the same key
    hash(key)


def test_facts_left_to_normalize_facts_get_the_key_the_plan_gives() -> None:
    usual = {"age": 40, "needs": ["housing"], "children": [{"age": 3}], "report_received": "2025-03-03"}
    unusual = {"age": 40, "needs": ("housing",), "children": [{"age": 3}], "report_received": dt.datetime(2025, 3, 3, 9)}
    assert KEYED(unusual) == KEYED(usual)
    assert KEYED({"age": 40})[1] != KEYED({"age": 40, "honour_related": True})[1]
    assert KEYED({"honour_related": True})[1] != KEYED({"age": 1})[1]  # True == 1, but not as two facts' values
