"""HTTP request and response models of telemetry/memory: a key's customer context and conversations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from luna_iems.bounds import ID_MAX_CHARS
from luna_iems.telemetry.events.privacy import check_text

MAX_PREFERENCES = 20
PREFERENCE_MAX_CHARS = 200
MAX_CONVERSATIONS_LISTED = 200
MAX_TURNS_LISTED = 1000
TITLE_MAX_CHARS = 120

Preference = Annotated[str, Field(min_length=1, max_length=PREFERENCE_MAX_CHARS), AfterValidator(check_text)]


class MemoryUpdate(BaseModel):
    """What Luna should remember of this key's customer (replaces both fields)."""

    model_config = ConfigDict(extra="forbid")

    site: str | None = Field(
        default=None, min_length=1, max_length=ID_MAX_CHARS, description="A site some meter belongs to"
    )
    preferences: list[Preference] = Field(
        default_factory=list,
        max_length=MAX_PREFERENCES,
        description=f"Up to {MAX_PREFERENCES} short statements ('prefers answers in kWh'); no personal data",
    )


class ConversationSummary(BaseModel):
    conversation_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    turns: int
    first_question: str | None = Field(
        max_length=TITLE_MAX_CHARS,
        description=f"The conversation's first question, cut at {TITLE_MAX_CHARS} characters (with '…'); "
        "null: no turn yet",
    )


class MemoryRead(BaseModel):
    """Everything Luna keeps of the caller's key: its context and its conversations (newest first)."""

    site: str | None
    preferences: list[str]
    updated_at: datetime | None = Field(description="Last change of site or preferences; null: never set")
    conversations: list[ConversationSummary] = Field(
        description=f"The newest {MAX_CONVERSATIONS_LISTED} conversations; `conversations_total` counts all"
    )
    conversations_total: int


class TurnRead(BaseModel):
    answer_id: int = Field(description="The id /rag/ask returned and POST /feedback takes")
    question: str
    answer: str
    generator: str
    citations: list[dict[str, Any]]
    created_at: datetime


class ConversationRead(BaseModel):
    conversation_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    turns: list[TurnRead] = Field(description=f"Oldest first, at most {MAX_TURNS_LISTED}")
