"""A realistic mix of case states for the decision benchmarks: random facts from the
process's vocabulary and a random walk through the process, completing open steps."""

from __future__ import annotations

import datetime as dt
import random

from engine import CompiledProcess
from engine.case import CaseState, CompletedStep, DatedFacts
from engine.decide import decide
from engine.language import CHILDREN, example_facts
from engine.rules import PythonMatcher

OPENED = dt.date(2025, 3, 3)


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
        facts = example_facts(vocabulary, rng, OPENED)
        entries = [DatedFacts(on=OPENED, facts=facts)] if history else []
        change_on = rng.randint(1, 20) if history and rng.random() < 0.4 else None
        completed: list[CompletedStep] = []
        for day in range(rng.randint(0, 25)):
            on = OPENED + dt.timedelta(days=day)
            if day == change_on:
                changed = example_facts(vocabulary, rng, OPENED)
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
