"""The condition language: parsing, printing and evaluation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import ConditionSyntaxError, evaluate, parse_condition

FACTS = {
    "age": 70,
    "risk_level": "high",
    "honour_related": False,
    "needs": {"housing", "substance"},
    "protected_housing": {"placed": True, "completed": False},
    "children": [{"age": 4, "witnessed_violence": True}, {"age": 9, "witnessed_violence": False}],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("risk_level == 'high'", True),
        ("risk_level != 'high'", False),
        ("age >= 65 and not honour_related", True),
        ("'housing' in needs", True),
        ("'financial' not in needs", True),
        ("risk_level in ['medium', 'high']", True),
        ("protected_housing.placed and not protected_housing.completed", True),
        ("any(children, witnessed_violence)", True),
        ("all(children, witnessed_violence)", False),
        ("count(children) == 2", True),
        ("count(children, age >= 6 and age <= 15) == 1", True),
        ("risk_instrument == none", True),
        ("risk_instrument != 'patriark'", True),
        ("months_since_closure <= 12", False),  # a missing number never compares
        ("honour_related or (age > 60 and risk_level == 'high')", True),
    ],
)
def test_conditions_evaluate_over_facts(text: str, expected: bool) -> None:
    assert evaluate(parse_condition(text), FACTS) is expected


def test_child_names_the_current_child_of_a_per_child_step() -> None:
    expr = parse_condition("child.witnessed_violence or child.age < 1")
    assert [evaluate(expr, FACTS, child=c) for c in FACTS["children"]] == [True, False]


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("risk_level = 'high'", 11, "unexpected character '=' (compare with ==)"),
        ("risk_level == 'high", 14, "unexpected character \"'\" (text values are quoted: 'high')"),
        ("age >", 5, "expected a fact, a value or '(', found end of condition"),
        ("(age > 3", 8, "expected ')', found end of condition"),
        ("age > 3 age", 8, "expected 'and', 'or' or the end of the condition, found 'age'"),
        ("any(children)", 12, "any() needs a condition after the list, found ')'"),
        ("", 0, "empty condition"),
    ],
)
def test_syntax_errors_carry_the_offset(text: str, offset: int, message: str) -> None:
    with pytest.raises(ConditionSyntaxError) as info:
        parse_condition(text)
    assert (info.value.offset, info.value.message) == (offset, message)


NAMES = st.sampled_from(["age", "risk_level", "honour_related", "needs", "protected_housing.placed"])
LITERALS = st.one_of(st.integers(-5, 99).map(str), st.sampled_from(["'high'", "'housing'", "true", "none"]))
ATOMS = st.one_of(
    st.builds(lambda n, op, v: f"{n} {op} {v}", NAMES, st.sampled_from(["==", "!=", "<", ">="]), LITERALS),
    st.builds(lambda v: f"{v} in needs", st.sampled_from(["'housing'", "'legal'"])),
    NAMES,
)
CONDITIONS = st.recursive(
    ATOMS,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a}) and ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
        st.builds(lambda a: f"not ({a})", inner),
    ),
    max_leaves=8,
)


@given(CONDITIONS)
def test_printing_a_parsed_condition_gives_the_same_condition(text: str) -> None:
    expr = parse_condition(text)
    again = parse_condition(str(expr))
    assert evaluate(again, FACTS) == evaluate(expr, FACTS)
    assert str(again) == str(expr)
