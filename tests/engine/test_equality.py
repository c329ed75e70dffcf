"""Likställighet: every district offers the same guaranteed interventions; only units (and local steps) differ."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import build
from engine.case import CaseState, CompletedStep
from engine.decide import Decision, decide
from engine.rules import PythonMatcher
from tests.conftest import ROOT
from tests.strategies import facts_of

REAL = build([ROOT / "processes", ROOT / "local_overrides"])
CENTRAL = REAL.central["bryt_upp"].compiled
DISTRICTS = {name: built.compiled for name, built in sorted(REAL.districts.items())}
OPENED = dt.date(2025, 3, 3)
ORACLE = PythonMatcher()
assert CENTRAL is not None


def offered(decision: Decision) -> set[str]:
    open_now = {s.intervention for s in [*decision.next_steps, *decision.waiting] if s.guaranteed and s.intervention}
    return open_now | {g.intervention for g in decision.pending_guarantees}


@st.composite
def case_states(draw: st.DrawFn) -> CaseState:
    """Facts, and a walk through the central process completing open steps one by one."""
    assert CENTRAL is not None
    facts = draw(facts_of(CENTRAL.process.facts))
    completed: list[CompletedStep] = []
    for day in range(draw(st.integers(0, 30))):
        state = CaseState(facts=facts, opened=OPENED, today=OPENED, completed=completed)
        steps = decide(CENTRAL, state, ORACLE).next_steps
        if not steps:
            break
        step = draw(st.sampled_from(steps))
        completed = [*completed, CompletedStep(step=step.step, child=step.child, on=OPENED + dt.timedelta(days=day))]
    return CaseState(facts=facts, opened=OPENED, today=OPENED + dt.timedelta(days=40), completed=completed)


@settings(max_examples=200, deadline=None)
@given(case_states())
def test_every_district_offers_the_same_guaranteed_interventions(state: CaseState) -> None:
    offers = {name: offered(decide(compiled, state)) for name, compiled in DISTRICTS.items()}  # type: ignore[arg-type]
    assert len({frozenset(o) for o in offers.values()}) == 1, offers


def test_same_facts_two_districts_same_interventions_own_units() -> None:
    facts: dict[str, Any] = {"age": 40, "needs": ["housing", "practical"], "risk_level": "medium", "consent_joint_handling": True}
    done = [
        "actualisation",
        "intake_registration",
        "initial_safety_assessment",
        "risk_assessment",
        "protection_need",
        "consent_joint_handling",
        "joint_handling",
        "vinr_investigation",
        "needs_assessment",
        "intervention_decision",
    ]
    state = CaseState(facts=facts, opened=OPENED, today=OPENED, completed=[CompletedStep(step=s, on=OPENED) for s in done])
    farsta, jarva = (decide(DISTRICTS[d], state) for d in ("farsta", "jarva"))  # type: ignore[arg-type]
    assert offered(farsta) == offered(jarva) >= {"stable_housing_support", "practical_support", "advice_guidance"}
    units = {d.district: {s.step: s.unit.id for s in [*d.next_steps, *d.waiting] if s.unit} for d in (farsta, jarva)}
    assert units["farsta"]["stable_housing_support"] != units["jarva"]["stable_housing_support"]
    assert units["farsta"]["practical_support"] != units["jarva"]["practical_support"]
