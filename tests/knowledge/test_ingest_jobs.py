"""Document ingest as a background job (issue 9, item 11): 202 and a Location, progress on
GET /documents/{id}, failures that end `failed` with nothing half-written, search that never sees a
document before it is ready, a new version that replaces the old one only when ready, and jobs that
survive a restart (requeued) or a graceful stop (interrupted, queued again)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from luna_iems.errors import BackendUnavailableError
from luna_iems.knowledge import jobs
from luna_iems.knowledge.models import Item
from luna_iems.ports import VectorPoint
from luna_iems.settings import Settings
from tests.conftest import make_settings
from tests.knowledge.api_support import (
    ADMIN,
    assert_consistent,
    chunks_of,
    container_of,
    running,
    search,
    snapshot,
    stored_files,
    upload,
    wait_until_done,
)
from tests.knowledge.test_extraction import THREE_PAGES, make_pdf

NINE_SECTIONS = "\n\n".join(
    f"## Abschnitt {n}\n\nIm Abschnitt {n} wird das Bauteil BT{n}00 der Anlage beschrieben."
    for n in range(1, 10)
).encode()


@pytest.fixture
def small_batches(tmp_path: Path, fresh_database_url: Callable[[str], str], db_kind: str) -> Settings:
    """Embedding batches of 4 chunks (EMBEDDING_BATCH_SIZE=1): NINE_SECTIONS takes three batches."""
    return make_settings(tmp_path, database_url=fresh_database_url(db_kind), embedding_batch_size=1)


class Gate:
    """Holds the ingest worker inside `embed` on its `nth` call (1-based) until released; calls from
    other threads (a query embedding) pass."""

    def __init__(self, client: TestClient, monkeypatch: pytest.MonkeyPatch, *, nth: int) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        embedder = container_of(client).embedder
        real = embedder.embed

        def embed(texts: Any, *, kind: Any) -> Any:
            if threading.current_thread().name.startswith("luna-ingest"):
                self.calls += 1
                if self.calls == nth:
                    self.reached.set()
                    assert self.release.wait(60)
            return real(texts, kind=kind)

        monkeypatch.setattr(embedder, "embed", embed)

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()


def _detail(client: TestClient, item_id: str) -> dict[str, Any]:
    response = client.get(f"/documents/{item_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_upload_answers_202_with_a_location_then_becomes_ready(client: TestClient) -> None:
    data = make_pdf(THREE_PAGES, title="Messstellen-Leitfaden")
    response = upload(client, "leitfaden.pdf", data, wait=False, tags="recht", source="msbg")
    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["location"] == f"/documents/{body['item_id']}"
    assert (body["status"], body["version"], body["chunks"], body["duplicate"]) == ("queued", 1, 0, False)
    assert body["content_type"] == "application/pdf"

    detail = wait_until_done(client, body["item_id"])
    assert (detail["status"], detail["version"], detail["chunk_count"]) == ("ready", 1, 2)
    assert detail["ingest"] == {
        "status": "ready", "version": 1, "chunks_done": 2, "chunks_total": 2, "error": None,
    }  # fmt: skip
    assert detail["title"] == "Messstellen-Leitfaden"  # from the document, as before
    assert [v["version"] for v in detail["versions"]] == [1]
    listing = client.get("/documents", headers=ADMIN).json()
    assert [(d["item_id"], d["status"]) for d in listing["items"]] == [(body["item_id"], "ready")]
    assert search(client, "Anschlussnutzer", mode="lexical")[0]["item_id"] == body["item_id"]
    assert_consistent(client)

    # the same bytes again: a duplicate, answered at once with 200 and nothing queued
    again = upload(client, "copy.pdf", data, wait=False)
    assert again.status_code == 200 and "location" not in again.headers
    assert (again.json()["duplicate"], again.json()["status"]) == (True, "ready")


def test_text_and_reindex_are_queued_the_same_way(sqlite_client: TestClient) -> None:
    response = sqlite_client.post(
        "/ingest/text", headers=ADMIN, json={"title": "Notiz", "text": "Die Pumpe P7 läuft nachts."}
    )
    assert response.status_code == 202, response.text
    item_id = response.json()["item_id"]
    assert wait_until_done(sqlite_client, item_id)["status"] == "ready"
    reindex = sqlite_client.post(f"/documents/{item_id}/reindex", headers=ADMIN)
    assert reindex.status_code == 202, reindex.text
    assert (reindex.json()["version"], reindex.json()["replaced_version"]) == (2, 1)
    detail = wait_until_done(sqlite_client, item_id)
    assert (detail["version"], [v["version"] for v in detail["versions"]]) == (2, [1, 2])
    assert_consistent(sqlite_client)


def test_a_corrupt_upload_ends_failed_with_the_reason_and_nothing_stored(sqlite_client: TestClient) -> None:
    broken = make_pdf(THREE_PAGES)[:900]
    response = upload(sqlite_client, "kaputt.pdf", broken, wait=False)
    assert response.status_code == 202, response.text
    item_id = response.json()["item_id"]
    detail = wait_until_done(sqlite_client, item_id)
    assert (detail["status"], detail["version"], detail["chunk_count"], detail["versions"]) == (
        "failed", 0, 0, [],
    )  # fmt: skip
    assert detail["ingest"]["status"] == "failed"
    assert "could not be read" in detail["ingest"]["error"]
    listed = sqlite_client.get("/documents", headers=ADMIN).json()["items"]
    assert [(d["item_id"], d["status"]) for d in listed] == [(item_id, "failed")]
    state = snapshot(sqlite_client)
    assert (state.items, state.chunks, state.versions, state.vectors, state.files) == (1, 0, 0, 0, ())

    # A good file under the same source retries into the same document.
    retry = upload(sqlite_client, "good.md", b"# Gut\n\nDie Pumpe laeuft.", wait=False, source="kaputt.pdf")
    assert retry.status_code == 202 and retry.json()["item_id"] == item_id
    detail = wait_until_done(sqlite_client, item_id)
    assert (detail["status"], detail["version"], detail["ingest"]["error"]) == ("ready", 1, None)
    assert detail["title"] == "Gut"
    assert_consistent(sqlite_client)
    # A failed document can be deleted like any other.
    assert sqlite_client.delete(f"/documents/{item_id}", headers=ADMIN).status_code == 204
    assert stored_files(sqlite_client) == []


def test_a_failure_after_some_batches_removes_every_vector_written(
    small_batches: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(small_batches) as client:
        store = container_of(client).vector_store
        real = store.upsert
        calls: list[int] = []

        def second_fails(points: Any) -> None:
            calls.append(len(points))
            real(points)
            if len(calls) == 2:  # written, then the answer is lost (e.g. a timeout)
                raise BackendUnavailableError("vector_store", "timed out waiting for the vector store")

        monkeypatch.setattr(store, "upsert", second_fails)
        response = upload(client, "anlage.md", NINE_SECTIONS, wait=False)
        assert response.status_code == 202
        detail = wait_until_done(client, response.json()["item_id"])
        assert calls == [4, 4]
        assert detail["status"] == "failed"
        assert detail["ingest"]["error"] == "timed out waiting for the vector store"
        assert (detail["ingest"]["chunks_done"], detail["ingest"]["chunks_total"]) == (4, 9)
        state = snapshot(client)
        assert (state.chunks, state.versions, state.vectors, state.files) == (0, 0, 0, ())


def test_search_never_sees_a_document_before_it_is_ready(
    small_batches: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(small_batches) as client:
        container_of(client).knowledge_index.ensure_loaded(container_of(client).session_factory)
        with Gate(client, monkeypatch, nth=2) as gate:
            response = upload(client, "anlage.md", NINE_SECTIONS, wait=False)
            item_id = response.json()["item_id"]
            assert gate.reached.wait(60)
            # the first batch's 4 vectors are written; nothing is searchable yet
            assert container_of(client).vector_store.count() == 4
            detail = _detail(client, item_id)
            assert (detail["status"], detail["version"], detail["chunk_count"]) == ("processing", 0, 0)
            assert (detail["ingest"]["chunks_done"], detail["ingest"]["chunks_total"]) == (4, 9)
            for mode in ("dense", "hybrid", "lexical"):
                assert search(client, "Bauteil BT100 der Anlage", mode=mode) == []
            # another upload to the same document waits its turn
            busy = upload(client, "anlage.md", b"# Neu\n\nAnders.", wait=False)
            assert busy.status_code == 409
            assert busy.json()["error"]["details"] == {"item_id": item_id, "status": "processing"}
        detail = wait_until_done(client, item_id)
        assert (detail["status"], detail["chunk_count"]) == ("ready", 9)
        assert search(client, "BT100", mode="lexical")[0]["item_id"] == item_id
        assert_consistent(client)


def test_a_new_version_replaces_the_old_one_only_when_ready(
    small_batches: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(small_batches) as client:
        first = upload(client, "handbuch.md", b"# Handbuch\n\nDer Kompressor KM1111 wird gewartet.").json()
        old_chunks = chunks_of(client, first["item_id"])
        with Gate(client, monkeypatch, nth=2) as gate:
            response = upload(client, "handbuch.md", NINE_SECTIONS, wait=False)
            assert response.status_code == 202
            assert (response.json()["version"], response.json()["replaced_version"]) == (2, 1)
            assert gate.reached.wait(60)
            detail = _detail(client, first["item_id"])
            # version 1 is still what the document serves, and what search finds
            assert (detail["status"], detail["version"], detail["sha256"]) == ("ready", 1, first["sha256"])
            assert (detail["ingest"]["status"], detail["ingest"]["version"]) == ("processing", 2)
            assert chunks_of(client, first["item_id"]) == old_chunks
            assert [h["chunk_id"] for h in search(client, "KM1111", mode="lexical")] == [
                old_chunks[0]["chunk_id"]
            ]
            assert search(client, "BT100", mode="lexical") == []
        detail = wait_until_done(client, first["item_id"])
        assert (detail["status"], detail["version"], detail["chunk_count"]) == ("ready", 2, 9)
        assert search(client, "KM1111", mode="lexical") == []
        assert_consistent(client)


def _hold_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the process died before the worker picked the job up."""
    monkeypatch.setattr(jobs.IngestWorker, "submit", lambda *_: None)


