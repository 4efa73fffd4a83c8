"""HTTP for tariffs: `/tariffs/{site}` versions and the effective prices per step (parse, call, return)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from luna_iems.bounds import ID_MAX_CHARS, BoundedTimestamp, IsoDate, MarketQuery
from luna_iems.deps import AdminKey, AnalystKey, ContainerDep, SessionDep, ViewerKey
from luna_iems.errors import AUTHENTICATED_ERRORS, BODY_ERRORS, error_responses
from luna_iems.tariffs import service as tariff_service
from luna_iems.tariffs.schemas import TariffPrices, TariffRead, TariffVersionCreate, TariffVersionRead
from luna_iems.timeseries import service as timeseries_service

router = APIRouter(prefix="/tariffs", tags=["tariffs"], responses=AUTHENTICATED_ERRORS)
SitePath = Annotated[
    str, Path(min_length=1, max_length=ID_MAX_CHARS, description="The site (meters' `site`)")
]
From = Annotated[BoundedTimestamp, Query(alias="from", description="Start (inclusive), ISO 8601 with offset")]
To = Annotated[BoundedTimestamp, Query(alias="to", description="End (exclusive), ISO 8601 with offset")]


def _known_site(session: SessionDep, site: str) -> None:
    """404 for a site no meter belongs to: a typo must not store (or show) a tariff for nothing."""
    timeseries_service.meters_in_scope(session=session, meter_id=None, site=site)


@router.put("/{site}", response_model=TariffVersionRead, responses=BODY_ERRORS | error_responses(404))
def put_tariff(
    site: SitePath, body: TariffVersionCreate, session: SessionDep, _: AnalystKey
) -> TariffVersionRead:
    """Add (or replace) the version of the site's tariff valid from `valid_from` (analyst or admin)."""
    _known_site(session, site)
    return tariff_service.put_version(session=session, site=site, version_in=body)


@router.get("/{site}", response_model=TariffRead, responses=error_responses(404))
def get_tariff(site: SitePath, session: SessionDep, container: ContainerDep, _: ViewerKey) -> TariffRead:
    """The site's tariff versions, oldest first; none: the default tariff (`default` says which)."""
    _known_site(session, site)
    return tariff_service.get_tariff(session=session, site=site, settings=container.settings)


@router.get("/{site}/prices", response_model=TariffPrices, responses=error_responses(404))
def get_prices(
    site: SitePath,
    session: SessionDep,
    container: ContainerDep,
    _: ViewerKey,
    ts_from: From,
    ts_to: To,
    market: MarketQuery = None,
    product: MarketQuery = None,
) -> TariffPrices:
    """Effective import and export EUR/kWh per quarter-hour (what the optimiser and what-if use)."""
    _known_site(session, site)
    return tariff_service.prices(
        session=session,
        deps=container.tariffs_deps,
        site=site,
        ts_from=ts_from,
        ts_to=ts_to,
        market=market,
        product=product,
    )


@router.delete(
    "/{site}/versions/{valid_from}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
def delete_tariff_version(
    site: SitePath,
    valid_from: Annotated[IsoDate, Path(description="The version's `valid_from` (YYYY-MM-DD)")],
    session: SessionDep,
    _: AdminKey,
) -> None:
    """Remove one version (admin); the previous version then applies until the next one."""
    tariff_service.delete_version(session=session, site=site, valid_from=valid_from)
