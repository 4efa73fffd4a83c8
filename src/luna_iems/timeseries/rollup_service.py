"""Keeping rollups current: each meter's rollups from its raw readings, then each site's rollups from
its meters' readings (`netting`).

Ingest queues the time range it wrote (`RollupPending`); `refresh_rollups` recomputes what that range
touches. A reading stands for its whole interval, so the touched range reaches one interval beyond the
written readings on both sides (the reading before a new one may now end sooner; a new hourly reading
at 23:30 fills half an hour of the next day). Meter rollups are recomputed per whole local day (the
daily rollup follows the meter's calendar), site rollups per quarter-hour of the touched range, on the
grid the site nets on. Everything happens in the caller's transaction: a failure leaves the pending
ranges in place for the next run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from luna_iems.db.base import from_epoch_us, to_epoch_us
from luna_iems.timeseries import repository, rollup_repository
from luna_iems.timeseries.models import Meter
from luna_iems.timeseries.netting import QUARTER_US, MeterSamples, SiteRows, common_step_us, net_site
from luna_iems.timeseries.rollups import DAY_US, US, compute_rollups, typical_step_us

METER_CHUNK_DAYS = 31  # bounds the raw samples held in memory for one recomputation
SITE_CHUNK_DAYS = 7
_END_OF_TIME = datetime(9998, 1, 1, tzinfo=UTC)


def refresh_rollups(*, session: Session, meter_ids: Sequence[str] | None = None) -> int:
    """Recompute every pending range (optionally only these meters and their sites), then commit.

    Returns the number of pending ranges done (meters' and sites').
    """
    pending = rollup_repository.pending_ranges(session=session, meter_ids=meter_ids)
    by_meter: dict[str, list[tuple[datetime, datetime]]] = {}
    for p in pending:
        by_meter.setdefault(p.meter_id, []).append((p.ts_from, p.ts_to))
    touched: list[tuple[str, datetime, datetime]] = []
    steps: dict[str, tuple[int, bool]] = {}  # reading interval per meter, found once per refresh
    for meter_id, spans in by_meter.items():
        meter = repository.get_meter(session=session, meter_id=meter_id)
        if meter is None:
            continue
        for start, end in merge_spans(spans):
            reach = _refresh_meter(session=session, meter=meter, start=start, end=end, steps=steps)
            if reach is not None:
                touched.append((meter.site, *reach))
    rollup_repository.add_site_pending(session=session, ranges=touched)
    rollup_repository.delete_pending(session=session, pending_ids=[p.pending_id for p in pending])
    sites = None if meter_ids is None else repository.sites_of_meters(session=session, meter_ids=meter_ids)
    done = len(pending) + refresh_site_rollups(session=session, sites=sites, steps=steps)
    session.commit()
    return done


def mark_site_changed(*, session: Session, site: str) -> None:
    """Queue the whole history of `site` (a meter joined or left it)."""
    rollup_repository.add_site_pending(
        session=session, ranges=[(site, datetime(1970, 1, 2, tzinfo=UTC), _END_OF_TIME)]
    )


def merge_spans(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def meter_step_us(*, session: Session, meter: Meter, before: datetime) -> tuple[int, bool]:
    """The meter's reading interval: declared, or the typical spacing of its readings up to `before`."""
    if meter.interval_s:
        return meter.interval_s * US, True
    recent = repository.recent_timestamps_us(session=session, meter_id=meter.meter_id, before=before)
    return typical_step_us(recent), False


def _reach(step_us: int, declared: bool) -> timedelta:
    """How far a reading's interval can reach beyond its timestamp."""
    return timedelta(microseconds=min(step_us if declared else int(step_us * 1.5), DAY_US))


def _refresh_meter(
    *, session: Session, meter: Meter, start: datetime, end: datetime, steps: dict[str, tuple[int, bool]]
) -> tuple[datetime, datetime] | None:
    """Recompute the meter's rollups over the local days that readings in [start, end] reach; returns
    the instants they reach (for the site), or None when the meter has no readings there."""
    if meter.meter_id not in steps:
        steps[meter.meter_id] = meter_step_us(session=session, meter=meter, before=min(end, _END_OF_TIME))
    step_us, declared = steps[meter.meter_id]
    reach = _reach(step_us, declared)
    extent = repository.reading_extent(
        session=session, meter_ids=[meter.meter_id], ts_from=start - reach, ts_to=end + reach
    )
    if extent is None:
        return None  # nothing raw (e.g. past retention): the rollups stay as they are
    low, high = max(start, extent[0]) - reach, min(end, extent[1]) + reach
    tz = ZoneInfo(meter.timezone)
    for day_start, day_end in _local_day_chunks(low, high, tz):
        # Whole UTC hours around the local days: a zone with a half-hour offset splits an hour at
        # local midnight, and that hour must be recomputed from both days' samples.
        hour_start, hour_end = (
            _floor_hour(day_start),
            _floor_hour(day_end + timedelta(minutes=59, seconds=59)),
        )
        raw = repository.reading_arrays(
            session=session, meter_id=meter.meter_id, ts_from=hour_start - reach, ts_to=hour_end + reach
        )
        rollups = compute_rollups(
            raw["ts_us"],
            raw["consumption_kw"],
            raw["production_kw"],
            raw["voltage"],
            tz=tz,
            step_us=step_us,
            declared=declared,
            window_us=(to_epoch_us(hour_start), to_epoch_us(hour_end)),
        )
        spans = {"15m": (hour_start, hour_end), "1h": (hour_start, hour_end), "1d": (day_start, day_end)}
        rollup_repository.replace_rollups(
            session=session, meter_id=meter.meter_id, spans=spans, rollups=rollups
        )
    return low, high


