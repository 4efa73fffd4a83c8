"""HTTP routes of the knowledge domain: document ingest, search, Luna's answers, documents admin."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from luna_iems.assistant import service as assistant_service
from luna_iems.bounds import MAX_IDS, MAX_TAGS, TAG_MAX_CHARS, TAGS_CSV_MAX_CHARS, Offset
from luna_iems.deps import AnalystKey, AssistantDepsDep, KnowledgeDepsDep, ViewerKey
from luna_iems.errors import AUTHENTICATED_ERRORS, BODY_ERRORS, ErrorResponse, error_responses
from luna_iems.knowledge import rag
from luna_iems.knowledge import retrieval as retrieval_service
from luna_iems.knowledge import service as knowledge_service
from luna_iems.knowledge.schemas import (
    AskIn,
    AskOut,
    ChunkList,
    ChunkRead,
    DocumentDetail,
    DocumentIngested,
    DocumentList,
    SearchFilters,
    SearchResult,
    TextIn,
)

router = APIRouter(tags=["knowledge"], responses=AUTHENTICATED_ERRORS)
_NOT_FOUND = error_responses(404)


# At most MAX_TAGS comma-separated tags of TAG_MAX_CHARS each at most: the schema says what is accepted.
_TAGS_PATTERN = rf"^[^,]{{0,{TAG_MAX_CHARS}}}(,[^,]{{0,{TAG_MAX_CHARS}}}){{0,{MAX_TAGS - 1}}}$"


def _tags(raw: str | None) -> list[str]:
    return [t.strip() for t in (raw or "").split(",") if t.strip()]


# Ingest runs as a background job by default: 202 + Location, then poll GET /documents/{item_id}.
Wait = Annotated[
    bool,
    Query(description="Ingest within the request and answer 200 with the ready document (or its error)"),
]
_INGEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    **BODY_ERRORS,
    **error_responses(404, 415),
    200: {"description": "A duplicate (nothing new stored), or the ready document with wait=true"},
    202: {
        "model": DocumentIngested,
        "description": "Stored and queued (`status: queued`); `Location` is GET /documents/{item_id}, "
        "which shows the status and progress",
    },
    409: {
        "model": ErrorResponse,
        "description": "The document is being ingested: retry when it is ready or failed",
    },
}


def _accepted(response: Response, result: DocumentIngested) -> DocumentIngested:
    if result.status == "queued" and not result.duplicate:
        response.status_code = status.HTTP_202_ACCEPTED
        response.headers["Location"] = f"/documents/{result.item_id}"
    return result


@router.post("/ingest/doc", response_model=DocumentIngested, tags=["ingest"], responses=_INGEST_RESPONSES)
async def ingest_doc(
    deps: KnowledgeDepsDep,
    _: AnalystKey,
    response: Response,
    file: Annotated[UploadFile, File(description="PDF, DOCX, HTML, Markdown or text (judged by content)")],
    title: Annotated[str | None, Form(max_length=500)] = None,
    tags: Annotated[
        str | None, Form(max_length=TAGS_CSV_MAX_CHARS, description="Comma-separated tags")
    ] = None,
    source: Annotated[str | None, Form(max_length=500, description="Default: the file name")] = None,
    wait: Wait = False,
) -> DocumentIngested:
    """Store a document and queue its extraction, chunking and embedding (202; with `wait=true`, 200
    once it is ready). Same bytes again: `duplicate: true`; new bytes under a known source: the next
    version. 413 above LUNA_MAX_UPLOAD_MB, 415 for unsupported content; a corrupt, encrypted or
    text-less file ends `failed` with the reason (422 with `wait=true`); nothing half-written stays."""
    data = await file.read()
    upload = knowledge_service.Upload(data=data, filename=file.filename, declared_type=file.content_type)
    result = await run_in_threadpool(
        lambda: knowledge_service.ingest_document(
            deps=deps, upload=upload, title=title, tags=_tags(tags), source=source, wait=wait
        )
    )
    return _accepted(response, result)


@router.post("/ingest/text", response_model=DocumentIngested, tags=["ingest"], responses=_INGEST_RESPONSES)
async def ingest_text(
    text_in: TextIn, deps: KnowledgeDepsDep, _: AnalystKey, response: Response, wait: Wait = False
) -> DocumentIngested:
    """Plain text (Markdown headings are honoured) with a title, tags and a source; queued as
    /ingest/doc (202, or 200 with `wait=true`)."""
    result = await run_in_threadpool(
        lambda: knowledge_service.ingest_text(deps=deps, text_in=text_in, wait=wait)
    )
    return _accepted(response, result)


@router.get("/search", response_model=SearchResult)
async def search(
    deps: KnowledgeDepsDep,
    _: ViewerKey,
    q: Annotated[str, Query(min_length=1, max_length=2000)],
    top_k: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid",
    tags: Annotated[
        str | None,
        Query(
            max_length=TAGS_CSV_MAX_CHARS,
            pattern=_TAGS_PATTERN,
            description="Comma-separated: documents with any of these tags (each up to 100 characters)",
        ),
    ] = None,
    item_id: Annotated[list[uuid.UUID] | None, Query(max_length=MAX_IDS)] = None,
    lead_only: Annotated[
        bool, Query(description="Only each document's first chunk: rank documents by their subject")
    ] = False,
) -> SearchResult:
    """Ranked chunks with their fused score and the rank and score each ranking gave them."""
    filters = _search_filters(tags=_tags(tags), item_ids=item_id, lead_only=lead_only)
    return await run_in_threadpool(
        lambda: retrieval_service.search(
            deps=deps,
            query=q,
            top_k=top_k,
            filters=filters,
            mode=mode,
        )
    )


def _search_filters(
    *, tags: list[str], item_ids: list[uuid.UUID] | None, lead_only: bool
) -> SearchFilters | None:
    if not (tags or item_ids or lead_only):
        return None
    try:
        return SearchFilters(tags=tags or None, item_ids=item_ids, lead_only=lead_only)
    except ValidationError as exc:  # e.g. a tag over 100 characters: a 422 naming the query parameter
        raise RequestValidationError(
            [
                {**err, "loc": ("query", "tags" if err["loc"][0] == "tags" else "item_id")}
                for err in exc.errors()
            ]
        ) from None


def _sse(events: Iterator[tuple[str, object]]) -> Iterator[str]:
    for event, data in events:
        yield f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post(
    "/rag/ask",
    response_model=AskOut,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when stream=true"},
        **BODY_ERRORS,
        **error_responses(404),  # an unknown conversation_id
    },
)
async def ask(
    ask_in: AskIn, deps: KnowledgeDepsDep, principal: ViewerKey, assistant: AssistantDepsDep
) -> Any:
    """Ask Luna. Answers cite the documents as [n]; without a language model the answer is extractive.
    Questions about the site's own data are answered with its numbers (`data_citations`)."""
    # --- site-data questions (assistant/, issue 14 item 4): answered before the document path -----
    site = await run_in_threadpool(
        lambda: assistant_service.answer_ask_with_documents(
            deps=assistant, knowledge=deps, ask=ask_in, role=principal.role, key_id=principal.key_id
        )
    )
    if site is not None:
        if ask_in.stream:
            cited = [c.model_dump(mode="json") for c in site.citations]
            done = [("citations", cited), ("token", site.answer), ("done", site.model_dump(mode="json"))]
            return StreamingResponse(iter(_sse(iter(done))), media_type="text/event-stream")
        return site
    # --- end of site-data questions ----------------------------------------------------------------
    if ask_in.stream:
        # Retrieval runs before the response starts, so its errors (e.g. an unknown conversation: 404)
        # are HTTP errors, not a broken stream. Then each step of the (blocking) generator runs in the
        # thread pool; tokens flow as they come.
        prepared = await run_in_threadpool(lambda: rag.prepare(deps, ask_in, key_id=principal.key_id))
        events = _sse(rag.stream_prepared(deps, ask_in, prepared, key_id=principal.key_id))
        return StreamingResponse(iterate_in_threadpool(events), media_type="text/event-stream")
    return await run_in_threadpool(lambda: rag.answer(deps, ask_in, key_id=principal.key_id))


