"""Tables of integrations/notify: webhooks, the notification outbox (events and their deliveries) and
the feed cursors.

The outbox is fed from the alerts table (see `service.feed`), never by calls inside decisions code:
an alert row that commits is an event to send, whichever code path wrote it. Two unique keys make the
feed idempotent: `(event_type, alert_id)` on events (one event per alert and event type) and
`(event_id, channel)` on deliveries (one delivery per event and channel), so a replayed feed never
enqueues twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from luna_iems.db.base import Base, JSONType, UTCDateTime, utcnow


class Webhook(Base):
    """An HTTPS (or HTTP) endpoint that receives signed JSON events.

    `secret` is kept in clear because every delivery is signed with it (HMAC needs the key itself);
    the API shows it once, at creation. `events` lists the event types sent; `min_severity` and
    `sites` narrow them (None: no filter).
    """

    __tablename__ = "webhooks"

    webhook_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JSONType)
    min_severity: Mapped[str | None] = mapped_column(String(20))
    sites: Mapped[list[str] | None] = mapped_column(JSONType)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotifyEvent(Base):
    """One event to announce: `alert.raised`, `alert.resolved` or `rule.fired`, with its payload.

    `(event_type, alert_id)` is unique: the feed may scan an alert twice, the event exists once.
    """

    __tablename__ = "notify_events"

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event_type: Mapped[str] = mapped_column(String(50))
    alert_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    site: Mapped[str | None] = mapped_column(String(100))
    severity: Mapped[str | None] = mapped_column(String(20))
    rule_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("event_type", "alert_id"),)


class NotifyDelivery(Base):
    """One event sent over one channel: a webhook (`webhook:<id>`) or MQTT (`mqtt`, with its topic).

    `status` is `pending` (due at `next_attempt_at`), `delivered` or `dead` (4xx other than 408/429,
    or `attempts` reached the limit); a dead letter stays until someone redelivers it.
    """

    __tablename__ = "notify_deliveries"

    delivery_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("notify_events.event_id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(60))  # "webhook:<uuid>" | "mqtt"
    webhook_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("webhooks.webhook_id", ondelete="CASCADE")
    )
    topic: Mapped[str | None] = mapped_column(String(300))
    event_type: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    response_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("event_id", "channel"),
        Index("ix_notify_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_notify_deliveries_webhook_id", "webhook_id"),
    )


class NotifyCursor(Base):
    """How far a feed has read its source table (`position_at`); it re-reads a margin behind it, and
    the unique event key absorbs the overlap."""

    __tablename__ = "notify_cursors"

    feed: Mapped[str] = mapped_column(String(50), primary_key=True)
    position_at: Mapped[datetime] = mapped_column(UTCDateTime)
