"""Chat generators for Luna's answers: `OllamaGenerator` and `OpenAICompatibleGenerator`.

Ollama and an OpenAI-compatible server (vLLM, llama.cpp, OpenAI) cannot run here, so loopback servers
answer the documented wire protocol — Ollama's `/api/chat` (one JSON object, or NDJSON lines ending with
`"done": true`) and `/api/tags`; OpenAI's `/v1/chat/completions` (one completion object, or Server-Sent
Events `data: {chunk}` ending with `data: [DONE]`) and `/v1/models` — and the real client code runs
against them: request bodies and headers are asserted exactly, streamed bodies are sent chunked and
piece by piece, and every failure must surface as `BackendUnavailableError("generator", …)`.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import closing
from typing import Any

import pytest

from luna_iems.adapters.ollama_chat import OllamaGenerator
from luna_iems.adapters.openai_chat import OpenAICompatibleGenerator
from luna_iems.errors import BackendUnavailableError
from luna_iems.ports import ChatMessage, Generator
from tests.support.loopback import Recorded, json_reply, text_reply
from tests.support.loopback_stream import Body, StreamLoopback, chunks, stream_server

MESSAGES = [
    ChatMessage(role="system", content="Answer from the sources only."),
    ChatMessage(role="user", content="Wann lädt die Batterie?"),
]
WIRE_MESSAGES = [
    {"role": "system", "content": "Answer from the sources only."},
    {"role": "user", "content": "Wann lädt die Batterie?"},
]

Reply = tuple[int, dict[str, str], Body]


def closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was just free, so connecting is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def ndjson(objects: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for obj in objects:
        yield json.dumps(obj).encode() + b"\n"


def ollama_line(content: str) -> dict[str, Any]:
    return {
        "model": "llama3.2",
        "created_at": "2024-08-04T08:52:19.385406455-07:00",
        "message": {"role": "assistant", "content": content},
        "done": False,
    }


OLLAMA_FINAL = {
    "model": "llama3.2",
    "created_at": "2024-08-04T19:22:45.499127Z",
    "done": True,
    "done_reason": "stop",
    "total_duration": 4883583458,
    "eval_count": 282,
}


def sse(events: Iterable[dict[str, Any] | str]) -> str:
    return "".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events)


def openai_chunk(content: str | None, finish_reason: str | None = None, role: bool = False) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if role:
        delta["role"] = "assistant"
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1694268190,
        "model": "qwen2.5-7b-instruct",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


# --- Ollama -----------------------------------------------------------------------------------------


def ollama(server: StreamLoopback, **kwargs: Any) -> OllamaGenerator:
    return OllamaGenerator(base_url=server.url + "/", model="llama3.2", **kwargs)


def test_ollama_generate_posts_the_documented_chat_request() -> None:
    def chat(_: Recorded) -> Reply:
        return json_reply(
            {
                "model": "llama3.2",
                "created_at": "2023-12-12T14:13:43.416799Z",
                "message": {"role": "assistant", "content": "Zwischen 11 und 15 Uhr."},
                "done_reason": "stop",
                "done": True,
                "eval_count": 9,
            }
        )

    with stream_server({("POST", "/api/chat"): chat}) as server, closing(ollama(server)) as gen:
        generator: Generator = gen
        assert (generator.name, generator.model) == ("ollama", "llama3.2")
        answer = generator.generate(MESSAGES, max_tokens=256, temperature=0.2)

    assert answer == "Zwischen 11 und 15 Uhr."
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/api/chat")
    assert request.json() == {
        "model": "llama3.2",
        "messages": WIRE_MESSAGES,
        "stream": False,
        "options": {"num_predict": 256, "temperature": 0.2},
    }


def test_ollama_keep_alive_is_sent_only_when_configured() -> None:
    def chat(_: Recorded) -> Reply:
        return json_reply(
            {"model": "llama3.2", "message": {"role": "assistant", "content": "ok"}, "done": True}
        )

    with (
        stream_server({("POST", "/api/chat"): chat}) as server,
        closing(ollama(server, keep_alive="30m")) as gen,
    ):
        assert gen.generate(MESSAGES[1:], max_tokens=8, temperature=0.0) == "ok"
    assert server.requests[0].json() == {
        "model": "llama3.2",
        "messages": WIRE_MESSAGES[1:],
        "stream": False,
        "options": {"num_predict": 8, "temperature": 0.0},
        "keep_alive": "30m",
    }


def test_ollama_stream_yields_ndjson_pieces_as_they_arrive() -> None:
    gate = threading.Event()
    released: list[bool] = []

    def chat(_: Recorded) -> Reply:
        def body() -> Iterator[bytes]:
            yield from ndjson([ollama_line("Zwischen")])
            # The next piece only goes out once the test has received the first one.
            released.append(gate.wait(timeout=10))
            yield from ndjson(
                [ollama_line(" 11 und"), ollama_line(""), ollama_line(" 15 Uhr."), OLLAMA_FINAL]
            )

        return 200, {"Content-Type": "application/x-ndjson"}, body()

    with stream_server({("POST", "/api/chat"): chat}) as server, closing(ollama(server)) as gen:
        pieces = gen.stream(MESSAGES, max_tokens=128, temperature=0.1)
        first = next(pieces)
        gate.set()
        rest = list(pieces)

    assert first == "Zwischen"
    assert rest == [" 11 und", " 15 Uhr."]  # empty pieces are skipped
    assert "".join([first, *rest]) == "Zwischen 11 und 15 Uhr."
    assert released == [True]
    assert server.requests[0].json() == {
        "model": "llama3.2",
        "messages": WIRE_MESSAGES,
        "stream": True,
        "options": {"num_predict": 128, "temperature": 0.1},
    }


def test_ollama_stream_stops_at_done_and_reassembles_split_lines() -> None:
    lines = [
        ollama_line("A"),
        ollama_line("B"),
        {**OLLAMA_FINAL, "message": {"role": "assistant", "content": ""}},
    ]
    text = "".join(json.dumps(obj) + "\n" for obj in lines) + json.dumps(ollama_line("after done")) + "\n"

    def chat(_: Recorded) -> Reply:
        return 200, {"Content-Type": "application/x-ndjson"}, chunks(text, 7)

    with stream_server({("POST", "/api/chat"): chat}) as server, closing(ollama(server)) as gen:
        assert list(gen.stream(MESSAGES, max_tokens=16, temperature=0.0)) == ["A", "B"]


def test_ollama_stream_error_line_and_missing_done_are_errors() -> None:
    bodies = {
        "error": [ollama_line("Teil"), {"error": "an error was encountered while running the model"}],
        "truncated": [ollama_line("Teil"), ollama_line("weise")],
    }

    def chat(request: Recorded) -> Reply:
        kind = request.json()["messages"][0]["content"]
        return 200, {"Content-Type": "application/x-ndjson"}, ndjson(bodies[kind])

    with stream_server({("POST", "/api/chat"): chat}) as server, closing(ollama(server)) as gen:
        pieces = gen.stream([ChatMessage(role="user", content="error")], max_tokens=8, temperature=0.0)
        assert next(pieces) == "Teil"
        with pytest.raises(BackendUnavailableError, match="error was encountered while running") as info:
            next(pieces)
        assert info.value.component == "generator"

        pieces = gen.stream([ChatMessage(role="user", content="truncated")], max_tokens=8, temperature=0.0)
        with pytest.raises(BackendUnavailableError, match="before its final 'done' line"):
            list(pieces)


def test_ollama_unknown_model_says_to_pull_it() -> None:
    def chat(request: Recorded) -> Reply:
        return json_reply(
            {"error": f"model '{request.json()['model']}' not found, try pulling it first"}, 404
        )

    with stream_server({("POST", "/api/chat"): chat}) as server, closing(ollama(server)) as gen:
        with pytest.raises(BackendUnavailableError, match=r"run `ollama pull llama3\.2`") as info:
            gen.generate(MESSAGES, max_tokens=8, temperature=0.0)
        assert info.value.component == "generator"
        assert "not found, try pulling it first" in info.value.message
        # Streaming fails at the call, before any piece: the caller can still fall back.
        with pytest.raises(BackendUnavailableError, match=r"ollama pull llama3\.2"):
            gen.stream(MESSAGES, max_tokens=8, temperature=0.0)


def test_ollama_http_500_and_wrong_server_report_status_and_body() -> None:
    def chat(_: Recorded) -> Reply:
        return json_reply({"error": "llama runner process has terminated: signal: killed"}, 500)

    with stream_server({("POST", "/api/chat"): chat}) as server, closing(ollama(server)) as gen:
        for call in (gen.generate, gen.stream):
            with pytest.raises(BackendUnavailableError) as info:
                call(MESSAGES, max_tokens=8, temperature=0.0)
            assert "HTTP 500" in info.value.message
            assert "llama runner process has terminated" in info.value.message

    # A 404 that is not about a model (no /api/chat route at all) is not a pull hint.
    with stream_server({}) as server, closing(ollama(server)) as gen:
        with pytest.raises(
            BackendUnavailableError, match="HTTP 404 on /api/chat: 404 page not found"
        ) as info:
            gen.generate(MESSAGES, max_tokens=8, temperature=0.0)
        assert "ollama pull" not in info.value.message


@pytest.mark.parametrize(
    "reply",
    [
        json_reply({"model": "llama3.2", "done": True}),  # no message
        json_reply({"model": "llama3.2", "message": {"role": "assistant", "content": None}, "done": True}),
        json_reply(["not", "an", "object"]),
        text_reply("<html>proxy error</html>"),
    ],
    ids=["no-message", "null-content", "array", "not-json"],
)
def test_ollama_malformed_answer_is_backend_unavailable(reply: Reply) -> None:
    with (
        stream_server({("POST", "/api/chat"): lambda _: reply}) as server,
        closing(ollama(server)) as gen,
    ):
        with pytest.raises(BackendUnavailableError) as info:
            gen.generate(MESSAGES, max_tokens=8, temperature=0.0)
        assert info.value.component == "generator"

        def stream_reply(_: Recorded) -> Reply:
            return 200, {"Content-Type": "application/x-ndjson"}, [b"{not json}\n"]

        server.routes[("POST", "/api/chat")] = stream_reply
        with pytest.raises(BackendUnavailableError, match="not JSON"):
            list(gen.stream(MESSAGES, max_tokens=8, temperature=0.0))


def test_ollama_health_checks_the_model_is_pulled() -> None:
    tags = {
        "models": [
            {"name": "llama3.2:latest", "model": "llama3.2:latest", "size": 2019393189, "digest": "a80c4f17"},
            {"name": "nomic-embed-text:latest", "model": "nomic-embed-text:latest", "size": 274302450},
        ]
    }
    with stream_server({("GET", "/api/tags"): lambda _: json_reply(tags)}) as server:
        with closing(ollama(server)) as gen:  # "llama3.2" means "llama3.2:latest"
            health = gen.health()
        assert (health.name, health.kind, health.ok, health.detail) == ("generator", "ollama", True, "")
        assert health.info["models"] == ["llama3.2:latest", "nomic-embed-text:latest"]

        with closing(OllamaGenerator(base_url=server.url, model="llama3.2:latest")) as gen:
            assert gen.health().ok

        with closing(OllamaGenerator(base_url=server.url, model="qwen2.5:7b")) as gen:
            health = gen.health()
        assert not health.ok
        assert "model 'qwen2.5:7b' is not pulled" in health.detail
        assert "llama3.2:latest, nomic-embed-text:latest" in health.detail
        assert "ollama pull qwen2.5:7b" in health.detail
        assert [r.path for r in server.requests] == ["/api/tags"] * 3

    with stream_server({("GET", "/api/tags"): lambda _: text_reply("boom", 500)}) as server:
        with closing(ollama(server)) as gen:
            health = gen.health()
        assert not health.ok and "HTTP 500" in health.detail


def test_ollama_unreachable_is_a_clear_error() -> None:
    url = closed_port_url()
    with closing(OllamaGenerator(base_url=url, model="llama3.2", timeout_s=2.0)) as gen:
        health = gen.health()
        assert not health.ok and "unreachable" in health.detail
        with pytest.raises(
            BackendUnavailableError, match=rf"Ollama at {url} unreachable: ConnectError"
        ) as info:
            gen.generate(MESSAGES, max_tokens=8, temperature=0.0)
        assert info.value.component == "generator"
        with pytest.raises(BackendUnavailableError, match="unreachable"):
            gen.stream(MESSAGES, max_tokens=8, temperature=0.0)


def test_ollama_timeout_is_reported_as_unreachable() -> None:
    def slow(_: Recorded) -> Reply:
        server.release.wait(timeout=10)
        return json_reply({"message": {"role": "assistant", "content": "too late"}, "done": True})

    with (
        stream_server({("POST", "/api/chat"): slow}) as server,
        closing(ollama(server, timeout_s=0.3)) as gen,
        pytest.raises(BackendUnavailableError, match=r"unreachable: no answer within 0\.3s \(ReadTimeout\)"),
    ):
        gen.generate(MESSAGES, max_tokens=8, temperature=0.0)


# --- OpenAI-compatible ------------------------------------------------------------------------------


def openai(
    server: StreamLoopback, api_key: str | None = "sk-test-123", **kwargs: Any
) -> OpenAICompatibleGenerator:
    return OpenAICompatibleGenerator(
        base_url=server.url + "/v1/", model="qwen2.5-7b-instruct", api_key=api_key, **kwargs
    )


COMPLETION = {
    "id": "chatcmpl-123",
    "object": "chat.completion",
    "created": 1677652288,
    "model": "qwen2.5-7b-instruct",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Zwischen 11 und 15 Uhr."},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 21, "completion_tokens": 9, "total_tokens": 30},
}


def test_openai_generate_posts_the_documented_request_with_bearer_key() -> None:
    with (
        stream_server({("POST", "/v1/chat/completions"): lambda _: json_reply(COMPLETION)}) as server,
        closing(openai(server)) as gen,
    ):
        generator: Generator = gen
        assert (generator.name, generator.model) == ("openai", "qwen2.5-7b-instruct")
        answer = generator.generate(MESSAGES, max_tokens=300, temperature=0.2)

    assert answer == "Zwischen 11 und 15 Uhr."
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["Authorization"] == "Bearer sk-test-123"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "model": "qwen2.5-7b-instruct",
        "messages": WIRE_MESSAGES,
        "max_tokens": 300,
        "temperature": 0.2,
        "stream": False,
    }


def test_openai_without_key_sends_no_authorization_header() -> None:
    with (
        stream_server({("POST", "/v1/chat/completions"): lambda _: json_reply(COMPLETION)}) as server,
        closing(openai(server, api_key=None)) as gen,
    ):
        gen.generate(MESSAGES, max_tokens=8, temperature=0.0)
        with closing(openai(server, api_key="")) as empty_key:
            empty_key.generate(MESSAGES, max_tokens=8, temperature=0.0)
    assert all("Authorization" not in r.headers for r in server.requests)


def test_openai_stream_parses_server_sent_events_as_they_arrive() -> None:
    gate = threading.Event()
    released: list[bool] = []

    def completions(_: Recorded) -> Reply:
        def body() -> Iterator[bytes]:
            yield sse([openai_chunk("", role=True), openai_chunk("Zwischen")]).encode()
            released.append(gate.wait(timeout=10))
            yield b": keep-alive comment\n\n"
            yield sse([openai_chunk(" 11 und"), openai_chunk(None)]).encode()
            # One event split across chunks, mid-JSON.
            yield from chunks(sse([openai_chunk(" 15 Uhr.")]), 5)
            yield sse([openai_chunk(None, finish_reason="stop"), "[DONE]"]).encode()

        return 200, {"Content-Type": "text/event-stream"}, body()

    with (
        stream_server({("POST", "/v1/chat/completions"): completions}) as server,
        closing(openai(server)) as gen,
    ):
        pieces = gen.stream(MESSAGES, max_tokens=128, temperature=0.1)
        first = next(pieces)
        gate.set()
        rest = list(pieces)

    assert [first, *rest] == ["Zwischen", " 11 und", " 15 Uhr."]
    assert "".join([first, *rest]) == "Zwischen 11 und 15 Uhr."
    assert released == [True]
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-test-123"
    assert request.json() == {
        "model": "qwen2.5-7b-instruct",
        "messages": WIRE_MESSAGES,
        "max_tokens": 128,
        "temperature": 0.1,
        "stream": True,
    }


def test_openai_stream_end_conditions() -> None:
    streams = {
        # llama.cpp-style: no `[DONE]`, but the last chunk carries a finish_reason → a complete answer.
        "finish-no-done": sse([openai_chunk("Ja"), openai_chunk(None, finish_reason="length")]),
        # `data:` without the optional space, CRLF line ends, a usage chunk with empty choices.
        "compact": "data:" + json.dumps(openai_chunk("Ja")) + "\r\n\r\n"
        'data:{"choices": [], "usage": {"total_tokens": 3}}\r\n\r\ndata:[DONE]\r\n\r\n',
        "truncated": sse([openai_chunk("Ja"), openai_chunk(" und")]),
        "error-event": sse(
            [openai_chunk("Ja"), {"error": {"message": "CUDA out of memory", "type": "server_error"}}]
        ),
        "json-instead": json.dumps(COMPLETION),
    }

    def completions(request: Recorded) -> Reply:
        kind = request.json()["messages"][0]["content"]
        content_type = "application/json" if kind == "json-instead" else "text/event-stream"
        return 200, {"Content-Type": content_type}, [streams[kind].encode()]

    def run(kind: str) -> list[str]:
        return list(gen.stream([ChatMessage(role="user", content=kind)], max_tokens=8, temperature=0.0))

    with (
        stream_server({("POST", "/v1/chat/completions"): completions}) as server,
        closing(openai(server)) as gen,
    ):
        assert run("finish-no-done") == ["Ja"]
        assert run("compact") == ["Ja"]
        assert run("json-instead") == ["Zwischen 11 und 15 Uhr."]
        with pytest.raises(BackendUnavailableError, match=r"ended the stream before `data: \[DONE\]`"):
            run("truncated")
        with pytest.raises(BackendUnavailableError, match="reported an error: CUDA out of memory") as info:
            run("error-event")
        assert info.value.component == "generator"


def test_openai_http_errors_report_status_and_body() -> None:
    replies = {
        "500": json_reply(
            {"error": {"message": "Internal server error", "type": "InternalServerError"}}, 500
        ),
        "401": json_reply(
            {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}, 401
        ),
        "404": json_reply(
            {"object": "error", "message": "The model `qwen2.5-7b-instruct` does not exist.", "code": 404},
            404,
        ),
    }

    def completions(request: Recorded) -> Reply:
        return replies[request.json()["messages"][0]["content"]]

    def call(kind: str, streaming: bool) -> BackendUnavailableError:
        messages = [ChatMessage(role="user", content=kind)]
        method = gen.stream if streaming else gen.generate
        with pytest.raises(BackendUnavailableError) as info:
            method(messages, max_tokens=8, temperature=0.0)
        assert info.value.component == "generator"
        return info.value

    with (
        stream_server({("POST", "/v1/chat/completions"): completions}) as server,
        closing(openai(server)) as gen,
    ):
        for streaming in (False, True):
            error = call("500", streaming)
            assert "HTTP 500 on /v1/chat/completions" in error.message
            assert "Internal server error" in error.message
            error = call("401", streaming)
            assert "HTTP 401" in error.message and "check the configured API key" in error.message
            error = call("404", streaming)
            assert "HTTP 404" in error.message and "does not exist" in error.message
            assert "see GET" in error.message and "/v1/models" in error.message


@pytest.mark.parametrize(
    "reply",
    [
        json_reply({"id": "x", "choices": []}),
        json_reply({"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": None}}]}),
        json_reply({"id": "x", "choices": [{"index": 0, "text": "legacy completion shape"}]}),
        json_reply({"id": "x"}),
        text_reply("Bad Gateway"),
    ],
    ids=["empty-choices", "null-content", "no-message", "no-choices", "not-json"],
)
def test_openai_malformed_answer_is_backend_unavailable(reply: Reply) -> None:
    with (
        stream_server({("POST", "/v1/chat/completions"): lambda _: reply}) as server,
        closing(openai(server)) as gen,
    ):
        with pytest.raises(BackendUnavailableError) as info:
            gen.generate(MESSAGES, max_tokens=8, temperature=0.0)
        assert info.value.component == "generator"


@pytest.mark.parametrize(
    "event",
    ["{not json}", '{"id": "x"}', '{"choices": [{"index": 0}]}', '{"choices": [{"delta": {"content": 7}}]}'],
    ids=["not-json", "no-choices", "no-delta", "non-string-content"],
)
def test_openai_malformed_stream_chunk_is_backend_unavailable(event: str) -> None:
    def completions(_: Recorded) -> Reply:
        return 200, {"Content-Type": "text/event-stream"}, [f"data: {event}\n\ndata: [DONE]\n\n".encode()]

    with (
        stream_server({("POST", "/v1/chat/completions"): completions}) as server,
        closing(openai(server)) as gen,
        pytest.raises(BackendUnavailableError),
    ):
        list(gen.stream(MESSAGES, max_tokens=8, temperature=0.0))


def test_openai_health_asks_for_the_model_list() -> None:
    models = {
        "object": "list",
        "data": [{"id": "qwen2.5-7b-instruct", "object": "model", "created": 1686935002, "owned_by": "vllm"}],
    }
    with stream_server({("GET", "/v1/models"): lambda _: json_reply(models)}) as server:
        with closing(openai(server)) as gen:
            health = gen.health()
        assert (health.name, health.kind, health.ok, health.detail) == ("generator", "openai", True, "")
        assert health.info["models"] == ["qwen2.5-7b-instruct"]
        assert server.requests[0].path == "/v1/models"
        assert server.requests[0].headers["Authorization"] == "Bearer sk-test-123"

        # Reachable but serving another model: still up (2xx), and the detail says so.
        with closing(
            OpenAICompatibleGenerator(base_url=server.url + "/v1", model="llama-3.1-8b", api_key=None)
        ) as other:
            health = other.health()
        assert (
            health.ok
            and "'llama-3.1-8b' is not among the served models: qwen2.5-7b-instruct" in health.detail
        )

    unauthorized = json_reply({"error": {"message": "Incorrect API key provided"}}, 401)
    with stream_server({("GET", "/v1/models"): lambda _: unauthorized}) as server:
        with closing(openai(server)) as gen:
            health = gen.health()
        assert not health.ok and "HTTP 401 from /v1/models" in health.detail


def test_openai_unreachable_and_timeout_are_clear_errors() -> None:
    url = closed_port_url() + "/v1"
    with closing(OpenAICompatibleGenerator(base_url=url, model="m", api_key=None, timeout_s=2.0)) as gen:
        health = gen.health()
        assert not health.ok and "unreachable" in health.detail
        with pytest.raises(BackendUnavailableError, match=rf"server at {url} unreachable: ConnectError"):
            gen.generate(MESSAGES, max_tokens=8, temperature=0.0)
        with pytest.raises(BackendUnavailableError, match="unreachable"):
            gen.stream(MESSAGES, max_tokens=8, temperature=0.0)

    def slow(_: Recorded) -> Reply:
        server.release.wait(timeout=10)
        return json_reply(COMPLETION)

    with (
        stream_server({("POST", "/v1/chat/completions"): slow}) as server,
        closing(openai(server, timeout_s=0.3)) as gen,
        pytest.raises(BackendUnavailableError, match=r"unreachable: no answer within 0\.3s"),
    ):
        gen.generate(MESSAGES, max_tokens=8, temperature=0.0)


def test_closing_a_stream_early_releases_the_connection() -> None:
    def chat(_: Recorded) -> Reply:
        def body() -> Iterator[bytes]:
            yield from ndjson([ollama_line("eins")])
            server.release.wait(timeout=10)
            yield from ndjson([ollama_line("zwei"), OLLAMA_FINAL])

        return 200, {"Content-Type": "application/x-ndjson"}, body()

    with stream_server({("POST", "/api/chat"): chat}) as server, closing(ollama(server)) as gen:
        pieces = gen.stream(MESSAGES, max_tokens=8, temperature=0.0)
        assert next(pieces) == "eins"
        pieces.close()  # type: ignore[attr-defined]  # a generator; the caller stopped reading
        # The client is still usable afterwards.
        server.routes[("POST", "/api/chat")] = lambda _: json_reply(
            {"message": {"role": "assistant", "content": "weiter"}, "done": True}
        )
        assert gen.generate(MESSAGES, max_tokens=8, temperature=0.0) == "weiter"
