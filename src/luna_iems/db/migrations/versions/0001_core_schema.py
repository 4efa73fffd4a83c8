"""Core schema: keys, audit, privacy, users, items, chunks, events, labels, meters, readings, prices.

On PostgreSQL with the TimescaleDB extension available, the time-series tables become hypertables.
The privacy configuration is seeded once with a random instance fingerprint.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import luna_iems.db.base
from luna_iems.db.dialect import create_hypertables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('admin', 'analyst', 'viewer')", name=op.f("ck_api_keys_role")),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_secret_sha256"), ["secret_sha256"], unique=True)

    op.create_table(
        "audit_log",
        sa.Column("audit_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ts", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("audit_id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_ts"), ["ts"], unique=False)

    op.create_table(
        "items",
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column(
            "tags", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_items")),
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_items_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_items_source"), ["source"], unique=False)

    op.create_table(
        "market_prices",
        sa.Column("market", sa.String(length=50), nullable=False),
        sa.Column("product", sa.String(length=50), nullable=False),
        sa.Column("ts", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("price_eur_mwh", sa.Float(), nullable=False),
        sa.Column("volume", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("market", "product", "ts", name=op.f("pk_market_prices")),
    )
    with op.batch_alter_table("market_prices", schema=None) as batch_op:
        batch_op.create_index("ix_market_prices_ts", ["ts"], unique=False)

    op.create_table(
        "meters",
        sa.Column("meter_id", sa.String(length=100), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "obis_map",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("meter_id", name=op.f("pk_meters")),
    )
    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meters_site"), ["site"], unique=False)

    op.create_table(
        "privacy_config",
        sa.Column("config_id", sa.Integer(), nullable=False),
        sa.Column("flag_send_aggregates", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("instance_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("updated_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("config_id = 1", name=op.f("ck_privacy_config_singleton")),
        sa.PrimaryKeyConstraint("config_id", name=op.f("pk_privacy_config")),
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
        sa.UniqueConstraint("external_id", name=op.f("uq_users_external_id")),
    )
    op.create_table(
        "events",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("ts", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=True),
        sa.Column(
            "meta", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name=op.f("fk_events_user_id_users")),
        sa.PrimaryKeyConstraint("event_id", "ts", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_ts", ["ts"], unique=False)
        batch_op.create_index("ix_events_type_ts", ["type", "ts"], unique=False)

    op.create_table(
        "item_chunks",
        sa.Column("chunk_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("chunk_idx", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.item_id"], name=op.f("fk_item_chunks_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("chunk_id", name=op.f("pk_item_chunks")),
        sa.UniqueConstraint("item_id", "chunk_idx", name=op.f("uq_item_chunks_item_id_chunk_idx")),
    )
    with op.batch_alter_table("item_chunks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_chunks_item_id"), ["item_id"], unique=False)

    op.create_table(
        "labels",
        sa.Column("label_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("item_id", sa.Uuid(), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=True),
        sa.Column("reward", sa.Float(), nullable=True),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name=op.f("fk_labels_user_id_users")),
        sa.PrimaryKeyConstraint("label_id", name=op.f("pk_labels")),
    )
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_labels_created_at"), ["created_at"], unique=False)

    op.create_table(
        "smart_meter_readings",
        sa.Column("meter_id", sa.String(length=100), nullable=False),
        sa.Column("ts", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consumption_kw", sa.Float(), nullable=True),
        sa.Column("production_kw", sa.Float(), nullable=True),
        sa.Column("voltage", sa.Float(), nullable=True),
        sa.Column("quality", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"],
            ["meters.meter_id"],
            name=op.f("fk_smart_meter_readings_meter_id_meters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meter_id", "ts", name=op.f("pk_smart_meter_readings")),
    )
    with op.batch_alter_table("smart_meter_readings", schema=None) as batch_op:
        batch_op.create_index("ix_smart_meter_readings_ts", ["ts"], unique=False)
    create_hypertables(op.get_bind())
    privacy = sa.table(
        "privacy_config",
        sa.column("config_id", sa.Integer()),
        sa.column("flag_send_aggregates", sa.Boolean()),
        sa.column("instance_fingerprint", sa.String()),
        sa.column("updated_at", luna_iems.db.base.UTCDateTime()),
    )
    op.bulk_insert(
        privacy,
        [
            {
                "config_id": 1,
                "flag_send_aggregates": False,
                "instance_fingerprint": secrets.token_hex(32),
                "updated_at": luna_iems.db.base.utcnow(),
            }
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("smart_meter_readings", schema=None) as batch_op:
        batch_op.drop_index("ix_smart_meter_readings_ts")

    op.drop_table("smart_meter_readings")
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_labels_created_at"))

    op.drop_table("labels")
    with op.batch_alter_table("item_chunks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_chunks_item_id"))

    op.drop_table("item_chunks")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_type_ts")
        batch_op.drop_index("ix_events_ts")

    op.drop_table("events")
    op.drop_table("users")
    op.drop_table("privacy_config")
    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meters_site"))

    op.drop_table("meters")
    with op.batch_alter_table("market_prices", schema=None) as batch_op:
        batch_op.drop_index("ix_market_prices_ts")

    op.drop_table("market_prices")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_source"))
        batch_op.drop_index(batch_op.f("ix_items_sha256"))

    op.drop_table("items")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_ts"))

    op.drop_table("audit_log")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_secret_sha256"))

    op.drop_table("api_keys")
