"""Tables of integrations/dispatch: activated plans and every setpoint sent (or attempted).

At most one plan is `active`; activating another supersedes it. A plan keeps the optimiser request it
came from (so the re-plan job can run it again from stored inputs) and the schedule it produced.
A setpoint row is written for every attempt, with the broker's answer: `error` is null when the broker
acknowledged it. (plan, device, step) is unique, so a restarted dispatcher never sends a step twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from luna_iems.db.base import Base, JSONType, UTCDateTime, utcnow


class DispatchPlan(Base):
    __tablename__ = "dispatch_plans"

    plan_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    site: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # active | superseded | stale | finished
    source: Mapped[str] = mapped_column(String(20))  # request | replan
    # When the plan's inputs (forecasts, prices, reported SOC) were read: its age counts from here.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    step_minutes: Mapped[int] = mapped_column(Integer)
    request: Mapped[dict[str, Any]] = mapped_column(JSONType)
    schedule: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # [{"device", "kind": "battery"|"load", "name", "battery_id"}]: what each setpoint topic controls.
    devices: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_dispatch_plans_status_created", "status", "created_at"),)


class DispatchSetpoint(Base):
    __tablename__ = "dispatch_setpoints"

    setpoint_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("dispatch_plans.plan_id", ondelete="CASCADE"), index=True
    )
    device: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # battery | load
    # The step this setpoint starts; a release (plan stale, superseded or finished) carries its own time.
    step_at: Mapped[datetime] = mapped_column(UTCDateTime)
    topic: Mapped[str] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    retain: Mapped[bool] = mapped_column(Boolean)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # From the step's start to the broker's acknowledgement; null when the publish failed.
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("plan_id", "device", "step_at"),
        Index("ix_dispatch_setpoints_sent_at", "sent_at"),
    )
