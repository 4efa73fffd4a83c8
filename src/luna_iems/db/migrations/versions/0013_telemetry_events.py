"""Issue 13: telemetry events with client ids and item kinds; feedback labels.

The first schema's `users`, `events` and `labels` tables were never written to: they are replaced.
Events carry the client's `event_id` (the idempotency key), an item kind and a free item id, an optional
salted user hash and no personal data; labels hold explicit feedback and implicit rewards, one per
`dedup_key`. `events` stays a TimescaleDB hypertable on `ts` where the extension exists.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import luna_iems.db.base
from luna_iems.db.dialect import create_hypertables

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
_TS = luna_iems.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.drop_table("labels")
    op.drop_table("events")
    op.drop_table("users")
    op.create_table(
        "events",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("item_kind", sa.String(length=20), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("user_hash", sa.String(length=128), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("page", sa.String(length=500), nullable=True),
        sa.Column("meta", _JSON, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("event_id", "ts", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_ts", ["ts"], unique=False)
        batch_op.create_index("ix_events_type_ts", ["type", "ts"], unique=False)
        batch_op.create_index("ix_events_item_kind_item_id", ["item_kind", "item_id"], unique=False)
        batch_op.create_index("ix_events_event_id", ["event_id"], unique=False)
    op.create_table(
        "labels",
        sa.Column("label_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("helpful", sa.Boolean(), nullable=True),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.Column("reward", sa.Float(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("label_id", name=op.f("pk_labels")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_labels_dedup_key")),
    )
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_labels_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_labels_key_id"), ["key_id"], unique=False)
        batch_op.create_index("ix_labels_target_target_id", ["target", "target_id"], unique=False)
    create_hypertables(op.get_bind(), {"events": "ts"})


def downgrade() -> None:
    op.drop_table("labels")
    op.drop_table("events")
    op.create_table(
        "users",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
        sa.UniqueConstraint("external_id", name=op.f("uq_users_external_id")),
    )
    op.create_table(
        "events",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=True),
        sa.Column("meta", _JSON, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name=op.f("fk_events_user_id_users")),
        sa.PrimaryKeyConstraint("event_id", "ts", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_ts", ["ts"], unique=False)
        batch_op.create_index("ix_events_type_ts", ["type", "ts"], unique=False)
    op.create_table(
        "labels",
        sa.Column("label_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("item_id", sa.Uuid(), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=True),
        sa.Column("reward", sa.Float(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name=op.f("fk_labels_user_id_users")),
        sa.PrimaryKeyConstraint("label_id", name=op.f("pk_labels")),
    )
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_labels_created_at"), ["created_at"], unique=False)
    create_hypertables(op.get_bind(), {"events": "ts"})
