"""Document ingest jobs: extraction, chunking and embedding of a stored upload, with progress.

An upload is stored and its item row marked `queued` by the request (`service.py`); this module does
the slow part, either in the ingest worker (one thread per process, so a large document never holds
a request worker) or inline for callers that wait. States: queued -> processing -> ready | failed.

All or nothing: the vectors are written batch by batch while the item is `processing` (the reconcile
leaves an in-flight item's points alone), and one SQL transaction at the end swaps in the chunks,
the version row and `ready`. A failure removes the vectors written so far and the stored upload and
records `failed` with the error; the version that search served before stays served.

Chunk ids (= vector point ids) are derived from (item, version, chunk index), so a job that is run
again after a crash overwrites the points of the interrupted attempt instead of orphaning them.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from luna_iems.errors import InvalidInputError, LunaError, NotFoundError
from luna_iems.knowledge import repository
from luna_iems.knowledge.chunking import Chunk, chunk_blocks
from luna_iems.knowledge.deps import KnowledgeDeps
from luna_iems.knowledge.index import ChunkMeta, IndexEntry, KnowledgeIndex
from luna_iems.knowledge.lexical import Language, analyze, analyze_document, to_term_counts
from luna_iems.knowledge.models import IN_FLIGHT, Item, ItemChunk, ItemVersion
from luna_iems.knowledge.schemas import DocumentIngested
from luna_iems.ports import ExtractedDocument, VectorPoint

log = logging.getLogger("luna_iems.knowledge.jobs")
_CHUNK_NAMESPACE = uuid.UUID("0b9a6f3e-6c1e-4d57-9d0f-2f3c8a1e7b44")


@dataclass(frozen=True)
class Job:
    """What an ingest job needs, kept with the item (`items.ingest_job`) so a restart can run it."""

    version: int  # the version the job makes: the served version + 1
    storage_key: str  # the stored upload
    filename: str
    content_type: str
    sha256: str
    size_bytes: int
    kind: str
    title: str | None  # None: the document's own title, else `fallback_title`
    fallback_title: str
    tags: list[str]
    source: str | None
    url: str | None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        values: dict[str, Any] = {f.name: data.get(f.name) for f in dataclasses.fields(cls)}
        return cls(**values)


@dataclass(frozen=True)
class Prior:
    """The item's ingest state before a waiting caller's job: restored when that job fails (the caller
    gets the error instead), or the item is removed when the job created it."""

    created: bool
    status: str = "ready"
    error: str | None = None
    chunks_done: int = 0
    chunks_total: int | None = None


class IngestInterruptedError(Exception):
    """The worker is stopping: the job goes back to `queued` and runs again at the next start."""


class _CancelledError(Exception):
    """The document was deleted while its job ran."""


def chunk_uuid(item_id: uuid.UUID, version: int, index: int) -> uuid.UUID:
    return uuid.uuid5(_CHUNK_NAMESPACE, f"{item_id}/{version}/{index}")


def make_chunks(deps: KnowledgeDeps, extracted: ExtractedDocument) -> list[Chunk]:
    settings = deps.settings
    chunks = chunk_blocks(
        extracted.blocks,
        max_tokens=settings.chunk_max_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
        count=deps.token_counter,
    )
    if not chunks:
        raise InvalidInputError("no extractable text in the document", details={"field": "file"})
    return chunks


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


def error_text(exc: BaseException) -> str:
    if isinstance(exc, LunaError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"[:2000]


# --- one job -----------------------------------------------------------------------------------
def process(
    deps: KnowledgeDeps,
    item_id: uuid.UUID,
    *,
    stop: threading.Event | None = None,
    prior: Prior | None = None,
) -> DocumentIngested:
    """Run the queued ingest of `item_id` to `ready` and return the result.

    A failure is recorded (`failed` and the error; with `prior`, the earlier state is restored
    instead) and raised, after removing every vector written and the stored upload. When `stop` is
    set between two batches, raises `IngestInterruptedError` and leaves the job queued. A job that is not
    queued or processing (already done, or the document deleted) is a no-op.
    """
    with deps.session_factory() as session:
        item = repository.get_item(session=session, item_id=item_id)
        if item is None:
            raise NotFoundError(f"document {item_id} does not exist", details={"item_id": str(item_id)})
        if item.ingest_status not in IN_FLIGHT or item.ingest_job is None:
            return result_of(item, chunks=repository.chunk_count(session=session, item_id=item_id))
        job = Job.from_json(item.ingest_job)
        item.ingest_status, item.ingest_error = "processing", None
        item.chunks_done, item.chunks_total = 0, None
        session.commit()
    written: list[str] = []
    try:
        return _run(deps, item_id, job, stop=stop, written=written)
    except IngestInterruptedError:
        _discard_vectors(deps, written)
        _set_state(deps, item_id, status="queued")
        raise
    except _CancelledError:
        _discard_vectors(deps, written)
        _discard_file(deps, job.storage_key)
        raise NotFoundError(
            f"document {item_id} was deleted during its ingest", details={"item_id": str(item_id)}
        ) from None
    except BaseException as exc:
        _discard_vectors(deps, written)  # a rerun would write the same ids again anyway
        if _record_failure(deps, item_id, exc, prior):
            _discard_file(deps, job.storage_key)
        # else (the database failed too): the item stays in flight, with its upload, and the next
        # start runs the job again
        raise


def _run(
    deps: KnowledgeDeps,
    item_id: uuid.UUID,
    job: Job,
    *,
    stop: threading.Event | None,
    written: list[str],
) -> DocumentIngested:
    data = deps.object_store.get(job.storage_key)
    extracted = deps.extractor.extract(data, content_type=job.content_type, filename=job.filename)
    chunks = make_chunks(deps, extracted)
    title = job.title or extracted.title or job.fallback_title
    analyses = with_title_terms([analyze_document(c.text) for c in chunks], title)
    created_at = _set_progress(deps, item_id, done=0, total=len(chunks))
    chunk_ids = [chunk_uuid(item_id, job.version, c.index) for c in chunks]
    _write_vectors(deps, item_id, job, chunks, chunk_ids, created_at=created_at, stop=stop, written=written)
    old_chunk_ids, result = _commit_version(
        deps, item_id, job, extracted=extracted, chunks=chunks, chunk_ids=chunk_ids,
        analyses=analyses, title=title,
    )  # fmt: skip
    after_commit(
        deps,
        old_chunk_ids=old_chunk_ids,
        chunk_ids=chunk_ids,
        analyses=analyses,
        item_id=item_id,
        tags=job.tags,
        created_at=created_at,
    )
    return result


def _write_vectors(
    deps: KnowledgeDeps,
    item_id: uuid.UUID,
    job: Job,
    chunks: Sequence[Chunk],
    chunk_ids: Sequence[uuid.UUID],
    *,
    created_at: datetime,
    stop: threading.Event | None,
    written: list[str],
) -> None:
    """Embed and upsert batch by batch, recording progress (and every point id in `written`)."""
    step = max(1, deps.settings.embedding_batch_size * 4)
    for start in range(0, len(chunks), step):
        if stop is not None and stop.is_set():
            raise IngestInterruptedError
        part = chunks[start : start + step]
        vectors = deps.embedder.embed([c.text for c in part], kind="passage")
        points = [
            VectorPoint(
                point_id=str(chunk_id),
                vector=vector,
                payload={
                    "item_id": str(item_id),
                    "chunk_idx": chunk.index,
                    "ts": created_at.isoformat(),
                    "tags": job.tags,
                    "source": job.source or "",
                },
            )
            for chunk_id, chunk, vector in zip(chunk_ids[start : start + step], part, vectors, strict=True)
        ]
        # Recorded before the call: an upsert can fail after the store applied it (e.g. a timeout).
        written.extend(p.point_id for p in points)
        deps.vector_store.upsert(points)
        _set_progress(deps, item_id, done=start + len(part), total=len(chunks))


def _commit_version(
    deps: KnowledgeDeps,
    item_id: uuid.UUID,
    job: Job,
    *,
    extracted: ExtractedDocument,
    chunks: Sequence[Chunk],
    chunk_ids: Sequence[uuid.UUID],
    analyses: Sequence[tuple[Language, list[str]]],
    title: str,
) -> tuple[list[str], DocumentIngested]:
    """One transaction: the chunks, the version row and `ready` replace the served version.
    Returns the replaced chunk ids and the result."""
    now = datetime.now(tz=UTC)
    with deps.session_factory() as session:
        item = repository.get_item(session=session, item_id=item_id)
        if item is None:
            raise _CancelledError
        replaced = item.version or None
        old_chunk_ids = [str(c) for c in repository.chunk_ids(session=session, item_id=item_id)]
        repository.delete_chunks(session=session, item_id=item_id)
        item.source, item.title, item.tags, item.url = job.source, title, job.tags, job.url
        item.sha256, item.version, item.updated_at = job.sha256, job.version, now
        item.content_type, item.size_bytes = extracted.content_type, job.size_bytes
        item.page_count, item.storage_key = extracted.page_count, job.storage_key
        item.ingest_status, item.ingest_error, item.ingest_job = "ready", None, None
        item.chunks_done = item.chunks_total = len(chunks)
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
                for chunk_id, chunk, (language, terms) in zip(chunk_ids, chunks, analyses, strict=True)
            ],
        )
        session.add(
            ItemVersion(
                item_id=item_id,
                version=job.version,
                sha256=job.sha256,
                content_type=extracted.content_type,
                size_bytes=job.size_bytes,
                storage_key=job.storage_key,
                chunk_count=len(chunks),
                created_at=now,
            )
        )
        try:
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return old_chunk_ids, result_of(item, chunks=len(chunks), replaced=replaced)


def result_of(
    item: Item, *, chunks: int, replaced: int | None = None, version: int | None = None
) -> DocumentIngested:
    """The answer to an ingest: `version` is the one being made (default: the served one)."""
    return DocumentIngested(
        item_id=item.item_id,
        title=item.title,
        version=item.version if version is None else version,
        duplicate=False,
        chunks=chunks,
        content_type=item.content_type,
        page_count=item.page_count,
        sha256=item.sha256,
        replaced_version=replaced,
        status=item.ingest_status,
    )


def _set_progress(deps: KnowledgeDeps, item_id: uuid.UUID, *, done: int, total: int) -> datetime:
    """Record progress; returns the item's creation time. Raises `_CancelledError` if it was deleted."""
    with deps.session_factory() as session:
        item = repository.get_item(session=session, item_id=item_id)
        if item is None:
            raise _CancelledError
        item.chunks_done, item.chunks_total = done, total
        created_at = item.created_at
        session.commit()
    return created_at


