"""Tool calling in both chat adapters against loopback servers speaking the documented wire protocols
(OpenAI "Create chat completion" `tools`/`tool_calls`; Ollama `/api/chat` `tools`, arguments as objects).
Wire-protocol doubles: no model runs here."""

from __future__ import annotations

import json
from typing import Any

from luna_iems.adapters.ollama_chat import OllamaGenerator
from luna_iems.adapters.openai_chat import OpenAICompatibleGenerator
from luna_iems.ports import ToolCall, ToolCallingGenerator
from tests.support.loopback import json_reply, loopback_server

TOOLS = [{"type": "function", "function": {"name": "site_kpis", "parameters": {"type": "object"}}}]
HISTORY: list[dict[str, Any]] = [
    {"role": "user", "content": "autarky?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "c0", "type": "function", "function": {"name": "site_kpis", "arguments": '{"site": "sim"}'}}
    ]},
    {"role": "tool", "tool_call_id": "c0", "name": "site_kpis", "content": '{"autarky_pct": 42}'},
]  # fmt: skip


def test_ollama_sends_tools_and_reads_tool_calls_with_object_arguments() -> None:
    reply = {"message": {"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "site_kpis", "arguments": {"site": "sim", "from_date": "2026-11-01"}}}
    ]}, "done": True}  # fmt: skip
    with loopback_server({("POST", "/api/chat"): lambda _: json_reply(reply)}) as server:
        generator = OllamaGenerator(base_url=server.url, model="llama3.1:8b")
        assert isinstance(generator, ToolCallingGenerator)
        result = generator.chat_with_tools(HISTORY, tools=TOOLS, max_tokens=100, temperature=0.0)
        generator.close()
        sent = server.requests[0].json()
    assert result.tool_calls == (
        ToolCall(call_id="call_0", name="site_kpis", arguments='{"site": "sim", "from_date": "2026-11-01"}'),
    )
    assert sent["tools"] == TOOLS and sent["stream"] is False
    assert sent["messages"][1]["tool_calls"] == [
        {"function": {"name": "site_kpis", "arguments": {"site": "sim"}}}
    ]
    assert sent["messages"][2]["role"] == "tool"


def test_openai_sends_tools_and_reads_tool_calls_and_the_final_answer() -> None:
    replies = [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "site_kpis", "arguments": '{"site": "sim"}'}}
        ]},
        {"role": "assistant", "content": "42 %"},
    ]  # fmt: skip

    def chat(_: Any) -> Any:
        return json_reply({"choices": [{"index": 0, "message": replies.pop(0)}]})

    with loopback_server({("POST", "/v1/chat/completions"): chat}) as server:
        generator = OpenAICompatibleGenerator(base_url=server.url + "/v1", model="m", api_key="sk-1")
        first = generator.chat_with_tools(HISTORY[:1], tools=TOOLS, max_tokens=100, temperature=0.0)
        second = generator.chat_with_tools(HISTORY, tools=TOOLS, max_tokens=100, temperature=0.0)
        generator.close()
        sent = [r.json() for r in server.requests]
    assert first.tool_calls == (ToolCall(call_id="c1", name="site_kpis", arguments='{"site": "sim"}'),)
    assert (second.content, second.tool_calls) == ("42 %", ())
    assert sent[1]["messages"] == HISTORY and sent[0]["tools"] == TOOLS
    assert json.loads(sent[1]["messages"][1]["tool_calls"][0]["function"]["arguments"]) == {"site": "sim"}
