"""``POST /auth/logout``: the token that asks is refused from now on, by every instance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from ..auth import Principal, current_principal
from ..errors import problem_responses

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/logout", status_code=204, response_class=Response, responses=problem_responses(401))
def logout(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Response:
    request.app.state.revocations.revoke_token(principal, by=principal.subject)
    return Response(status_code=204)
