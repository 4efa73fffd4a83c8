"""The documents admin over HTTP, on SQLite and PostgreSQL: list (paging, tag filter), detail with
versions, chunks (paging), delete (SQL rows, vectors, stored files) and reindex."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from luna_iems.knowledge.models import ItemChunk, ItemVersion
from tests.knowledge.api_support import (
    ADMIN,
    assert_consistent,
    chunk_ids_in_sql,
    chunks_of,
    container_of,
    ingest_text,
    search,
    snapshot,
    stored_files,
    upload,
)
from tests.knowledge.test_extraction import THREE_PAGES, make_pdf

FIVE_SECTIONS = "\n\n".join(
    f"## Abschnitt {n}\n\nIm Abschnitt {n} wird das Bauteil BT{n}00 der Anlage beschrieben."
    for n in range(1, 6)
)


def _rows_for(client: TestClient, item_id: str) -> tuple[int, int]:
    with container_of(client).session_factory() as session:
        key = uuid.UUID(item_id)
        chunks = session.scalar(select(func.count()).select_from(ItemChunk).where(ItemChunk.item_id == key))
        versions = session.scalar(
            select(func.count()).select_from(ItemVersion).where(ItemVersion.item_id == key)
        )
    return int(chunks or 0), int(versions or 0)


def test_list_pages_newest_first_and_filters_by_tag(client: TestClient) -> None:
    made = [
        ingest_text(client, f"Dokument {n}", f"Inhalt Nummer {n} über Zähler.", tags=tags)
        for n, tags in enumerate([["a"], ["a", "b"], ["b"], ["a"]], start=1)
    ]
    newest_first = [d["item_id"] for d in reversed(made)]

    page = client.get("/documents", headers=ADMIN, params={"limit": 3}).json()
    assert (page["total"], page["limit"], page["offset"]) == (4, 3, 0)
    assert [d["item_id"] for d in page["items"]] == newest_first[:3]
    rest = client.get("/documents", headers=ADMIN, params={"limit": 3, "offset": 3}).json()
    assert [d["item_id"] for d in rest["items"]] == newest_first[3:]
    assert client.get("/documents", headers=ADMIN, params={"offset": 10}).json()["items"] == []

    first = page["items"][0]
    assert set(first) == {
        "item_id", "kind", "source", "title", "tags", "url", "sha256", "version", "content_type",
        "size_bytes", "page_count", "created_at", "updated_at", "status", "ingest",
    }  # fmt: skip
    assert (first["title"], first["tags"], first["kind"]) == ("Dokument 4", ["a"], "text")

    tagged = client.get("/documents", headers=ADMIN, params={"tag": "a"}).json()
    assert tagged["total"] == 3
    assert [d["title"] for d in tagged["items"]] == ["Dokument 4", "Dokument 2", "Dokument 1"]
    paged = client.get("/documents", headers=ADMIN, params={"tag": "a", "limit": 1, "offset": 1}).json()
    assert (paged["total"], [d["title"] for d in paged["items"]]) == (3, ["Dokument 2"])
    assert client.get("/documents", headers=ADMIN, params={"tag": "zzz"}).json() == {
        "items": [], "total": 0, "limit": 50, "offset": 0,
    }  # fmt: skip
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
        assert client.get("/documents", headers=ADMIN, params=bad).status_code == 422


def test_detail_and_chunk_paging(client: TestClient) -> None:
    body = ingest_text(client, "Anlage", FIVE_SECTIONS, tags=["anlage"], source="anlage.md")
    assert body["chunks"] == 5
    detail = client.get(f"/documents/{body['item_id']}", headers=ADMIN).json()
    assert (detail["chunk_count"], detail["version"], detail["sha256"]) == (5, 1, body["sha256"])
    (version,) = detail["versions"]
    assert set(version) == {"version", "sha256", "content_type", "size_bytes", "chunk_count", "created_at"}
    assert (version["version"], version["chunk_count"], version["sha256"]) == (1, 5, body["sha256"])
    assert version["size_bytes"] == len(FIVE_SECTIONS.encode())

    response = client.get(
        f"/documents/{body['item_id']}/chunks", headers=ADMIN, params={"limit": 2, "offset": 2}
    )
    page = response.json()
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 2)
    assert [c["chunk_idx"] for c in page["items"]] == [2, 3]
    assert [c["heading_path"] for c in page["items"]] == [["Abschnitt 3"], ["Abschnitt 4"]]
    assert "BT300" in page["items"][0]["text"]
    assert set(page["items"][0]) == {
        "chunk_id", "item_id", "chunk_idx", "text", "page_start", "page_end", "heading_path", "section",
        "language", "token_count",
    }  # fmt: skip
    everything = chunks_of(client, body["item_id"])
    assert [c["chunk_idx"] for c in everything] == [0, 1, 2, 3, 4]
    assert chunks_of(client, body["item_id"], offset=5) == []
    bad = client.get(f"/documents/{body['item_id']}/chunks", headers=ADMIN, params={"limit": 1001})
    assert bad.status_code == 422

    # One chunk by its id (what a citation names), and 404s that name the ids.
    third = everything[3]
    one = client.get(f"/documents/{body['item_id']}/chunks/{third['chunk_id']}", headers=ADMIN)
    assert one.status_code == 200 and one.json() == third
    other = ingest_text(client, "Andere", "# Andere\n\nEin anderer Text.", source="andere.md")
    elsewhere = client.get(f"/documents/{other['item_id']}/chunks/{third['chunk_id']}", headers=ADMIN)
    assert elsewhere.status_code == 404 and third["chunk_id"] in elsewhere.json()["error"]["message"]
    unknown = client.get(f"/documents/{uuid.uuid4()}/chunks/{third['chunk_id']}", headers=ADMIN)
    assert unknown.status_code == 404 and "does not exist" in unknown.json()["error"]["message"]


def test_delete_removes_rows_vectors_files_and_index_entries(client: TestClient) -> None:
    container_of(client).knowledge_index.ensure_loaded(container_of(client).session_factory)
    keep = upload(client, "behalten.md", b"# Behalten\n\nDer Zaehler ZA7001 bleibt.").json()
    gone = upload(client, "weg.md", b"# Weg\n\nDer Zaehler ZA8001 wird entfernt.").json()
    second = upload(
        client, "weg-neu.md", b"# Weg\n\nDer Zaehler ZA8002 wird entfernt.", source="weg.md"
    ).json()
    assert (second["item_id"], second["version"]) == (gone["item_id"], 2)
    assert [f for f in stored_files(client) if gone["item_id"] in f] != []
    before = snapshot(client)
    gone_chunks = {c["chunk_id"] for c in chunks_of(client, gone["item_id"])}

    response = client.delete(f"/documents/{gone['item_id']}", headers=ADMIN)
    assert response.status_code == 204 and response.content == b""

    after = snapshot(client)
    assert _rows_for(client, gone["item_id"]) == (0, 0)
    assert after.items == before.items - 1
    assert after.chunks == before.chunks - len(gone_chunks) == after.vectors
    assert after.versions == before.versions - 2
    assert after.lexical == before.lexical - len(gone_chunks)
    assert gone_chunks.isdisjoint(chunk_ids_in_sql(client))
    # every version's original is gone; the other document's file stays
    assert [f for f in stored_files(client) if gone["item_id"] in f] == []
    assert [f for f in stored_files(client) if keep["item_id"] in f] != []
    assert_consistent(client)

    assert client.get(f"/documents/{gone['item_id']}", headers=ADMIN).status_code == 404
    assert client.get(f"/documents/{gone['item_id']}/chunks", headers=ADMIN).status_code == 404
    assert client.delete(f"/documents/{gone['item_id']}", headers=ADMIN).status_code == 404
    for mode in ("lexical", "hybrid", "dense"):
        assert all(
            h["item_id"] != gone["item_id"] for h in search(client, "Zaehler ZA8002 entfernt", mode=mode)
        )
    assert search(client, "ZA7001", mode="lexical")[0]["item_id"] == keep["item_id"]
    # the same content can be ingested again as a new document
    again = upload(
        client, "weg-neu.md", b"# Weg\n\nDer Zaehler ZA8002 wird entfernt.", source="weg.md"
    ).json()
    assert again["duplicate"] is False and again["item_id"] != gone["item_id"] and again["version"] == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/documents/{id}"),
        ("GET", "/documents/{id}/chunks"),
        ("DELETE", "/documents/{id}"),
        ("POST", "/documents/{id}/reindex"),
    ],
)
def test_unknown_and_malformed_ids(client: TestClient, method: str, path: str) -> None:
    unknown = str(uuid.uuid4())
    response = client.request(method, path.format(id=unknown), headers=ADMIN)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found" and unknown in error["message"]
    assert error["details"] == {"item_id": unknown}
    assert client.request(method, path.format(id="not-a-uuid"), headers=ADMIN).status_code == 422


def test_reindex_makes_a_new_version_with_the_same_content(client: TestClient) -> None:
    container_of(client).knowledge_index.ensure_loaded(container_of(client).session_factory)
    data = make_pdf(THREE_PAGES, title="Leitfaden")
    first = upload(client, "leitfaden.pdf", data, tags="recht").json()
    old_chunks = chunks_of(client, first["item_id"])

    response = client.post(f"/documents/{first['item_id']}/reindex", headers=ADMIN, params={"wait": "true"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["item_id"], body["version"], body["replaced_version"], body["duplicate"]) == (
        first["item_id"], 2, 1, False,
    )  # fmt: skip
    assert (body["sha256"], body["chunks"], body["page_count"]) == (first["sha256"], first["chunks"], 3)

    detail = client.get(f"/documents/{first['item_id']}", headers=ADMIN).json()
    assert [(v["version"], v["sha256"], v["chunk_count"]) for v in detail["versions"]] == [
        (1, first["sha256"], first["chunks"]),
        (2, first["sha256"], first["chunks"]),
    ]
    assert (detail["tags"], detail["title"], detail["source"]) == (["recht"], "Leitfaden", "leitfaden.pdf")
    new_chunks = chunks_of(client, first["item_id"])
    strip = ("chunk_id",)
    assert [{k: v for k, v in c.items() if k not in strip} for c in new_chunks] == [
        {k: v for k, v in c.items() if k not in strip} for c in old_chunks
    ]
    assert {c["chunk_id"] for c in old_chunks}.isdisjoint({c["chunk_id"] for c in new_chunks})
    state = snapshot(client)
    assert (state.items, state.chunks, state.vectors, state.lexical) == (
        1,
        len(new_chunks),
        len(new_chunks),
        len(new_chunks),
    )
    assert_consistent(client)
    files = [f for f in stored_files(client) if first["item_id"] in f]
    assert [f.split("/")[2] for f in files] == ["v1", "v2"]
    assert search(client, "Anschlussnutzer", mode="lexical")[0]["chunk_id"] == new_chunks[0]["chunk_id"]


def test_reindex_of_a_text_without_a_source_keeps_the_item(client: TestClient) -> None:
    """A text ingested without `source` must be re-versioned in place, not copied into a new item."""
    first = ingest_text(client, "Notiz", "Die Pumpe P7 läuft nur nachts.")
    response = client.post(f"/documents/{first['item_id']}/reindex", headers=ADMIN, params={"wait": "true"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert (body["item_id"], body["version"], body["replaced_version"]) == (first["item_id"], 2, 1)
    listing = client.get("/documents", headers=ADMIN).json()
    assert listing["total"] == 1
    assert listing["items"][0]["source"] is None
    assert len(search(client, "Pumpe P7 nachts", mode="dense")) == 1
    assert_consistent(client)
