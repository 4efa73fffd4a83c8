"""Pydantic I/O of health, readiness and the status summary."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class ComponentRead(BaseModel):
    name: str
    kind: str
    ok: bool
    required: bool
    detail: str
    info: dict[str, Any]


class Liveness(BaseModel):
    status: Literal["ok"]
    version: str
    uptime_s: float


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    failing: list[str]
    components: list[ComponentRead]


class Health(BaseModel):
    live: Liveness
    ready: Readiness


class DatabaseStatus(BaseModel):
    kind: str
    schema_revision: str | None
    schema_head: str | None
    timescaledb: bool
    hypertables: list[str]
    time_series_storage: Literal["hypertables", "plain tables"]
    row_counts: dict[str, int]


class KnowledgeStatus(BaseModel):
    documents: int
    chunks: int
    collection: str
    vector_points: int
    lexical_index_loaded: bool
    reindex_needed: bool
    detail: str


class StatusSummary(BaseModel):
    version: str
    environment: str
    uptime_s: float
    backends: list[ComponentRead]
    database: DatabaseStatus
    knowledge: KnowledgeStatus | None
