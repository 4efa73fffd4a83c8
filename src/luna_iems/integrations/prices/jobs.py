"""Scheduled work of the price fetch: one cheap tick a minute; the state rows decide what is due."""

from __future__ import annotations

import logging

from luna_iems.integrations.prices import service
from luna_iems.integrations.prices.deps import PriceFetchDeps
from luna_iems.scheduler import Scheduler

log = logging.getLogger("luna_iems.integrations.prices.jobs")

TICK_S = 60.0  # a tick without a due source is one small query per source


def fetch_prices(deps: PriceFetchDeps) -> None:
    status = service.run_due(deps)
    for item in status.items:
        if item.status in {"blocked", "error"}:
            log.warning("price source %s: %s", item.source, item.last_error, extra={"source": item.source})


def register(scheduler: Scheduler, deps: PriceFetchDeps) -> None:
    """Off (no job) unless ENTSOE_TOKEN or PRICE_SOURCE_URL is set."""
    if service.sources(deps.settings):
        scheduler.every("prices.fetch", TICK_S, lambda: fetch_prices(deps), start_now=True)