def refresh_site_rollups(
    *, session: Session, sites: Sequence[str] | None = None, steps: dict[str, tuple[int, bool]] | None = None
) -> int:
    """Recompute the pending ranges of these sites (all by default); returns ranges done. `steps`: reading
    intervals already found in this refresh (meter id -> (step, declared)); the others are looked up."""
    steps = {} if steps is None else steps
    pending = rollup_repository.site_pending_ranges(session=session, sites=sites)
    by_site: dict[str, list[tuple[datetime, datetime]]] = {}
    for p in pending:
        by_site.setdefault(p.site, []).append((p.ts_from, p.ts_to))
    for site, spans in by_site.items():
        meters = repository.meters_of_site(session=session, site=site)
        for start, end in merge_spans(spans):
            _refresh_site(session=session, site=site, meters=meters, start=start, end=end, steps=steps)
    rollup_repository.delete_site_pending(session=session, pending_ids=[p.pending_id for p in pending])
    return len(pending)


def _refresh_site(
    *,
    session: Session,
    site: str,
    meters: Sequence[Meter],
    start: datetime,
    end: datetime,
    steps: dict[str, tuple[int, bool]],
) -> None:
    meter_ids = [m.meter_id for m in meters]
    extent = (
        rollup_repository.rollup_extent(
            session=session, meter_ids=meter_ids, ts_from=start, ts_to=end + timedelta(days=1)
        )
        if meter_ids
        else None
    )
    if extent is None:  # no meter has data here (any more): the site has none either
        rollup_repository.replace_site_rollups(session=session, site=site, ts_from=start, ts_to=end, rows=[])
        return
    low, high = max(start, extent[0]), min(end, extent[1]) + timedelta(minutes=15)
    for m in meters:
        if m.meter_id not in steps:
            steps[m.meter_id] = meter_step_us(session=session, meter=m, before=min(high, _END_OF_TIME))
    grid_us = max(common_step_us([steps[m.meter_id][0] for m in meters]), QUARTER_US)
    lo_us = to_epoch_us(low) - to_epoch_us(low) % grid_us
    hi_us = to_epoch_us(high) + (-to_epoch_us(high)) % grid_us
    chunk_us = SITE_CHUNK_DAYS * DAY_US
    for a_us in range(lo_us, hi_us, chunk_us):
        b_us = min(a_us + chunk_us, hi_us)
        a, b = from_epoch_us(a_us), from_epoch_us(b_us)
        samples = []
        for meter in meters:
            step_us, declared = steps[meter.meter_id]
            reach = _reach(step_us, declared)
            raw = repository.reading_arrays(
                session=session, meter_id=meter.meter_id, ts_from=a - reach, ts_to=b + reach
            )
            if raw["ts_us"].size:
                samples.append(
                    MeterSamples(raw["ts_us"], raw["consumption_kw"], raw["production_kw"], step_us, declared)
                )
        rows = [net_site(samples, a_us, b_us)]
        if len(samples) < len(meters):
            # Quarter-hours whose raw readings are gone (retention) keep what the meters' rollups hold,
            # netted per quarter-hour.
            rows.append(_from_meter_rollups(session, meter_ids, a, b, skip=set(rows[0].ts_us.tolist())))
        rollup_repository.replace_site_rollups(session=session, site=site, ts_from=a, ts_to=b, rows=rows)


def _from_meter_rollups(
    session: Session, meter_ids: Sequence[str], ts_from: datetime, ts_to: datetime, *, skip: set[int]
) -> SiteRows:
    found = [
        r
        for r in rollup_repository.site_energy_15m(
            session=session, meter_ids=meter_ids, ts_from=ts_from, ts_to=ts_to
        )
        if int(r[0]) not in skip
    ]
    columns = np.array([[float(v or 0.0) for v in r[1:7]] for r in found], dtype=np.float64).reshape(-1, 6)
    covered, consumption, production, _, _, meters = columns.T
    net = consumption - production
    return SiteRows(
        ts_us=np.array([int(r[0]) for r in found], dtype=np.int64),
        meters=meters.astype(np.int64),
        covered_s=covered,
        consumption_kwh=consumption,
        production_kwh=production,
        import_kwh=np.maximum(net, 0.0),
        export_kwh=np.maximum(-net, 0.0),
        netting_s=QUARTER_US / US,
    )


def _local_day_chunks(low: datetime, high: datetime, tz: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
    """Whole local days covering [low, high], in runs of at most METER_CHUNK_DAYS."""
    day = low.astimezone(tz).date()
    last = high.astimezone(tz).date()
    while day <= last:
        until = min(day + timedelta(days=METER_CHUNK_DAYS), last + timedelta(days=1))
        yield _midnight(day, tz), _midnight(until, tz)
        day = until


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def _floor_hour(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
