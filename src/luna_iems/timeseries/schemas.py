"""Pydantic I/O of the time-series domain. Units are in the field names; times are ISO 8601 with offset."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from luna_iems.db.timebucket import Bucket

MAX_BATCH_ROWS = 100_000
MAX_POWER_KW = 100_000.0  # 100 MW: far above any meter we serve, far below a unit mix-up (W sent as kW)
MAX_VOLTAGE_V = 1_000.0
PRICE_LIMIT_EUR_MWH = 10_000.0  # beyond the harmonised day-ahead and intraday price limits


# Timestamps outside these bounds are refused: no meter reads before 1970, and a bounded calendar keeps
# time-zone arithmetic (offset transitions, local days) cheap whatever a caller sends.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def check_instant(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"timestamp {value.isoformat()} is outside {EARLIEST.year}-{LATEST.year}")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(check_instant)]


def check_timezone(value: str) -> str:
    if value not in _TIMEZONES:
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin'")
    return value


_TIMEZONES = available_timezones() | {"UTC"}
TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
MeterId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:\-]+$")]
Power = Annotated[float, Field(ge=0, le=MAX_POWER_KW, allow_inf_nan=False)]
Voltage = Annotated[float, Field(gt=0, le=MAX_VOLTAGE_V, allow_inf_nan=False)]


class MeterKind(StrEnum):
    CONSUMPTION = "consumption"
    PRODUCTION = "production"
    BIDIRECTIONAL = "bidirectional"
    BATTERY = "battery"


class ReadingQuality(StrEnum):
    OK = "ok"
    MISSING = "missing"
    ESTIMATED = "estimated"
    SUSPECT = "suspect"


class MeterBase(BaseModel):
    site: str = Field(default="default", min_length=1, max_length=100)
    kind: MeterKind = MeterKind.CONSUMPTION
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    timezone: TimeZoneName = Field(default="Europe/Berlin", examples=["Europe/Berlin"])
    obis_map: dict[str, str] = Field(
        default_factory=dict,
        description="OBIS code -> reading field, e.g. {'1-0:1.7.0': 'consumption_kw'}; empty: standard",
    )


class MeterCreate(MeterBase):
    meter_id: MeterId


class MeterUpdate(BaseModel):
    site: str | None = Field(default=None, min_length=1, max_length=100)
    kind: MeterKind | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    timezone: TimeZoneName | None = None
    obis_map: dict[str, str] | None = None


class MeterRead(MeterBase):
    model_config = ConfigDict(from_attributes=True)

    meter_id: str
    created_at: datetime


class MeterList(BaseModel):
    items: list[MeterRead]
    total: int


class ReadingIn(BaseModel):
    """One reading: mean power over [ts, ts + step). Consumption and production are both >= 0."""

    model_config = ConfigDict(extra="forbid")

    meter_id: MeterId
    ts: Instant
    consumption_kw: Power | None = None
    production_kw: Power | None = None
    voltage: Voltage | None = None
    quality: ReadingQuality = ReadingQuality.OK


class ReadingBatch(BaseModel):
    rows: list[ReadingIn] = Field(max_length=MAX_BATCH_ROWS)
    create_meters: bool = Field(default=False, description="Create unknown meters instead of answering 404")


class PriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    market: str = Field(default="DE-LU", min_length=1, max_length=50)
    product: str = Field(default="day_ahead", min_length=1, max_length=50)
    ts: Instant
    price_eur_mwh: float = Field(ge=-PRICE_LIMIT_EUR_MWH, le=PRICE_LIMIT_EUR_MWH, allow_inf_nan=False)
    volume: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class PriceBatch(BaseModel):
    rows: list[PriceIn] = Field(max_length=MAX_BATCH_ROWS)


class BatteryStateIn(BaseModel):
    """One reported state of a battery: state of charge (%) and, optionally, power (+ = discharge)."""

    model_config = ConfigDict(extra="forbid")

    battery_id: str = Field(min_length=1, max_length=100)
    site: str = Field(default="default", min_length=1, max_length=100)
    ts: Instant
    soc_pct: float = Field(ge=0, le=100, allow_inf_nan=False)
    power_kw: float | None = Field(default=None, allow_inf_nan=False, description="+ discharge, - charge")


class BatteryStateBatch(BaseModel):
    rows: list[BatteryStateIn] = Field(min_length=1, max_length=MAX_BATCH_ROWS)


class BatteryStateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    battery_id: str
    site: str
    ts: datetime
    soc_pct: float
    power_kw: float | None


class BatteryStateList(BaseModel):
    items: list[BatteryStateRead]
    truncated: bool = Field(description="More states match: narrow the range or raise limit")


class BatteryStatesWritten(BaseModel):
    rows_received: int
    rows_written: int = Field(description="Distinct (battery_id, ts); the last of duplicates wins")


class SeriesQuality(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    series: str
    rows: int
    expected_rows: int
    missing_rate: float = Field(description="Share of expected rows that are absent or flagged missing")
    outliers: int = Field(description="Values with a robust (median/MAD) z-score above 3.5")
    max_robust_z: float | None
    duplicates: int = Field(description="Rows repeating a timestamp of the same series within the batch")
    out_of_order: int = Field(description="Rows earlier than the row before them in the batch")
    step_s: float | None = Field(description="The series' typical step (median spacing) in seconds")


class IngestResult(BaseModel):
    batch_id: uuid.UUID
    kind: Literal["readings", "prices"]
    source: str
    rows_received: int
    rows_written: int = Field(description="Rows after removing in-batch duplicates (the last one wins)")
    rows_inserted: int
    rows_updated: int = Field(description="Rows that replaced an existing (series, ts): replays update")
    meters_created: list[str] = Field(default_factory=list)
    ts_from: datetime | None
    ts_to: datetime | None
    quality: list[SeriesQuality]


class QualityRecord(SeriesQuality):
    batch_id: uuid.UUID
    created_at: datetime


class QualityList(BaseModel):
    items: list[QualityRecord]


Agg = Literal["avg", "sum", "min", "max", "last"]


class ReadingPoint(BaseModel):
    ts: datetime
    consumption_kw: float | None = None
    production_kw: float | None = None
    consumption_kwh: float | None = None
    production_kwh: float | None = None
    voltage: float | None = None
    samples: int | None = None
    coverage: float | None = Field(default=None, description="Share of the bucket covered by samples")
    quality: str | None = None


class ReadingSeries(BaseModel):
    meter_id: str
    bucket: Bucket | None
    agg: Agg | None
    timezone: str
    points: list[ReadingPoint]
    truncated: bool = False
    next_from: datetime | None = None


class PricePoint(BaseModel):
    ts: datetime
    price_eur_mwh: float | None
    samples: int | None = None


class PriceSeriesRead(BaseModel):
    market: str
    product: str
    bucket: Bucket | None
    agg: Agg | None
    timezone: str
    points: list[PricePoint]


class Kpis(BaseModel):
    scope: dict[str, Any]
    ts_from: datetime
    ts_to: datetime
    hours: float
    coverage: float = Field(description="Share of the period covered by readings")
    consumption_kwh: float
    production_kwh: float
    import_kwh: float
    export_kwh: float
    self_consumption_rate: float | None = Field(description="1 - export / production")
    autarky_rate: float | None = Field(description="1 - import / consumption")
    peak_load_kw: float | None = Field(description="Highest 15-minute mean consumption")
    peak_load_at: datetime | None
    peak_import_kw: float | None = Field(description="Highest 15-minute mean grid import")
    mean_load_kw: float | None
    load_factor: float | None = Field(description="Mean load / peak load")
    market: str
    product: str
    priced_share: float = Field(description="Share of imported/exported energy with a market price")
    import_cost_eur: float | None = Field(description="Sum of imported energy x market price")
    export_revenue_eur: float | None
    net_cost_eur: float | None
