"""HTTP routes of dispatch: `GET /dispatch` (activation is `POST /optimize/schedule` with `activate`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from luna_iems.deps import DispatchDepsDep, ViewerKey
from luna_iems.errors import AUTHENTICATED_ERRORS
from luna_iems.integrations.dispatch import service
from luna_iems.integrations.dispatch.schemas import DispatchRead

router = APIRouter(responses=AUTHENTICATED_ERRORS)


@router.get("/dispatch", response_model=DispatchRead, tags=["dispatch"])
def get_dispatch(
    deps: DispatchDepsDep, _: ViewerKey, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> DispatchRead:
    """The active plan (else the newest, with why it ended), the newest setpoints sent with their
    latency or error, and each planned battery's reported state against the plan."""
    return service.get_dispatch(deps=deps, limit=limit)
