"""Resolution-correct rollups: a meter's declared reading interval, and site rollups netted at the
finest resolution the site's meters share.

Rollups computed before this revision put a coarse reading's whole energy into the quarter-hour where
it starts; every meter's readings are queued for recomputation, which also fills the site rollups.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import luna_iems.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("interval_s", sa.Integer(), nullable=True))
    op.create_table(
        "site_rollups",
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.Column("ts", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("meters", sa.Integer(), nullable=False),
        sa.Column("covered_s", sa.Float(), nullable=False),
        sa.Column("netting_s", sa.Float(), nullable=False),
        sa.Column("consumption_kwh", sa.Float(), nullable=False),
        sa.Column("production_kwh", sa.Float(), nullable=False),
        sa.Column("import_kwh", sa.Float(), nullable=False),
        sa.Column("export_kwh", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("site", "ts", name=op.f("pk_site_rollups")),
    )
    op.create_table(
        "site_rollup_pending",
        sa.Column("pending_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.Column("ts_from", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ts_to", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pending_id", name=op.f("pk_site_rollup_pending")),
    )
    with op.batch_alter_table("site_rollup_pending", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_rollup_pending_site"), ["site"], unique=False)
    op.execute(
        "INSERT INTO rollup_pending (meter_id, ts_from, ts_to) "
        "SELECT meter_id, min(ts), max(ts) FROM smart_meter_readings GROUP BY meter_id"
    )


def downgrade() -> None:
    with op.batch_alter_table("site_rollup_pending", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_rollup_pending_site"))
    op.drop_table("site_rollup_pending")
    op.drop_table("site_rollups")
    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.drop_column("interval_s")
