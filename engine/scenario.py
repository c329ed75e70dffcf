"""Client stories: a case walked step by step, with what each decision should say.

A scenario file (``tests/scenarios/*.yaml``, ``brytupp simulate``)::

    district: jarva
    story: Polisen anmäler; mamma med ett barn som bevittnat våldet.
    opened: 2025-03-03
    facts: {age: 31, entry_channel: police, children: [{age: 7, witnessed_violence: true}]}
    steps:
      - on: 2025-03-03                       # the day of this decision
        completed: [actualisation, intake_registration]
        facts: {risk_level: high}            # facts learnt that day (merged into the facts)
        expect:
          next: [risk_assessment, "child_protection_assessment[0]"]
          units: {risk_assessment: rvt_jarva}
          due: {"child_protection_assessment[0]": 2025-03-03}

A step instance is written ``step`` or ``step[i]`` for child ``i``.  Facts
learnt on a day count from that day: steps completed earlier keep the route
the facts of their own day gave them.  Every
``expect`` key is optional; ``next``, ``waiting``, ``overdue`` and
``pending_guarantees`` must match exactly, ``units`` and ``due`` for the steps
they name.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from .case import CaseState, CompletedStep, DatedFacts
from .compile import CompiledProcess
from .decide import Decision, NextStep, decide
from .load import read_yaml, validate_data
from .rules import Matcher
from .schema import Model

_INSTANCE = re.compile(r"^([a-z][a-z0-9_]*)(?:\[(\d+)\])?$")


def instance_name(step: str, child: int | None) -> str:
    return step if child is None else f"{step}[{child}]"


def parse_instance(text: str) -> tuple[str, int | None]:
    m = _INSTANCE.match(text)
    if m is None:
        raise ValueError(f"not a step instance: {text!r} (write step or step[child index])")
    return m.group(1), int(m.group(2)) if m.group(2) is not None else None


class Expect(Model):
    next: list[str] | None = None
    waiting: list[str] | None = None
    units: dict[str, str] = Field(default_factory=dict, description="Step instance -> unit id.")
    due: dict[str, dt.date | None] = Field(default_factory=dict)
    overdue: list[str] | None = None
    pending_guarantees: list[str] | None = None
    closed: bool | None = None
    closure_reason: str | None = None


class ScenarioStep(Model):
    on: dt.date
    completed: list[str] = Field(default_factory=list)
    facts: dict[str, Any] = Field(default_factory=dict)
    expect: Expect | None = None


class Scenario(Model):
    district: str
    story: str
    opened: dt.date
    facts: dict[str, Any] = Field(default_factory=dict)
    steps: list[ScenarioStep]


def load_scenario(path: Path | str) -> Scenario:
    data, source = read_yaml(path)
    return validate_data(Scenario, data, source)


def _merge(facts: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(facts)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def walk(
    compiled: CompiledProcess, scenario: Scenario, matcher: Matcher | None = None
) -> Iterator[tuple[ScenarioStep, Decision]]:
    """Each step of the story with the decision made that day."""
    facts = dict(scenario.facts)
    completed: list[CompletedStep] = []
    history: list[DatedFacts] = [DatedFacts(on=scenario.opened, facts=facts)]
    for step in scenario.steps:
        if step.facts:
            facts = _merge(facts, step.facts)
            history.append(DatedFacts(on=step.on, facts=facts))
        for text in step.completed:
            step_id, child = parse_instance(text)
            completed.append(CompletedStep(step=step_id, on=step.on, child=child, facts_from=len(history) - 1))
        state = CaseState(facts=facts, history=list(history), opened=scenario.opened, today=step.on, completed=list(completed))
        yield step, decide(compiled, state, matcher)


def _names(steps: list[NextStep]) -> list[str]:
    return sorted(instance_name(s.step, s.child) for s in steps)


def mismatches(decision: Decision, expect: Expect) -> list[str]:
    """What differs between a decision and what the story expects; empty when it all matches."""
    out: list[str] = []
    by_name = {instance_name(s.step, s.child): s for s in [*decision.next_steps, *decision.waiting]}
    for key, actual in (("next", decision.next_steps), ("waiting", decision.waiting)):
        wanted = getattr(expect, key)
        if wanted is not None and sorted(wanted) != _names(actual):
            out.append(f"{key}: expected {sorted(wanted)}, got {_names(actual)}")
    if expect.overdue is not None:
        got = sorted(n for n, s in by_name.items() if s.overdue)
        if sorted(expect.overdue) != got:
            out.append(f"overdue: expected {sorted(expect.overdue)}, got {got}")
    if expect.pending_guarantees is not None:
        got = sorted(p.step for p in decision.pending_guarantees)
        if sorted(expect.pending_guarantees) != got:
            out.append(f"pending_guarantees: expected {sorted(expect.pending_guarantees)}, got {got}")
    for name, unit in expect.units.items():
        step = by_name.get(name)
        got_unit = step.unit.id if step and step.unit else None
        if got_unit != unit:
            out.append(f"units.{name}: expected {unit}, got {got_unit if step else 'no such open step'}")
    for name, due in expect.due.items():
        step = by_name.get(name)
        if step is None or step.due != due:
            out.append(f"due.{name}: expected {due}, got {step.due if step else 'no such open step'}")
    if expect.closed is not None and expect.closed != decision.closed:
        out.append(f"closed: expected {expect.closed}, got {decision.closed}")
    if expect.closure_reason is not None and expect.closure_reason != decision.closure_reason:
        out.append(f"closure_reason: expected {expect.closure_reason}, got {decision.closure_reason}")
    return out
