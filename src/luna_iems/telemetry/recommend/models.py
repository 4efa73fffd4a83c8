"""Tables of the recommendations: every answer of `POST /recommend` and the bandit statistics per arm.

`recommendations` keeps what was shown (ranked items) for which context (the feature vector), so a
later reward (`service.apply_reward`) can credit the arm it names (by default the one shown first) with
the same features. `recommendation_rewards` keeps the latest reward of each (recommendation, arm): a
changed vote replaces it, never counts twice. `bandit_arms` holds the linear model of each arm (A, b,
n, reward sum), updated in the transaction that stores the reward.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from luna_iems.db.base import Base, JSONType, UTCDateTime, utcnow

POLICY_MAX_CHARS = 20
ARM_ID_MAX_CHARS = 64
SOURCE_MAX_CHARS = 40


class Recommendation(Base):
    """One answer of `POST /recommend`: the context's features and the ranked items."""

    __tablename__ = "recommendations"

    recommendation_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    policy: Mapped[str] = mapped_column(String(POLICY_MAX_CHARS))
    # {"names": [...], "values": [...]}: the context vector the bandits saw, in `features.FEATURES` order.
    context: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # [{"kind", "id", "title", "score", "reason", "link"}, ...] best first.
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)


class RecommendationReward(Base):
    """The latest reward one action of a recommendation received (explicit feedback or an event)."""

    __tablename__ = "recommendation_rewards"

    recommendation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("recommendations.recommendation_id", ondelete="CASCADE"), primary_key=True
    )
    arm_id: Mapped[str] = mapped_column(String(ARM_ID_MAX_CHARS), primary_key=True)
    reward: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(SOURCE_MAX_CHARS))
    rewarded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class BanditArm(Base):
    """The linear model of one arm under one statistics set (`policy`: "linear", shared by LinUCB and
    Thompson sampling). A = I + Σ x xᵀ (d x d), b = Σ r x (d), `n` rewards credited, their sum."""

    __tablename__ = "bandit_arms"

    policy: Mapped[str] = mapped_column(String(POLICY_MAX_CHARS), primary_key=True)
    arm_id: Mapped[str] = mapped_column(String(ARM_ID_MAX_CHARS), primary_key=True)
    features: Mapped[list[str]] = mapped_column(JSONType)
    a_matrix: Mapped[list[list[float]]] = mapped_column(JSONType)
    b_vector: Mapped[list[float]] = mapped_column(JSONType)
    n: Mapped[int] = mapped_column(Integer, default=0)
    reward_sum: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
