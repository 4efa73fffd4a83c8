"""Luna's tools for external assistants: an MCP server (Model Context Protocol) over Streamable HTTP.

`POST /mcp` carries one JSON-RPC 2.0 message per request; the answer is one JSON object (no SSE: the
server never streams or sends its own requests, so `GET /mcp` is 405, which the transport allows).
Methods: `initialize`, `ping`, `tools/list`, `tools/call`; notifications (`notifications/initialized`,
`notifications/cancelled`, ...) and client responses are accepted with 202 and no body. The server is
stateless: no `Mcp-Session-Id`, every request is authenticated on its own by the product's API key,
and the key's role decides which tools are listed and callable (`tools.tools_for`): a viewer sees the
read-only tools only; calling one above the role is a JSON-RPC error (FORBIDDEN) naming the tool and
the role it needs.

Why not the official `mcp` SDK as the server: its Streamable HTTP server is an ASGI app with its own
session manager (a task group started in the app's lifespan) and its own auth layer (OAuth bearer
verifiers); fitting our API-key roles into it would mean passing the principal through ASGI scope or
context variables around FastAPI's dependencies. This protocol surface is small (four methods, JSON
responses), so it is written here against the 2025-06-18 specification, with the SDK's client as the
test oracle (tests/assistant/test_mcp.py runs `mcp.client.streamable_http` against a real uvicorn).

Errors: a body the server cannot accept (not JSON: -32700; not a JSON-RPC request, a batch, which
2025-06-18 removed, or an unsupported MCP-Protocol-Version: -32600) is HTTP 400, which the transport
requires; its body MAY be a JSON-RPC error, and here it is the product's one error shape (every 4xx
of this API has it; tests/api/test_contract.py), with the JSON-RPC code in `details.jsonrpc_code`.
Inside the protocol, an unknown method is -32601 and bad params (no tool name, an unknown tool,
arguments its schema refuses) -32602, as JSON-RPC errors with HTTP 200. A tool that
runs and fails on the data (no prices stored, which site?) answers a result with `isError: true`, so
the model on the other side can read the reason and retry. Origin is not checked: the API key travels
in a header a browser never adds cross-site, so DNS rebinding cannot reach the tools.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from pydantic import ValidationError

from luna_iems import __version__
from luna_iems.admin.schemas import Role
from luna_iems.assistant import render
from luna_iems.assistant.deps import AssistantDeps
from luna_iems.assistant.service import call_tool
from luna_iems.assistant.tools import REGISTRY, Tool, ToolContext, ToolResult, list_sites, tools_for
from luna_iems.errors import LunaError

# Bounds of the envelope (the OpenAPI document states them; tests/api/test_contract.py).
ID_MAX_CHARS = 200
ID_MAX = 2**53  # JSON numbers are exact up to here
METHOD_MAX_CHARS = 100

# The first is the one we answer with when a client asks for a version we do not speak.
PROTOCOL_VERSIONS = ("2025-06-18", "2025-03-26")
SERVER_NAME = "luna-iems"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
# Implementation-defined (JSON-RPC reserves -32000..-32099 for servers): the key's role is too low.
FORBIDDEN = -32003

INSTRUCTIONS = (
    "Luna-IEMS reads an energy site's own data: KPIs (kWh, %, kW, EUR) over local days, why a bill "
    "changed, day-ahead price hours, forecasts, the optimiser's battery plan, alerts and rules. Dates "
    "are the site's local days (YYYY-MM-DD, to_date inclusive). Each result names its source and period "
    "and links to the dashboard page; quote them."
)


@dataclass(frozen=True)
class McpReply:
    """What the route sends: `body` None means 202 Accepted without a body (a notification)."""

    status_code: int
    body: dict[str, Any] | None


class McpRequestError(LunaError):
    """HTTP 400: the body is not one JSON-RPC message this server can accept."""

    status_code = 400
    code = "invalid_jsonrpc"

    def __init__(self, jsonrpc_code: int, message: str, **details: Any) -> None:
        super().__init__(message, details={"jsonrpc_code": jsonrpc_code, **details})


class _RpcError(Exception):
    """A JSON-RPC error answered inside the protocol (HTTP 200)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def _error(request_id: Any, exc: _RpcError) -> McpReply:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.data is not None:
        error["data"] = exc.data
    return McpReply(200, {"jsonrpc": "2.0", "id": request_id, "error": error})


