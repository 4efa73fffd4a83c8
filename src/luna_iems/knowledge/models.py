"""Tables of the knowledge domain: items (documents) and their chunks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from luna_iems.db.base import Base, JSONType, UTCDateTime, utcnow

# Ingest states (`items.ingest_status`); a job in one of IN_FLIGHT is waiting or running.
INGEST_STATUSES = ("queued", "processing", "ready", "failed")
IN_FLIGHT = ("queued", "processing")


class Item(Base):
    __tablename__ = "items"

    item_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(50))
    source: Mapped[str | None] = mapped_column(String(500), index=True)
    title: Mapped[str] = mapped_column(String(500))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    url: Mapped[str | None] = mapped_column(String(2000))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    content_type: Mapped[str | None] = mapped_column(String(120))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    page_count: Mapped[int | None] = mapped_column(Integer)
    storage_key: Mapped[str | None] = mapped_column(String(300))
    # The latest ingest of this item (a new document, a new version or a reindex), run by the ingest
    # worker: queued -> processing -> ready | failed. `version` above is the version search serves
    # (0 until the first ingest is ready); `ingest_job` holds what the job needs (the stored upload's
    # key, the version it makes, title, tags, ...) so a restart can requeue it.
    ingest_status: Mapped[str] = mapped_column(
        String(16), default="ready", server_default="ready", index=True
    )
    ingest_error: Mapped[str | None] = mapped_column(Text)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    chunks_total: Mapped[int | None] = mapped_column(Integer)
    ingest_job: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class ItemChunk(Base):
    __tablename__ = "item_chunks"

    chunk_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    item_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("items.item_id", ondelete="CASCADE"), index=True
    )
    chunk_idx: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    # `metadata` is reserved on declarative classes; the column keeps the documented name.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The lexical index's view of the chunk (stemmed term counts), stored so a restart reloads the
    # in-memory BM25 index without re-analysing every text. The vector point id is the chunk id.
    language: Mapped[str | None] = mapped_column(String(8))
    terms: Mapped[dict[str, int] | None] = mapped_column(JSONType)

    __table_args__ = (UniqueConstraint("item_id", "chunk_idx"),)


class ItemVersion(Base):
    """Every version of an item's content: what was uploaded, when, and where the original is kept."""

    __tablename__ = "item_versions"

    item_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("items.item_id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str | None] = mapped_column(String(120))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    storage_key: Mapped[str | None] = mapped_column(String(300))
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"

    conversation_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConversationTurn(Base):
    """One question and Luna's answer, with the citations it gave."""

    __tablename__ = "conversation_turns"

    turn_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("conversations.conversation_id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    generator: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
