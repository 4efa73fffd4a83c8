"""Issue 13: recommendations (what `POST /recommend` showed, for which context, and its reward) and the
bandit statistics per arm (A, b, n, reward sum), updated in the reward's transaction.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import luna_iems.db.base

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
_TS = luna_iems.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "recommendations",
        sa.Column("recommendation_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=True),
        sa.Column("policy", sa.String(length=20), nullable=False),
        sa.Column("context", _JSON, nullable=False),
        sa.Column("items", _JSON, nullable=False),
        sa.Column("reward", sa.Float(), nullable=True),
        sa.Column("reward_source", sa.String(length=40), nullable=True),
        sa.Column("rewarded_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("recommendation_id", name=op.f("pk_recommendations")),
    )
    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recommendations_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_recommendations_key_id"), ["key_id"], unique=False)
    op.create_table(
        "bandit_arms",
        sa.Column("policy", sa.String(length=20), nullable=False),
        sa.Column("arm_id", sa.String(length=64), nullable=False),
        sa.Column("features", _JSON, nullable=False),
        sa.Column("a_matrix", _JSON, nullable=False),
        sa.Column("b_vector", _JSON, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("reward_sum", sa.Float(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("policy", "arm_id", name=op.f("pk_bandit_arms")),
    )


def downgrade() -> None:
    op.drop_table("bandit_arms")
    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recommendations_key_id"))
        batch_op.drop_index(batch_op.f("ix_recommendations_created_at"))
    op.drop_table("recommendations")