def _valid_id(value: Any) -> bool:
    # MCP ids are strings or integers (never null); 7.0 is the integer 7 in JSON.
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        return len(value) <= ID_MAX_CHARS
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return isinstance(value, int) and -ID_MAX <= value <= ID_MAX


def _message(raw: bytes) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except ValueError as exc:  # also not UTF-8 (UnicodeDecodeError is a ValueError)
        raise McpRequestError(PARSE_ERROR, f"parse error: the body is not JSON ({exc})") from exc
    if isinstance(message, list):
        raise McpRequestError(
            INVALID_REQUEST,
            "invalid request: batches are not supported (removed in MCP 2025-06-18); send one message "
            "per POST",
        )
    if not isinstance(message, dict):
        raise McpRequestError(INVALID_REQUEST, "invalid request: the body must be a JSON object")
    problems = []
    if message.get("jsonrpc") != "2.0":
        problems.append('jsonrpc: must be "2.0"')
    if "id" in message and not _valid_id(message["id"]):
        problems.append(
            f"id: must be a string of at most {ID_MAX_CHARS} characters or an integer within ±2^53"
        )
    method = message.get("method")
    if "method" in message and not (isinstance(method, str) and len(method) <= METHOD_MAX_CHARS):
        problems.append(f"method: must be a string of at most {METHOD_MAX_CHARS} characters")
    if "method" not in message and not ("id" in message and ("result" in message or "error" in message)):
        problems.append("method: required")
    if "params" in message and not isinstance(message["params"], dict):
        problems.append("params: must be an object")
    if problems:
        raise McpRequestError(INVALID_REQUEST, "invalid request: " + "; ".join(problems), errors=problems)
    return message


def handle(
    *,
    deps: AssistantDeps,
    raw: bytes,
    role: Role,
    protocol_version: str | None = None,
    base_url: str = "/",
    now: datetime | None = None,
) -> McpReply:
    """Answer one Streamable-HTTP POST body for a key with `role`.

    `protocol_version` is the `MCP-Protocol-Version` header (absent: 2025-03-26 by the spec; an
    unsupported one is -32600 with HTTP 400, except on `initialize`, which negotiates). `base_url`
    makes the results' dashboard links absolute. Raises McpRequestError (HTTP 400) for a body that is
    not one JSON-RPC message or an unsupported protocol version; every other refusal is a JSON-RPC
    error in the reply."""
    message = _message(raw)
    if message.get("method") != "initialize" and protocol_version not in (None, *PROTOCOL_VERSIONS):
        raise McpRequestError(
            INVALID_REQUEST,
            f"unsupported MCP-Protocol-Version {protocol_version!r}; "
            f"supported: {', '.join(PROTOCOL_VERSIONS)}",
            supported=list(PROTOCOL_VERSIONS),
        )
    request_id = message.get("id")
    method = message.get("method")
    if method is None or "id" not in message:
        return McpReply(202, None)  # a notification, or a response to a request we never send
    try:
        params: dict[str, Any] = message.get("params") or {}
        result = _dispatch(
            deps=deps,
            method=method,
            params=params,
            role=role,
            base_url=base_url,
            now=now or datetime.now(UTC),
        )
    except _RpcError as exc:
        return _error(request_id, exc)
    return McpReply(200, {"jsonrpc": "2.0", "id": request_id, "result": result})


def _dispatch(
    *, deps: AssistantDeps, method: str, params: dict[str, Any], role: Role, base_url: str, now: datetime
) -> dict[str, Any]:
    match method:
        case "initialize":
            return _initialize(params)
        case "ping":
            return {}
        case "tools/list":
            return {"tools": [describe(t) for t in tools_for(role)]}
        case "tools/call":
            return _call(deps=deps, params=params, role=role, base_url=base_url, now=now)
        case _:
            raise _RpcError(
                METHOD_NOT_FOUND,
                f"method not found: {method!r}; this server answers initialize, ping, tools/list, tools/call",
                {"method": method},
            )


