"""Rewards per action of a recommendation: `recommendation_rewards` (recommendation, arm) replaces the one
reward column set of `recommendations`, which could only credit the top-ranked action. Existing rewards
move to the top-ranked action of their recommendation, as they were credited.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import luna_iems.db.base

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = luna_iems.db.base.UTCDateTime(timezone=True)


def _top_action(items: Any) -> str | None:
    return next((i.get("id") for i in items or [] if isinstance(i, dict) and i.get("kind") == "action"), None)


def upgrade() -> None:
    # Read the old rewards first: on SQLite the batch operations below rebuild `recommendations`, and
    # dropping the old table would cascade to a rewards table that already pointed at it.
    old = sa.table(
        "recommendations",
        sa.column("recommendation_id", sa.Uuid()),
        sa.column("items", sa.JSON()),
        sa.column("reward", sa.Float()),
        sa.column("reward_source", sa.String()),
        sa.column("rewarded_at", _TS),
    )
    rows = (
        op.get_bind()
        .execute(
            sa.select(
                old.c.recommendation_id, old.c["items"], old.c.reward, old.c.reward_source, old.c.rewarded_at
            ).where(old.c.reward.is_not(None))
        )
        .all()
    )
    moved = [
        {
            "recommendation_id": rid,
            "arm_id": arm,
            "reward": reward,
            "source": source or "migrated",
            "rewarded_at": at,
        }
        for rid, items, reward, source, at in rows
        if (arm := _top_action(items)) is not None and at is not None
    ]
    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.drop_column("rewarded_at")
        batch_op.drop_column("reward_source")
        batch_op.drop_column("reward")
    rewards = op.create_table(
        "recommendation_rewards",
        sa.Column("recommendation_id", sa.Uuid(), nullable=False),
        sa.Column("arm_id", sa.String(length=64), nullable=False),
        sa.Column("reward", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("rewarded_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["recommendation_id"],
            ["recommendations.recommendation_id"],
            name=op.f("fk_recommendation_rewards_recommendation_id_recommendations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("recommendation_id", "arm_id", name=op.f("pk_recommendation_rewards")),
    )
    with op.batch_alter_table("recommendation_rewards", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recommendation_rewards_rewarded_at"), ["rewarded_at"], unique=False
        )
    if moved:
        op.bulk_insert(rewards, moved)


def downgrade() -> None:
    # Back to one reward per recommendation: the latest of its actions' rewards. Read them before the
    # batch operation rebuilds `recommendations` (on SQLite that would cascade to the rewards).
    rewards = sa.table(
        "recommendation_rewards",
        sa.column("recommendation_id", sa.Uuid()),
        sa.column("reward", sa.Float()),
        sa.column("source", sa.String()),
        sa.column("rewarded_at", _TS),
    )
    connection = op.get_bind()
    latest: dict[Any, Any] = {}
    for row in connection.execute(sa.select(rewards).order_by(rewards.c.rewarded_at)).all():
        latest[row.recommendation_id] = row
    with op.batch_alter_table("recommendation_rewards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recommendation_rewards_rewarded_at"))
    op.drop_table("recommendation_rewards")
    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reward", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("reward_source", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("rewarded_at", _TS, nullable=True))
    recommendations = sa.table(
        "recommendations",
        sa.column("recommendation_id", sa.Uuid()),
        sa.column("reward", sa.Float()),
        sa.column("reward_source", sa.String()),
        sa.column("rewarded_at", _TS),
    )
    for rid, row in latest.items():
        connection.execute(
            sa.update(recommendations)
            .where(recommendations.c.recommendation_id == rid)
            .values(reward=row.reward, reward_source=row.source, rewarded_at=row.rewarded_at)
        )
