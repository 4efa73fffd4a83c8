"""Issue 12: price sources -- fetch state of the scheduled price fetch (ENTSO-E, generic URL).

One row per configured source (integrations/prices/models.py). Per-battery rules and rule hysteresis
(issue 12, item 7) need no column: `battery` and `rearm_when` live in the rule's JSON spec, and the
hysteresis latch is derived from the existing `condition_since` / `last_fired_at`.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import luna_iems.db.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "price_sources",
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("target_day", sa.String(length=10), nullable=True),
        sa.Column("last_attempt_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("rows_last", sa.Integer(), nullable=False),
        sa.Column("blocked_token", sa.String(length=64), nullable=True),
        sa.Column("updated_at", luna_iems.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_price_sources")),
    )


def downgrade() -> None:
    op.drop_table("price_sources")