def _initialize(params: Mapping[str, Any]) -> dict[str, Any]:
    requested = params.get("protocolVersion")
    if not isinstance(requested, str):
        raise _RpcError(INVALID_PARAMS, 'params.protocolVersion: required, a string such as "2025-06-18"')
    return {
        "protocolVersion": requested if requested in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0],
        "capabilities": {"tools": {"listChanged": False}},
        "serverInfo": {"name": SERVER_NAME, "title": "Luna-IEMS", "version": __version__},
        "instructions": INSTRUCTIONS,
    }


def describe(tool: Tool) -> dict[str, Any]:
    """The MCP tool descriptor: the input schema is the tool's own argument model as JSON Schema (the
    same bounds validate the call). Viewer tools read only; the others store something (what-if)."""
    schema = tool.args.model_json_schema()
    schema.pop("title", None)
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    read_only = tool.role is Role.VIEWER
    return {
        "name": tool.name,
        "description": tool.description,
        "inputSchema": schema,
        "annotations": {
            "readOnlyHint": read_only,
            "destructiveHint": False,
            "idempotentHint": read_only,
            "openWorldHint": False,
        },
    }


def _arguments(tool: Tool, arguments: Any) -> dict[str, Any]:
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise _RpcError(INVALID_PARAMS, "params.arguments: must be an object", {"field": "arguments"})
    try:
        tool.args.model_validate(arguments)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(["arguments", *map(str, e["loc"])]), "message": e["msg"]} for e in exc.errors()
        ]
        text = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise _RpcError(
            INVALID_PARAMS, f"tool {tool.name!r}: bad arguments: {text}", {"errors": errors}
        ) from exc
    return arguments


def _call(
    *, deps: AssistantDeps, params: dict[str, Any], role: Role, base_url: str, now: datetime
) -> dict[str, Any]:
    name = params.get("name")
    allowed = [t.name for t in tools_for(role)]
    if not isinstance(name, str):
        raise _RpcError(
            INVALID_PARAMS, f"params.name: required, one of {', '.join(allowed)}", {"field": "name"}
        )
    tool = REGISTRY.get(name)
    if tool is None:
        raise _RpcError(
            INVALID_PARAMS,
            f"unknown tool {name[:100]!r}; this key may call: {', '.join(allowed)}",
            {"field": "name", "tools": allowed},
        )
    if not role.allows(tool.role):
        raise _RpcError(
            FORBIDDEN,
            f"tool {name!r} needs the role '{tool.role.value}'; this key has '{role.value}'",
            {"tool": name, "needed": tool.role.value, "have": role.value},
        )
    arguments = _arguments(tool, params.get("arguments"))
    with deps.session_factory() as session:
        ctx = ToolContext(
            session=session, settings=deps.settings, now=now, role=role, sites=list_sites(session)
        )
        try:
            result = call_tool(ctx, name, arguments)
        except LunaError as exc:
            session.rollback()
            return {
                "content": [{"type": "text", "text": f"{name}: {exc.message}"}],
                "structuredContent": {"error": {"code": exc.code, "message": exc.message}},
                "isError": True,
            }
    return tool_result(result, base_url=base_url)


def tool_result(result: ToolResult, *, base_url: str) -> dict[str, Any]:
    """A tool's result as MCP content: a sentence with units and period (English), the same data as
    JSON text (for clients without structured content) and `structuredContent`; the citation's link
    is made absolute so a client can open the dashboard page."""
    link = result.citation.link
    link = urljoin(base_url, link) if link else None
    # JSON-safe (dates, UUIDs as text) before it goes into the reply.
    structured: dict[str, Any] = json.loads(
        json.dumps(
            {
                "tool": result.tool,
                "data": result.data,
                "citation": {"source": result.citation.source, "link": link},
            },
            default=str,
        )
    )
    sentence = render.render("kpis", result, "en")
    cite = f"Source: {result.citation.source}" + (f" ({link})" if link else "")
    return {
        "content": [
            {"type": "text", "text": f"{sentence}\n{cite}"},
            {"type": "text", "text": json.dumps(structured, ensure_ascii=False)},
        ],
        "structuredContent": structured,
        "isError": False,
    }
