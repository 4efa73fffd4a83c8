"""SQL of the rollups: the queue of ranges to recompute (`RollupPending`, `SiteRollupPending`), writing
recomputed meter and site rollups, and reading them back bucketed.

The rest of the time-series SQL (meters, raw readings, prices, ingest batches, battery states) is in
repository.py; rollup_service.py decides what to recompute, rollups.py and netting.py compute it.
Dialect differences stay in `db/` (bulk upsert, time buckets).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, delete, func, insert, select
from sqlalchemy.orm import Session

from luna_iems.db.base import epoch_us_column, to_epoch_us
from luna_iems.db.bulk import upsert_rows
from luna_iems.db.timebucket import Bucket, bucket_label
from luna_iems.timeseries.models import ReadingRollup, RollupPending, SiteRollup, SiteRollupPending
from luna_iems.timeseries.netting import SiteRows
from luna_iems.timeseries.rollups import RollupRows

_ROLLUP_VALUE_COLUMNS = (
    "samples",
    "covered_s",
    "consumption_kwh",
    "production_kwh",
    "import_kwh",
    "export_kwh",
    "consumption_kw_min",
    "consumption_kw_max",
    "production_kw_min",
    "production_kw_max",
    "consumption_kw_last",
    "production_kw_last",
    "voltage_avg",
)


def add_pending(*, session: Session, ranges: Sequence[tuple[str, datetime, datetime]]) -> None:
    if ranges:
        session.execute(
            insert(RollupPending), [{"meter_id": m, "ts_from": a, "ts_to": b} for m, a, b in ranges]
        )


def pending_ranges(*, session: Session, meter_ids: Sequence[str] | None = None) -> list[RollupPending]:
    query = select(RollupPending).order_by(RollupPending.pending_id)
    if meter_ids is not None:
        query = query.where(RollupPending.meter_id.in_(meter_ids))
    return list(session.scalars(query))


def delete_pending(*, session: Session, pending_ids: Sequence[int]) -> None:
    if pending_ids:
        session.execute(delete(RollupPending).where(RollupPending.pending_id.in_(pending_ids)))


def add_site_pending(*, session: Session, ranges: Sequence[tuple[str, datetime, datetime]]) -> None:
    if ranges:
        session.execute(
            insert(SiteRollupPending), [{"site": s, "ts_from": a, "ts_to": b} for s, a, b in ranges]
        )


def site_pending_ranges(*, session: Session, sites: Sequence[str] | None = None) -> list[SiteRollupPending]:
    query = select(SiteRollupPending).order_by(SiteRollupPending.pending_id)
    if sites is not None:
        query = query.where(SiteRollupPending.site.in_(sites))
    return list(session.scalars(query))


def delete_site_pending(*, session: Session, pending_ids: Sequence[int]) -> None:
    if pending_ids:
        session.execute(delete(SiteRollupPending).where(SiteRollupPending.pending_id.in_(pending_ids)))


def replace_site_rollups(
    *, session: Session, site: str, ts_from: datetime, ts_to: datetime, rows: Sequence[SiteRows]
) -> None:
    """Delete the site's rollups in [ts_from, ts_to) and write `rows` (all inside that span, no
    quarter-hour twice)."""
    session.execute(
        delete(SiteRollup).where(SiteRollup.site == site, SiteRollup.ts >= ts_from, SiteRollup.ts < ts_to)
    )
    names = ("ts_us", "meters", "covered_s", "consumption_kwh", "production_kwh", "import_kwh", "export_kwh")
    values: list[tuple[Any, ...]] = []
    for part in rows:
        columns = [getattr(part, name).tolist() for name in names]
        values += [(site, *row, part.netting_s) for row in zip(*columns, strict=True)]
    upsert_rows(
        session.connection(),
        SiteRollup.__table__,  # type: ignore[arg-type]
        columns=(
            "site",
            "ts",
            "meters",
            "covered_s",
            "consumption_kwh",
            "production_kwh",
            "import_kwh",
            "export_kwh",
            "netting_s",
        ),
        key=("site", "ts"),
        rows=values,
        epoch_us=True,
    )


def site_rollups_15m(*, session: Session, site: str, ts_from: datetime, ts_to: datetime) -> list[Any]:
    """The site's quarter-hours in [ts_from, ts_to): (ts in UTC microseconds, covered_s, consumption_kwh,
    production_kwh, import_kwh, export_kwh, meters, netting_s), netted across its meters (`SiteRollup`)."""
    s = SiteRollup
    ts = epoch_us_column(s.ts, session.get_bind().dialect.name)
    columns = (
        s.covered_s,
        s.consumption_kwh,
        s.production_kwh,
        s.import_kwh,
        s.export_kwh,
        s.meters,
        s.netting_s,
    )
    query = select(ts, *columns).where(s.site == site, s.ts >= ts_from, s.ts < ts_to).order_by(s.ts)
    return list(session.execute(query).all())


def replace_rollups(
    *,
    session: Session,
    meter_id: str,
    spans: dict[str, tuple[datetime, datetime]],
    rollups: Sequence[RollupRows],
) -> None:
    """Per resolution, delete the meter's rollups in its span [from, to) and write the recomputed
    ones that fall inside it (rows outside a span were computed from partial data and are dropped)."""
    rows: list[tuple[Any, ...]] = []
    for r in rollups:
        start, end = spans[r.resolution]
        session.execute(
            delete(ReadingRollup).where(
                ReadingRollup.meter_id == meter_id,
                ReadingRollup.resolution == r.resolution,
                ReadingRollup.ts >= start,
                ReadingRollup.ts < end,
            )
        )
        lo, hi = to_epoch_us(start), to_epoch_us(end)
        columns = [getattr(r, name).tolist() for name in ("ts_us", *_ROLLUP_VALUE_COLUMNS)]
        rows += [
            (meter_id, r.resolution, *map(_sql_value, values))
            for values in zip(*columns, strict=True)
            if lo <= values[0] < hi
        ]
    upsert_rows(
        session.connection(),
        ReadingRollup.__table__,  # type: ignore[arg-type]
        columns=("meter_id", "resolution", "ts", *_ROLLUP_VALUE_COLUMNS),
        key=("meter_id", "resolution", "ts"),
        rows=rows,
        epoch_us=True,
    )


def _sql_value(value: float | int) -> float | int | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def bucketed_rollups(
    *,
    session: Session,
    meter_ids: Sequence[str],
    resolution: str,
    bucket: Bucket,
    tz: ZoneInfo,
    ts_from: datetime,
    ts_to: datetime,
) -> list[Any]:
    """Per bucket: samples, covered seconds, energies, min/max and the last values (label, ...)."""
    dialect = session.get_bind().dialect.name
    label = bucket_label(dialect, ReadingRollup.ts, bucket, tz=tz, start=ts_from, end=ts_to)
    where = and_(
        ReadingRollup.meter_id.in_(meter_ids),
        ReadingRollup.resolution == resolution,
        ReadingRollup.ts >= ts_from,
        ReadingRollup.ts < ts_to,
    )

    def newest_with(value: Any) -> Any:
        # The newest rollup row that has a value: a trailing hour of 'missing' readings is skipped.
        return func.row_number().over(
            partition_by=label, order_by=(case((value.is_(None), 1), else_=0), ReadingRollup.ts.desc())
        )

    ranked = (
        select(
            label.label("label"),
            ReadingRollup,
            newest_with(ReadingRollup.consumption_kw_last).label("rn_c"),
            newest_with(ReadingRollup.production_kw_last).label("rn_p"),
        )
        .where(where)
        .subquery()
    )
    c = ranked.c
    query = (
        select(
            c.label,
            func.sum(c.samples),
            func.sum(c.covered_s),
            func.sum(c.consumption_kwh),
            func.sum(c.production_kwh),
            func.min(c.consumption_kw_min),
            func.max(c.consumption_kw_max),
            func.min(c.production_kw_min),
            func.max(c.production_kw_max),
            func.max(when_first(c.rn_c, c.consumption_kw_last)),
            func.max(when_first(c.rn_p, c.production_kw_last)),
            func.sum(c.voltage_avg * c.samples)
            / func.nullif(func.sum(_when_not_null(c.voltage_avg, c.samples)), 0),
        )
        .group_by(c.label)
        .order_by(c.label)
    )
    return list(session.execute(query).all())


def quarter_hour_rollups(*, session: Session, meter_id: str, ts_from: datetime, ts_to: datetime) -> list[Any]:
    """The rows of `bucketed_rollups` for 15-minute buckets of one meter, read straight from its
    quarter-hour rollups: each bucket is one rollup row, so no ranking or grouping (a year of
    quarter-hours is 35,040 rows). The label is the bucket start in UTC microseconds."""
    r = ReadingRollup
    query = (
        select(
            epoch_us_column(r.ts, session.get_bind().dialect.name),
            r.samples,
            r.covered_s,
            r.consumption_kwh,
            r.production_kwh,
            r.consumption_kw_min,
            r.consumption_kw_max,
            r.production_kw_min,
            r.production_kw_max,
            r.consumption_kw_last,
            r.production_kw_last,
            # as the grouped query: a voltage only where the bucket has samples
            case((r.samples > 0, r.voltage_avg), else_=None),
        )
        .where(r.meter_id == meter_id, r.resolution == "15m", r.ts >= ts_from, r.ts < ts_to)
        .order_by(r.ts)
    )
    return list(session.connection().execute(query).all())  # Core: no ORM row loading


def when_first(rn: Any, value: Any) -> Any:
    return case((rn == 1, value), else_=None)


def _when_not_null(value: Any, weight: Any) -> Any:
    return case((value.is_not(None), weight), else_=0)


def site_energy_15m(
    *, session: Session, meter_ids: Sequence[str], ts_from: datetime, ts_to: datetime
) -> list[Any]:
    """Per 15 minutes, summed over the meters: (ts in UTC microseconds, covered_s, consumption_kwh,
    production_kwh, import_kwh, export_kwh, rows) — import/export summed per meter (each meter's own
    grid flow)."""
    r = ReadingRollup
    query = (
        select(
            epoch_us_column(r.ts, session.get_bind().dialect.name),
            func.sum(r.covered_s),
            func.sum(r.consumption_kwh),
            func.sum(r.production_kwh),
            func.sum(r.import_kwh),
            func.sum(r.export_kwh),
            func.count(),
        )
        .where(r.meter_id.in_(meter_ids), r.resolution == "15m", r.ts >= ts_from, r.ts < ts_to)
        .group_by(r.ts)
        .order_by(r.ts)
    )
    return list(session.execute(query).all())


def rollup_extent(
    *, session: Session, meter_ids: Sequence[str], ts_from: datetime, ts_to: datetime
) -> tuple[datetime, datetime] | None:
    """First and last quarter-hour rollup of these meters within [ts_from, ts_to), or None."""
    r = ReadingRollup
    low, high = session.execute(
        select(func.min(r.ts), func.max(r.ts)).where(
            r.meter_id.in_(meter_ids), r.resolution == "15m", r.ts >= ts_from, r.ts < ts_to
        )
    ).one()
    return None if low is None else (low, high)
