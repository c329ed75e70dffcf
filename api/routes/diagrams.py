"""Diagrams, BPMN and the equality matrix, from the processes the service runs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from engine import CompiledProcess, EqualityMatrix, equality_matrix, export_bpmn, render_process

from ..auth import Principal, Role, require
from ..errors import ApiError, problem_responses
from ..pseudonym import ID_PATTERN
from ..store import registry

router = APIRouter(tags=["diagrams and reports"])
Anyone = Annotated[Principal, require(Role.caseworker, Role.implementer, Role.manager)]
Overseer = Annotated[Principal, require(Role.implementer, Role.manager)]
District = Annotated[str, Path(pattern=ID_PATTERN)]
MEDIA = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf"}


def district_process(request: Request, district: str) -> CompiledProcess:
    state = registry(request).snapshot.districts.get(district)
    if state is None or state.compiled is None:
        raise ApiError(404, "no process for that district")
    return state.compiled


def diagram_bytes(request: Request, district: str, view: str, format: str) -> bytes:
    compiled = district_process(request, district)
    return render_process(compiled, registry(request).snapshot.central, view=view, format=format)  # type: ignore[arg-type]


def equality(request: Request) -> EqualityMatrix:
    snapshot = registry(request).snapshot
    if snapshot.central is None:
        raise ApiError(503, "the central process has not loaded")
    districts = [s.compiled for s in snapshot.districts.values() if s.compiled is not None]
    return equality_matrix(snapshot.central, districts)


@router.get(
    "/processes/{district}/diagram",
    responses={**problem_responses(401, 403, 404, 422), 200: {"content": {m: {} for m in MEDIA.values()}}},
    response_class=Response,
)
def diagram(
    district: District,
    request: Request,
    _principal: Anyone,
    view: Literal["process", "diff"] = "process",
    format: Literal["svg", "png", "pdf"] = "svg",
) -> Response:
    """The district's process as the engine runs it (Graphviz), or its differences from the city's process."""
    content = diagram_bytes(request, district, view, format)
    return Response(content, media_type=MEDIA[format], headers={"Cache-Control": "private, max-age=60"})


@router.get(
    "/processes/{district}/bpmn",
    responses={**problem_responses(401, 403, 404, 422), 200: {"content": {"application/xml": {}}}},
    response_class=Response,
)
def bpmn(district: District, request: Request, _principal: Anyone) -> Response:
    """BPMN 2.0 for the city's modelling tools: lanes per unit, a task per step."""
    compiled = district_process(request, district)
    return Response(
        export_bpmn(compiled),
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="bryt_upp_{district}_{compiled.version}.bpmn"'},
    )


@router.get(
    "/reports/equality",
    responses={**problem_responses(401, 403, 422, 503), 200: {"content": {"application/json": {}, "text/csv": {}}}},
    response_model=EqualityMatrix,
)
def equality_report(
    request: Request, _principal: Overseer, format: Annotated[Literal["json", "csv"], Query()] = "json"
) -> Response | EqualityMatrix:
    """Districts × guaranteed interventions: who is responsible, and where a district departs from the rest."""
    matrix = equality(request)
    if format == "csv":
        return Response(matrix.to_csv(), media_type="text/csv; charset=utf-8")
    return matrix
