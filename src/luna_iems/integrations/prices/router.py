"""HTTP routes of the price fetch: its status, and a fetch on demand (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from luna_iems.bounds import IsoDate
from luna_iems.deps import AdminKey, ContainerDep, ViewerKey
from luna_iems.errors import AUTHENTICATED_ERRORS, error_responses
from luna_iems.integrations.prices import service as prices_service
from luna_iems.integrations.prices.deps import PriceFetchDeps
from luna_iems.integrations.prices.schemas import PriceSourceList, SourceName

router = APIRouter(tags=["ingest"], responses=AUTHENTICATED_ERRORS)


def get_price_fetch_deps(container: ContainerDep) -> PriceFetchDeps:
    return container.price_fetch_deps


PriceFetchDepsDep = Annotated[PriceFetchDeps, Depends(get_price_fetch_deps)]


@router.get("/integrations/prices/sources", response_model=PriceSourceList)
def list_price_sources(deps: PriceFetchDepsDep, _: ViewerKey) -> PriceSourceList:
    """The configured price sources (ENTSO-E, a URL) with their fetch status and the schedule."""
    return prices_service.list_sources(deps)


@router.post(
    "/integrations/prices/fetch", response_model=PriceSourceList, responses=error_responses(409, 422)
)
async def fetch_prices(
    deps: PriceFetchDepsDep,
    _: AdminKey,
    source: Annotated[SourceName | None, Query(description="Only this source; default: every one")] = None,
    day: Annotated[
        IsoDate | None, Query(description="Local delivery day; default: the one the schedule targets now")
    ] = None,
) -> PriceSourceList:
    """Fetch now (admin): one request per source, ignoring backoff and a refused token; stored through
    the price ingest (a refetch updates, never duplicates). 409 when no source is configured."""
    return await run_in_threadpool(prices_service.fetch_now, deps, source=source, day=day)
