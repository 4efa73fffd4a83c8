"""Decisions: rules with their evaluation state, alerts (anomalies and rule firings), scenarios.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import luna_iems.db.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("fingerprint", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("meter_id", sa.String(length=100), nullable=True),
        sa.Column("rule_id", sa.Uuid(), nullable=True),
        sa.Column("field", sa.String(length=50), nullable=True),
        sa.Column("start_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_alerts_fingerprint")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_alerts_meter_start", ["meter_id", "start_at"], unique=False)

    op.create_table(
        "rules",
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "spec", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("condition_since", luna_iems.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_fired_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_evaluated_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("rule_id", name=op.f("pk_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_rules_name")),
    )
    op.create_table(
        "scenarios",
        sa.Column("scenario_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "request",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("scenario_id", name=op.f("pk_scenarios")),
    )
    with op.batch_alter_table("scenarios", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scenarios_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scenarios", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scenarios_created_at"))

    op.drop_table("scenarios")
    op.drop_table("rules")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_meter_start")
        batch_op.drop_index("ix_alerts_created_at")

    op.drop_table("alerts")