def _set_state(deps: KnowledgeDeps, item_id: uuid.UUID, *, status: str) -> None:
    try:
        with deps.session_factory() as session:
            item = repository.get_item(session=session, item_id=item_id)
            if item is not None:
                item.ingest_status, item.chunks_done, item.chunks_total = status, 0, None
                session.commit()
    except Exception:  # the job stays `processing`, which the next start requeues as well
        log.exception("could not record the ingest state", extra={"item_id": str(item_id)})


def _record_failure(deps: KnowledgeDeps, item_id: uuid.UUID, exc: BaseException, prior: Prior | None) -> bool:
    """Record the failure (or restore `prior`); False when the database could not be written."""
    try:
        with deps.session_factory() as session:
            item = repository.get_item(session=session, item_id=item_id)
            if item is None:
                return True
            if prior is not None and prior.created:
                repository.delete_item(session=session, item=item)
            elif prior is not None:
                item.ingest_status, item.ingest_error = prior.status, prior.error
                item.chunks_done, item.chunks_total = prior.chunks_done, prior.chunks_total
                item.ingest_job = None
            else:
                item.ingest_status, item.ingest_error = "failed", error_text(exc)
            session.commit()
    except Exception:  # e.g. the database itself failed: the next start requeues the job
        log.exception("could not record the failed ingest", extra={"item_id": str(item_id)})
        return False
    return True


