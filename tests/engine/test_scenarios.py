"""Client stories in tests/scenarios/: each day's decision is what the story expects."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import build
from engine.rules import PythonMatcher
from engine.scenario import load_scenario, mismatches, walk
from tests.conftest import ROOT

SCENARIOS = sorted((ROOT / "tests" / "scenarios").glob("*.yaml"))
REAL = build([ROOT / "processes", ROOT / "local_overrides"])


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_story_gets_the_expected_decisions(path: Path) -> None:
    scenario = load_scenario(path)
    compiled = REAL.districts[scenario.district].compiled
    assert compiled is not None
    problems = [
        f"{step.on}: {problem}"
        for step, decision in walk(compiled, scenario)
        if step.expect is not None
        for problem in mismatches(decision, step.expect)
    ]
    assert problems == []
    oracle = [d for _, d in walk(compiled, scenario, PythonMatcher())]
    assert oracle == [d for _, d in walk(compiled, scenario)]


def test_the_stories_cover_every_district_and_intervention() -> None:
    scenarios = [load_scenario(p) for p in SCENARIOS]
    assert len(scenarios) >= 30
    assert {s.district for s in scenarios} == set(REAL.districts)
    done = {text.split("[")[0] for s in scenarios for step in s.steps for text in step.completed}
    central = REAL.central["bryt_upp"].compiled
    assert central is not None
    interventions = {step_id for step_id, step in central.process.steps.items() if step.intervention}
    assert interventions <= done, interventions - done
