"""Helpers for the backup tests: seed energy data through the API, put vectors and files through the
real adapters, and take a snapshot of everything a restore must reproduce."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from luna_iems.admin import backup as backup_service
from luna_iems.bootstrap import Container, build_container
from luna_iems.db.dump import row_counts
from luna_iems.main import create_app
from luna_iems.ports import VectorPoint
from luna_iems.settings import Settings
from tests.timeseries.factories import create_meter, ingest, ingest_prices, price, series, utc


def seed_energy(client: TestClient, *, meters: int = 2, steps: int = 96) -> None:
    """Meters with a day of 15-minute readings, and day-ahead prices, through the HTTP API."""
    start = utc(2026, 3, 2)
    for m in range(meters):
        meter_id = f"backup-meter-{m}"
        create_meter(client, meter_id, site="plant", kind="consumption")
        ingest(client, series(meter_id, start, [1.0 + m + (i % 7) / 10 for i in range(steps)]))
    ingest_prices(client, [price(start.replace(hour=h), 50.0 + h) for h in range(24)])


def seed_vectors_and_files(container: Container, *, points: int = 40, files: int = 3) -> None:
    """Synthetic vectors and files through the configured adapters (no embedding model needed)."""
    rng = np.random.default_rng(3)
    store = container.vector_store
    store.upsert(
        [
            VectorPoint(
                point_id=str(uuid.UUID(int=i + 1)),
                vector=rng.normal(size=store.dimension).astype(np.float32),
                payload={
                    "item_id": f"item-{i % 4}",
                    "chunk_idx": i,
                    "tags": ["t"],
                    "ts": "2026-01-01T00:00:00+00:00",
                },
            )
            for i in range(points)
        ]
    )
    for i in range(files):
        container.object_store.put(
            f"items/{uuid.UUID(int=i + 1)}/v1/Prüfbericht {i}.txt",
            f"Zählerstand {i}: {i * 42} kWh\n".encode(),
            content_type="text/plain",
        )
    # Two keys with the same bytes: the backup stores the content once, restores both keys.
    container.object_store.put("items/dup/v1/a.bin", b"\x00same\xff", content_type="application/octet-stream")
    container.object_store.put("items/dup/v2/b.bin", b"\x00same\xff", content_type="application/octet-stream")


@dataclass(frozen=True)
class State:
    rows: dict[str, int]
    vectors: dict[str, tuple[tuple[float, ...], dict[str, Any]]]
    files: dict[str, bytes]


def state(container: Container) -> State:
    """Row counts per table, every vector (exact float32 values) with its payload, every stored file."""
    with container.engine.connect() as connection:
        rows = row_counts(connection)
    vectors = {
        p.point_id: (tuple(np.asarray(p.vector, dtype=np.float32).tolist()), dict(p.payload))
        for batch in container.vector_store.scroll()
        for p in batch
    }
    objects = container.object_store
    files = {key: objects.get(key) for key in objects.keys()}  # noqa: SIM118 - ObjectStore.keys()
    return State(rows=rows, vectors=vectors, files=files)


def targets(container: Container) -> backup_service.BackupTargets:
    return backup_service.BackupTargets(
        engine=container.engine, vectors=container.vector_store, objects=container.object_store
    )


@contextmanager
def built(settings: Settings) -> Iterator[Container]:
    container = build_container(settings)
    try:
        yield container
    finally:
        container.close()


@contextmanager
def app_on(container: Container) -> Iterator[TestClient]:
    """The real app on an existing container (the caller closes the container)."""
    with TestClient(create_app(container.settings, container=container)) as client:
        yield client


def backup_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def at(day: int) -> datetime:
    return datetime(2026, 12, day, 3, 0, tzinfo=UTC)
