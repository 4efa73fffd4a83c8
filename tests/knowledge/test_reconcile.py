"""Orphans of a crashed ingest (issue 9, item 5): vector points and stored files that no committed
chunk or version owns are found and removed, at start and by `luna reindex --check [--fix]`, while
an ingest in flight keeps its points and upload, and the lexical index is brought back to SQL.

The crash is simulated through the real adapters: the points and the file are written as an ingest
writes them, and the SQL rows that would own them are never committed."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from luna_iems.bootstrap import Container, build_container
from luna_iems.knowledge import jobs, repository
from luna_iems.knowledge.index import ChunkMeta, IndexEntry
from luna_iems.knowledge.models import Item
from luna_iems.knowledge.reconcile import ReconcileReport, reconcile
from luna_iems.ports import VectorPoint
from luna_iems.settings import Settings
from tests.conftest import make_settings
from tests.knowledge.api_support import (
    ADMIN,
    assert_consistent,
    chunk_ids_in_sql,
    container_of,
    ingest_text,
    running,
    search,
    snapshot,
    stored_files,
    upload,
    wait_until_done,
)

FIVE_SECTIONS = "\n\n".join(
    f"## Abschnitt {n}\n\nIm Abschnitt {n} wird das Bauteil BT{n}00 der Anlage beschrieben."
    for n in range(1, 6)
)


def _points(container: Container, item_id: str, n: int) -> list[VectorPoint]:
    dimension = container.vector_store.dimension
    return [
        VectorPoint(
            str(uuid.uuid4()),
            [1.0 if d == i % dimension else 0.0 for d in range(dimension)],
            {"item_id": item_id, "chunk_idx": i, "tags": [], "source": "crash"},
        )
        for i in range(n)
    ]


def crash_leftovers(container: Container, *, points: int) -> str:
    """What an ingest that died between its vectors and its SQL commit leaves: points and a file."""
    ghost = str(uuid.uuid4())
    container.vector_store.upsert(_points(container, ghost, points))
    container.object_store.put(f"items/{ghost}/v1/bericht.md", b"# Bericht", content_type="text/markdown")
    return ghost


def in_flight_ingest(container: Container, *, points: int) -> str:
    """An ingest running elsewhere: its row says processing, its upload and first points exist."""
    item_id = uuid.uuid4()
    key = f"items/{item_id}/v1/laufend.md"
    with container.session_factory() as session:
        session.add(
            Item(
                item_id=item_id, kind="document", source="laufend.md", title="Laufend", tags=[],
                sha256="0" * 64, version=0, created_at=datetime.now(tz=UTC), ingest_status="processing",
                ingest_job={"version": 1, "storage_key": key},
            )
        )  # fmt: skip
        session.commit()
    container.object_store.put(key, b"# Laufend", content_type="text/markdown")
    container.vector_store.upsert(_points(container, str(item_id), points))
    return str(item_id)


def test_reconcile_removes_exactly_the_orphans(client: TestClient) -> None:
    container = container_of(client)
    container.knowledge_index.ensure_loaded(container.session_factory)
    anlage = ingest_text(client, "Anlage", FIVE_SECTIONS, source="anlage")
    pumpe = upload(client, "pumpe.md", b"# Pumpe\n\nDie Pumpe QX-9917 laeuft.").json()
    committed = snapshot(client)
    assert (committed.chunks, committed.vectors, len(committed.files)) == (6, 6, 2)

    crash_leftovers(container, points=7)
    container.object_store.put(f"items/{pumpe['item_id']}/v9/alt.md", b"x", content_type="text/markdown")
    running_id = in_flight_ingest(container, points=3)
    # lexical drift: one committed chunk missing, one entry without a chunk
    dropped = sorted(chunk_ids_in_sql(client))[0]
    meta = ChunkMeta(anlage["item_id"], frozenset(), datetime.now(tz=UTC))
    container.knowledge_index.replace(remove=[dropped], add=[IndexEntry(str(uuid.uuid4()), ["bt100"], meta)])
    before = snapshot(client)

    expected = {
        "vector_points": 6 + 7 + 3, "orphan_vectors": 7, "files": 2 + 2 + 1, "orphan_files": 2,
        "lexical_extra": 1, "lexical_missing": 1, "in_flight": 1,
    }  # fmt: skip
    report = reconcile(container.knowledge_deps, fix=False)
    assert report.counts() == {**expected, "fixed": False}
    assert not report.clean
    assert snapshot(client) == before  # a check changes nothing

    report = reconcile(container.knowledge_deps, fix=True)
    assert report.counts() == {**expected, "fixed": True}
    assert "removed 7 orphan vector points (of 16) and 2 orphan files (of 5)" in report.summary()
    after = snapshot(client)
    assert (after.chunks, after.vectors, after.lexical) == (6, 6 + 3, 6)
    assert sorted(after.files) == sorted([*committed.files, f"items/{running_id}/v1/laufend.md"])
    assert search(client, "QX-9917", mode="lexical")[0]["item_id"] == pumpe["item_id"]

    again = reconcile(container.knowledge_deps, fix=False)
    assert again.clean and (again.orphan_vectors, again.in_flight) == (0, 1)


@pytest.fixture
def settings_of(
    tmp_path: Path, fresh_database_url: Callable[[str], str], db_kind: str
) -> Callable[..., Settings]:
    url = fresh_database_url(db_kind)
    return lambda **overrides: make_settings(tmp_path, database_url=url, **overrides)


def test_a_crash_between_vectors_and_commit_is_repaired_at_the_next_start(
    settings_of: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit fails after the vectors and the upload are written, and the process dies before
    it can clean up (its clean-up is disabled): the next start requeues the document and removes the
    leftovers of a crash from before this version (points and a file of an item that never was)."""
    settings = settings_of()
    with running(settings, raise_server_exceptions=False) as client:
        kept = ingest_text(client, "Anlage", FIVE_SECTIONS, source="anlage")

        def died(*_: Any, **__: Any) -> None:
            raise RuntimeError("the process was killed here")

        for name in ("_discard_vectors", "_discard_file", "_record_failure"):
            monkeypatch.setattr(jobs, name, lambda *_, **__: None)
        monkeypatch.setattr(repository, "add_chunks", died)
        response = upload(client, "pumpe.md", b"# Pumpe\n\nDie Pumpe QX-9917 laeuft.")
        assert response.status_code == 500
        monkeypatch.undo()
        state = snapshot(client)
        assert (state.chunks, state.vectors, len(state.files)) == (5, 6, 2)
        old = crash_leftovers(container_of(client), points=4)

    with running(settings) as client:
        listing = client.get("/documents", headers=ADMIN).json()
        pumpe = next(d for d in listing["items"] if d["source"] == "pumpe.md")
        assert wait_until_done(client, pumpe["item_id"])["status"] == "ready"
        state = snapshot(client)
        assert (state.items, state.chunks, state.vectors) == (2, 6, 6)
        assert not [f for f in state.files if old in f] and len(state.files) == 2
        assert search(client, "QX-9917", mode="lexical")[0]["item_id"] == pumpe["item_id"]
        assert search(client, "BT100", mode="lexical")[0]["item_id"] == kept["item_id"]
        assert_consistent(client)


