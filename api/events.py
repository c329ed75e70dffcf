"""What a caseworker records, and how the event log becomes the engine's case state.

Each event kind is a pydantic model (the request body of ``POST /cases/{id}/events``
is their discriminated union).  An event either completes a step, or changes the
case's facts, or both:

============================  =================================================================
``step_completed``            completes ``step`` (for ``child``, where the step is per child)
``outcome_recorded``          ``facts.outcome``
``placement_started``         ``facts.protected_housing``: needed, placed, ``start_date``, ``decision_expires``
``placement_renewed``         ``facts.protected_housing.decision_expires``
``placement_ended``           ``facts.protected_housing``: ended, ``end_date``, completed
``housing_outcome``           ``facts.housing_outcome``
``referral_sent``             completes ``shis_mellanbo_referral``
``schooling_started``         completes ``schooling`` for ``child``
``consent_given|withdrawn``   ``facts.consent_joint_handling`` or ``facts.consent_health_care``
``case_closed``               completes the closing step with that ``reason``; the case is closed
============================  =================================================================

A completion's outcome must be one its step declares (``outcomes:`` in the
process); a closing step's outcome is its closure reason.  What is wrong with an
event is said without repeating what was sent (a step id or an outcome is text a
caseworker typed): the messages name what the process allows instead.

The service itself records ``facts_updated`` (PUT facts), ``transferred`` and
``migrated``.  Folding the log in recording order gives the engine's
``CaseState``: the completed steps, and the facts history, each entry dated by
its event.  An event recorded late with an earlier date does not rewrite
history already recorded after it: entries are dated no earlier than the one
before, so a decision already made stays made.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine import CaseState, CompiledProcess, CompletedStep
from engine.case import DatedFacts, outcome_problem
from engine.errors import did_you_mean

from .pseudonym import ID_PATTERN


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: dt.date = Field(description="The date it happened (not when it is recorded).")


class StepCompleted(_Event):
    kind: Literal["step_completed"]
    step: str = Field(pattern=ID_PATTERN, description="Step id, as in the process.")
    child: int | None = Field(default=None, ge=0, le=50, description="Index into `facts.children` for a per-child step.")
    outcome: str | None = Field(
        default=None, pattern=ID_PATTERN, description="One of the outcome codes the step declares (`outcomes`)."
    )


class OutcomeRecorded(_Event):
    kind: Literal["outcome_recorded"]
    outcome: str = Field(pattern=ID_PATTERN, description="One of the values of the `outcome` fact.")


class PlacementStarted(_Event):
    kind: Literal["placement_started"]
    decision_expires: dt.date | None = Field(default=None, description="The last day the protection decision holds.")


class PlacementRenewed(_Event):
    kind: Literal["placement_renewed"]
    decision_expires: dt.date


class PlacementEnded(_Event):
    kind: Literal["placement_ended"]
    completed: bool = Field(description="The placement was completed as planned (not broken off).")


class HousingOutcomeRecorded(_Event):
    kind: Literal["housing_outcome"]
    type: str = Field(pattern=ID_PATTERN, description="One of the values of `housing_outcome.type`.")
    contract_months: int | None = Field(default=None, ge=0, le=1200)


class ReferralSent(_Event):
    kind: Literal["referral_sent"]
    to: Literal["shis_mellanbo"] = "shis_mellanbo"


class SchoolingStarted(_Event):
    kind: Literal["schooling_started"]
    child: int = Field(ge=0, le=50)


class ConsentGiven(_Event):
    kind: Literal["consent_given"]
    consent: Literal["joint_handling", "health_care"]


class ConsentWithdrawn(_Event):
    kind: Literal["consent_withdrawn"]
    consent: Literal["joint_handling", "health_care"]


class CaseClosed(_Event):
    kind: Literal["case_closed"]
    reason: str = Field(pattern=ID_PATTERN, description="One of the process's closure reasons.")


EventIn = Annotated[
    StepCompleted
    | OutcomeRecorded
    | PlacementStarted
    | PlacementRenewed
    | PlacementEnded
    | HousingOutcomeRecorded
    | ReferralSent
    | SchoolingStarted
    | ConsentGiven
    | ConsentWithdrawn
    | CaseClosed,
    Field(discriminator="kind"),
]

REFERRAL_STEPS = {"shis_mellanbo": "shis_mellanbo_referral"}
SCHOOLING_STEP = "schooling"


class EventProblem(ValueError):
    """The event does not fit the case's process; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def completes(event: _Event, compiled: CompiledProcess) -> CompletedStep | None:
    """The step this event completes, checked against the process."""
    match event:
        case StepCompleted():
            step, child, outcome = event.step, event.child, event.outcome
        case ReferralSent():
            step, child, outcome = REFERRAL_STEPS[event.to], None, None
        case SchoolingStarted():
            step, child, outcome = SCHOOLING_STEP, event.child, None
        case CaseClosed():
            step, child, outcome = closing_step(compiled, event.reason), None, event.reason
        case _:
            return None
    steps = compiled.process.steps
    if step not in steps:
        raise EventProblem("step", f"not a step of {compiled.name}'s process{did_you_mean(step, steps)}")
    problem = outcome_problem(steps[step], outcome)
    if problem is not None:
        raise EventProblem("outcome", problem)
    return CompletedStep(step=step, on=event.on, child=child, outcome=outcome)


