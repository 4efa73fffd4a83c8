"""SQL of the time-series domain: meters, raw readings, prices, ingest batches and quality, battery
states. Dialect differences stay in `db/` (bulk upsert, time buckets).

The rollups' SQL (the recompute queue, meter and site rollups, bucketed reads) is in
rollup_repository.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from luna_iems.db.base import epoch_us_column
from luna_iems.db.bulk import upsert_columns, upsert_rows
from luna_iems.db.timebucket import Bucket, bucket_label
from luna_iems.timeseries.models import (
    BatteryState,
    DataQuality,
    IngestBatch,
    MarketPrice,
    Meter,
    ReadingRollup,
    RollupPending,
    SmartMeterReading,
)
from luna_iems.timeseries.rollup_repository import when_first

READING_COLUMNS = ("meter_id", "ts", "consumption_kw", "production_kw", "voltage", "quality")
PRICE_COLUMNS = ("market", "product", "ts", "price_eur_mwh", "volume")


# --- meters ---------------------------------------------------------------------------------
def get_meter(*, session: Session, meter_id: str) -> Meter | None:
    return session.get(Meter, meter_id)


def list_meters(
    *, session: Session, site: str | None, kind: str | None, limit: int, offset: int
) -> tuple[Sequence[Meter], int]:
    conditions = []
    if site is not None:
        conditions.append(Meter.site == site)
    if kind is not None:
        conditions.append(Meter.kind == kind)
    total = int(session.scalar(select(func.count()).select_from(Meter).where(*conditions)) or 0)
    rows = session.scalars(
        select(Meter).where(*conditions).order_by(Meter.meter_id).limit(limit).offset(offset)
    )
    return rows.all(), total


def all_meter_ids(*, session: Session) -> list[str]:
    return list(session.scalars(select(Meter.meter_id).order_by(Meter.meter_id)).all())


def existing_meter_ids(*, session: Session, meter_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(meter_ids), 500):
        chunk = meter_ids[start : start + 500]
        found.update(session.scalars(select(Meter.meter_id).where(Meter.meter_id.in_(chunk))))
    return found


def meters_of_site(*, session: Session, site: str) -> list[Meter]:
    return list(session.scalars(select(Meter).where(Meter.site == site).order_by(Meter.meter_id)))


def sites_of_meters(*, session: Session, meter_ids: Sequence[str]) -> list[str]:
    return sorted(session.scalars(select(Meter.site).where(Meter.meter_id.in_(meter_ids)).distinct()))


def add_meter(*, session: Session, meter: Meter) -> Meter:
    session.add(meter)
    session.flush()
    return meter


def delete_meter(*, session: Session, meter: Meter) -> None:
    for model in (SmartMeterReading, ReadingRollup, RollupPending):
        session.execute(delete(model).where(model.meter_id == meter.meter_id))
    session.delete(meter)


# --- readings -------------------------------------------------------------------------------
def upsert_readings(*, session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    """Rows: (meter_id, ts as UTC microseconds, consumption_kw, production_kw, voltage, quality)."""
    upsert_rows(
        session.connection(),
        SmartMeterReading.__table__,  # type: ignore[arg-type]
        columns=READING_COLUMNS,
        key=("meter_id", "ts"),
        rows=rows,
        epoch_us=True,
    )


def upsert_reading_columns(*, session: Session, values: Sequence[list[Any]]) -> None:
    """`upsert_readings` with one list per column, in `READING_COLUMNS` order (None = NULL)."""
    upsert_columns(
        session.connection(),
        SmartMeterReading.__table__,  # type: ignore[arg-type]
        columns=READING_COLUMNS,
        key=("meter_id", "ts"),
        values=values,
    )


def count_readings(*, session: Session, meter_ids: Sequence[str], ts_from: datetime, ts_to: datetime) -> int:
    query = select(func.count()).where(
        SmartMeterReading.meter_id.in_(meter_ids),
        SmartMeterReading.ts >= ts_from,
        SmartMeterReading.ts <= ts_to,
    )
    return int(session.scalar(query) or 0)


def list_readings(
    *, session: Session, meter_id: str, ts_from: datetime, ts_to: datetime, limit: int
) -> Sequence[SmartMeterReading]:
    query = (
        select(SmartMeterReading)
        .where(
            SmartMeterReading.meter_id == meter_id,
            SmartMeterReading.ts >= ts_from,
            SmartMeterReading.ts < ts_to,
        )
        .order_by(SmartMeterReading.ts)
        .limit(limit)
    )
    return session.scalars(query).all()


def reading_rows(
    *, session: Session, meter_id: str, ts_from: datetime, ts_to: datetime, limit: int
) -> list[Any]:
    """Raw readings as plain rows (ts in UTC microseconds, consumption_kw, production_kw, voltage,
    quality), oldest first: for columnar answers, without an ORM object per row."""
    r = SmartMeterReading
    query = (
        select(
            epoch_us_column(r.ts, session.get_bind().dialect.name),
            r.consumption_kw,
            r.production_kw,
            r.voltage,
            r.quality,
        )
        .where(r.meter_id == meter_id, r.ts >= ts_from, r.ts < ts_to)
        .order_by(r.ts)
        .limit(limit)
    )
    return list(session.connection().execute(query).all())  # Core: no ORM row loading


def latest_reading(*, session: Session, meter_id: str) -> SmartMeterReading | None:
    query = (
        select(SmartMeterReading)
        .where(SmartMeterReading.meter_id == meter_id)
        .order_by(SmartMeterReading.ts.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def reading_arrays(
    *, session: Session, meter_id: str, ts_from: datetime, ts_to: datetime
) -> dict[str, np.ndarray[Any, Any]]:
    """Raw samples of one meter in [ts_from, ts_to) as NumPy arrays (ts in UTC microseconds)."""
    dialect = session.get_bind().dialect.name
    rows = session.execute(
        select(
            epoch_us_column(SmartMeterReading.ts, dialect),
            SmartMeterReading.consumption_kw,
            SmartMeterReading.production_kw,
            SmartMeterReading.voltage,
        )
        .where(
            SmartMeterReading.meter_id == meter_id,
            SmartMeterReading.ts >= ts_from,
            SmartMeterReading.ts < ts_to,
        )
        .order_by(SmartMeterReading.ts)
    ).all()
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    return {
        "ts_us": np.array(columns[0], dtype=np.int64),
        "consumption_kw": np.array(columns[1], dtype=np.float64),
        "production_kw": np.array(columns[2], dtype=np.float64),
        "voltage": np.array(columns[3], dtype=np.float64),
    }


def recent_timestamps_us(
    *, session: Session, meter_id: str, before: datetime, n: int = 65
) -> np.ndarray[Any, Any]:
    """The meter's newest `n` reading timestamps at or before `before` (UTC microseconds, ascending);
    the oldest ones when none is that early."""
    dialect = session.get_bind().dialect.name
    ts = epoch_us_column(SmartMeterReading.ts, dialect)
    where = SmartMeterReading.meter_id == meter_id
    values = session.scalars(
        select(ts).where(where, SmartMeterReading.ts <= before).order_by(SmartMeterReading.ts.desc()).limit(n)
    ).all()
    if len(values) < 2:
        values = session.scalars(select(ts).where(where).order_by(SmartMeterReading.ts).limit(n)).all()
    return np.sort(np.array(values, dtype=np.int64))


def reading_extent(
    *, session: Session, meter_ids: Sequence[str], ts_from: datetime, ts_to: datetime
) -> tuple[datetime, datetime] | None:
    """First and last reading time of these meters within [ts_from, ts_to], or None."""
    r = SmartMeterReading
    low, high = session.execute(
        select(func.min(r.ts), func.max(r.ts)).where(
            r.meter_id.in_(meter_ids), r.ts >= ts_from, r.ts <= ts_to
        )
    ).one()
    return None if low is None else (low, high)


def delete_readings_before(*, session: Session, cutoff: datetime) -> int:
    result = session.execute(delete(SmartMeterReading).where(SmartMeterReading.ts < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- prices ---------------------------------------------------------------------------------
def upsert_prices(*, session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    upsert_rows(
        session.connection(),
        MarketPrice.__table__,  # type: ignore[arg-type]
        columns=PRICE_COLUMNS,
        key=("market", "product", "ts"),
        rows=rows,
    )


def count_prices(
    *, session: Session, series: Sequence[tuple[str, str]], ts_from: datetime, ts_to: datetime
) -> int:
    total = 0
    for market, product in series:
        total += int(
            session.scalar(
                select(func.count()).where(
                    MarketPrice.market == market,
                    MarketPrice.product == product,
                    MarketPrice.ts >= ts_from,
                    MarketPrice.ts <= ts_to,
                )
            )
            or 0
        )
    return total


def list_prices(
    *, session: Session, market: str, product: str, ts_from: datetime, ts_to: datetime
) -> Sequence[MarketPrice]:
    query = (
        select(MarketPrice)
        .where(
            MarketPrice.market == market,
            MarketPrice.product == product,
            MarketPrice.ts >= ts_from,
            MarketPrice.ts < ts_to,
        )
        .order_by(MarketPrice.ts)
    )
    return session.scalars(query).all()


def price_arrays(
    *, session: Session, market: str, product: str, ts_from: datetime, ts_to: datetime
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Prices in [ts_from, ts_to) as (UTC microseconds, EUR/MWh) arrays: plain columns, no ORM objects."""
    dialect = session.get_bind().dialect.name
    rows = session.execute(
        select(epoch_us_column(MarketPrice.ts, dialect), MarketPrice.price_eur_mwh)
        .where(
            MarketPrice.market == market,
            MarketPrice.product == product,
            MarketPrice.ts >= ts_from,
            MarketPrice.ts < ts_to,
        )
        .order_by(MarketPrice.ts)
    ).all()
    ts_us = np.array([int(r[0]) for r in rows], dtype=np.int64)
    return ts_us, np.array([float(r[1]) for r in rows], dtype=np.float64)


