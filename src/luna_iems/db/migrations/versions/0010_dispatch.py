"""Issue 12: dispatch: activated plans and the setpoints sent for them (integrations/dispatch).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import luna_iems.db.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")  # the models' JSONType


def upgrade() -> None:
    op.create_table(
        "dispatch_plans",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("start_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("step_minutes", sa.Integer(), nullable=False),
        sa.Column("request", JSON, nullable=False),
        sa.Column("schedule", JSON, nullable=False),
        sa.Column("devices", JSON, nullable=False),
        sa.Column("ended_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_dispatch_plans")),
    )
    with op.batch_alter_table("dispatch_plans", schema=None) as batch_op:
        batch_op.create_index("ix_dispatch_plans_status_created", ["status", "created_at"], unique=False)

    op.create_table(
        "dispatch_setpoints",
        sa.Column("setpoint_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("device", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("step_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.String(length=300), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("retain", sa.Boolean(), nullable=False),
        sa.Column("sent_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["dispatch_plans.plan_id"],
            name=op.f("fk_dispatch_setpoints_plan_id_dispatch_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("setpoint_id", name=op.f("pk_dispatch_setpoints")),
        sa.UniqueConstraint(
            "plan_id", "device", "step_at", name=op.f("uq_dispatch_setpoints_plan_id_device_step_at")
        ),
    )
    with op.batch_alter_table("dispatch_setpoints", schema=None) as batch_op:
        batch_op.create_index("ix_dispatch_setpoints_sent_at", ["sent_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispatch_setpoints_plan_id"), ["plan_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dispatch_setpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispatch_setpoints_plan_id"))
        batch_op.drop_index("ix_dispatch_setpoints_sent_at")
    op.drop_table("dispatch_setpoints")

    with op.batch_alter_table("dispatch_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_dispatch_plans_status_created")
    op.drop_table("dispatch_plans")