# --- documents admin ------------------------------------------------------------------------
@router.get("/documents", response_model=DocumentList, tags=["documents"])
def list_documents(
    deps: KnowledgeDepsDep,
    _: ViewerKey,
    tag: Annotated[str | None, Query(max_length=TAG_MAX_CHARS)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> DocumentList:
    return knowledge_service.list_documents(deps=deps, tag=tag, limit=limit, offset=offset)


@router.get("/documents/{item_id}", response_model=DocumentDetail, tags=["documents"], responses=_NOT_FOUND)
def get_document(item_id: uuid.UUID, deps: KnowledgeDepsDep, _: ViewerKey) -> DocumentDetail:
    """Metadata, versions and chunk count."""
    return knowledge_service.get_document(deps=deps, item_id=item_id)


@router.get("/documents/{item_id}/chunks", response_model=ChunkList, tags=["documents"], responses=_NOT_FOUND)
def list_chunks(
    item_id: uuid.UUID,
    deps: KnowledgeDepsDep,
    _: ViewerKey,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> ChunkList:
    return knowledge_service.list_chunks(deps=deps, item_id=item_id, limit=limit, offset=offset)


@router.get(
    "/documents/{item_id}/chunks/{chunk_id}",
    response_model=ChunkRead,
    tags=["documents"],
    responses=_NOT_FOUND,
)
def get_chunk(item_id: uuid.UUID, chunk_id: uuid.UUID, deps: KnowledgeDepsDep, _: ViewerKey) -> ChunkRead:
    """One chunk: the passage a citation or search hit names (`item_id`, `chunk_id`)."""
    return knowledge_service.get_chunk(deps=deps, item_id=item_id, chunk_id=chunk_id)


@router.delete(
    "/documents/{item_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["documents"], responses=_NOT_FOUND
)
def delete_document(item_id: uuid.UUID, deps: KnowledgeDepsDep, _: AnalystKey) -> Response:
    """Delete the document: SQL rows, vectors and every stored version's file."""
    knowledge_service.delete_document(deps=deps, item_id=item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/documents/{item_id}/reindex",
    response_model=DocumentIngested,
    tags=["documents"],
    responses=_INGEST_RESPONSES,
)
async def reindex_document(
    item_id: uuid.UUID, deps: KnowledgeDepsDep, _: AnalystKey, response: Response, wait: Wait = False
) -> DocumentIngested:
    """Extract, chunk and embed the stored original again (a new version with the same content);
    queued as /ingest/doc (202, or 200 with `wait=true`)."""
    result = await run_in_threadpool(
        lambda: knowledge_service.reindex_document(deps=deps, item_id=item_id, wait=wait)
    )
    return _accepted(response, result)
