"""Tables of the time-series domain: meters, readings, market prices.

Readings and prices are keyed by (series, ts): a replay of the same row updates, never duplicates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String
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