def forget(deps: KnowledgeDeps, item_id: uuid.UUID, exc: BaseException, prior: Prior) -> None:
    """Undo a job that never started (its upload could not be stored): restore or remove the item."""
    if not _record_failure(deps, item_id, exc, prior):
        _set_state(deps, item_id, status="failed")


def _discard_vectors(deps: KnowledgeDeps, point_ids: Sequence[str]) -> None:
    if not point_ids:
        return
    try:
        deps.vector_store.delete(list(point_ids))
    except Exception:  # left for the reconcile (`luna reindex --check --fix`, or the next start)
        log.exception("could not remove the vectors of a failed ingest", extra={"points": len(point_ids)})


def _discard_file(deps: KnowledgeDeps, key: str) -> None:
    try:
        deps.object_store.delete(key)
    except Exception:  # left for the reconcile
        log.exception("could not remove the upload of a failed ingest", extra={"key": key})


def after_commit(
    deps: KnowledgeDeps,
    *,
    old_chunk_ids: list[str],
    chunk_ids: list[uuid.UUID],
    analyses: Sequence[tuple[str, list[str]]],
    item_id: uuid.UUID,
    tags: list[str],
    created_at: datetime,
) -> None:
    """Bring the lexical index up to the committed version and drop the replaced version's vectors."""
    meta = ChunkMeta(str(item_id), frozenset(tags), created_at)
    lead = dataclasses.replace(meta, lead=True)  # chunk_ids come in chunk order: the first is the lead
    deps.knowledge_index.replace(
        remove=old_chunk_ids,
        add=[
            IndexEntry(str(c), terms, lead if i == 0 else meta)
            for i, (c, (_, terms)) in enumerate(zip(chunk_ids, analyses, strict=True))
        ],
    )
    stale = sorted(set(old_chunk_ids) - {str(c) for c in chunk_ids})
    if stale:
        try:
            deps.vector_store.delete(stale)
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


