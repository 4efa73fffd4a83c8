"""SQL of the recommendations (no logic)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from luna_iems.telemetry.recommend.models import BanditArm, Recommendation, RecommendationReward


def add_recommendation(*, session: Session, recommendation: Recommendation) -> None:
    session.add(recommendation)
    session.flush()


def get_recommendation(
    *, session: Session, recommendation_id: uuid.UUID, for_update: bool = False
) -> Recommendation | None:
    query = select(Recommendation).where(Recommendation.recommendation_id == recommendation_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def get_reward(*, session: Session, recommendation_id: uuid.UUID, arm_id: str) -> RecommendationReward | None:
    return session.get(RecommendationReward, (recommendation_id, arm_id))


def add_reward(*, session: Session, reward: RecommendationReward) -> None:
    session.add(reward)
    session.flush()


def list_arms(*, session: Session, policy: str, for_update: bool = False) -> list[BanditArm]:
    """The stored statistics of `policy`, by arm id (rows lock in one order: no deadlock between two
    rewards)."""
    query = select(BanditArm).where(BanditArm.policy == policy).order_by(BanditArm.arm_id)
    if for_update:
        query = query.with_for_update()
    return list(session.scalars(query))


def add_arm_if_missing(*, session: Session, values: dict[str, Any]) -> None:
    """Insert one arm row unless (policy, arm_id) exists: `INSERT … ON CONFLICT DO NOTHING` on both
    databases, so that two first rewards racing for a new arm neither fail nor need a savepoint (on
    SQLite, pysqlite's savepoint outside a transaction would commit the row early)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(BanditArm).values(**values).on_conflict_do_nothing(index_elements=["policy", "arm_id"])
    session.execute(statement)
