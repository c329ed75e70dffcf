"""The goals' figures as the page writes them (api/goals/words.py), and which way each goal points,
which the JSON report now carries (``better``, added beside ``direction``)."""

from __future__ import annotations

import pytest

from api.goals import GoalSettings, Indicator, definitions
from api.goals.words import NOTHING, area, better_text, count_text, number, scaled, status, target_text, value_text

GOALS = {g.goal: g for g in definitions(GoalSettings())}


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [(66.666, 1, "66,7"), (80.0, 1, "80"), (1.25, 2, "1,25"), (1.4, 2, "1,4"), (0.0, 2, "0"), (100.0, 1, "100")],
)
def test_one_swedish_convention(value: float, decimals: int, text: str) -> None:
    assert number(value, decimals) == text


def test_a_figure_says_what_it_is_made_of_and_nothing_is_not_zero() -> None:
    housing, referrals = GOALS[2], GOALS[4]
    assert value_text(housing, 2 / 3) == "66,7\u00a0%"
    assert value_text(housing, 0.0) == "0\u00a0%"
    assert value_text(housing, None) == NOTHING == "inget att räkna"
    assert value_text(referrals, 1.4) == "1,4"
    assert count_text(housing, 3, 4) == "3 av 4"
    assert count_text(referrals, 12, 10) == "12 mot 10"
    assert scaled(housing, 0.6667) == 66.7 and scaled(referrals, 1.254) == 1.25 and scaled(housing, None) is None


def test_targets_and_which_way_is_better() -> None:
    assert [target_text(GOALS[g]) for g in range(1, 6)] == [
        "minst 100\u00a0%",
        "minst 80\u00a0%",
        "högst 20\u00a0%",
        "minst 1,25 gånger basåret",
        "minst 95\u00a0%",
    ]
    assert [GOALS[g].better for g in range(1, 6)] == ["higher", "higher", "lower", "higher", "higher"]
    assert better_text(GOALS[3]) == "Lägre värde är bättre" and better_text(GOALS[1]) == "Högre värde är bättre"
    assert GOALS[3].model_dump()["better"] == "lower", "the report's JSON carries it"


def test_no_internal_ids_in_the_measures() -> None:
    assert "(ej SHIS Mellanbo)" in GOALS[2].measure
    config = GoalSettings(housing_excluded_types=["shis_mellanbo", "lodger", "tent_camp"])
    measure = definitions(config)[1].measure
    assert "(ej SHIS Mellanbo, inneboendekontrakt, tent camp)" in measure and "_" not in measure


def test_status_and_area() -> None:
    row = Indicator(goal=2, year=2025, district="farsta", numerator=1, denominator=2, value=0.5, target=0.8, met=False)
    assert status(row) == "unmet"
    assert status(row.model_copy(update={"met": True})) == "met"
    assert status(row.model_copy(update={"met": None, "value": None, "denominator": 0})) == "none"
    assert area("Skärholmens stadsdelsförvaltning") == "Skärholmen" and area("Staden") == "Staden"
