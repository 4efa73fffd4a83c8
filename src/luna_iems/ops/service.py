"""Liveness, readiness and the status summary: asks every configured backend the same question."""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import func, select, text

from luna_iems import __version__
from luna_iems.db import dialect, migrate
from luna_iems.db import dump as db_dump
from luna_iems.ops.deps import OpsDeps
from luna_iems.ops.schemas import (
    ComponentRead,
    DatabaseStatus,
    DecisionsStatus,
    JobStatus,
    KnowledgeStatus,
    Liveness,
    Readiness,
    StatusSummary,
)
from luna_iems.ports import ComponentHealth, HealthCheck

_STARTED = time.monotonic()
# Shared by all readiness calls: creating a pool per request cost more than the checks themselves.
_CHECK_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="luna-health")


def liveness() -> Liveness:
    return Liveness(status="ok", version=__version__, uptime_s=round(time.monotonic() - _STARTED, 3))


def _check(component: HealthCheck) -> ComponentHealth:
    try:
        return component.health()
    except Exception as exc:  # a health probe must report, never raise
        name = type(component).__name__
        return ComponentHealth(name=name, kind=name, ok=False, detail=f"health check raised: {exc}")


def check_components(deps: OpsDeps) -> list[ComponentRead]:
    """Run every backend's health check concurrently (a slow one must not serialise the rest)."""
    results = list(_CHECK_POOL.map(_check, deps.health_checks()))
    return [
        ComponentRead(
            name=r.name, kind=r.kind, ok=r.ok, required=r.required, detail=r.detail, info=dict(r.info)
        )
        for r in results
    ]


def readiness(deps: OpsDeps, *, detailed: bool = True) -> Readiness:
    """Ready when every required backend answers; `failing` names the ones that do not.

    Without ``detailed`` (an anonymous caller) each component shows only its name, kind and state:
    details and info carry database users, hosts, URLs and paths."""
    components = check_components(deps)
    failing = [c.name for c in components if c.required and not c.ok]
    if not detailed:
        components = [
            c.model_copy(update={"detail": "ok" if c.ok else "not answering", "info": {}}) for c in components
        ]
    return Readiness(status="not_ready" if failing else "ready", failing=failing, components=components)


def database_status(deps: OpsDeps) -> DatabaseStatus:
    with deps.engine.connect() as connection:
        # Every table of the schema, read from the catalogue: `db/` keeps no registry of the domains' tables.
        counts = db_dump.row_counts(connection)
        has_timescale = dialect.timescaledb_available(connection)
        hypertables = dialect.hypertables(connection)
        connection.execute(text("SELECT 1"))
    return DatabaseStatus(
        kind=deps.engine.dialect.name,
        schema_revision=migrate.current_revision(deps.engine),
        schema_head=migrate.head_revision(),
        timescaledb=has_timescale,
        hypertables=hypertables,
        time_series_storage="hypertables" if hypertables else "plain tables",
        row_counts=counts,
    )


def knowledge_status(deps: OpsDeps) -> KnowledgeStatus | None:
    """Documents, chunks and vector points; `reindex_needed` when the collection lacks chunks
    (typically after the embedding model changed: the new collection starts empty)."""
    from luna_iems.knowledge.models import Item, ItemChunk

    try:
        vectors = deps.vector_store()
        points = vectors.count()
    except Exception:  # reported by readiness; the summary stays available
        return None
    with deps.session_factory() as session:
        documents = int(session.scalar(select(func.count()).select_from(Item)) or 0)
        chunks = int(session.scalar(select(func.count()).select_from(ItemChunk)) or 0)
    needed = points < chunks
    detail = (
        f"{chunks - points} chunks are missing from collection {vectors.collection}: run `luna reindex`"
        if needed
        else ""
    )
    return KnowledgeStatus(
        documents=documents, chunks=chunks, collection=vectors.collection, vector_points=points,
        lexical_index_loaded=deps.knowledge_index.loaded, reindex_needed=needed, detail=detail,
    )  # fmt: skip


def decisions_status(deps: OpsDeps, jobs: Mapping[str, datetime | None] | None) -> DecisionsStatus:
    """Rules, open alerts by severity, and when each scheduled job last ran (`jobs`: job id -> time)."""
    from luna_iems.decisions import repository as decisions_repository

    with deps.session_factory() as session:
        rules, enabled = decisions_repository.rule_counts(session=session)
        alerts = decisions_repository.open_alert_counts(session=session)
    return DecisionsStatus(
        rules=rules,
        rules_enabled=enabled,
        open_alerts={severity: alerts.get(severity, 0) for severity in ("info", "warning", "critical")},
        jobs=None
        if jobs is None
        else [JobStatus(job_id=job_id, last_run_at=last) for job_id, last in sorted(jobs.items())],
    )


def status_summary(deps: OpsDeps, *, jobs: Mapping[str, datetime | None] | None = None) -> StatusSummary:
    """Everything `/status/summary` shows; `jobs` comes from the process's scheduler (None in the CLI)."""
    return StatusSummary(
        version=__version__,
        environment=deps.settings.environment,
        uptime_s=round(time.monotonic() - _STARTED, 3),
        backends=check_components(deps),
        database=database_status(deps),
        knowledge=knowledge_status(deps),
        decisions=decisions_status(deps, jobs),
    )
