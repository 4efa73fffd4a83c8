"""The backup/restore round trip on SQLite and on the suite's real PostgreSQL server: energy data
through the API, documents through the real knowledge service (real embedding model, so there are
chunks, vectors and stored files), a backup through `POST /admin/backups`, a restore into a fresh,
empty database and data directory, then the same row counts per table, the same vectors (ids, values,
payloads), the same stored files and the same `/search` results."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from luna_iems.admin import backup as backup_service
from luna_iems.bootstrap import Container
from tests.admin.backup_support import State, app_on, built, seed_energy, state, targets
from tests.conftest import make_settings
from tests.knowledge.api_support import ADMIN, ingest_text, search, upload

PUMPS = """# Pump station maintenance

## Spare parts

The seal kit for the booster pump has the part number XK-4471 and must be replaced every 4,000 hours.

## Inspection

The pumps are inspected every spring; vibration above 7 mm/s means the bearings must be checked.
"""
BATTERY = """# Battery storage

The lithium-ion battery stores 500 kWh and charges at up to 250 kW. Its state of charge must not fall
below 20 % during winter, so that the morning peak can be shaved.
"""
MSBG = """# Messstellenbetrieb

Der Messstellenbetreiber ist verpflichtet, die Messwerte täglich an den Netzbetreiber zu übermitteln.
Die Bundesnetzagentur legt die Fristen für die Übermittlung fest.
"""
QUERIES = ("seal kit part number", "battery state of charge in winter", "Fristen Messstellenbetreiber", "kWh")


def _settled(container: Container, documents: int, timeout_s: float = 120) -> None:
    """Wait until every document's chunks have their vectors (ingest may finish in the background)."""
    deadline = time.monotonic() + timeout_s
    while True:
        current = state(container)
        chunks = current.rows.get("item_chunks", 0)
        if current.rows.get("items") == documents and chunks and len(current.vectors) == chunks:
            return
        assert time.monotonic() < deadline, f"documents not indexed: {current.rows}, {len(current.vectors)}"
        time.sleep(0.2)


@pytest.mark.slow
def test_round_trip_gives_identical_rows_vectors_files_and_search(
    db_kind: str, fresh_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    source = make_settings(tmp_path / "source", database_url=fresh_database_url(db_kind))
    with built(source) as container:
        with app_on(container) as client:
            seed_energy(client)
            ingest_text(client, "Battery", BATTERY, tags=["battery"])
            ingest_text(client, "Messstellenbetrieb", MSBG, tags=["recht"])
            uploaded = upload(client, "pumps.md", PUMPS.encode(), content_type="text/markdown")
            assert uploaded.status_code in {200, 202}, uploaded.text
            _settled(container, documents=3)
            before: State = state(container)
            hits: dict[str, list[dict[str, Any]]] = {q: search(client, q) for q in QUERIES}
            response = client.post("/admin/backups", headers=ADMIN)
            assert response.status_code == 201, response.text
        embedder = container.embedder  # loaded once: the restored instance embeds queries with it
    backup = response.json()
    assert backup["row_counts"] == before.rows and backup["database_kind"] == db_kind
    assert backup["vectors"] == len(before.vectors) > 0 and backup["files"] == len(before.files) == 3
    assert before.rows["smart_meter_readings"] == 2 * 96 and all(hits.values())

    restored_into = make_settings(
        tmp_path / "target", database_url=fresh_database_url(db_kind), backup_dir=source.resolved_backup_dir
    )
    with built(restored_into) as container:
        container.embedder = embedder
        assert backup_service.occupied(targets(container)) == []
        result = backup_service.restore_backup(targets=targets(container), root=Path(backup["path"]))
        assert result.vectors == len(before.vectors) and result.files == 3
        after = state(container)
        assert after.rows == before.rows
        assert after.vectors == before.vectors
        assert after.files == before.files
        with app_on(container) as client:
            assert {q: search(client, q) for q in QUERIES} == hits
