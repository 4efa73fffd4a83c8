"""Energy data: reading rollups (15m, 1h, 1d), pending rollup ranges, ingest batches, data quality.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import luna_iems.db.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_batches",
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("rows_received", sa.Integer(), nullable=False),
        sa.Column("rows_written", sa.Integer(), nullable=False),
        sa.Column("rows_inserted", sa.Integer(), nullable=False),
        sa.Column("rows_updated", sa.Integer(), nullable=False),
        sa.Column("ts_from", luna_iems.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ts_to", luna_iems.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_ingest_batches")),
    )
    with op.batch_alter_table("ingest_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_batches_created_at"), ["created_at"], unique=False)

    op.create_table(
        "rollup_pending",
        sa.Column("pending_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("meter_id", sa.String(length=100), nullable=False),
        sa.Column("ts_from", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ts_to", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pending_id", name=op.f("pk_rollup_pending")),
    )
    with op.batch_alter_table("rollup_pending", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rollup_pending_meter_id"), ["meter_id"], unique=False)

    op.create_table(
        "data_quality",
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("series", sa.String(length=160), nullable=False),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("expected_rows", sa.Integer(), nullable=False),
        sa.Column("missing_rate", sa.Float(), nullable=False),
        sa.Column("outliers", sa.Integer(), nullable=False),
        sa.Column("max_robust_z", sa.Float(), nullable=True),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("out_of_order", sa.Integer(), nullable=False),
        sa.Column("step_s", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["ingest_batches.batch_id"],
            name=op.f("fk_data_quality_batch_id_ingest_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("batch_id", "series", name=op.f("pk_data_quality")),
    )
    with op.batch_alter_table("data_quality", schema=None) as batch_op:
        batch_op.create_index("ix_data_quality_series_created_at", ["series", "created_at"], unique=False)

    op.create_table(
        "reading_rollups",
        sa.Column("meter_id", sa.String(length=100), nullable=False),
        sa.Column("resolution", sa.String(length=4), nullable=False),
        sa.Column("ts", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("covered_s", sa.Float(), nullable=False),
        sa.Column("consumption_kwh", sa.Float(), nullable=False),
        sa.Column("production_kwh", sa.Float(), nullable=False),
        sa.Column("import_kwh", sa.Float(), nullable=False),
        sa.Column("export_kwh", sa.Float(), nullable=False),
        sa.Column("consumption_kw_min", sa.Float(), nullable=True),
        sa.Column("consumption_kw_max", sa.Float(), nullable=True),
        sa.Column("production_kw_min", sa.Float(), nullable=True),
        sa.Column("production_kw_max", sa.Float(), nullable=True),
        sa.Column("consumption_kw_last", sa.Float(), nullable=True),
        sa.Column("production_kw_last", sa.Float(), nullable=True),
        sa.Column("voltage_avg", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["meter_id"],
            ["meters.meter_id"],
            name=op.f("fk_reading_rollups_meter_id_meters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meter_id", "resolution", "ts", name=op.f("pk_reading_rollups")),
    )
    with op.batch_alter_table("reading_rollups", schema=None) as batch_op:
        batch_op.create_index("ix_reading_rollups_resolution_ts", ["resolution", "ts"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reading_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_reading_rollups_resolution_ts")

    op.drop_table("reading_rollups")
    with op.batch_alter_table("data_quality", schema=None) as batch_op:
        batch_op.drop_index("ix_data_quality_series_created_at")

    op.drop_table("data_quality")
    with op.batch_alter_table("rollup_pending", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rollup_pending_meter_id"))

    op.drop_table("rollup_pending")
    with op.batch_alter_table("ingest_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_batches_created_at"))

    op.drop_table("ingest_batches")
