"""Helpers for the knowledge HTTP tests: uploads, store snapshots (SQL rows, vectors, stored files)
and Server-Sent Events parsing. Document factories come from test_extraction.py."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from luna_iems.bootstrap import Container
from luna_iems.knowledge.models import Item, ItemChunk, ItemVersion
from luna_iems.main import create_app
from luna_iems.settings import Settings
from tests.conftest import ADMIN_TOKEN, auth

ADMIN = auth(ADMIN_TOKEN)


def container_of(client: TestClient) -> Container:
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    return container


def files_dir(client: TestClient) -> Path:
    return container_of(client).settings.data_dir / "files"


def stored_files(client: TestClient) -> list[str]:
    """Every file under the object store directory (relative paths; temporary files included)."""
    root = files_dir(client)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@dataclass(frozen=True)
class Snapshot:
    items: int
    chunks: int
    versions: int
    vectors: int
    files: tuple[str, ...]
    lexical: int  # chunks in the in-memory lexical index (only meaningful once it is loaded)


def snapshot(client: TestClient) -> Snapshot:
    container = container_of(client)
    with container.session_factory() as session:
        items, chunks, versions = (
            int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (Item, ItemChunk, ItemVersion)
        )
    return Snapshot(
        items=items,
        chunks=chunks,
        versions=versions,
        vectors=container.vector_store.count(),
        files=tuple(stored_files(client)),
        lexical=len(container.knowledge_index),
    )


def chunk_ids_in_sql(client: TestClient) -> set[str]:
    with container_of(client).session_factory() as session:
        return {str(c) for c in session.scalars(select(ItemChunk.chunk_id))}


def assert_empty(client: TestClient) -> None:
    """Nothing stored anywhere: no item/version/chunk rows, no vectors, no files."""
    state = snapshot(client)
    assert (state.items, state.chunks, state.versions, state.vectors, state.files) == (0, 0, 0, 0, ()), state


def assert_consistent(client: TestClient) -> None:
    """Every SQL chunk has exactly one vector and vice versa (point id = chunk id)."""
    state = snapshot(client)
    assert state.vectors == state.chunks
    ids = chunk_ids_in_sql(client)
    vectors = container_of(client).vector_store
    if ids:
        vector = [0.0] * vectors.dimension
        vector[0] = 1.0
        found = {hit.point_id for hit in vectors.search(vector, top_k=len(ids) + 10)}
        assert found == ids


def upload(
    client: TestClient,
    name: str,
    data: bytes,
    *,
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
    wait: bool = True,
    **form: str,
) -> Any:
    """POST /ingest/doc; the part's content type is only sent when given. `wait` (the default here,
    not in the API): ingest within the request, 200 with the ready document or the error."""
    file = (name, data) if content_type is None else (name, data, content_type)
    return client.post(
        "/ingest/doc", headers=headers or ADMIN, files={"file": file}, data=form, params=_wait(wait)
    )


def _wait(wait: bool) -> dict[str, str]:
    return {"wait": "true"} if wait else {}


def ingest_text(client: TestClient, title: str, text: str, **fields: Any) -> dict[str, Any]:
    """POST /ingest/text?wait=true: the ready document."""
    response = client.post(
        "/ingest/text", headers=ADMIN, json={"title": title, "text": text, **fields}, params=_wait(True)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_until_done(client: TestClient, item_id: str, *, timeout_s: float = 120) -> dict[str, Any]:
    """Poll GET /documents/{item_id} until its latest ingest is ready or failed; returns the detail."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get(f"/documents/{item_id}", headers=ADMIN)
        assert response.status_code == 200, response.text
        detail: dict[str, Any] = response.json()
        if detail["ingest"]["status"] in {"ready", "failed"}:
            return detail
        assert time.monotonic() < deadline, f"ingest of {item_id} not done after {timeout_s} s: {detail}"
        time.sleep(0.05)


def search(client: TestClient, q: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/search", headers=ADMIN, params={"q": q, **params})
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["hits"]
    return hits


def chunks_of(client: TestClient, item_id: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/documents/{item_id}/chunks", headers=ADMIN, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def sse_events(raw: str) -> list[tuple[str, Any]]:
    """Parse `event: name / data: json` blocks."""
    events = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


@contextmanager
def running(settings: Settings, **kwargs: Any) -> Iterator[TestClient]:
    with TestClient(create_app(settings), **kwargs) as test_client:
        yield test_client


def failing(message: str, exc: type[BaseException] = RuntimeError) -> Callable[..., Any]:
    def fail(*_: Any, **__: Any) -> Any:
        raise exc(message)

    return fail
