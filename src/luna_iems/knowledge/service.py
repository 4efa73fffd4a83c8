"""Documents in, chunks out: extract, chunk, analyse, embed, and store atomically across SQL, the
vector store and the object store.

Order of the stores on ingest: the original file, then the vectors, then one SQL transaction (item,
version, chunks with their lexical terms). A failure at any stage undoes the stages before it, so no
orphan item, chunk, vector or file is left. The old version's vectors are removed only after the
new version is committed; until then a search maps hits through SQL, which already shows one
version only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from luna_iems.bootstrap import Container
from luna_iems.errors import InvalidInputError, NotFoundError, PayloadTooLargeError
from luna_iems.knowledge import repository
from luna_iems.knowledge.chunking import Chunk, chunk_blocks
from luna_iems.knowledge.filetypes import sniff
from luna_iems.knowledge.index import ChunkMeta, IndexEntry
from luna_iems.knowledge.lexical import Language, analyze, analyze_document, to_term_counts
from luna_iems.knowledge.models import Item, ItemChunk, ItemVersion
from luna_iems.knowledge.schemas import (
    ChunkList,
    ChunkRead,
    DocumentDetail,
    DocumentIngested,
    DocumentList,
    DocumentRead,
    ReindexResult,
    TextIn,
    VersionRead,
)
from luna_iems.ports import ExtractedDocument, VectorPoint

log = logging.getLogger("luna_iems.knowledge")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str | None
    declared_type: str | None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _clean_tags(tags: Sequence[str]) -> list[str]:
    cleaned = []
    for raw in tags:
        tag = raw.strip()
        if not tag:
            continue
        if len(tag) > 100:
            raise InvalidInputError(
                f"tag {tag[:20]!r}… is longer than 100 characters", details={"field": "tags"}
            )
        cleaned.append(tag)
    return list(dict.fromkeys(cleaned))


def ingest_document(
    *, container: Container, upload: Upload, title: str | None, tags: Sequence[str], source: str | None
) -> DocumentIngested:
    """Store a document (PDF, DOCX, HTML, Markdown, text). Raises 413/415/422 errors naming the problem.

    The same bytes again return the existing item (`duplicate`); new bytes under an existing `source`
    (default: the file name) become the next version of that item.
    """
    limit = container.settings.max_upload_bytes
    if len(upload.data) > limit:
        raise PayloadTooLargeError(
            f"the file has {len(upload.data)} bytes; the limit is {limit} (LUNA_MAX_UPLOAD_MB)",
            details={"limit_bytes": limit},
        )
    content_type = sniff(upload.data, filename=upload.filename, declared=upload.declared_type)
    sha = _sha256(upload.data)
    duplicate = _duplicate(container, sha)
    if duplicate is not None:
        return duplicate
    extracted = container.extractor.extract(upload.data, content_type=content_type, filename=upload.filename)
    return _store(
        container,
        kind="document",
        data=upload.data,
        filename=upload.filename or f"document{_extension(content_type)}",
        extracted=extracted,
        title=title or extracted.title or upload.filename or "Untitled document",
        tags=_clean_tags(tags),
        source=source or upload.filename,
        url=None,
        sha=sha,
    )


def ingest_text(*, container: Container, text_in: TextIn) -> DocumentIngested:
    """Store plain text (Markdown structure is honoured) with a title, tags and a source."""
    data = text_in.text.encode("utf-8")
    sha = _sha256(data)
    duplicate = _duplicate(container, sha)
    if duplicate is not None:
        return duplicate
    content_type = "text/markdown" if re.search(r"(?m)^#{1,6} ", text_in.text) else "text/plain"
    extracted = container.extractor.extract(data, content_type=content_type, filename=None)
    return _store(
        container,
        kind="text",
        data=data,
        filename="text.md" if content_type == "text/markdown" else "text.txt",
        extracted=extracted,
        title=text_in.title,
        tags=_clean_tags(text_in.tags),
        source=text_in.source,
        url=text_in.url,
        sha=sha,
    )


def _extension(content_type: str) -> str:
    return {
        "application/pdf": ".pdf",
        "text/html": ".html",
        "text/markdown": ".md",
        "text/plain": ".txt",
    }.get(content_type, ".docx" if "wordprocessingml" in content_type else ".bin")


def _storage_name(filename: str, content_type: str) -> str:
    """The file name part of a storage key: safe characters only, and never "." or ".." (which would
    resolve to the version's or the item's directory, so versions would overwrite each other)."""
    name = _SAFE_NAME.sub("_", filename)[:120]
    return name if name.strip(".") else f"document{_extension(content_type)}"


def _duplicate(container: Container, sha: str) -> DocumentIngested | None:
    with container.session_factory() as session:
        item = repository.item_by_sha(session=session, sha256=sha)
        if item is None:
            return None
        return DocumentIngested(
            item_id=item.item_id,
            title=item.title,
            version=item.version,
            duplicate=True,
            chunks=repository.chunk_count(session=session, item_id=item.item_id),
            content_type=item.content_type,
            page_count=item.page_count,
            sha256=item.sha256,
        )


def make_chunks(container: Container, extracted: ExtractedDocument) -> list[Chunk]:
    settings = container.settings
    chunks = chunk_blocks(
        extracted.blocks,
        max_tokens=settings.chunk_max_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
        count=container.token_counter,
    )
    if not chunks:
        raise InvalidInputError("no extractable text in the document", details={"field": "file"})
    return chunks


def _store(
    container: Container,
    *,
    kind: str,
    data: bytes,
    filename: str,
    extracted: ExtractedDocument,
    title: str,
    tags: list[str],
    source: str | None,
    url: str | None,
    sha: str,
    existing: uuid.UUID | None = None,
) -> DocumentIngested:
    """Store a new item, or the next version of `existing` (default: the item with this `source`)."""
    chunks = make_chunks(container, extracted)
    analyses = with_title_terms([analyze_document(c.text) for c in chunks], title)
    vectors = container.embedder.embed([c.text for c in chunks], kind="passage")
    now = datetime.now(tz=UTC)
    with container.session_factory() as session:
        if existing is not None:
            item = repository.get_item(session=session, item_id=existing)
            if item is None:
                raise NotFoundError(f"document {existing} does not exist", details={"item_id": str(existing)})
        else:
            item = repository.item_by_source(session=session, source=source) if source else None
        replaced = item.version if item is not None else None
        item_id = item.item_id if item is not None else uuid.uuid4()
        version = (item.version + 1) if item is not None else 1
        old_chunk_ids = (
            [str(c) for c in repository.chunk_ids(session=session, item_id=item_id)] if item else []
        )
        created_at = item.created_at if item is not None else now
        key = f"items/{item_id}/v{version}/{_storage_name(filename, extracted.content_type)}"
        chunk_ids = [uuid.uuid4() for _ in chunks]
        points = [
            VectorPoint(
                point_id=str(chunk_id),
                vector=vector,
                payload={
                    "item_id": str(item_id),
                    "chunk_idx": chunk.index,
                    "ts": created_at.isoformat(),
                    "tags": tags,
                    "source": source or "",
                },
            )
            for chunk_id, chunk, vector in zip(chunk_ids, chunks, vectors, strict=True)
        ]

        container.object_store.put(key, data, content_type=extracted.content_type)
        try:
            try:
                # Inside the cleanup: an upsert can fail after the store applied it (e.g. a timeout).
                container.vector_store.upsert(points)
                if item is None:
                    item = Item(item_id=item_id, kind=kind, created_at=now)
                    session.add(item)
                else:
                    repository.delete_chunks(session=session, item_id=item_id)
                item.source, item.title, item.tags, item.url = source, title, tags, url
                item.sha256, item.version, item.updated_at = sha, version, now
                item.content_type, item.size_bytes = extracted.content_type, len(data)
                item.page_count, item.storage_key = extracted.page_count, key
                session.flush()
                repository.add_chunks(
                    session=session,
                    chunks=[
                        ItemChunk(
                            chunk_id=chunk_id,
                            item_id=item_id,
                            chunk_idx=chunk.index,
                            text=chunk.text,
                            meta=_chunk_meta(chunk),
                            created_at=now,
                            language=language,
                            terms=to_term_counts(terms),
                        )
                        for chunk_id, chunk, (language, terms) in zip(
                            chunk_ids, chunks, analyses, strict=True
                        )
                    ],
                )
                session.add(
                    ItemVersion(
                        item_id=item_id,
                        version=version,
                        sha256=sha,
                        content_type=extracted.content_type,
                        size_bytes=len(data),
                        storage_key=key,
                        chunk_count=len(chunks),
                        created_at=now,
                    )
                )
                session.commit()
            except BaseException:
                session.rollback()
                container.vector_store.delete([p.point_id for p in points])
                raise
        except BaseException:
            container.object_store.delete(key)
            raise

    _after_commit(
        container,
        old_chunk_ids=old_chunk_ids,
        chunk_ids=chunk_ids,
        analyses=analyses,
        item_id=item_id,
        tags=tags,
        created_at=created_at,
    )
    return DocumentIngested(
        item_id=item_id,
        title=title,
        version=version,
        duplicate=False,
        chunks=len(chunks),
        content_type=extracted.content_type,
        page_count=extracted.page_count,
        sha256=sha,
        replaced_version=replaced,
    )


def with_title_terms(
    analyses: list[tuple[Language, list[str]]], title: str
) -> list[tuple[Language, list[str]]]:
    """Make the document's title findable by keyword: title terms its first chunk lacks are indexed
    with that chunk (an upload's title, e.g. "Energiewirtschaftsgesetz (EnWG)", often appears nowhere
    in the text). Terms already in the chunk are not repeated, so a title that opens the text (as in
    most documents) changes nothing. Only the lexical index sees this; the embedded text is unchanged."""
    if not analyses:
        return analyses
    language, terms = analyses[0]
    present = set(terms)
    missing = [t for t in dict.fromkeys(analyze(title, language)) if t not in present]
    return [(language, terms + missing), *analyses[1:]]


def _after_commit(
    container: Container,
    *,
    old_chunk_ids: list[str],
    chunk_ids: list[uuid.UUID],
    analyses: Sequence[tuple[str, list[str]]],
    item_id: uuid.UUID,
    tags: list[str],
    created_at: datetime,
) -> None:
    meta = ChunkMeta(str(item_id), frozenset(tags), created_at)
    lead = dataclasses.replace(meta, lead=True)  # chunk_ids come in chunk order: the first is the lead
    container.knowledge_index.replace(
        remove=old_chunk_ids,
        add=[
            IndexEntry(str(c), terms, lead if i == 0 else meta)
            for i, (c, (_, terms)) in enumerate(zip(chunk_ids, analyses, strict=True))
        ],
    )
    if old_chunk_ids:
        try:
            container.vector_store.delete(old_chunk_ids)
        except Exception:  # the new version is committed; stale points are ignored by searches
            log.exception("could not delete the old version's vectors", extra={"item_id": str(item_id)})


def _chunk_meta(chunk: Chunk) -> dict[str, object]:
    return {
        "page_start": chunk.page_start,
        "page_end": chunk.page_end,
        "heading_path": list(chunk.heading_path),
        "section": chunk.section,
        "token_count": chunk.token_count,
        "body": chunk.body,
    }


# --- documents admin ---------------------------------------------------------------------------
def _get(container: Container, item_id: uuid.UUID) -> Item:
    with container.session_factory() as session:
        item = repository.get_item(session=session, item_id=item_id)
    if item is None:
        raise NotFoundError(f"document {item_id} does not exist", details={"item_id": str(item_id)})
    return item


def list_documents(*, container: Container, tag: str | None, limit: int, offset: int) -> DocumentList:
    with container.session_factory() as session:
        items, total = repository.list_items(session=session, tag=tag, limit=limit, offset=offset)
        return DocumentList(
            items=[DocumentRead.model_validate(i) for i in items], total=total, limit=limit, offset=offset
        )


def get_document(*, container: Container, item_id: uuid.UUID) -> DocumentDetail:
    item = _get(container, item_id)
    with container.session_factory() as session:
        return DocumentDetail(
            **DocumentRead.model_validate(item).model_dump(),
            chunk_count=repository.chunk_count(session=session, item_id=item_id),
            versions=[
                VersionRead.model_validate(v) for v in repository.versions(session=session, item_id=item_id)
            ],
        )


def chunk_read(chunk: ItemChunk) -> ChunkRead:
    meta = chunk.meta or {}
    return ChunkRead(
        chunk_id=chunk.chunk_id,
        item_id=chunk.item_id,
        chunk_idx=chunk.chunk_idx,
        text=chunk.text,
        page_start=meta.get("page_start"),
        page_end=meta.get("page_end"),
        heading_path=list(meta.get("heading_path") or []),
        section=meta.get("section"),
        language=chunk.language,
        token_count=meta.get("token_count"),
    )


def list_chunks(*, container: Container, item_id: uuid.UUID, limit: int, offset: int) -> ChunkList:
    _get(container, item_id)
    with container.session_factory() as session:
        rows = repository.list_chunks(session=session, item_id=item_id, limit=limit, offset=offset)
        total = repository.chunk_count(session=session, item_id=item_id)
        return ChunkList(items=[chunk_read(c) for c in rows], total=total, limit=limit, offset=offset)


def delete_document(*, container: Container, item_id: uuid.UUID) -> None:
    """Delete the SQL rows, then the vectors and every stored version's file."""
    with container.session_factory() as session:
        item = repository.get_item(session=session, item_id=item_id)
        if item is None:
            raise NotFoundError(f"document {item_id} does not exist", details={"item_id": str(item_id)})
        chunk_ids = [str(c) for c in repository.chunk_ids(session=session, item_id=item_id)]
        keys = [v.storage_key for v in repository.versions(session=session, item_id=item_id) if v.storage_key]
        repository.delete_item(session=session, item=item)
        session.commit()
    container.knowledge_index.replace(remove=chunk_ids, add=[])
    container.vector_store.delete(chunk_ids)
    for key in keys:
        container.object_store.delete(key)


