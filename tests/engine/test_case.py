"""Facts against the vocabulary: the planned normalizer deciding uses agrees with normalize_facts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings

from engine import build
from engine.case import fact_normalizer, normalize_facts
from engine.errors import FactsError
from tests.conftest import ROOT
from tests.strategies import facts_of

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
        {"age": 120, "children": [{"age": 0}, {"age": 17}] * 7 + [{}]},
        {"age": 121},
        {"age": -1, "housing_outcome": {"contract_months": 1201}},
        {"children": [{"age": 18}]},
        {"children": [{}] * 16},
        {"children": [{"agee": 3}] * 16},
        {"needs": ["housing", "boende"], "risk_level": "hgih", "children": [{"agee": 3}], "protected_housing": {"x": 1}},
        {1: 2, "age": 3.0},
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
