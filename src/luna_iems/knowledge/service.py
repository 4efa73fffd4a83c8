"""Documents in, chunks out: validate and store an upload, then extract, chunk, analyse and embed it
(in `jobs.py`: in the background ingest worker, or inline for a caller that waits).

Order of the stores: the item row (status `queued`, with the job's parameters) is committed first,
then the upload is written to the object store, then the job writes the vectors and, in one SQL
transaction, the chunks, the version row and `ready`. Every write outside SQL is thus announced in
SQL before it happens, which is what lets the reconcile (`reconcile.py`) tell an orphan of a crash
from an ingest in progress. The old version's vectors are removed only after the new version is
committed; until then a search maps hits through SQL, which already shows one version only.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from luna_iems.errors import ConflictError, InvalidInputError, NotFoundError, PayloadTooLargeError
from luna_iems.filetypes import sniff
from luna_iems.knowledge import jobs, repository
from luna_iems.knowledge.deps import KnowledgeDeps
from luna_iems.knowledge.jobs import Job, Prior, make_chunks, with_title_terms
from luna_iems.knowledge.models import IN_FLIGHT, Item, ItemChunk
from luna_iems.knowledge.schemas import (
    ChunkList,
    ChunkRead,
    DocumentDetail,
    DocumentIngested,
    DocumentList,
    DocumentRead,
    IngestRead,
    ReindexResult,
    TextIn,
    VersionRead,
)
from luna_iems.ports import VectorPoint

log = logging.getLogger("luna_iems.knowledge")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
__all__ = ["Upload", "ingest_document", "ingest_text", "make_chunks", "with_title_terms"]


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
    *,
    deps: KnowledgeDeps,
    upload: Upload,
    title: str | None,
    tags: Sequence[str],
    source: str | None,
    wait: bool = True,
) -> DocumentIngested:
    """Store a document (PDF, DOCX, HTML, Markdown, text) and ingest it. Raises 413 (size) and 415
    (content type) at once; with `wait`, also the 422 of a corrupt, encrypted or text-less file,
    and returns the `ready` document; without, returns it `queued` (a failure shows as `failed`).

    The same bytes again return the existing item (`duplicate`); new bytes under an existing `source`
    (default: the file name) become the next version of that item. 409 while that item is ingested.
    """
    limit = deps.settings.max_upload_bytes
    if len(upload.data) > limit:
        raise PayloadTooLargeError(
            f"the file has {len(upload.data)} bytes; the limit is {limit} (LUNA_MAX_UPLOAD_MB)",
            details={"limit_bytes": limit},
        )
    content_type = sniff(upload.data, filename=upload.filename, declared=upload.declared_type)
    filename = upload.filename or f"document{_extension(content_type)}"
    return _submit(
        deps,
        data=upload.data,
        kind="document",
        filename=filename,
        content_type=content_type,
        title=title,
        fallback_title=upload.filename or "Untitled document",
        tags=_clean_tags(tags),
        source=source or upload.filename,
        url=None,
        wait=wait,
    )


def ingest_text(*, deps: KnowledgeDeps, text_in: TextIn, wait: bool = True) -> DocumentIngested:
    """Store plain text (Markdown structure is honoured) with a title, tags and a source; as
    `ingest_document` otherwise."""
    data = text_in.text.encode("utf-8")
    content_type = "text/markdown" if re.search(r"(?m)^#{1,6} ", text_in.text) else "text/plain"
    return _submit(
        deps,
        data=data,
        kind="text",
        filename="text.md" if content_type == "text/markdown" else "text.txt",
        content_type=content_type,
        title=text_in.title,
        fallback_title=text_in.title,
        tags=_clean_tags(text_in.tags),
        source=text_in.source,
        url=text_in.url,
        wait=wait,
    )


def reindex_document(*, deps: KnowledgeDeps, item_id: uuid.UUID, wait: bool = True) -> DocumentIngested:
    """Extract, chunk and embed the stored original again (after a chunking or model change).

    The result is the next version of the item with the same content hash. 409 while it is ingested.
    """
    item = _get(deps, item_id)
    if not item.storage_key:
        raise InvalidInputError(f"document {item_id} has no stored original to reindex")
    data = deps.object_store.get(item.storage_key)
    return _submit(
        deps,
        data=data,
        kind=item.kind,
        filename=item.storage_key.rsplit("/", 1)[-1],
        content_type=item.content_type or sniff(data, filename=item.storage_key),
        title=item.title,
        fallback_title=item.title,
        tags=list(item.tags or []),
        # The item itself, not a lookup by source: a text ingested without a source has none.
        source=item.source,
        url=item.url,
        wait=wait,
        existing=item.item_id,
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


def _duplicate(item: Item, *, chunks: int) -> DocumentIngested:
    return DocumentIngested(
        item_id=item.item_id,
        title=item.title,
        version=item.version,
        duplicate=True,
        chunks=chunks,
        content_type=item.content_type,
        page_count=item.page_count,
        sha256=item.sha256,
        status=item.ingest_status,
    )


def _target(
    session: Session, *, sha: str, source: str | None, existing: uuid.UUID | None
) -> Item | DocumentIngested | None:
    """The item an upload goes to: `existing`, else the one with the same bytes (a duplicate, unless
    its ingest failed: then this retries it), else the one with this `source`; None for a new one.
    Raises 404 for an unknown `existing`, 409 while the item's ingest is queued or processing."""
    if existing is not None:
        item = repository.get_item(session=session, item_id=existing)
        if item is None:
            raise NotFoundError(f"document {existing} does not exist", details={"item_id": str(existing)})
    else:
        item = repository.item_by_sha(session=session, sha256=sha)
        if item is not None and item.ingest_status != "failed":
            return _duplicate(item, chunks=repository.chunk_count(session=session, item_id=item.item_id))
        if item is None and source:
            item = repository.item_by_source(session=session, source=source)
    if item is not None and item.ingest_status in IN_FLIGHT:
        raise ConflictError(
            f"document {item.item_id} is being ingested (status {item.ingest_status}); "
            "upload again once GET /documents/{item_id} shows it ready or failed",
            details={"item_id": str(item.item_id), "status": item.ingest_status},
        )
    return item


