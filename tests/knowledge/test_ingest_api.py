"""POST /ingest/doc and /ingest/text over HTTP: every format, the response, failures that store
nothing, atomicity of the three stores (object store → vectors → SQL), dedupe and versions.

Tests where the database matters run on SQLite and PostgreSQL (`client`); the rest on SQLite.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fpdf import FPDF

from luna_iems.errors import BackendUnavailableError
from luna_iems.filetypes import DOCX, HTML, MARKDOWN, PDF, PLAIN_TEXT
from luna_iems.knowledge import repository
from tests.conftest import auth, make_settings
from tests.knowledge.api_support import (
    ADMIN,
    assert_consistent,
    assert_empty,
    chunk_ids_in_sql,
    chunks_of,
    container_of,
    failing,
    files_dir,
    ingest_text,
    running,
    search,
    snapshot,
    stored_files,
    upload,
)
from tests.knowledge.test_extraction import THREE_PAGES, make_docx, make_pdf, png_bytes

MARKDOWN_LAW = """# Messstellenbetriebsgesetz (Auszug)

## § 1 Anwendungsbereich

Dieses Gesetz regelt die Ausstattung von Messstellen und den Messstellenbetrieb.

## § 2 Begriffsbestimmungen

Messstellenbetreiber ist, wer die Aufgabe des Messstellenbetriebs wahrnimmt.

## § 3 Messstellenbetrieb

