"""Pydantic I/O of the simulation routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from luna_iems.bounds import ID_MAX_CHARS, BoundedTimestamp, JsonNumber


class MeterBackfill(BaseModel):
    ts_from: BoundedTimestamp = Field(alias="from")
    ts_to: BoundedTimestamp = Field(alias="to")
    meter_ids: list[Annotated[str, Field(min_length=1, max_length=ID_MAX_CHARS)]] | None = Field(
        default=None, max_length=1000, description="Default: every meter of config/sim.yml"
    )
    count: Annotated[int, Field(ge=1, le=1000), JsonNumber] | None = Field(
        default=None, description="Or this many meters, cycling templates"
    )
    scale: float = Field(
        strict=True, default=1.0, gt=0, le=1000, description="Multiplies every simulated power"
    )
    noise: float | None = Field(
        strict=True, default=None, ge=0, le=1, description="Overrides the profiles' relative noise"
    )


class MarketBackfill(BaseModel):
    ts_from: BoundedTimestamp = Field(alias="from")
    ts_to: BoundedTimestamp = Field(alias="to")
    step_minutes: Literal[15, 60] | None = Field(default=None, description="15 (quarter-hour products) or 60")


class BackfillResult(BaseModel):
    rows_written: int
    series: list[str]
    ts_from: datetime
    ts_to: datetime
    seconds: float
    rows_per_s: float


class SimStart(BaseModel):
    interval_s: float | None = Field(
        strict=True, default=None, ge=1, le=5, description="Default: live_interval_s of sim.yml"
    )


class SimStatus(BaseModel):
    running: bool
    interval_s: float
    started_at: datetime | None
    last_write: datetime | None
    ticks: int
    rows_written: int
    prices_until: datetime | None
    last_error: str | None
