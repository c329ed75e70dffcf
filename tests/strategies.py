"""Hypothesis strategies for client facts and case states, built from a process's facts vocabulary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from engine.schema import FactSpec

# Numbers near the constants the process compares with, and a few others; each fact
# draws those inside its declared range, and the range's ends.
NUMBERS = [0, 1, 3, 5, 6, 7, 11, 12, 13, 15, 16, 17, 18, 23, 24, 30, 45, 64, 65, 66, 80]
DATES = st.dates(dt.date(2024, 1, 1), dt.date(2026, 12, 31))


def value_of(spec: FactSpec) -> st.SearchStrategy[Any]:
    if spec.type == "boolean":
        return st.booleans()
    if spec.type == "integer":
        low, high = spec.bounds
        return st.sampled_from(sorted({n for n in NUMBERS if low <= n <= high} | {low, high}))
    if spec.type == "enum":
        return st.sampled_from(spec.values or [])
    if spec.type == "set":
        return st.lists(st.sampled_from(spec.values or []), unique=True, max_size=4)
    if spec.type == "date":
        return DATES.map(dt.date.isoformat)
    if spec.type == "object":
        return facts_of(spec.fields or {})
    return st.lists(facts_of(spec.fields or {}), max_size=min(3, spec.max_items or 0))


def facts_of(vocabulary: Mapping[str, FactSpec]) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of the facts, each with a value of its type: missing facts are part of the test."""
    return st.fixed_dictionaries({}, optional={name: value_of(spec) for name, spec in vocabulary.items()})
