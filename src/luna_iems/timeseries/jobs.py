"""Scheduled work of the time-series domain: rollup maintenance and raw-data retention."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from luna_iems.scheduler import Scheduler
from luna_iems.timeseries import repository as timeseries_repository
from luna_iems.timeseries import rollup_service
from luna_iems.timeseries.deps import TimeseriesDeps

log = logging.getLogger("luna_iems.timeseries.jobs")


def refresh_rollups(deps: TimeseriesDeps) -> int:
    """Recompute rollups for every range ingested since the last run; returns ranges done."""
    with deps.session_factory() as session:
        return rollup_service.refresh_rollups(session=session)


def apply_retention(deps: TimeseriesDeps) -> int:
    """Delete raw readings older than RAW_RETENTION_DAYS; rollups stay. Returns rows deleted.

    Pending rollups are refreshed first, so no range loses its raw data before it is rolled up.
    """
    days = deps.settings.raw_retention_days
    if not days:
        return 0
    cutoff = datetime.now(tz=UTC) - timedelta(days=days)
    refresh_rollups(deps)
    with deps.session_factory() as session:
        deleted = timeseries_repository.delete_readings_before(session=session, cutoff=cutoff)
        session.commit()
    if deleted:
        log.info("retention deleted raw readings", extra={"rows": deleted, "cutoff": cutoff.isoformat()})
    return deleted


def register(scheduler: Scheduler, deps: TimeseriesDeps) -> None:
    settings = deps.settings
    scheduler.every("timeseries.rollups", settings.rollup_interval_s, lambda: refresh_rollups(deps))
    if settings.raw_retention_days:
        scheduler.every("timeseries.retention", settings.retention_interval_s, lambda: apply_retention(deps))
