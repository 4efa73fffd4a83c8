"""HTTP for the assistant: `POST /mcp`, Luna's tools for MCP clients (parse, call, return).

The MCP protocol lives in `assistant.mcp`; this route only reads the raw body (a malformed one must
become a JSON-RPC parse error, not FastAPI's 422), the key and the protocol-version header.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from luna_iems.assistant import mcp as mcp_service
from luna_iems.deps import AssistantDepsDep, ViewerKey
from luna_iems.errors import AUTHENTICATED_ERRORS, UnsupportedMediaTypeError, error_responses

router = APIRouter(tags=["assistant"], responses=AUTHENTICATED_ERRORS)

_ID: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "maxLength": mcp_service.ID_MAX_CHARS},
        {"type": "integer", "minimum": -mcp_service.ID_MAX, "maximum": mcp_service.ID_MAX},
    ]
}
_MESSAGE: dict[str, Any] = {
    "type": "object",
    "description": "One JSON-RPC 2.0 request or notification (MCP 2025-06-18; no batches)",
    "required": ["jsonrpc", "method"],
    "properties": {
        "jsonrpc": {"type": "string", "enum": ["2.0"]},
        "id": _ID | {"description": "Absent for a notification (answered 202 without a body)"},
        "method": {
            "type": "string",
            "maxLength": mcp_service.METHOD_MAX_CHARS,
            "description": "initialize, ping, tools/list, tools/call, notifications/…",
        },
        "params": {"type": "object"},
    },
    "example": {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
}
_REPLY: dict[str, Any] = {
    "type": "object",
    "required": ["jsonrpc"],
    "properties": {
        "jsonrpc": {"type": "string", "enum": ["2.0"]},
        "id": {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
        "result": {"type": "object"},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "integer"}, "message": {"type": "string"}, "data": {}},
        },
    },
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The JSON-RPC response: `result`, or `error` (-32601 unknown method, -32602 bad "
        "params or unknown tool, -32003 a tool above the key's role)",
        "content": {"application/json": {"schema": _REPLY}},
    },
    202: {"description": "A notification (or a client's response) was accepted; no body"},
    # The transport requires an HTTP error for a body the server cannot accept; its body is the
    # product's error shape with the JSON-RPC code in `details.jsonrpc_code` (-32700 not JSON, -32600
    # not one JSON-RPC request, a batch, or an unsupported MCP-Protocol-Version).
    **error_responses(400, 413, 415),
}


@router.post(
    "/mcp",
    response_class=JSONResponse,
    responses=_RESPONSES,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _MESSAGE}}},
        # Read by hand: the transport answers an unsupported version with 400 (not FastAPI's 422).
        "parameters": [
            {
                "name": "MCP-Protocol-Version",
                "in": "header",
                "required": False,
                "description": "The version agreed at initialize (absent: 2025-03-26)",
                "schema": {"type": "string", "enum": list(mcp_service.PROTOCOL_VERSIONS)},
            }
        ],
    },
)
async def mcp(
    request: Request,
    deps: AssistantDepsDep,
    principal: ViewerKey,
) -> Response:
    """MCP (Streamable HTTP, JSON responses): Luna's tools for external assistants, with this key's
    role. Connect an MCP client to this URL with the header `Authorization: Bearer <key>` (or
    `X-API-Key`). `GET /mcp` is 405: the server opens no event stream."""
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaTypeError(
            f"content-type {media!r}: send the JSON-RPC message as application/json",
            details={"field": "content-type"},
        )
    raw = await request.body()
    reply = await run_in_threadpool(
        lambda: mcp_service.handle(
            deps=deps,
            raw=raw,
            role=principal.role,
            protocol_version=request.headers.get("mcp-protocol-version"),
            base_url=str(request.base_url),
        )
    )
    if reply.body is None:
        return Response(status_code=reply.status_code)
    return JSONResponse(reply.body, status_code=reply.status_code)