def test_a_restart_requeues_queued_and_crashed_jobs(
    small_batches: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(small_batches) as client:
        _hold_the_worker(monkeypatch)
        queued = upload(client, "queued.md", NINE_SECTIONS, wait=False).json()
        crashed = upload(client, "crashed.md", b"# Absturz\n\nDie Pumpe PX-77 steht.", wait=False).json()
        container = container_of(client)
        # `crashed` died in the middle: processing, with the points of its first attempt written
        with container.session_factory() as session:
            item = session.get(Item, uuid.UUID(crashed["item_id"]))
            assert item is not None
            item.ingest_status, item.chunks_done, item.chunks_total = "processing", 1, 1
            session.commit()
        vector = [1.0] + [0.0] * (container.vector_store.dimension - 1)
        point_id = str(jobs.chunk_uuid(uuid.UUID(crashed["item_id"]), 1, 0))
        container.vector_store.upsert(
            [VectorPoint(point_id, vector, {"item_id": crashed["item_id"], "chunk_idx": 0})]
        )
        assert _detail(client, queued["item_id"])["status"] == "queued"
        monkeypatch.undo()

    with running(small_batches) as client:  # the restart: both jobs run to the end
        for body in (queued, crashed):
            detail = wait_until_done(client, body["item_id"])
            assert (detail["status"], detail["version"], detail["ingest"]["error"]) == ("ready", 1, None)
        assert search(client, "PX-77", mode="lexical")[0]["item_id"] == crashed["item_id"]
        state = snapshot(client)
        assert state.chunks == 10 and state.vectors == 10  # the first attempt's point was overwritten
        assert_consistent(client)


def test_a_graceful_stop_interrupts_the_job_and_the_next_start_finishes_it(
    small_batches: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(small_batches) as client:
        with Gate(client, monkeypatch, nth=2) as gate:
            item_id = upload(client, "anlage.md", NINE_SECTIONS, wait=False).json()["item_id"]
            assert gate.reached.wait(60)
            stopper = threading.Thread(target=jobs.worker(container_of(client).knowledge_deps).stop)
            stopper.start()
        stopper.join(60)
        detail = _detail(client, item_id)
        assert (detail["status"], detail["ingest"]["chunks_done"]) == ("queued", 0)
        state = snapshot(client)
        assert (state.chunks, state.vectors, len(state.files)) == (0, 0, 1)  # the upload waits
        monkeypatch.undo()
    with running(small_batches) as client:
        assert wait_until_done(client, item_id)["status"] == "ready"
        assert_consistent(client)


def test_deleting_a_document_during_its_ingest_stops_it_and_leaves_nothing(
    sqlite_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Gate(sqlite_client, monkeypatch, nth=1) as gate:
        item_id = upload(sqlite_client, "anlage.md", NINE_SECTIONS, wait=False).json()["item_id"]
        assert gate.reached.wait(60)
        assert sqlite_client.delete(f"/documents/{item_id}", headers=ADMIN).status_code == 204
    container = container_of(sqlite_client)
    jobs.worker(container.knowledge_deps).stop()  # waits for the job to notice and clean up
    state = snapshot(sqlite_client)
    assert (state.items, state.chunks, state.vectors, state.files) == (0, 0, 0, ())
    with container.session_factory() as session:
        assert session.scalars(select(Item)).all() == []
