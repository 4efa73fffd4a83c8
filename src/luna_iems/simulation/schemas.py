"""Pydantic I/O of the simulation routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field


class MeterBackfill(BaseModel):
    ts_from: AwareDatetime = Field(alias="from")
    ts_to: AwareDatetime = Field(alias="to")
    meter_ids: list[str] | None = Field(default=None, description="Default: every meter of config/sim.yml")
    count: int | None = Field(
        default=None, ge=1, le=1000, description="Or this many meters, cycling templates"
    )
    scale: float = Field(default=1.0, gt=0, le=1000, description="Multiplies every simulated power")
    noise: float | None = Field(
        default=None, ge=0, le=1, description="Overrides the profiles' relative noise"
    )


class MarketBackfill(BaseModel):
    ts_from: AwareDatetime = Field(alias="from")
    ts_to: AwareDatetime = Field(alias="to")
    step_minutes: int | None = Field(default=None, description="15 (quarter-hour products) or 60")


class BackfillResult(BaseModel):
    rows_written: int
    series: list[str]
    ts_from: datetime
    ts_to: datetime
    seconds: float
    rows_per_s: float


class SimStart(BaseModel):
    interval_s: float | None = Field(
        default=None, ge=1, le=5, description="Default: live_interval_s of sim.yml"
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
