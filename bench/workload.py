"""A realistic mix of case states for the decision benchmarks: random facts from the
process's vocabulary and a random walk through the process, completing open steps."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from typing import Any

from engine import CompiledProcess
from engine.case import CaseState, CompletedStep
from engine.decide import decide
from engine.rules import PythonMatcher
from engine.schema import FactSpec

OPENED = dt.date(2025, 3, 3)


def random_value(rng: random.Random, spec: FactSpec) -> Any:
    if spec.type == "boolean":
        return rng.random() < 0.3
    if spec.type == "integer":
        return rng.choice([4, 9, 14, 16, 17, 19, 23, 31, 38, 45, 52, 66, 71, 84])
    if spec.type == "enum":
        return rng.choice(spec.values or [])
    if spec.type == "set":
        return rng.sample(spec.values or [], rng.randint(0, 3))
    if spec.type == "date":
        return (OPENED + dt.timedelta(days=rng.randint(-20, 60))).isoformat()
    if spec.type == "object":
        return random_facts(rng, spec.fields or {})
    return [random_facts(rng, spec.fields or {}) for _ in range(rng.choice([0, 0, 1, 1, 2, 3]))]


def random_facts(rng: random.Random, vocabulary: Mapping[str, FactSpec]) -> dict[str, Any]:
    return {name: random_value(rng, spec) for name, spec in vocabulary.items() if rng.random() < 0.7}


def case_states(compiled: CompiledProcess, count: int, seed: int = 1) -> list[CaseState]:
    rng = random.Random(seed)
    oracle = PythonMatcher()
    states = []
    for _ in range(count):
        facts = random_facts(rng, compiled.process.facts)
        completed: list[CompletedStep] = []
        for day in range(rng.randint(0, 25)):
            state = CaseState(facts=facts, opened=OPENED, today=OPENED, completed=completed)
            steps = decide(compiled, state, oracle).next_steps
            if not steps:
                break
            step = rng.choice(steps)
            completed = [*completed, CompletedStep(step=step.step, child=step.child, on=OPENED + dt.timedelta(days=day))]
        states.append(CaseState(facts=facts, opened=OPENED, today=OPENED + dt.timedelta(days=30), completed=completed))
    return states
