"""Pydantic I/O of the time-series domain. Units are in the field names; times are ISO 8601 with offset."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictBool,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from luna_iems.bounds import NotBool, Timestamp
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


# ISO 8601 text (a number is not read as Unix seconds), 1970-2200.
Instant = Annotated[Timestamp, AfterValidator(check_instant)]


def check_timezone(value: str) -> str:
    if value not in _TIMEZONES:
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin'")
    return value


_TIMEZONES = available_timezones() | {"UTC"}


# The form of an IANA name ("Europe/Berlin", "America/Argentina/Buenos_Aires", "UTC", "Etc/GMT+1"); the
# names themselves are checked against the zone database at run time. They are not listed in the
# OpenAPI document: the list comes from the machine's tzdata, and the document must not depend on it.
TIMEZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$"


class _TimeZone:
    """A str checked against the IANA names; one named definition (`TimeZone`) in the OpenAPI document."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            check_timezone, core_schema.str_schema(max_length=64, pattern=TIMEZONE_PATTERN), ref="TimeZone"
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        handler.resolve_ref_schema(json_schema).update(
            description="An IANA time zone name that exists in the zone database, e.g. Europe/Berlin",
            examples=["Europe/Berlin", "UTC"],
        )
        return json_schema


TimeZoneName = Annotated[str, _TimeZone]
METER_ID_PATTERN = r"^[A-Za-z0-9._:\-]+$"
MeterId = Annotated[str, Field(min_length=1, max_length=100, pattern=METER_ID_PATTERN)]
# OBIS code (e.g. "1-0:1.7.0") -> reading field; bounded like every other client input.
ObisMap = Annotated[
    dict[Annotated[str, Field(max_length=30)], Annotated[str, Field(max_length=50)]], Field(max_length=32)
]
# Numbers from JSON or CSV text; `true` is not a number.
Power = Annotated[float, Field(ge=0, le=MAX_POWER_KW, allow_inf_nan=False), NotBool]
Voltage = Annotated[float, Field(gt=0, le=MAX_VOLTAGE_V, allow_inf_nan=False), NotBool]


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


INTERVAL_DOC = (
    "Seconds each reading stands for (mean power over [ts, ts + interval_s)), e.g. 3600 for an hourly "
    "meter; null: inferred from the spacing of the meter's readings"
)


class MeterBase(BaseModel):
    site: str = Field(default="default", min_length=1, max_length=100)
    kind: MeterKind = MeterKind.CONSUMPTION
    lat: float | None = Field(strict=True, default=None, ge=-90, le=90)
    lon: float | None = Field(strict=True, default=None, ge=-180, le=180)
    timezone: TimeZoneName = Field(default="Europe/Berlin", examples=["Europe/Berlin"])
    obis_map: ObisMap = Field(
        default_factory=dict,
        description="OBIS code -> reading field, e.g. {'1-0:1.7.0': 'consumption_kw'}; empty: standard",
    )
    interval_s: int | None = Field(strict=True, default=None, ge=1, le=86_400, description=INTERVAL_DOC)


class MeterCreate(MeterBase):
    meter_id: MeterId


def _null_not_offered(schema: dict[str, Any]) -> None:
    """JSON schema of an optional field whose null the service refuses: only the non-null branch."""
    branches = [b for b in schema.pop("anyOf", []) if b.get("type") != "null"]
    schema.pop("default", None)
    if len(branches) == 1:
        schema.update(branches[0])


_NO_NULL: Any = Field(default=None, json_schema_extra=_null_not_offered)


