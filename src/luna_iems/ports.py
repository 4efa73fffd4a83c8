"""Backend Protocols. Domain code depends on these only; `bootstrap.py` picks the implementations.

Each adapter also implements `HealthCheck`, so readiness and the status summary can ask every
configured backend the same question without knowing what it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

# A vector is any float sequence; NumPy arrays pass through without a copy.
Vector = Sequence[float] | npt.NDArray[np.float32]


@dataclass(frozen=True)
class ComponentHealth:
    """What one backend says about itself."""

    name: str
    kind: str  # e.g. "sqlite", "postgresql", "numpy-sqlite", "qdrant", "sentence-transformers"
    ok: bool
    required: bool = True
    detail: str = ""
    info: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class HealthCheck(Protocol):
    def health(self) -> ComponentHealth: ...


@dataclass(frozen=True)
class VectorPoint:
    point_id: str  # a UUID string (Qdrant accepts UUIDs and unsigned integers only)
    vector: Vector
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class VectorFilter:
    """Conjunctive payload filter: exact matches, "any of" on list fields, and a time range on `ts`."""

    equals: Mapping[str, str | int] = field(default_factory=dict)
    any_of: Mapping[str, Sequence[str]] = field(default_factory=dict)
    ts_from: datetime | None = None
    ts_to: datetime | None = None


@dataclass(frozen=True)
class VectorHit:
    point_id: str
    score: float  # cosine similarity, higher is closer
    payload: Mapping[str, Any]


class VectorStore(HealthCheck, Protocol):
    """A named collection of fixed-dimension vectors with payloads, searched by cosine similarity."""

    @property
    def collection(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def upsert(self, points: Sequence[VectorPoint]) -> None: ...

    def delete(self, point_ids: Sequence[str]) -> None: ...

    def search(self, vector: Vector, *, top_k: int, flt: VectorFilter | None = None) -> list[VectorHit]: ...

    def count(self) -> int: ...

    def scroll(self, *, batch_size: int = 1000, with_vectors: bool = True) -> Iterator[list[VectorPoint]]:
        """Every point with its stored vector and payload, in batches of at most `batch_size`
        (for backups). The order is stable but unspecified; no batch is empty. Without `with_vectors`
        each point's vector is empty: ids and payloads only (the orphan check lists them at start)."""
        ...


class Embedder(HealthCheck, Protocol):
    """Turns text into unit-length vectors of `dimension` floats."""

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str], *, kind: Literal["query", "passage"]) -> list[list[float]]: ...


class ObjectStore(HealthCheck, Protocol):
    """Blob storage for original uploaded files."""

    def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def keys(self, *, prefix: str = "") -> Iterator[str]:
        """Every stored key that starts with `prefix`, in lexicographic order (for backups)."""
        ...


@dataclass(frozen=True)
class ExtractedBlock:
    """A piece of a document's text in reading order, with where it came from.

    `page` is 1-based (None when the format has no pages); `heading_path` lists the headings above the
    block, outermost first (e.g. ("Teil 1", "§ 3 Begriffsbestimmungen")); `kind` is "heading" for a
    heading line itself, else "text".
    """

    text: str
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    kind: Literal["heading", "text"] = "text"


@dataclass(frozen=True)
class ExtractedDocument:
    content_type: str  # the sniffed media type, e.g. "application/pdf"
    blocks: Sequence[ExtractedBlock]
    title: str | None = None
    page_count: int | None = None


class Extractor(HealthCheck, Protocol):
    """Text and structure out of a document's bytes (PDF, DOCX, HTML, Markdown, plain text)."""

    def extract(
        self, data: bytes, *, content_type: str, filename: str | None = None
    ) -> ExtractedDocument: ...


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


class Generator(HealthCheck, Protocol):
    """A chat model behind an HTTP API (Ollama, an OpenAI-compatible server)."""

    @property
    def name(self) -> str: ...  # "ollama" | "openai"

    @property
    def model(self) -> str: ...

    def generate(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float) -> str: ...

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]: ...


@dataclass(frozen=True)
class ToolCall:
    """A function call the model asked for: `arguments` is the JSON object text it sent."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolReply:
    """The model's turn in a tool conversation: calls to run, or (none) the final `content`."""

    content: str
    tool_calls: tuple[ToolCall, ...] = ()


@runtime_checkable
class ToolCallingGenerator(Protocol):
    """A chat model with OpenAI-style function calling (both adapters). `messages` are OpenAI chat
    messages (`role` system/user/assistant/tool, `content`, `tool_calls`, `tool_call_id`); `tools`
    the OpenAI `{"type": "function", "function": {...}}` descriptions."""

    def chat_with_tools(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]],
        max_tokens: int,
        temperature: float,
    ) -> ToolReply: ...


class MessagePublisher(HealthCheck, Protocol):
    """Publishes messages to a broker (MQTT): setpoints, Home Assistant discovery, alerts.

    `publish` returns once the broker has the message (QoS ≥ 1) or it was handed to the network
    (QoS 0); it raises `ConnectionError` when the broker cannot be reached, so callers can record
    the failure and retry. Thread-safe: jobs call it from the scheduler's threads.
    """

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None: ...
