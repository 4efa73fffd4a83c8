"""Pydantic I/O of integrations/dispatch: `GET /dispatch` (plan, setpoints sent, deviations)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DeviceKind = Literal["battery", "load"]


class DeviceRead(BaseModel):
    device: str = Field(description="Last level of the setpoint topic (<DISPATCH_TOPIC_PREFIX>/<device>)")
    kind: DeviceKind
    name: str = Field(description="The battery's or deferrable load's name in the optimiser request")
    battery_id: str | None = Field(default=None, description="Whose reported states the deviations use")
    topic: str


class PlanRead(BaseModel):
    plan_id: uuid.UUID
    site: str
    status: Literal["active", "superseded", "stale", "finished"]
    source: Literal["request", "replan"]
    created_at: datetime = Field(description="When the plan's inputs were read; its age counts from here")
    age_minutes: float
    start_at: datetime
    end_at: datetime
    step_minutes: int
    devices: list[DeviceRead]
    ended_at: datetime | None = None
    end_reason: str | None = None


class SetpointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    plan_id: uuid.UUID
    device: str
    kind: str
    step_at: datetime
    topic: str
    payload: dict[str, Any]
    retain: bool
    sent_at: datetime
    latency_ms: float | None = Field(description="Step start to the broker's acknowledgement; null: failed")
    error: str | None = Field(description="Why the publish failed; null: the broker acknowledged it")


class DeviationRead(BaseModel):
    """A battery's newest reported state against the plan at that instant (+ = discharge)."""

    device: str
    battery_id: str
    measured_at: datetime
    measured_soc_pct: float
    planned_soc_pct: float | None = Field(description="The plan's SOC at measured_at (linear within a step)")
    soc_deviation_pct: float | None = Field(description="measured - planned, percentage points")
    measured_power_kw: float | None
    planned_power_kw: float | None = Field(description="The plan's power for the step holding measured_at")
    power_deviation_kw: float | None = Field(description="measured - planned (+ = discharged more)")
    within_plan: bool = Field(description="False: the state was reported outside the plan's horizon")


class ReadingDeviationRead(BaseModel):
    """The site's metered consumption and production in a plan step against what the plan assumed
    (its load forecast plus the deferrable loads it scheduled, and its PV forecast); mean kW."""

    step_at: datetime
    measured_consumption_kw: float
    planned_consumption_kw: float
    consumption_deviation_kw: float = Field(description="measured - planned")
    measured_production_kw: float | None
    planned_pv_kw: float
    production_deviation_kw: float | None = Field(description="measured - planned")


class LatencyRead(BaseModel):
    count: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class DispatchRead(BaseModel):
    enabled: bool = Field(description="DISPATCH_ENABLED")
    publisher_connected: bool | None = Field(description="null: no MQTT_URL")
    plan: PlanRead | None = Field(description="The active plan, else the newest one (with why it ended)")
    current_step: dict[str, Any] | None = Field(description="The plan's step that holds now (ScheduleStep)")
    setpoints: list[SetpointRead] = Field(description="Newest first, at most `limit`")
    deviations: list[DeviationRead]
    reading_deviations: list[ReadingDeviationRead] = Field(
        description="The plan's last steps (up to 4, newest last) that have readings of its site"
    )
    latency: LatencyRead = Field(description="Step start to broker acknowledgement, over `setpoints`")
