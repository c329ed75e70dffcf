"""A realistic mix of case states for the decision benchmarks: random facts from the
process's vocabulary and a random walk through the process, completing open steps."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from typing import Any

from engine import CompiledProcess
from engine.case import CaseState, CompletedStep, DatedFacts
from engine.decide import decide
from engine.facts import CHILDREN
from engine.rules import PythonMatcher
from engine.schema import FactSpec

OPENED = dt.date(2025, 3, 3)


def random_value(rng: random.Random, spec: FactSpec) -> Any:
    if spec.type == "boolean":
        return rng.random() < 0.3
    if spec.type == "integer":
        low, high = spec.bounds  # facts outside the declared range are refused, not decided
        return rng.choice([n for n in (4, 9, 14, 16, 17, 19, 23, 31, 38, 45, 52, 66, 71, 84) if low <= n <= high] or [low])
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


def case_states(compiled: CompiledProcess, count: int, seed: int = 1, history: bool = False) -> list[CaseState]:
    """``count`` cases, each walked through the process completing a random open step a day.

    With ``history`` the states are as the service builds them from a case's log: the facts
    the case opened with as the first history entry, and in two cases of five a change of
    facts on a day of the walk (a new entry); every completed step says which entry it was
    completed with."""
    rng = random.Random(seed)
    oracle = PythonMatcher()
    vocabulary = compiled.process.facts
    states = []
    for _ in range(count):
        facts = random_facts(rng, vocabulary)
        entries = [DatedFacts(on=OPENED, facts=facts)] if history else []
        change_on = rng.randint(1, 20) if history and rng.random() < 0.4 else None
        completed: list[CompletedStep] = []
        for day in range(rng.randint(0, 25)):
            on = OPENED + dt.timedelta(days=day)
            if day == change_on:
                changed = random_facts(rng, vocabulary)
                facts = {**facts, **{name: changed[name] for name in [n for n in changed if n != CHILDREN][:2]}}
                entries.append(DatedFacts(on=on, facts=facts))
            state = CaseState(facts=facts, history=entries, opened=OPENED, today=on, completed=completed)
            steps = decide(compiled, state, oracle).next_steps
            if not steps:
                break
            step = rng.choice(steps)
            where = len(entries) - 1 if entries else None
            completed = [*completed, CompletedStep(step=step.step, child=step.child, on=on, facts_from=where)]
        today = OPENED + dt.timedelta(days=30)
        states.append(CaseState(facts=facts, history=entries, opened=OPENED, today=today, completed=completed))
    return states