class MeterUpdate(BaseModel):
    """Fields to change; left out = unchanged. Only lat and lon may be null (no location); the service
    refuses null for the others (422), so the schema does not offer it."""

    site: Annotated[str, Field(min_length=1, max_length=100)] | None = _NO_NULL
    kind: MeterKind | None = _NO_NULL
    lat: Annotated[float, Field(strict=True, ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(strict=True, ge=-180, le=180)] | None = None
    timezone: TimeZoneName | None = _NO_NULL
    obis_map: ObisMap | None = _NO_NULL
    interval_s: Annotated[int, Field(strict=True, ge=1, le=86_400)] | None = Field(
        default=None, description=INTERVAL_DOC
    )


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
    """A JSON batch of readings, all or nothing (a bare list of rows is accepted too)."""

    model_config = ConfigDict(extra="forbid")

    rows: list[ReadingIn] = Field(min_length=1, max_length=MAX_BATCH_ROWS)
    create_meters: StrictBool = Field(
        default=False, description="Create unknown meters instead of answering 404"
    )


class PriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    market: str = Field(default="DE-LU", min_length=1, max_length=50)
    product: str = Field(default="day_ahead", min_length=1, max_length=50)
    ts: Instant
    price_eur_mwh: Annotated[float, NotBool] = Field(
        ge=-PRICE_LIMIT_EUR_MWH, le=PRICE_LIMIT_EUR_MWH, allow_inf_nan=False
    )
    volume: Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False), NotBool] | None = None


class PriceBatch(BaseModel):
    """A JSON batch of prices, all or nothing (a bare list of rows is accepted too)."""

    model_config = ConfigDict(extra="forbid")

    rows: list[PriceIn] = Field(min_length=1, max_length=MAX_BATCH_ROWS)


class BatteryStateIn(BaseModel):
    """One reported state of a battery: state of charge (%) and, optionally, power (+ = discharge)."""

    model_config = ConfigDict(extra="forbid")

    battery_id: str = Field(min_length=1, max_length=100)
    site: str = Field(default="default", min_length=1, max_length=100)
    ts: Instant
    soc_pct: float = Field(strict=True, ge=0, le=100, allow_inf_nan=False)
    power_kw: float | None = Field(
        strict=True,
        default=None,
        ge=-MAX_POWER_KW,
        le=MAX_POWER_KW,
        allow_inf_nan=False,
        description="+ discharge, - charge",
    )


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
    # Raw readings have no bucket and no agg; the route leaves out None fields, so they are optional.
    meter_id: str
    bucket: Bucket | None = None
    agg: Agg | None = None
    timezone: str
    points: list[ReadingPoint]
    truncated: bool = False
    next_from: datetime | None = None


class ReadingColumns(BaseModel):
    """A meter's readings as parallel arrays, entry i of every array belonging to `ts[i]`: the same
    numbers as `ReadingSeries`, in a shape that stays small and fast for long ranges (charts of a
    year of quarter-hours). Arrays that do not apply to the bucket/agg are left out."""

    meter_id: str
    bucket: Bucket | None = None
    agg: Agg | None = None
    timezone: str
    ts: list[datetime]
    consumption_kw: list[float | None] | None = None
    production_kw: list[float | None] | None = None
    consumption_kwh: list[float | None] | None = None
    production_kwh: list[float | None] | None = None
    voltage: list[float | None] | None = None
    samples: list[int] | None = None
    coverage: list[float] | None = Field(default=None, description="Share of each bucket covered by samples")
    quality: list[str | None] | None = None
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
    coverage: float = Field(description="Share of the period covered by readings (per meter, averaged)")
    netting_s: float | None = Field(
        default=None,
        description="A site: the resolution (s) its meters were netted at for import and export — the "
        "finest all of them have; null for one meter (netted per reading)",
    )
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
    priced_share: float = Field(description="Share of imported/exported energy with a known price")
    import_cost_eur: float | None = Field(
        description="Sum of imported energy x import price (the site's tariff, else the market price)"
    )
    export_revenue_eur: float | None = Field(description="Sum of exported energy x feed-in price")
    peak_charge_eur: float = Field(
        default=0.0,
        description="The tariff's capacity charge on the highest 15-minute mean import per month, "
        "pro rata of the month the period covers (0 without a stored tariff)",
    )
    net_cost_eur: float | None = Field(description="import_cost_eur + peak_charge_eur - export_revenue_eur")
    tariff: Literal["site", "default"] = Field(
        default="default",
        description="site: priced with the site's stored tariff (GET /tariffs/{site}); default: the "
        "settings' tariff, spot + IMPORT_MARKUP_EUR_KWH for imports and EXPORT_TARIFF_EUR_KWH or spot "
        "for feed-in, as the optimiser and what-if use (no tariff stored, or the period ends before "
        "its first version)",
    )
