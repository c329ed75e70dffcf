"""The processes the service runs: every district with its version and validation
status (the last good version serves while the files have errors), and one
district's effective process."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from ..auth import Principal, Role, require
from ..errors import ApiError, problem_responses
from ..pseudonym import ID_PATTERN
from ..schemas import EffectiveProcessOut, ProcessList, ProcessSummary
from ..store import registry

router = APIRouter(prefix="/processes", tags=["processes"])
Anyone = Annotated[Principal, require(Role.caseworker, Role.implementer, Role.manager)]


@router.get("", response_model=ProcessList, responses=problem_responses(401, 403))
def list_processes(request: Request, _principal: Anyone) -> ProcessList:
    snapshot = registry(request).snapshot
    out = []
    for name, state in snapshot.districts.items():
        process = state.compiled.process if state.compiled else None
        out.append(
            ProcessSummary(
                district=name,
                label=state.label,
                path=state.path,
                version=state.compiled.version if state.compiled else None,
                status="errors" if state.findings else "ok",
                findings=[str(f) for f in state.findings],
                loaded_at=state.loaded_at,
                local_steps=len(process.local_steps) if process else 0,
                changed_steps=len(process.changed_steps) if process else 0,
            )
        )
    return ProcessList(districts=out, problems=[str(f) for f in snapshot.problems], checked_at=snapshot.checked_at)


@router.get("/{district}", response_model=EffectiveProcessOut, responses=problem_responses(401, 403, 404))
def effective_process(
    district: Annotated[str, Path(pattern=ID_PATTERN)], request: Request, _principal: Anyone
) -> EffectiveProcessOut:
    state = registry(request).snapshot.districts.get(district)
    if state is None or state.compiled is None:
        raise ApiError(404, "no process for that district")
    return EffectiveProcessOut(
        district=district,
        version=state.compiled.version,
        findings=[str(f) for f in state.findings],
        process=state.compiled.process.model_dump(mode="json", exclude_none=True),
    )