def outcome_problems(compiled: CompiledProcess, completed: Iterable[CompletedStep]) -> dict[str, str]:
    """``completed[i].outcome`` -> what is wrong, for completions given whole (``POST /decide``);
    an unknown step is left to the engine, which names it."""
    steps = compiled.process.steps
    problems = {}
    for index, done in enumerate(completed):
        problem = outcome_problem(steps[done.step], done.outcome) if done.step in steps else None
        if problem is not None:
            problems[f"completed[{index}].outcome"] = problem
    return problems


def closing_step(compiled: CompiledProcess, reason: str) -> str:
    for step_id, step in compiled.process.steps.items():
        if step.closure_reason == reason:
            return step_id
    # The reasons a step closes with: a declared reason no step closes with cannot be recorded.
    reasons = sorted({step.closure_reason for step in compiled.process.steps.values() if step.closure_reason})
    raise EventProblem(
        "reason", f"not a closure reason of this process; the reasons are {', '.join(reasons)}{did_you_mean(reason, reasons)}"
    )


def changed_facts(event: _Event, facts: dict[str, Any]) -> dict[str, Any] | None:
    """The facts after this event, or None when it does not change them (not validated here)."""
    new = copy.deepcopy(facts)
    housing = dict(new.get("protected_housing") or {})
    match event:
        case OutcomeRecorded():
            new["outcome"] = event.outcome
        case PlacementStarted():
            housing.update(needed=True, placed=True, start_date=event.on.isoformat())
            if event.decision_expires is not None:
                housing["decision_expires"] = event.decision_expires.isoformat()
            new["protected_housing"] = housing
        case PlacementRenewed():
            housing["decision_expires"] = event.decision_expires.isoformat()
            new["protected_housing"] = housing
        case PlacementEnded():
            housing.update(ended=True, end_date=event.on.isoformat(), completed=event.completed)
            new["protected_housing"] = housing
        case HousingOutcomeRecorded():
            outcome: dict[str, Any] = {"type": event.type}
            if event.contract_months is not None:
                outcome["contract_months"] = event.contract_months
            new["housing_outcome"] = outcome
        case ConsentGiven() | ConsentWithdrawn():
            new[f"consent_{event.consent}"] = isinstance(event, ConsentGiven)
        case _:
            return None
    return new


class LoggedEvent(BaseModel):
    """One row of the log as the fold needs it."""

    kind: str
    on: dt.date
    payload: dict[str, Any]
    facts: dict[str, Any] | None = None


class Folded(BaseModel):
    """The log folded as far as a decision needs it: the facts history and the completed steps.

    Stored with the case (``cases.state``) and brought forward by every write, so that deciding
    a case never reads and folds its whole log again; the log stays the truth, and ``brytupp
    verify`` folds every log again and compares.

    A history entry matters only as the facts a completed step was done with (``facts_from``);
    the newest one is kept for the next completion.  So a new entry replaces a newest one that
    no completion refers to: a case's history grows with its completions, not with every
    consent or fact recorded between them, and decisions are the same as with every entry.
    """

    model_config = ConfigDict(extra="forbid")

    history: list[DatedFacts] = Field(default_factory=list)
    completed: list[CompletedStep] = Field(default_factory=list)

    def add(self, entry: LoggedEvent, opened: dt.date) -> Folded:
        """A new fold with ``entry`` taken in (this one is left as it was)."""
        folded = Folded(history=list(self.history), completed=list(self.completed))
        folded.take(entry, opened)
        return folded

    def take(self, entry: LoggedEvent, opened: dt.date) -> None:
        history, completed = self.history, self.completed
        if entry.facts is not None:
            on = max(entry.on, history[-1].on) if history else opened
            if history and not any(done.facts_from == len(history) - 1 for done in completed):
                history.pop()
            history.append(DatedFacts(on=on, facts=entry.facts))
        step = entry.payload.get("completes")
        if step is not None:
            where = {"facts_from": len(history) - 1} if history else {}
            completed.append(CompletedStep.model_validate({**step, **where}))

    def state(self, opened: dt.date, facts: dict[str, Any], today: dt.date) -> CaseState:
        return CaseState(facts=facts, history=self.history, opened=opened, today=today, completed=self.completed)


def fold(opened: dt.date, log: Iterable[LoggedEvent]) -> Folded:
    folded = Folded()
    for entry in log:
        folded.take(entry, opened)
    return folded


def case_state(opened: dt.date, facts: dict[str, Any], log: Iterable[LoggedEvent], today: dt.date) -> CaseState:
    """The engine's view of a case.  The log starts with ``case_opened``, which carries
    the facts the case was opened with; ``facts`` are the current ones."""
    return fold(opened, log).state(opened, facts, today)