def reindex_document(*, container: Container, item_id: uuid.UUID) -> DocumentIngested:
    """Extract, chunk and embed the stored original again (after a chunking or model change).

    The result is the next version of the item with the same content hash.
    """
    item = _get(container, item_id)
    if not item.storage_key:
        raise InvalidInputError(f"document {item_id} has no stored original to reindex")
    data = container.object_store.get(item.storage_key)
    content_type = item.content_type or sniff(data, filename=item.storage_key)
    extracted = container.extractor.extract(data, content_type=content_type, filename=item.storage_key)
    return _store(
        container,
        kind=item.kind,
        data=data,
        filename=item.storage_key.rsplit("/", 1)[-1],
        extracted=extracted,
        title=item.title,
        tags=list(item.tags or []),
        # The item itself, not a lookup by source: a text ingested without a source has none.
        source=item.source,
        url=item.url,
        sha=item.sha256,
        existing=item.item_id,
    )


def reindex_vectors(*, container: Container, progress: object = None) -> ReindexResult:
    """Embed every stored chunk again into the current collection (e.g. after changing the model)."""
    import time

    started = time.perf_counter()
    with container.session_factory() as session:
        rows = repository.iter_chunks(session=session)
    batch: list[VectorPoint] = []
    done = 0
    step = max(1, container.settings.embedding_batch_size * 4)
    for start in range(0, len(rows), step):
        part = rows[start : start + step]
        vectors = container.embedder.embed([chunk.text for chunk, _ in part], kind="passage")
        batch = [
            VectorPoint(
                point_id=str(chunk.chunk_id),
                vector=vector,
                payload={
                    "item_id": str(item.item_id),
                    "chunk_idx": chunk.chunk_idx,
                    "ts": item.created_at.isoformat(),
                    "tags": list(item.tags or []),
                    "source": item.source or "",
                },
            )
            for (chunk, item), vector in zip(part, vectors, strict=True)
        ]
        container.vector_store.upsert(batch)
        done += len(part)
        if callable(progress):
            progress(len(part))
    items = {item.item_id for _, item in rows}
    return ReindexResult(
        documents=len(items),
        chunks=done,
        collection=container.vector_store.collection,
        seconds=round(time.perf_counter() - started, 3),
    )
