"""HTTP request and response models of telemetry/events: event batches and feedback."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

from luna_iems.bounds import Timestamp
from luna_iems.telemetry.events.privacy import ONLY_HASHES, check_mapping, check_text
from luna_iems.telemetry.models import (
    COMMENT_MAX_CHARS,
    ITEM_ID_MAX_CHARS,
    PAGE_MAX_CHARS,
    USER_HASH_MAX_CHARS,
)

MAX_EVENTS_PER_BATCH = 1000
MAX_FUTURE = timedelta(minutes=5)  # clock skew a client may have; anything later is refused
MAX_DWELL_MS = 24 * 3600 * 1000
MAX_META_KEYS = 20
META_KEY_MAX_CHARS = 50
META_VALUE_MAX_CHARS = 200
_HEX = re.compile(r"[0-9a-fA-F]{16,128}")
_PAGE = re.compile(r"/[A-Za-z0-9/_\-.~%#?=&:+,]*")

EventType = Literal["view", "click", "like", "dismiss", "solve", "dwell"]
ItemKind = Literal["document", "recommendation", "rule", "alert", "playbook_step", "answer"]
FeedbackTarget = Literal["answer", "recommendation"]


def _not_future(value: datetime) -> datetime:
    limit = datetime.now(tz=UTC) + MAX_FUTURE
    if value > limit:
        raise ValueError(
            f"ts {value.isoformat()} is more than 5 minutes in the future; check the client clock"
        )
    if value.year < 1970:
        raise ValueError(f"ts {value.isoformat()} is before 1970")
    return value


def _salted_hash(value: str) -> str:
    if not _HEX.fullmatch(value):
        raise ValueError(ONLY_HASHES)
    return value.lower()


def _page(value: str) -> str:
    check_text(value)
    if not _PAGE.fullmatch(value):
        raise ValueError("give a path such as /kpis/plant (starting with '/', no spaces)")
    return value


# Exact in JSON everywhere (JavaScript's safe integers); floats finite (JSON has no NaN, JSONB refuses it)
# and bounded like every number the API takes (±1e15 holds any count, duration or amount a client sends).
META_FLOAT_LIMIT = 1e15
MetaValue = (
    Annotated[str, Field(max_length=META_VALUE_MAX_CHARS)]
    | bool
    | Annotated[int, Field(ge=-(2**53), le=2**53)]
    | Annotated[float, Field(ge=-META_FLOAT_LIMIT, le=META_FLOAT_LIMIT, allow_inf_nan=False)]
    | None
)
MetaKey = Annotated[str, Field(min_length=1, max_length=META_KEY_MAX_CHARS)]


class EventIn(BaseModel):
    """One anonymous interaction event. Unknown fields are refused (no room for personal data)."""

    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID = Field(description="Chosen by the client: sending it again is a no-op (replay)")
    ts: Annotated[Timestamp, AfterValidator(_not_future)] = Field(
        description="When it happened: ISO 8601 with offset, at most 5 minutes ahead of the server"
    )
    type: EventType
    item_kind: ItemKind
    item_id: Annotated[str, Field(min_length=1, max_length=ITEM_ID_MAX_CHARS), AfterValidator(check_text)] = (
        Field(description="The item's id (a recommendation's UUID, an answer_id, a document id, ...)")
    )
    duration_ms: Annotated[int, Field(ge=0, le=MAX_DWELL_MS)] | None = Field(
        default=None, description="Required for type=dwell (0 to 24 h), refused for every other type"
    )
    user: Annotated[str, Field(max_length=USER_HASH_MAX_CHARS), AfterValidator(_salted_hash)] | None = Field(
        default=None, description=f"Optional pseudonymous user: {ONLY_HASHES}"
    )
    page: Annotated[str, Field(min_length=1, max_length=PAGE_MAX_CHARS), AfterValidator(_page)] | None = None
    meta: Annotated[
        dict[MetaKey, MetaValue], Field(max_length=MAX_META_KEYS), AfterValidator(check_mapping)
    ] = Field(default_factory=dict, description=f"Up to {MAX_META_KEYS} scalar values; no personal data")

    @model_validator(mode="after")
    def _dwell(self) -> Self:
        if self.type == "dwell" and self.duration_ms is None:
            raise ValueError("duration_ms is required for type=dwell")
        if self.type != "dwell" and self.duration_ms is not None:
            raise ValueError(f"duration_ms is only accepted for type=dwell, not type={self.type}")
        return self


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(
        min_length=1,
        max_length=MAX_EVENTS_PER_BATCH,
        description=f"1 to {MAX_EVENTS_PER_BATCH} events; one invalid event refuses the whole batch",
    )


class IngestResult(BaseModel):
    accepted: int = Field(description="Events stored by this request")
    duplicates: int = Field(description="Events already stored (same event_id and ts): not stored again")


class FeedbackIn(BaseModel):
    """Explicit feedback on an answer (`id`: its `answer_id`) or a recommendation (`id`: its UUID, which
    rewards its top-ranked action, or "<UUID>/<action id>" for one of its actions)."""

    model_config = ConfigDict(extra="forbid")

    target: FeedbackTarget
    id: str = Field(min_length=1, max_length=ITEM_ID_MAX_CHARS)
    helpful: StrictBool
    comment: Annotated[str, Field(max_length=COMMENT_MAX_CHARS), AfterValidator(check_text)] | None = None


class FeedbackRead(BaseModel):
    target: FeedbackTarget
    id: str
    helpful: bool
    comment: str | None
    reward: float = Field(description="The reward stored for this feedback (see docs/learning.md)")
    replaced: bool = Field(
        description="True: this key had given feedback on the item before; it was replaced"
    )