def _submit(
    deps: KnowledgeDeps,
    *,
    data: bytes,
    kind: str,
    filename: str,
    content_type: str,
    title: str | None,
    fallback_title: str,
    tags: list[str],
    source: str | None,
    url: str | None,
    wait: bool,
    existing: uuid.UUID | None = None,
) -> DocumentIngested:
    """Record the job on its item (a new one, the one with this `source`, or `existing`), store the
    upload, then run the job inline (`wait`) or hand it to the ingest worker."""
    sha = _sha256(data)
    now = datetime.now(tz=UTC)
    with deps.session_factory() as session:
        item = _target(session, sha=sha, source=source, existing=existing)
        if isinstance(item, DocumentIngested):
            return item
        prior = (
            Prior(
                created=False, status=item.ingest_status, error=item.ingest_error,
                chunks_done=item.chunks_done, chunks_total=item.chunks_total,
            )
            if item is not None
            else Prior(created=True)
        )  # fmt: skip
        if item is None:
            item = Item(
                item_id=uuid.uuid4(), kind=kind, source=source, title=title or fallback_title, tags=tags,
                url=url, sha256=sha, version=0, created_at=now, content_type=content_type,
                size_bytes=len(data),
            )  # fmt: skip
            session.add(item)
        elif not item.version:  # a document that never became ready: the new upload is all it is
            item.kind, item.source, item.tags, item.url = kind, source, tags, url
            item.title = title or fallback_title
            item.sha256, item.content_type, item.size_bytes = sha, content_type, len(data)
        version = item.version + 1
        key = f"items/{item.item_id}/v{version}/{_storage_name(filename, content_type)}"
        job = Job(
            version=version, storage_key=key, filename=filename, content_type=content_type, sha256=sha,
            size_bytes=len(data), kind=kind, title=title, fallback_title=fallback_title, tags=tags,
            source=source, url=url,
        )  # fmt: skip
        item.ingest_status = "processing" if wait else "queued"
        item.ingest_error, item.chunks_done, item.chunks_total = None, 0, None
        item.ingest_job, item.updated_at = job.to_json(), now
        item_id = item.item_id
        replaced = item.version or None
        session.commit()
        queued = jobs.result_of(item, chunks=0, replaced=replaced, version=version)

    try:
        deps.object_store.put(key, data, content_type=content_type)
    except BaseException as exc:
        jobs.forget(deps, item_id, exc, prior)
        raise
    if wait:
        return jobs.process(deps, item_id, prior=prior)
    jobs.worker(deps).submit(deps, item_id)
    return queued


# --- documents admin ---------------------------------------------------------------------------
def _get(deps: KnowledgeDeps, item_id: uuid.UUID) -> Item:
    with deps.session_factory() as session:
        item = repository.get_item(session=session, item_id=item_id)
    if item is None:
        raise NotFoundError(f"document {item_id} does not exist", details={"item_id": str(item_id)})
    return item


