"""Issue 12: notify: webhooks, the notification outbox (events, deliveries, feed cursors), rule channels.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import luna_iems.db.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("events", _json(), nullable=False),
        sa.Column("min_severity", sa.String(length=20), nullable=True),
        sa.Column("sites", _json(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", name=op.f("pk_webhooks")),
    )
    op.create_table(
        "notify_events",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=True),
        sa.Column("severity", sa.String(length=20), nullable=True),
        sa.Column("rule_id", sa.Uuid(), nullable=True),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("occurred_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_notify_events")),
        sa.UniqueConstraint("event_type", "alert_id", name=op.f("uq_notify_events_event_type_alert_id")),
    )
    with op.batch_alter_table("notify_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notify_events_created_at"), ["created_at"], unique=False)

    op.create_table(
        "notify_deliveries",
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=60), nullable=False),
        sa.Column("webhook_id", sa.Uuid(), nullable=True),
        sa.Column("topic", sa.String(length=300), nullable=True),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["notify_events.event_id"],
            name=op.f("fk_notify_deliveries_event_id_notify_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.webhook_id"],
            name=op.f("fk_notify_deliveries_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_notify_deliveries")),
        sa.UniqueConstraint("event_id", "channel", name=op.f("uq_notify_deliveries_event_id_channel")),
    )
    with op.batch_alter_table("notify_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_notify_deliveries_status_next", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_notify_deliveries_webhook_id", ["webhook_id"], unique=False)

    op.create_table(
        "notify_cursors",
        sa.Column("feed", sa.String(length=50), nullable=False),
        sa.Column("position_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("feed", name=op.f("pk_notify_cursors")),
    )

    # Per-rule channels: existing rules get [] (= NOTIFY_DEFAULT_CHANNELS).
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channels", _json(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.drop_column("channels")

    op.drop_table("notify_cursors")
    with op.batch_alter_table("notify_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_notify_deliveries_webhook_id")
        batch_op.drop_index("ix_notify_deliveries_status_next")
    op.drop_table("notify_deliveries")
    with op.batch_alter_table("notify_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_events_created_at"))
    op.drop_table("notify_events")
    op.drop_table("webhooks")
