"""The tool calls of one assistant message, as both chat APIs send them.

OpenAI-compatible servers and Ollama share the shape `message.tool_calls[] = {id?, function: {name,
arguments}}`; they differ only in `arguments` (JSON text for OpenAI, an object for Ollama). Malformed
entries are skipped: the caller answers without them rather than failing the question.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from luna_iems.ports import ToolCall, ToolReply


def tool_reply(message: Mapping[str, Any] | None) -> ToolReply:
    """`message`'s text and its tool calls (arguments always as JSON text)."""
    message = message if isinstance(message, Mapping) else {}
    calls = []
    for i, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            continue
        arguments = function.get("arguments")
        text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
        calls.append(
            ToolCall(call_id=str(call.get("id") or f"call_{i}"), name=function["name"], arguments=text)
        )
    content = message.get("content")
    return ToolReply(content=content if isinstance(content, str) else "", tool_calls=tuple(calls))