def document_read(item: Item) -> DocumentRead:
    job = item.ingest_job or {}
    return DocumentRead(
        item_id=item.item_id, kind=item.kind, source=item.source, title=item.title, tags=item.tags or [],
        url=item.url, sha256=item.sha256, version=item.version, content_type=item.content_type,
        size_bytes=item.size_bytes, page_count=item.page_count, created_at=item.created_at,
        updated_at=item.updated_at,
        status="ready" if item.version else item.ingest_status,
        ingest=IngestRead(
            status=item.ingest_status,
            version=int(job.get("version") or item.version),
            chunks_done=item.chunks_done, chunks_total=item.chunks_total, error=item.ingest_error,
        ),
    )  # fmt: skip


def list_documents(*, deps: KnowledgeDeps, tag: str | None, limit: int, offset: int) -> DocumentList:
    with deps.session_factory() as session:
        items, total = repository.list_items(session=session, tag=tag, limit=limit, offset=offset)
        return DocumentList(items=[document_read(i) for i in items], total=total, limit=limit, offset=offset)


def get_document(*, deps: KnowledgeDeps, item_id: uuid.UUID) -> DocumentDetail:
    item = _get(deps, item_id)
    with deps.session_factory() as session:
        return DocumentDetail(
            **document_read(item).model_dump(),
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


def list_chunks(*, deps: KnowledgeDeps, item_id: uuid.UUID, limit: int, offset: int) -> ChunkList:
    _get(deps, item_id)
    with deps.session_factory() as session:
        rows = repository.list_chunks(session=session, item_id=item_id, limit=limit, offset=offset)
        total = repository.chunk_count(session=session, item_id=item_id)
        return ChunkList(items=[chunk_read(c) for c in rows], total=total, limit=limit, offset=offset)


def get_chunk(*, deps: KnowledgeDeps, item_id: uuid.UUID, chunk_id: uuid.UUID) -> ChunkRead:
    """One passage of a document (what a citation names), without paging through the document."""
    _get(deps, item_id)
    with deps.session_factory() as session:
        found = [
            c
            for c, _ in repository.chunks_by_ids(session=session, chunk_ids=[chunk_id])
            if c.item_id == item_id
        ]
    if not found:
        raise NotFoundError(
            f"document {item_id} has no chunk {chunk_id} (re-ingesting a document gives its chunks new ids)",
            details={"item_id": str(item_id), "chunk_id": str(chunk_id)},
        )
    return chunk_read(found[0])


def delete_document(*, deps: KnowledgeDeps, item_id: uuid.UUID) -> None:
    """Delete the SQL rows, then the vectors and every stored version's file. An ingest in progress
    stops at its next batch and removes what it wrote; its upload is deleted here."""
    with deps.session_factory() as session:
        item = repository.get_item(session=session, item_id=item_id)
        if item is None:
            raise NotFoundError(f"document {item_id} does not exist", details={"item_id": str(item_id)})
        chunk_ids = [str(c) for c in repository.chunk_ids(session=session, item_id=item_id)]
        keys = [v.storage_key for v in repository.versions(session=session, item_id=item_id) if v.storage_key]
        if item.ingest_status in IN_FLIGHT and item.ingest_job and item.ingest_job.get("storage_key"):
            keys.append(str(item.ingest_job["storage_key"]))
        repository.delete_item(session=session, item=item)
        session.commit()
    deps.knowledge_index.replace(remove=chunk_ids, add=[])
    deps.vector_store.delete(chunk_ids)
    for key in keys:
        deps.object_store.delete(key)


def reindex_vectors(*, deps: KnowledgeDeps, progress: object = None) -> ReindexResult:
    """Embed every stored chunk again into the current collection (e.g. after changing the model)."""
    import time

    started = time.perf_counter()
    with deps.session_factory() as session:
        rows = repository.iter_chunks(session=session)
    batch: list[VectorPoint] = []
    done = 0
    step = max(1, deps.settings.embedding_batch_size * 4)
    for start in range(0, len(rows), step):
        part = rows[start : start + step]
        vectors = deps.embedder.embed([chunk.text for chunk, _ in part], kind="passage")
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
        deps.vector_store.upsert(batch)
        done += len(part)
        if callable(progress):
            progress(len(part))
    items = {item.item_id for _, item in rows}
    return ReindexResult(
        documents=len(items),
        chunks=done,
        collection=deps.vector_store.collection,
        seconds=round(time.perf_counter() - started, 3),
    )
