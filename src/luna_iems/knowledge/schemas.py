"""Pydantic I/O of the knowledge domain: documents, chunks, search hits, Luna's answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from luna_iems.bounds import MAX_IDS, MAX_TAGS, TAG_MAX_CHARS, JsonNumber, Timestamp

Tag = Annotated[str, Field(max_length=TAG_MAX_CHARS)]
IngestStatus = Literal["queued", "processing", "ready", "failed"]


class TextIn(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    text: str = Field(min_length=1, max_length=5_000_000)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    source: str | None = Field(default=None, max_length=500, description="Same source again = a new version")
    url: str | None = Field(default=None, max_length=2000)


class DocumentIngested(BaseModel):
    item_id: uuid.UUID
    title: str
    version: int
    duplicate: bool = Field(description="The same content was already stored: nothing new was written")
    chunks: int
    content_type: str | None
    page_count: int | None
    sha256: str
    replaced_version: int | None = Field(default=None, description="The version this upload replaced")
    status: IngestStatus = Field(
        default="ready",
        description="The ingest: 'queued' (answered 202: poll GET /documents/{item_id}), 'ready' when "
        "waited for (wait=true); a duplicate reports the stored document's",
    )


class VersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    sha256: str
    content_type: str | None
    size_bytes: int | None
    chunk_count: int
    created_at: datetime


class IngestRead(BaseModel):
    """The document's latest ingest (first upload, new version or reindex)."""

    status: IngestStatus = Field(description="queued -> processing -> ready | failed")
    version: int = Field(description="The version this ingest makes")
    chunks_done: int = Field(description="Chunks embedded so far")
    chunks_total: int | None = Field(description="Chunks of the document, once it is chunked")
    error: str | None = Field(description="Why the ingest failed (status 'failed')")


class DocumentRead(BaseModel):
    item_id: uuid.UUID
    kind: str
    source: str | None
    title: str
    tags: list[str]
    url: str | None
    sha256: str
    version: int = Field(description="The version search serves; 0 until the first ingest is ready")
    content_type: str | None
    size_bytes: int | None
    page_count: int | None
    created_at: datetime
    updated_at: datetime | None
    status: IngestStatus = Field(
        description="'ready' when a version is served (search finds it; `version` says which), "
        "else the first ingest's status; `ingest` shows the latest ingest, e.g. a new version's"
    )
    ingest: IngestRead


class DocumentDetail(DocumentRead):
    chunk_count: int
    versions: list[VersionRead]


class DocumentList(BaseModel):
    items: list[DocumentRead]
    total: int
    limit: int
    offset: int


class ChunkRead(BaseModel):
    chunk_id: uuid.UUID
    item_id: uuid.UUID
    chunk_idx: int
    text: str
    page_start: int | None
    page_end: int | None
    heading_path: list[str]
    section: str | None
    language: str | None
    token_count: int | None


class ChunkList(BaseModel):
    items: list[ChunkRead]
    total: int
    limit: int
    offset: int


class SearchFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[Tag] | None = Field(
        default=None, max_length=MAX_TAGS, description="Chunks of documents with any of these tags"
    )
    item_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_IDS)
    created_from: Timestamp | None = None
    created_to: Timestamp | None = None
    lead_only: StrictBool = Field(
        default=False,
        description="Only each document's first chunk (title and opening): finds documents by what "
        "they are about rather than by a passage deep inside",
    )


class SearchHit(BaseModel):
    chunk_id: uuid.UUID
    item_id: uuid.UUID
    title: str
    chunk_idx: int
    page: int | None
    section: str | None
    heading_path: list[str]
    snippet: str
    text: str
    score: float = Field(description="Fused score (reciprocal rank fusion)")
    dense_score: float | None = Field(description="Cosine similarity, when the dense ranking found it")
    dense_rank: int | None
    lexical_score: float | None = Field(description="BM25 score, when the lexical ranking found it")
    lexical_rank: int | None
    ranking: Literal["hybrid", "dense", "lexical"] = Field(description="Which rankings found this chunk")


class SearchResult(BaseModel):
    query: str
    mode: Literal["hybrid", "dense", "lexical"]
    hits: list[SearchHit]
    took_ms: float


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=4000)
    top_k: Annotated[int, Field(ge=1, le=20), JsonNumber] | None = None
    filters: SearchFilters | None = None
    conversation_id: uuid.UUID | None = None
    stream: StrictBool = Field(default=False, description="Answer as Server-Sent Events")


class Citation(BaseModel):
    n: int = Field(description="The number used in the answer: [n]")
    chunk_id: uuid.UUID
    item_id: uuid.UUID
    title: str
    page: int | None
    section: str | None
    heading: str | None = Field(
        default=None, description="The chunk's headings, outermost first, joined by ' > ' (e.g. '2 Battery')"
    )
    snippet: str
    score: float


class DataCitationRead(BaseModel):
    """Numbers from the site's own data (assistant/): what was read and the dashboard page showing it."""

    source: str = Field(description="The data and its period, e.g. 'KPIs site sim, 2026-11-01…2026-11-30'")
    link: str | None = Field(default=None, description="The dashboard page (path with query parameters)")
    tool: str = Field(description="The tool that read it, e.g. 'site_kpis'")


class AskOut(BaseModel):
    answer: str
    citations: list[Citation]
    generator: str = Field(
        description="'ollama', 'openai', 'extractive' (no LLM: sentences from the sources), or 'tools' "
        "(a question about the site answered from the product's own data by the intent parser)"
    )
    conversation_id: uuid.UUID
    language: Literal["de", "en"]
    found_relevant: bool
    prompt_version: str
    notes: list[str] = Field(default_factory=list)
    answer_id: int | None = Field(
        default=None, description="The stored turn's id: give it to POST /feedback (target 'answer')"
    )
    data_citations: list[DataCitationRead] = Field(
        default_factory=list, description="Site data the answer's numbers come from (tools, not documents)"
    )


class ReindexResult(BaseModel):
    documents: int
    chunks: int
    collection: str
    seconds: float
