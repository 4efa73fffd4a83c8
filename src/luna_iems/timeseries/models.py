"""Tables of the time-series domain: meters, readings, market prices.

Readings and prices are keyed by (series, ts): a replay of the same row updates, never duplicates.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from luna_iems.db.base import Base, JSONType, UTCDateTime, utcnow


class Meter(Base):
    __tablename__ = "meters"

    meter_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    site: Mapped[str] = mapped_column(String(100), default="default", index=True)
    kind: Mapped[str] = mapped_column(String(20), default="consumption")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")
    obis_map: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Seconds each reading stands for (a 1-hour meter: 3600); None = inferred from the readings' spacing.
    interval_s: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SmartMeterReading(Base):
    """Mean power over [ts, ts + step): consumption and production in kW, voltage in V."""

    __tablename__ = "smart_meter_readings"

    meter_id: Mapped[str] = mapped_column(
        String(100), ForeignKey("meters.meter_id", ondelete="CASCADE"), primary_key=True
    )
    ts: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    consumption_kw: Mapped[float | None] = mapped_column(Float)
    production_kw: Mapped[float | None] = mapped_column(Float)
    voltage: Mapped[float | None] = mapped_column(Float)
    quality: Mapped[str] = mapped_column(String(20), default="ok")

    __table_args__ = (Index("ix_smart_meter_readings_ts", "ts"),)


class MarketPrice(Base):
    __tablename__ = "market_prices"

    market: Mapped[str] = mapped_column(String(50), primary_key=True)
    product: Mapped[str] = mapped_column(String(50), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    price_eur_mwh: Mapped[float] = mapped_column(Float)
    volume: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_market_prices_ts", "ts"),)


class ReadingRollup(Base):
    """Readings aggregated per meter at 15 minutes, 1 hour (UTC-aligned) and 1 day (the meter's local day).

    Energies are kWh over the covered time; `covered_s` is the time the samples cover, so that
    mean power = energy / covered hours combines exactly across rollup rows. Import and export are
    computed per sample from the net flow (consumption - production) before aggregation.
    """

    __tablename__ = "reading_rollups"

    meter_id: Mapped[str] = mapped_column(
        String(100), ForeignKey("meters.meter_id", ondelete="CASCADE"), primary_key=True
    )
    resolution: Mapped[str] = mapped_column(String(4), primary_key=True)  # "15m" | "1h" | "1d"
    ts: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    samples: Mapped[int] = mapped_column(Integer)
    covered_s: Mapped[float] = mapped_column(Float)
    consumption_kwh: Mapped[float] = mapped_column(Float)
    production_kwh: Mapped[float] = mapped_column(Float)
    import_kwh: Mapped[float] = mapped_column(Float)
    export_kwh: Mapped[float] = mapped_column(Float)
    consumption_kw_min: Mapped[float | None] = mapped_column(Float)
    consumption_kw_max: Mapped[float | None] = mapped_column(Float)
    production_kw_min: Mapped[float | None] = mapped_column(Float)
    production_kw_max: Mapped[float | None] = mapped_column(Float)
    consumption_kw_last: Mapped[float | None] = mapped_column(Float)
    production_kw_last: Mapped[float | None] = mapped_column(Float)
    voltage_avg: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_reading_rollups_resolution_ts", "resolution", "ts"),)


class SiteRollup(Base):
    """A site's energy per UTC quarter-hour, its meters netted as one grid connection.

    Import and export are netted across the site's meters at the finest resolution all of them have
    (`netting_s`: a 1-minute load meter and a 1-minute PV meter net per minute; add an hourly meter and
    they net per hour), then summed into the quarter-hour. `covered_s` adds up the meters' covered time.
    """

    __tablename__ = "site_rollups"

    site: Mapped[str] = mapped_column(String(100), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    meters: Mapped[int] = mapped_column(Integer)
    covered_s: Mapped[float] = mapped_column(Float)
    netting_s: Mapped[float] = mapped_column(Float)
    consumption_kwh: Mapped[float] = mapped_column(Float)
    production_kwh: Mapped[float] = mapped_column(Float)
    import_kwh: Mapped[float] = mapped_column(Float)
    export_kwh: Mapped[float] = mapped_column(Float)


class SiteRollupPending(Base):
    """Time ranges of a site whose site rollups must be recomputed (a meter's rollups changed, or a
    meter joined or left the site)."""

    __tablename__ = "site_rollup_pending"

    pending_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(100), index=True)
    ts_from: Mapped[datetime] = mapped_column(UTCDateTime)
    ts_to: Mapped[datetime] = mapped_column(UTCDateTime)


class RollupPending(Base):
    """Time ranges whose rollups must be recomputed (written by ingest, consumed by the rollup job)."""

    __tablename__ = "rollup_pending"

    pending_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meter_id: Mapped[str] = mapped_column(String(100), index=True)
    ts_from: Mapped[datetime] = mapped_column(UTCDateTime)
    ts_to: Mapped[datetime] = mapped_column(UTCDateTime)


class IngestBatch(Base):
    """One ingest call: what arrived, what was written, and its data-quality summary."""

    __tablename__ = "ingest_batches"

    batch_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "readings" | "prices"
    source: Mapped[str] = mapped_column(String(20))  # json, csv, dsmr, sml, mqtt, simulation, entsoe
    rows_received: Mapped[int] = mapped_column(Integer)
    rows_written: Mapped[int] = mapped_column(Integer)
    rows_inserted: Mapped[int] = mapped_column(Integer)
    rows_updated: Mapped[int] = mapped_column(Integer)
    ts_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ts_to: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DataQuality(Base):
    """Quality of one series in one ingest batch."""

    __tablename__ = "data_quality"

    batch_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("ingest_batches.batch_id", ondelete="CASCADE"), primary_key=True
    )
    series: Mapped[str] = mapped_column(String(160), primary_key=True)  # meter_id or market/product
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rows: Mapped[int] = mapped_column(Integer)
    expected_rows: Mapped[int] = mapped_column(Integer)
    missing_rate: Mapped[float] = mapped_column(Float)
    outliers: Mapped[int] = mapped_column(Integer)
    max_robust_z: Mapped[float | None] = mapped_column(Float)
    duplicates: Mapped[int] = mapped_column(Integer)
    out_of_order: Mapped[int] = mapped_column(Integer)
    step_s: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_data_quality_series_created_at", "series", "created_at"),)


class BatteryState(Base):
    """A battery's state of charge as its inverter or BMS reports it (power: + = discharge).

    Rules read the newest state of a site's batteries (`soc_pct`); a replayed state updates its row.
    """

    __tablename__ = "battery_states"

    battery_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    site: Mapped[str] = mapped_column(String(100), default="default")
    soc_pct: Mapped[float] = mapped_column(Float)
    power_kw: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_battery_states_site_ts", "site", "ts"),)