def bucketed_prices(
    *,
    session: Session,
    market: str,
    product: str,
    bucket: Bucket,
    tz: ZoneInfo,
    ts_from: datetime,
    ts_to: datetime,
) -> list[Any]:
    """(label, avg, min, max, last, count) per bucket."""
    dialect = session.get_bind().dialect.name
    label = bucket_label(dialect, MarketPrice.ts, bucket, tz=tz, start=ts_from, end=ts_to)
    ranked = (
        select(
            label.label("label"),
            MarketPrice.price_eur_mwh,
            func.row_number().over(partition_by=label, order_by=MarketPrice.ts.desc()).label("rn"),
        )
        .where(
            MarketPrice.market == market,
            MarketPrice.product == product,
            MarketPrice.ts >= ts_from,
            MarketPrice.ts < ts_to,
        )
        .subquery()
    )
    c = ranked.c
    query = (
        select(
            c.label,
            func.avg(c.price_eur_mwh),
            func.min(c.price_eur_mwh),
            func.max(c.price_eur_mwh),
            func.max(when_first(c.rn, c.price_eur_mwh)),
            func.count(),
        )
        .group_by(c.label)
        .order_by(c.label)
    )
    return list(session.execute(query).all())


# --- ingest batches and quality ------------------------------------------------------------
def add_batch(*, session: Session, batch: dict[str, Any], quality: Sequence[dict[str, Any]]) -> None:
    """The batch record and its quality rows (column values by name), as two Core INSERTs: the ORM's
    unit of work costs more than the statements for a batch of many series."""
    session.execute(insert(IngestBatch.__table__), [batch])  # type: ignore[arg-type]
    if quality:
        session.execute(insert(DataQuality.__table__), list(quality))  # type: ignore[arg-type]


