"""``POST /decide``: what-if questions, answered by the engine without storing anything."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request

from engine import CaseState, Decision

from .. import metrics
from ..auth import Principal, Role, require
from ..errors import invalid, problem_responses
from ..events import outcome_problems
from ..schemas import DecideRequest
from ..store import checked_facts, current_process, decision, today

router = APIRouter(tags=["decisions"])


@router.post("/decide", response_model=Decision, responses=problem_responses(400, 401, 403, 409, 413, 422))
def what_if(
    body: DecideRequest, request: Request, _principal: Annotated[Principal, require(Role.caseworker, Role.implementer)]
) -> Decision:
    compiled = current_process(request, body.district)
    facts = checked_facts(compiled, body.facts, body.district)
    # The same completions as a case's events may record: an outcome its step declares.
    problems = outcome_problems(compiled, body.completed)
    if problems:
        raise invalid(problems)
    state = CaseState(
        facts=facts, history=body.history, opened=body.opened, today=body.today or today(request), completed=body.completed
    )
    result = decision(compiled, state)
    metrics.decision_made("what_if")
    return result