def test_reconcile_on_start_can_be_turned_off(settings_of: Callable[..., Settings]) -> None:
    settings = settings_of(reconcile_on_start=False)
    container = build_container(settings)
    try:
        crash_leftovers(container, points=2)
    finally:
        container.close()
    with running(settings) as client:
        assert container_of(client).vector_store.count() == 2
        assert len(stored_files(client)) == 1


def luna(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "DATABASE_", "LUNA_"))}
    return subprocess.run(
        [sys.executable, "-m", "luna_iems", *args],
        capture_output=True, text=True, env={**full_env, "COLUMNS": "200", **env}, timeout=180, check=False,
    )  # fmt: skip


def test_luna_reindex_check_reports_and_fix_removes(
    settings_of: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_of()
    with running(settings) as client:
        ingest_text(client, "Anlage", FIVE_SECTIONS, source="anlage")
        crash_leftovers(container_of(client), points=3)
    env = {"DATA_DIR": str(settings.data_dir), "DATABASE_URL": str(settings.database_url)}

    check = luna("reindex", "--check", env=env)
    assert check.returncode == 1, check.stderr
    assert "found 3 orphan vector points (of 8) and 1 orphan files (of 2)" in check.stdout
    assert check.stderr.strip().splitlines() == [
        "error: the stores disagree with the database: run `luna reindex --check --fix` to repair"
    ]
    fixed = luna("reindex", "--check", "--fix", env=env)
    assert fixed.returncode == 0, fixed.stderr
    assert "removed 3 orphan vector points (of 8) and 1 orphan files (of 2)" in fixed.stdout
    clean = luna("reindex", "--check", env=env)
    assert clean.returncode == 0, clean.stderr
    assert "found 0 orphan vector points (of 5) and 0 orphan files (of 1)" in clean.stdout


def test_report_summary_names_every_count() -> None:
    report = ReconcileReport(
        vector_points=10, orphan_vectors=2, files=4, orphan_files=1, lexical_extra=0, lexical_missing=3,
        in_flight=1, fixed=True,
    )  # fmt: skip
    assert report.summary() == (
        "removed 2 orphan vector points (of 10) and 1 orphan files (of 4); lexical index: 0 extra and "
        "3 missing entries, repaired; 1 documents being ingested left alone"
    )