def list_quality(*, session: Session, series: str | None, limit: int) -> Sequence[DataQuality]:
    query = select(DataQuality).order_by(DataQuality.created_at.desc()).limit(limit)
    if series is not None:
        query = query.where(DataQuality.series == series)
    return session.scalars(query).all()


# --- battery states -----------------------------------------------------------------------------
BATTERY_STATE_COLUMNS = ("battery_id", "ts", "site", "soc_pct", "power_kw")


def upsert_battery_states(*, session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    upsert_rows(
        session.connection(),
        BatteryState.__table__,  # type: ignore[arg-type]
        columns=BATTERY_STATE_COLUMNS,
        key=("battery_id", "ts"),
        rows=rows,
    )


def list_battery_states(
    *,
    session: Session,
    battery_id: str | None,
    site: str | None,
    ts_from: datetime,
    ts_to: datetime,
    limit: int,
) -> Sequence[BatteryState]:
    query = select(BatteryState).where(BatteryState.ts >= ts_from, BatteryState.ts < ts_to)
    if battery_id is not None:
        query = query.where(BatteryState.battery_id == battery_id)
    if site is not None:
        query = query.where(BatteryState.site == site)
    return session.scalars(query.order_by(BatteryState.ts, BatteryState.battery_id).limit(limit)).all()


def list_battery_ids(*, session: Session, site: str) -> list[str]:
    """The ids of the batteries that reported at least one state for `site`, sorted."""
    query = select(BatteryState.battery_id).where(BatteryState.site == site).distinct()
    return sorted(session.scalars(query).all())
