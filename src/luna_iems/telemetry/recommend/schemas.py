"""Request and response bodies of `POST /recommend` (state of charge in %, time ISO 8601 with offset)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from luna_iems.bounds import BoundedTimestamp, JsonNumber

Policy = Literal["content", "linucb", "thompson"]
PriceLevel = Literal["low", "normal", "high"]
ItemKind = Literal["action", "document"]
PAGE_MAX_CHARS = 200
QUESTION_MAX_CHARS = 1000
MAX_ITEMS = 20
MAX_OPEN_ALERTS = 100_000


class RecommendIn(BaseModel):
    """The client's context. Every field is optional: what is missing becomes a flag in the features."""

    model_config = ConfigDict(extra="forbid")

    page: str = Field(
        default="/",
        min_length=1,
        max_length=PAGE_MAX_CHARS,
        pattern=r"^/",
        description="The web app page the user is on, e.g. `/prices` (a path starting with /)",
    )
    soc_pct: Annotated[float, Field(strict=True, ge=0, le=100)] | None = Field(
        default=None, description="Battery state of charge, 0-100 %; omit when unknown"
    )
    price_level: PriceLevel | None = Field(
        default=None, description="Today's price level right now: low, normal or high; omit when unknown"
    )
    open_alerts: Annotated[int, Field(ge=0, le=MAX_OPEN_ALERTS), JsonNumber] = Field(
        default=0, description="Open alerts of the site (the features cap it at 5)"
    )
    question: str | None = Field(
        default=None, max_length=QUESTION_MAX_CHARS, description="The question the user asked, if any"
    )
    at: BoundedTimestamp | None = Field(default=None, description="The client's time (default: now)")
    top_k: Annotated[int, Field(ge=1, le=MAX_ITEMS), JsonNumber] = Field(
        default=5, description="Items to return"
    )
    policy: Policy | None = Field(
        default=None, description="Ranking policy; default: the instance's RECOMMEND_POLICY"
    )


ReasonCode = Literal[
    "discharge_pays",
    "charging_cheap",
    "pv_midday",
    "open_alerts",
    "lower_peak",
    "check_tariff",
    "rated",
    "similar_question",
    "fits_page",
    "document_match",
]


class ReasonParams(BaseModel):
    """The values `reason` states, for a client that words `reason_code` in its own language."""

    soc_pct: float | None = Field(default=None, description="Battery state of charge sent, %")
    at_local: str | None = Field(default=None, description="Local time HH:MM (the instance's time zone)")
    open_alerts: int | None = Field(default=None, description="Open alerts sent")
    mean_rating: float | None = Field(default=None, description="Mean reward of this action so far")
    ratings: int | None = Field(default=None, description="Rewards this action received")
    similarity: float | None = Field(default=None, description="Cosine similarity to the page or question")
    snippet: str | None = Field(default=None, description="The document's matching passage (≤ 120 chars)")


class RecommendItem(BaseModel):
    kind: ItemKind
    id: str = Field(description="Arm id (action) or document id")
    title: str
    score: float = Field(description="The ranking score (higher first); see docs/learning.md")
    reason: str = Field(description="Why this item, in English words")
    reason_code: ReasonCode = Field(description="The reason's kind; with `reason_params`, for translation")
    reason_params: ReasonParams
    link: str | None = Field(description="Web app page to act on it")


class RecommendRead(BaseModel):
    recommendation_id: uuid.UUID = Field(description="Send it back with feedback (`POST /feedback`)")
    created_at: datetime
    policy: Policy
    items: list[RecommendItem]


class ArmRead(BaseModel):
    arm_id: str
    title: str
    description: str
    link: str | None
    n: int = Field(description="Rewards credited to this arm")
    reward_mean: float | None = Field(description="Mean credited reward; null before the first")


class ArmList(BaseModel):
    features: list[str]
    items: list[ArmRead]
