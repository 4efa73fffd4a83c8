"""Tables of the telemetry domain: interaction events and labels (feedback and rewards).

Other parts of the learning loop (recommendations, the DP export) read these columns by name: keep them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from luna_iems.db.base import Base, JSONType, UTCDateTime, utcnow

EVENT_TYPES = ("view", "click", "like", "dismiss", "solve", "dwell")
ITEM_KINDS = ("document", "recommendation", "rule", "alert", "playbook_step", "answer")
ITEM_ID_MAX_CHARS = 200
USER_HASH_MAX_CHARS = 128
PAGE_MAX_CHARS = 500
FEEDBACK_TARGETS = ("answer", "recommendation")
LABEL_KINDS = ("explicit", "implicit")  # POST /feedback, or derived from a telemetry event
COMMENT_MAX_CHARS = 500


class Event(Base):
    """An anonymous interaction event, append-only. `event_id` is chosen by the client (the idempotency
    key); the primary key includes `ts` so that TimescaleDB can partition by it."""

    __tablename__ = "events"

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    item_kind: Mapped[str] = mapped_column(String(20))
    item_id: Mapped[str] = mapped_column(String(ITEM_ID_MAX_CHARS))
    user_hash: Mapped[str | None] = mapped_column(String(USER_HASH_MAX_CHARS))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    page: Mapped[str | None] = mapped_column(String(PAGE_MAX_CHARS))
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_events_ts", "ts"),
        Index("ix_events_type_ts", "type", "ts"),
        Index("ix_events_item_kind_item_id", "item_kind", "item_id"),
        # Replays are found by id alone (the primary key starts with it too, but says so less plainly).
        Index("ix_events_event_id", "event_id"),
    )


class Label(Base):
    """A reward for an answer or a recommendation: explicit (`POST /feedback`, one per key, target and
    id: `dedup_key`) or implicit (a telemetry event on a recommendation, one per event)."""

    __tablename__ = "labels"

    label_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # "explicit:<key_id>:<target>:<target_id>" or "implicit:<event_id>": replays never duplicate.
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[str] = mapped_column(String(ITEM_ID_MAX_CHARS))
    key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    helpful: Mapped[bool | None] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(String(COMMENT_MAX_CHARS))
    reward: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_labels_target_target_id", "target", "target_id"),)
