"""HTTP routes of the knowledge domain: document ingest, search, Luna's answers, documents admin."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from luna_iems.deps import AnalystKey, ContainerDep, ViewerKey
from luna_iems.knowledge import rag
from luna_iems.knowledge import retrieval as retrieval_service
from luna_iems.knowledge import service as knowledge_service
from luna_iems.knowledge.schemas import (
    AskIn,
    AskOut,
    ChunkList,
    DocumentDetail,
    DocumentIngested,
    DocumentList,
    SearchFilters,
    SearchResult,
    TextIn,
)

router = APIRouter(tags=["knowledge"])


def _tags(raw: str | None) -> list[str]:
    return [t.strip() for t in (raw or "").split(",") if t.strip()]


@router.post("/ingest/doc", response_model=DocumentIngested, tags=["ingest"])
async def ingest_doc(
    container: ContainerDep,
    _: AnalystKey,
    file: Annotated[UploadFile, File(description="PDF, DOCX, HTML, Markdown or text (judged by content)")],
    title: Annotated[str | None, Form(max_length=500)] = None,
    tags: Annotated[str | None, Form(description="Comma-separated tags")] = None,
    source: Annotated[str | None, Form(max_length=500, description="Default: the file name")] = None,
) -> DocumentIngested:
    """Extract, chunk, embed and index a document. Same bytes again: `duplicate: true`; new bytes
    under a known source: the next version. 413 above LUNA_MAX_UPLOAD_MB, 415 for unsupported
    content, 422 for corrupt, encrypted or text-less files; nothing is stored on failure."""
    data = await file.read()
    upload = knowledge_service.Upload(data=data, filename=file.filename, declared_type=file.content_type)
    return await run_in_threadpool(
        lambda: knowledge_service.ingest_document(
            container=container, upload=upload, title=title, tags=_tags(tags), source=source
        )
    )


@router.post("/ingest/text", response_model=DocumentIngested, tags=["ingest"])
async def ingest_text(text_in: TextIn, container: ContainerDep, _: AnalystKey) -> DocumentIngested:
    """Plain text (Markdown headings are honoured) with a title, tags and a source."""
    return await run_in_threadpool(
        lambda: knowledge_service.ingest_text(container=container, text_in=text_in)
    )


@router.get("/search", response_model=SearchResult)
async def search(
    container: ContainerDep,
    _: ViewerKey,
    q: Annotated[str, Query(min_length=1, max_length=2000)],
    top_k: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: Annotated[str, Query(pattern="^(hybrid|dense|lexical)$")] = "hybrid",
    tags: Annotated[
        str | None, Query(description="Comma-separated: documents with any of these tags")
    ] = None,
    item_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    lead_only: Annotated[
        bool, Query(description="Only each document's first chunk: rank documents by their subject")
    ] = False,
) -> SearchResult:
    """Ranked chunks with their fused score and the rank and score each ranking gave them."""
    filters = (
        SearchFilters(tags=_tags(tags) or None, item_ids=item_id, lead_only=lead_only)
        if (tags or item_id or lead_only)
        else None
    )
    return await run_in_threadpool(
        lambda: retrieval_service.search(
            container=container,
            query=q,
            top_k=top_k,
            filters=filters,
            mode=mode,  # type: ignore[arg-type]
        )
    )


def _sse(events: Iterator[tuple[str, object]]) -> Iterator[str]:
    for event, data in events:
        yield f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post(
    "/rag/ask",
    response_model=AskOut,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when stream=true"}},
)
async def ask(ask_in: AskIn, container: ContainerDep, principal: ViewerKey) -> Any:
    """Ask Luna. Answers cite the documents as [n]; without a language model the answer is extractive."""
    if ask_in.stream:
        # Retrieval runs before the response starts, so its errors (e.g. an unknown conversation: 404)
        # are HTTP errors, not a broken stream. Then each step of the (blocking) generator runs in the
        # thread pool; tokens flow as they come.
        prepared = await run_in_threadpool(lambda: rag.prepare(container, ask_in, key_id=principal.key_id))
        events = _sse(rag.stream_prepared(container, ask_in, prepared, key_id=principal.key_id))
        return StreamingResponse(iterate_in_threadpool(events), media_type="text/event-stream")
    return await run_in_threadpool(lambda: rag.answer(container, ask_in, key_id=principal.key_id))


# --- documents admin ------------------------------------------------------------------------
@router.get("/documents", response_model=DocumentList, tags=["documents"])
def list_documents(
    container: ContainerDep,
    _: ViewerKey,
    tag: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DocumentList:
    return knowledge_service.list_documents(container=container, tag=tag, limit=limit, offset=offset)


@router.get("/documents/{item_id}", response_model=DocumentDetail, tags=["documents"])
def get_document(item_id: uuid.UUID, container: ContainerDep, _: ViewerKey) -> DocumentDetail:
    """Metadata, versions and chunk count."""
    return knowledge_service.get_document(container=container, item_id=item_id)


@router.get("/documents/{item_id}/chunks", response_model=ChunkList, tags=["documents"])
def list_chunks(
    item_id: uuid.UUID,
    container: ContainerDep,
    _: ViewerKey,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ChunkList:
    return knowledge_service.list_chunks(container=container, item_id=item_id, limit=limit, offset=offset)


@router.delete("/documents/{item_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["documents"])
def delete_document(item_id: uuid.UUID, container: ContainerDep, _: AnalystKey) -> Response:
    """Delete the document: SQL rows, vectors and every stored version's file."""
    knowledge_service.delete_document(container=container, item_id=item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/documents/{item_id}/reindex", response_model=DocumentIngested, tags=["documents"])
async def reindex_document(item_id: uuid.UUID, container: ContainerDep, _: AnalystKey) -> DocumentIngested:
    """Extract, chunk and embed the stored original again (a new version with the same content)."""
    return await run_in_threadpool(
        lambda: knowledge_service.reindex_document(container=container, item_id=item_id)
    )
