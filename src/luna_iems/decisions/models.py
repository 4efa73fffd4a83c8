"""Tables of the decisions domain: rules (and their evaluation state), alerts, what-if scenarios."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from luna_iems.db.base import Base, JSONType, UTCDateTime, utcnow


class Rule(Base):
    """A declarative rule as the user wrote it (`spec`), plus the state scheduled evaluation keeps.

    `condition_since` and `last_fired_at` carry `for_minutes` and `cooldown_minutes` across runs, so a
    restart neither re-fires a rule in its cooldown nor forgets how long a condition has held.
    """

    __tablename__ = "rules"

    rule_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    site: Mapped[str] = mapped_column(String(100), default="default")
    # Where firings are announced ("webhook", "webhook:<id>", "mqtt"); empty: NOTIFY_DEFAULT_CHANNELS.
    channels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    condition_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Alert(Base):
    """Something a person should look at: an anomaly in readings or a rule that fired.

    `fingerprint` makes detection idempotent: re-running it over the same window (or a replay of the
    same readings) updates the existing alert instead of adding a duplicate.
    """

    __tablename__ = "alerts"

    alert_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    fingerprint: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(20))  # "anomaly" | "rule" | "prices" (the price fetch)
    kind: Mapped[str] = mapped_column(String(50))  # spike, flatline, gap, drift, or the rule's action
    severity: Mapped[str] = mapped_column(String(20))
    meter_id: Mapped[str | None] = mapped_column(String(100))
    rule_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    field: Mapped[str | None] = mapped_column(String(50))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    score: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_alerts_created_at", "created_at"),
        Index("ix_alerts_meter_start", "meter_id", "start_at"),
    )


class Scenario(Base):
    """A stored what-if run: the request as given and the playbook it produced."""

    __tablename__ = "scenarios"

    scenario_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSONType)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType)
