"""Pydantic I/O of health, readiness and the status summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


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


class JobStatus(BaseModel):
    job_id: str
    last_run_at: datetime | None = Field(description="None: not run yet since the start")


class DecisionsStatus(BaseModel):
    rules: int
    rules_enabled: int
    open_alerts: dict[str, int] = Field(description="Unacknowledged alerts by severity")
    jobs: list[JobStatus] | None = Field(
        description="Scheduled jobs of this process; None where no scheduler runs (the CLI)"
    )


class StatusSummary(BaseModel):
    version: str
    environment: str
    uptime_s: float
    backends: list[ComponentRead]
    database: DatabaseStatus
    knowledge: KnowledgeStatus | None
    decisions: DecisionsStatus