# --- the worker --------------------------------------------------------------------------------
class IngestWorker:
    """One background thread that runs ingest jobs in the order they were queued."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._stop = threading.Event()

    def submit(self, deps: KnowledgeDeps, item_id: uuid.UUID) -> None:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="luna-ingest")
            self._executor.submit(_run_job, deps, item_id, self._stop)

    def stop(self) -> None:
        """Stop after the current batch; jobs not finished stay queued for the next start."""
        self._stop.set()
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        self._stop = threading.Event()  # jobs submitted from now on run again


def _run_job(deps: KnowledgeDeps, item_id: uuid.UUID, stop: threading.Event) -> None:
    try:
        result = process(deps, item_id, stop=stop)
    except IngestInterruptedError:
        log.info("document ingest interrupted; queued for the next start", extra={"item_id": str(item_id)})
    except Exception as exc:
        log.warning("document ingest failed", extra={"item_id": str(item_id), "error": error_text(exc)})
    else:
        log.info(
            "document ingested",
            extra={"item_id": str(item_id), "version": result.version, "chunks": result.chunks},
        )


# One worker per container (the lexical index is per container too, and outlives no container).
_workers: weakref.WeakKeyDictionary[KnowledgeIndex, IngestWorker] = weakref.WeakKeyDictionary()
_workers_lock = threading.Lock()


def worker(deps: KnowledgeDeps) -> IngestWorker:
    with _workers_lock:
        found = _workers.get(deps.knowledge_index)
        if found is None:
            found = _workers[deps.knowledge_index] = IngestWorker()
        return found


def requeue(deps: KnowledgeDeps) -> int:
    """Queue again every job a stopped or crashed process left `queued` or `processing`."""
    with deps.session_factory() as session:
        pending = list(
            session.scalars(
                select(Item.item_id)
                .where(Item.ingest_status.in_(IN_FLIGHT))
                .order_by(Item.updated_at, Item.created_at)
            )
        )
    for item_id in pending:
        worker(deps).submit(deps, item_id)
    if pending:
        log.info("document ingests requeued", extra={"documents": len(pending)})
    return len(pending)


def start(deps: KnowledgeDeps) -> None:
    """At start: remove what crashed ingests left behind (when RECONCILE_ON_START), then requeue
    the unfinished jobs. Failures are logged, never fatal: the API serves without them."""
    from luna_iems.knowledge import reconcile

    if deps.settings.reconcile_on_start:
        try:
            report = reconcile.reconcile(deps, fix=True)
        except LunaError as exc:  # e.g. the vector store or the embedder is not reachable yet
            log.warning("start-up reconcile of the knowledge stores skipped: %s", exc.message)
        except Exception:
            log.exception("start-up reconcile of the knowledge stores failed")
        else:
            level = logging.INFO if report.clean else logging.WARNING
            log.log(level, "knowledge stores reconciled: %s", report.summary(), extra=report.counts())
    try:
        requeue(deps)
    except Exception:
        log.exception("could not requeue unfinished document ingests")


def stop(deps: KnowledgeDeps) -> None:
    with _workers_lock:
        found = _workers.pop(deps.knowledge_index, None)
    if found is not None:
        found.stop()
