"""Telemetry ingest events/s through the service against a raw SQLAlchemy Core multi-row insert.

In process, per database (SQLite; PostgreSQL with --postgres), on a migrated empty database. The events
are prepared before any clock starts: as the JSON objects a client sends (for the service) and as the
row dicts the service would write (for the baseline), the same events either way. Batches of 1,000
(the API's limit), one transaction per batch on both sides. One round, in this order, on an empty
`events` table each time:

  raw insert      baseline: `session.execute(insert(Event.__table__), rows)` (SQLAlchemy Core's
                  multi-row insertmanyvalues) and a commit per batch: no validation, no replay check
  service insert  per batch: `EventBatch.model_validate` (types, bounds, personal-data checks) and
                  `events.service.ingest` (one query for stored ids, the same multi-row insert, commit)
  service replay  the same batches again: every event is a duplicate (one query per batch, no insert)

Rounds: 3 (1 with --quick); each figure is the median over the rounds, each ratio is taken within its
round (the machine is shared and noisy) and the median ratio is reported.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert

from benchmarks.common import databases, in_process_container

BATCH = 1000
EVENTS, QUICK_EVENTS = 50_000, 5_000
REPEATS, QUICK_REPEATS = 3, 1
START = datetime(2026, 11, 1, tzinfo=UTC)
TYPES = ("view", "click", "like", "dismiss", "solve", "dwell")
KINDS = ("document", "rule", "alert", "playbook_step", "answer")
COLUMNS = ["database", "scenario", "events", "seconds", "events_per_s", "ratio_vs_raw", "ratios"]


def make_events(total: int) -> list[dict[str, Any]]:
    """`total` events as a client sends them: every type, most with a user hash, page and meta."""
    out = []
    for i in range(total):
        kind = TYPES[i % len(TYPES)]
        body: dict[str, Any] = {
            "event_id": str(uuid.uuid4()),
            "ts": (START + timedelta(seconds=i)).isoformat(),
            "type": kind,
            "item_kind": KINDS[i % len(KINDS)],
            "item_id": f"item-{i % 500}",
            "user": f"{i % 97:064x}",
            "page": f"/kpis/site-{i % 7}",
            "meta": {"lang": "de" if i % 2 else "en", "rank": i % 10, "mobile": bool(i % 3)},
        }
        if kind == "dwell":
            body["duration_ms"] = 1000 + i % 60_000
        out.append(body)
    return out


def as_rows(events: list[dict[str, Any]], received_at: datetime) -> list[dict[str, Any]]:
    """The rows the service writes for `events` (the baseline inserts exactly these)."""
    return [
        {
            "event_id": uuid.UUID(e["event_id"]),
            "ts": datetime.fromisoformat(e["ts"]),
            "type": e["type"],
            "item_kind": e["item_kind"],
            "item_id": e["item_id"],
            "user_hash": e["user"],
            "duration_ms": e.get("duration_ms"),
            "page": e["page"],
            "meta": e["meta"],
            "received_at": received_at,
        }
        for e in events
    ]


def _batches(items: list[Any]) -> list[list[Any]]:
    return [items[i : i + BATCH] for i in range(0, len(items), BATCH)]


def _round(container: Any, events: list[dict[str, Any]]) -> dict[str, float]:
    from luna_iems.telemetry.events import service as events_service
    from luna_iems.telemetry.events.schemas import EventBatch
    from luna_iems.telemetry.models import Event

    row_batches = _batches(as_rows(events, datetime.now(tz=UTC)))
    bodies = [{"events": b} for b in _batches(events)]
    seconds: dict[str, float] = {}
    with container.session_factory() as session:
        session.execute(delete(Event))
        session.commit()
        started = time.perf_counter()
        for rows in row_batches:
            session.execute(insert(Event.__table__), rows)
            session.commit()
        seconds["raw insert"] = time.perf_counter() - started
        session.execute(delete(Event))
        session.commit()
        for scenario, expect_new in (("service insert", True), ("service replay", False)):
            started = time.perf_counter()
            for body in bodies:
                result = events_service.ingest(session=session, batch=EventBatch.model_validate(body))
                assert (result.accepted if expect_new else result.duplicates) == len(body["events"])
            seconds[scenario] = time.perf_counter() - started
    return seconds


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    total = QUICK_EVENTS if quick else EVENTS
    repeats = QUICK_REPEATS if quick else REPEATS
    events = make_events(total)
    rows: list[dict[str, Any]] = []
    for database, url in databases(postgres):
        with tempfile.TemporaryDirectory() as data_dir:
            container = in_process_container(Path(data_dir), url)
            try:
                rounds = [_round(container, events) for _ in range(repeats)]
            finally:
                container.close()
        for scenario in ("raw insert", "service insert", "service replay"):
            times = [r[scenario] for r in rounds]
            ratios = [r["raw insert"] / r[scenario] for r in rounds]
            median = statistics.median(times)
            rows.append(
                {
                    "database": database,
                    "scenario": scenario,
                    "events": total,
                    "seconds": round(median, 3),
                    "events_per_s": round(total / median),
                    "ratio_vs_raw": round(statistics.median(ratios), 3),
                    "ratios": [round(r, 3) for r in ratios],
                }
            )
    return {
        "title": f"telemetry ingest events/s: service vs raw Core insert, batches of {BATCH}",
        "columns": COLUMNS,
        "rows": rows,
        "notes": ["ratio_vs_raw = service events/s / raw insert events/s in the same round (1.0: as fast)"],
    }