Der Messstellenbetrieb umfasst den Einbau, den Betrieb und die Wartung der Messstelle.
"""

HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>Wartungsplan</title></head><body>"
    "<h1>Wartungsplan</h1><p>Die Pumpen werden jährlich geprüft.</p>"
    "<h2>Pumpe 2</h2><p>Pumpe 2 läuft nur nachts zwischen 22 und 6 Uhr.</p>"
    "<script>var ignored = 1;</script></body></html>"
)


def textless_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.image(io.BytesIO(png_bytes()), x=10, y=10, w=50)
    return bytes(pdf.output())


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


# --- formats ---------------------------------------------------------------------------------------


def test_pdf_ingest_response_and_chunks_carry_page_numbers(client: TestClient) -> None:
    data = make_pdf(THREE_PAGES, title="Messstellen-Leitfaden")
    response = upload(
        client, "leitfaden.pdf", data, title="Leitfaden", tags="recht, messung,,  ", source="msbg"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "item_id", "title", "version", "duplicate", "chunks", "content_type", "page_count", "sha256",
        "replaced_version", "status",
    }  # fmt: skip
    assert body["title"] == "Leitfaden"
    assert (body["version"], body["duplicate"], body["replaced_version"]) == (1, False, None)
    assert (body["content_type"], body["page_count"]) == (PDF, 3)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()

    chunks = chunks_of(client, body["item_id"])
    assert len(chunks) == body["chunks"] == 2
    assert [c["chunk_idx"] for c in chunks] == [0, 1]
    assert [(c["page_start"], c["page_end"]) for c in chunks] == [(1, 1), (2, 3)]
    assert [c["section"] for c in chunks] == ["§ 1", "§ 2"]
    assert "Anschlussnutzer" in chunks[0]["text"] and "Schlussbemerkung" in chunks[1]["text"]
    assert {c["language"] for c in chunks} == {"de"}

    detail = client.get(f"/documents/{body['item_id']}", headers=ADMIN).json()
    assert detail["tags"] == ["recht", "messung"]
    assert (detail["source"], detail["kind"], detail["size_bytes"]) == ("msbg", "document", len(data))
    # the original is kept byte for byte; one vector per chunk
    (stored,) = stored_files(client)
    assert (files_dir(client) / stored).read_bytes() == data
    assert stored.startswith(f"items/{body['item_id']}/v1/")
    assert_consistent(client)


@pytest.mark.parametrize(
    ("name", "data", "content_type", "title", "headings", "sections"),
    [
        (
            "handbuch.docx",
            make_docx(core_title="Handbuch Speicher"),
            DOCX,
            "Handbuch Speicher",
            [
                ["Betriebshandbuch Batteriespeicher"],
                ["Betriebshandbuch Batteriespeicher", "Installation"],
                ["Betriebshandbuch Batteriespeicher", "Installation", "Elektrischer Anschluss"],
                ["Betriebshandbuch Batteriespeicher", "Betrieb"],
            ],
            [None] * 4,
        ),
        (
            "wartung.html",
            HTML_PAGE.encode(),
            HTML,
            "Wartungsplan",
            [["Wartungsplan"], ["Wartungsplan", "Pumpe 2"]],
            [None, None],
        ),
        (
            "msbg.md",
            MARKDOWN_LAW.encode(),
            MARKDOWN,
            "Messstellenbetriebsgesetz (Auszug)",
            [
                ["Messstellenbetriebsgesetz (Auszug)", "§ 1 Anwendungsbereich"],
                ["Messstellenbetriebsgesetz (Auszug)", "§ 2 Begriffsbestimmungen"],
                ["Messstellenbetriebsgesetz (Auszug)", "§ 3 Messstellenbetrieb"],
            ],
            ["§ 1", "§ 2", "§ 3"],
        ),
        (
            "notes.txt",
            b"Notes on pump 2.\nIt runs at night only.\n",
            PLAIN_TEXT,
            "Notes on pump 2.",
            [[]],
            [None],
        ),
    ],
    ids=["docx", "html", "markdown", "txt"],
)
def test_formats_are_extracted_chunked_and_indexed(
    sqlite_client: TestClient,
    name: str,
    data: bytes,
    content_type: str,
    title: str,
    headings: list[list[str]],
    sections: list[str | None],
) -> None:
    # No title given: it comes from the document (DOCX metadata, <title>, first heading, first line).
    response = upload(sqlite_client, name, data)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["content_type"], body["title"], body["page_count"]) == (content_type, title, None)
    chunks = chunks_of(sqlite_client, body["item_id"])
    assert body["chunks"] == len(chunks)
    assert [c["heading_path"] for c in chunks] == headings
    assert [c["section"] for c in chunks] == sections
    assert all(c["page_start"] is None and c["token_count"] > 0 for c in chunks)
    assert "ignored" not in " ".join(c["text"] for c in chunks)  # <script> is dropped
    detail = sqlite_client.get(f"/documents/{body['item_id']}", headers=ADMIN).json()
    assert detail["source"] == name  # the default source is the file name
    assert_consistent(sqlite_client)
    assert len(stored_files(sqlite_client)) == 1


def test_content_type_is_judged_by_content_not_by_name(sqlite_client: TestClient) -> None:
    response = upload(sqlite_client, "report.txt", make_pdf([["Eine Seite."]]), content_type="text/plain")
    assert response.status_code == 200, response.text
    assert response.json()["content_type"] == PDF


# --- failures store nothing ------------------------------------------------------------------------

FAILURES: list[tuple[str, Callable[[], bytes], int, str]] = [
    ("bild.png", png_bytes, 415, "PNG image"),
    ("bericht.pdf", lambda: b"Das ist nur Text, kein PDF.", 415, "claims to be a PDF"),
    ("geheim.pdf", lambda: make_pdf([["Geheim."]], user_password="secret"), 422, "encrypted"),
    ("kaputt.pdf", lambda: truncated(make_pdf(THREE_PAGES)), 422, "could not be read"),
    ("scan.pdf", textless_pdf, 422, "no extractable text"),
    ("leer.txt", lambda: b"", 422, "the file is empty"),
]


@pytest.mark.parametrize(("name", "factory", "status", "message"), FAILURES, ids=[f[0] for f in FAILURES])
def test_rejected_uploads_store_nothing(
    sqlite_client: TestClient, name: str, factory: Callable[[], bytes], status: int, message: str
) -> None:
    response = upload(sqlite_client, name, factory(), title="x", tags="a")
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == {415: "unsupported_media_type", 422: "invalid_input"}[status]
    assert message in error["message"]
    assert_empty(sqlite_client)


def test_upload_above_the_limit_is_413_and_stores_nothing(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"), luna_max_upload_mb=0.01)
    limit = settings.max_upload_bytes
    with running(settings) as client:
        big = ("Eine Zeile Text über die Pumpe. " * 400).encode()
        assert len(big) > limit
        response = upload(client, "gross.txt", big)
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "payload_too_large"
        assert response.json()["error"]["details"] == {"limit_bytes": limit}
        # /ingest/text has the same limit
        response = client.post("/ingest/text", headers=ADMIN, json={"title": "t", "text": big.decode()})
        assert response.status_code == 413
        assert_empty(client)
        # below the limit the same app accepts
        assert upload(client, "klein.txt", big[:2000]).status_code == 200


def test_long_tag_is_422_naming_the_field_and_stores_nothing(sqlite_client: TestClient) -> None:
    response = upload(sqlite_client, "n.txt", b"Some text about pumps.", tags="ok," + "x" * 101)
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"field": "tags"}
    assert_empty(sqlite_client)


def test_missing_file_and_bad_form_fields_are_422(sqlite_client: TestClient) -> None:
    response = sqlite_client.post("/ingest/doc", headers=ADMIN, data={"title": "x"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "body.file"
    response = upload(sqlite_client, "n.txt", b"Text.", title="t" * 501)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "body.title"
    assert_empty(sqlite_client)


def test_ingest_needs_an_analyst_key(sqlite_client: TestClient, make_key: Any) -> None:
    viewer = make_key(sqlite_client, "viewer")
    analyst = make_key(sqlite_client, "analyst")
    assert upload(sqlite_client, "n.txt", b"Text.", headers=auth(viewer)).status_code == 403
    assert sqlite_client.post("/ingest/doc", files={"file": ("n.txt", b"Text.")}).status_code == 401
    viewer_text = sqlite_client.post("/ingest/text", headers=auth(viewer), json={"title": "t", "text": "x"})
    assert viewer_text.status_code == 403
    assert_empty(sqlite_client)
    assert upload(sqlite_client, "n.txt", b"Text.", headers=auth(analyst)).status_code == 200


# --- atomicity: a failure at any stage leaves no orphan ------------------------------------------------


def _break(client: TestClient, monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    container = container_of(client)
    if stage == "object_store":
        monkeypatch.setattr(container.object_store, "put", failing("disk full", OSError))
    elif stage == "vector_store":

        def unreachable(*_: Any, **__: Any) -> None:
            raise BackendUnavailableError("vector_store", "the vector store is unreachable")

        monkeypatch.setattr(container.vector_store, "upsert", unreachable)
    elif stage == "vector_store_after_write":
        # e.g. Qdrant applied the upsert but the answer timed out: the points exist, the call fails.
        store = container.vector_store
        real = store.upsert

        def written_then_failed(points: Any) -> None:
            real(points)
            raise BackendUnavailableError("vector_store", "timed out waiting for the vector store")

        monkeypatch.setattr(store, "upsert", written_then_failed)
    else:
        monkeypatch.setattr(repository, "add_chunks", failing("database went away"))


STAGES = ["object_store", "vector_store", "vector_store_after_write", "sql"]
EXPECTED_STATUS = {"object_store": 500, "vector_store": 503, "vector_store_after_write": 503, "sql": 500}


@pytest.mark.parametrize("stage", STAGES)
def test_failed_stage_of_a_new_document_leaves_no_orphans(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    container_of(client).knowledge_index.ensure_loaded(container_of(client).session_factory)
    _break(client, monkeypatch, stage)
    unchecked = TestClient(client.app, raise_server_exceptions=False)  # the app is already started
    response = unchecked.post(
        "/ingest/doc",
        headers=ADMIN,
        files={"file": ("pumpe.md", b"# Pumpe\n\nDie Pumpe QX-9917 laeuft.")},
        params={"wait": "true"},
    )
    assert response.status_code == EXPECTED_STATUS[stage], response.text
    assert_empty(client)
    assert len(container_of(client).knowledge_index) == 0
    monkeypatch.undo()
    assert search(client, "QX-9917", mode="lexical") == []
    # The same file goes in cleanly afterwards (no half-written state blocks it as a duplicate).
    retry = upload(client, "pumpe.md", b"# Pumpe\n\nDie Pumpe QX-9917 laeuft.")
    assert retry.status_code == 200
    assert (retry.json()["duplicate"], retry.json()["version"]) == (False, 1)
    assert_consistent(client)


@pytest.mark.parametrize("stage", STAGES)
def test_failed_new_version_keeps_the_old_version_intact(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    container_of(client).knowledge_index.ensure_loaded(container_of(client).session_factory)
    first = upload(client, "anleitung.md", b"# Anleitung\n\nVentil AV1001 schliessen.").json()
    old_chunks = chunks_of(client, first["item_id"])
    before = snapshot(client)
    _break(client, monkeypatch, stage)
    unchecked = TestClient(client.app, raise_server_exceptions=False)
    response = unchecked.post(
        "/ingest/doc",
        headers=ADMIN,
        files={"file": ("anleitung.md", b"# Anleitung\n\nVentil ZR2002 oeffnen.")},
        params={"wait": "true"},
    )
    assert response.status_code == EXPECTED_STATUS[stage], response.text
    monkeypatch.undo()
    assert snapshot(client) == before
    detail = client.get(f"/documents/{first['item_id']}", headers=ADMIN).json()
    assert (detail["version"], detail["sha256"]) == (1, first["sha256"])
    assert [v["version"] for v in detail["versions"]] == [1]
    assert chunks_of(client, first["item_id"]) == old_chunks
    assert [h["chunk_id"] for h in search(client, "AV1001", mode="lexical")] == [old_chunks[0]["chunk_id"]]
    assert search(client, "ZR2002", mode="lexical") == []
    assert_consistent(client)


# --- dedupe and versions -----------------------------------------------------------------------------


def test_same_file_again_is_a_duplicate_and_writes_nothing(client: TestClient) -> None:
    data = make_pdf(THREE_PAGES)
    first = upload(client, "a.pdf", data, title="Leitfaden").json()
    before = snapshot(client)
    # Same bytes under another name, title and source: still the same document.
    again = upload(client, "copy-of-a.pdf", data, title="Anderer Titel", source="elsewhere")
    assert again.status_code == 200
    body = again.json()
    assert body["duplicate"] is True
    assert (body["item_id"], body["version"], body["chunks"]) == (first["item_id"], 1, first["chunks"])
    assert (body["title"], body["sha256"], body["page_count"]) == ("Leitfaden", first["sha256"], 3)
    assert snapshot(client) == before
    # the same text through /ingest/text is a duplicate too
    text_first = ingest_text(client, "Notiz", "Die Pumpe läuft nachts.", source="notiz")
    text_again = ingest_text(client, "Notiz 2", "Die Pumpe läuft nachts.")
    assert text_again["duplicate"] is True and text_again["item_id"] == text_first["item_id"]


def test_changed_content_under_the_same_source_is_the_next_version(client: TestClient) -> None:
    v1_data = b"# Handbuch\n\nDer Kompressor KM1111 wird monatlich gewartet."
    v2_data = b"# Handbuch\n\nDer Kompressor KM2222 wird jede Woche gewartet."
    v1 = upload(client, "handbuch.md", v1_data, tags="wartung").json()
    other = ingest_text(client, "Anderes", "Ein anderes Dokument über Batterien.", source="x")
    old_ids = {c["chunk_id"] for c in chunks_of(client, v1["item_id"])}

    response = upload(client, "handbuch-neu.md", v2_data, source="handbuch.md", tags="wartung,neu")
    assert response.status_code == 200, response.text
    v2 = response.json()
    assert (v2["item_id"], v2["version"], v2["replaced_version"], v2["duplicate"]) == (
        v1["item_id"], 2, 1, False,
    )  # fmt: skip
    assert v2["sha256"] == hashlib.sha256(v2_data).hexdigest() != v1["sha256"]

    new_chunks = chunks_of(client, v1["item_id"])
    assert old_ids.isdisjoint({c["chunk_id"] for c in new_chunks})
    assert "KM2222" in new_chunks[0]["text"]
    assert old_ids.isdisjoint(chunk_ids_in_sql(client))
    assert_consistent(client)  # old vectors are gone: vector count == chunk count
    state = snapshot(client)
    assert state.vectors == state.chunks == len(new_chunks) + other["chunks"]

    detail = client.get(f"/documents/{v1['item_id']}", headers=ADMIN).json()
    assert [v["version"] for v in detail["versions"]] == [1, 2]
    assert [v["sha256"] for v in detail["versions"]] == [v1["sha256"], v2["sha256"]]
    assert [v["chunk_count"] for v in detail["versions"]] == [v1["chunks"], v2["chunks"]]
    assert (detail["version"], detail["chunk_count"], detail["tags"]) == (
        2,
        len(new_chunks),
        ["wartung", "neu"],
    )
    # both originals are kept, one per version
    assert [f.split("/")[2] for f in stored_files(client) if v1["item_id"] in f] == ["v1", "v2"]
    assert client.get("/documents", headers=ADMIN).json()["total"] == 2

    # search never returns the old version's text, in any mode
    for mode in ("lexical", "hybrid", "dense"):
        hits = search(client, "Kompressor KM1111 monatlich gewartet", mode=mode)
        assert old_ids.isdisjoint({h["chunk_id"] for h in hits})
        assert all("KM1111" not in h["text"] for h in hits)
    assert search(client, "KM1111", mode="lexical") == []
    assert [h["item_id"] for h in search(client, "KM2222", mode="lexical")] == [v1["item_id"]]
    # the new tags apply to the filters
    assert {h["item_id"] for h in search(client, "Kompressor", tags="neu")} == {v1["item_id"]}


# --- /ingest/text ------------------------------------------------------------------------------------


def test_ingest_text_response_and_stored_document(sqlite_client: TestClient) -> None:
    body = ingest_text(
        sqlite_client,
        "Wartungsnotiz",
        "## Pumpen\n\nPumpe 2 läuft nachts.\n\n## Speicher\n\nDer Speicher lädt mittags.",
        tags=["wartung", " notiz ", "wartung"],
        source="notiz-7",
        url="https://intranet.example/notiz-7",
    )
    assert (body["title"], body["version"], body["duplicate"], body["content_type"]) == (
        "Wartungsnotiz", 1, False, MARKDOWN,
    )  # fmt: skip
    detail = sqlite_client.get(f"/documents/{body['item_id']}", headers=ADMIN).json()
    assert detail["kind"] == "text"
    assert detail["tags"] == ["wartung", "notiz"]
    assert (detail["source"], detail["url"]) == ("notiz-7", "https://intranet.example/notiz-7")
    assert [c["heading_path"] for c in chunks_of(sqlite_client, body["item_id"])] == [
        ["Pumpen"],
        ["Speicher"],
    ]
    plain = ingest_text(sqlite_client, "Plain", "Just a sentence without headings.")
    assert plain["content_type"] == PLAIN_TEXT
    assert_consistent(sqlite_client)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": "x"}, "body.title"),
        ({"title": "", "text": "x"}, "body.title"),
        ({"title": "t" * 501, "text": "x"}, "body.title"),
        ({"title": "t"}, "body.text"),
        ({"title": "t", "text": ""}, "body.text"),
        ({"title": "t", "text": "x", "tags": "a,b"}, "body.tags"),
        ({"title": "t", "text": "x", "tags": [f"t{i}" for i in range(51)]}, "body.tags"),
        ({"title": "t", "text": "x", "source": "s" * 501}, "body.source"),
        ({"title": "t", "text": "x", "tags": ["y" * 101]}, "body.tags[0]"),  # bounded in the schema
    ],
    ids=[
        "no-title",
        "empty-title",
        "long-title",
        "no-text",
        "empty-text",
        "tags-string",
        "51-tags",
        "long-source",
        "long-tag",
    ],
)
def test_ingest_text_validation_names_the_field(
    sqlite_client: TestClient, payload: dict[str, Any], field: str
) -> None:
    response = sqlite_client.post("/ingest/text", headers=ADMIN, json=payload)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    details = error["details"]
    named = details["field"] if isinstance(details, dict) else details[0]["field"]
    assert named == field
    assert field in error["message"] or details == {"field": "tags"}
    assert_empty(sqlite_client)


def test_ingest_text_of_only_whitespace_is_422(sqlite_client: TestClient) -> None:
    response = sqlite_client.post(
        "/ingest/text", headers=ADMIN, json={"title": "t", "text": "  \n\t "}, params={"wait": "true"}
    )
    assert response.status_code == 422
    assert "no extractable text" in response.json()["error"]["message"]
    assert_empty(sqlite_client)


@pytest.mark.parametrize("name", ["..", ".", "../../etc/passwd", "Bericht (final) ä.md"])
def test_every_version_keeps_its_own_original_whatever_the_file_name(
    sqlite_client: TestClient, name: str
) -> None:
    """The original's key is items/<id>/v<n>/<safe name>; a name of ".." must not resolve to the
    item's directory (where the next version would overwrite it)."""
    v1 = upload(sqlite_client, name, b"# Eins\n\nDie erste Fassung.", source="s").json()
    v2 = upload(sqlite_client, name, b"# Zwei\n\nDie zweite Fassung.", source="s").json()
    assert (v2["item_id"], v2["version"]) == (v1["item_id"], 2)
    files = stored_files(sqlite_client)
    assert [f.split("/")[:3] for f in files] == [
        ["items", v1["item_id"], "v1"],
        ["items", v1["item_id"], "v2"],
    ]
    assert all(len(f.split("/")) == 4 for f in files)
    root = files_dir(sqlite_client)
    assert [(root / f).read_bytes() for f in files] == [
        b"# Eins\n\nDie erste Fassung.",
        b"# Zwei\n\nDie zweite Fassung.",
    ]
    assert sqlite_client.delete(f"/documents/{v1['item_id']}", headers=ADMIN).status_code == 204
    assert stored_files(sqlite_client) == []
