"""Battery states: state of charge (and power) as inverters report them, read by rules.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import luna_iems.db.base
from luna_iems.db.dialect import create_hypertables

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "battery_states",
        sa.Column("battery_id", sa.String(length=100), nullable=False),
        sa.Column("ts", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.Column("soc_pct", sa.Float(), nullable=False),
        sa.Column("power_kw", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("battery_id", "ts", name=op.f("pk_battery_states")),
    )
    with op.batch_alter_table("battery_states", schema=None) as batch_op:
        batch_op.create_index("ix_battery_states_site_ts", ["site", "ts"], unique=False)
    create_hypertables(op.get_bind(), {"battery_states": "ts"})  # only where TimescaleDB exists


def downgrade() -> None:
    with op.batch_alter_table("battery_states", schema=None) as batch_op:
        batch_op.drop_index("ix_battery_states_site_ts")

    op.drop_table("battery_states")
