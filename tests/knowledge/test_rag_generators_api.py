"""POST /rag/ask with a chat model: Ollama and an OpenAI-compatible server (vLLM, llama.cpp, OpenAI).

Ollama and vLLM cannot run here, so loopback servers speak their documented wire protocols and the
real app talks to them over HTTP: Ollama's `POST /api/chat` (one JSON object, or NDJSON lines ending
with `"done": true`) and `GET /api/tags`; OpenAI's `POST /v1/chat/completions` (one completion object,
or Server-Sent Events `data: {chunk}` ending with `data: [DONE]`) and `GET /v1/models`. The embedder
stays the real in-process model (`embedding_backend="local"`; otherwise OLLAMA_URL would select
Ollama embeddings too). Each backend gets one server and one app for the module; every test sets the
model's next behaviour and reads the requests the server recorded.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from luna_iems.knowledge.seed import SEED_TAGS
from tests.conftest import make_settings
from tests.knowledge.api_support import ADMIN, chunks_of, ingest_text, running, sse_events
from tests.support.loopback import Recorded, json_reply
from tests.support.loopback_stream import Body, StreamLoopback, stream_server

EN_LABEL = "No language model is configured, so here is what your documents say, quoted, not paraphrased:"
QUESTION = "What is the peak-shaving limit for the grid import?"
MANUAL_TITLE = "Operating manual: Lunaburg municipal utility site"
Reply = tuple[int, dict[str, str], Body]


@dataclass
class Model:
    """What the fake model does next: answer `text` (streamed as `pieces`), or fail."""

    text: str = "The peak-shaving limit is 380 kW [1]."
    pieces: list[str] = field(default_factory=list)
    fail_status: int | None = None
    fail_mid_stream: bool = False


@dataclass
class Backend:
    name: str
    chat_path: str
    server: StreamLoopback
    client: TestClient
    model: Model

    def chats(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.server.requests if r.path == self.chat_path]

    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.server.requests if r.path == self.chat_path]


# --- the two wire protocols -------------------------------------------------------------------------


def _ollama_line(content: str, done: bool = False) -> bytes:
    line: dict[str, Any] = {
        "model": "llama3.1:8b",
        "created_at": "2024-08-04T08:52:19.385406455-07:00",
        "message": {"role": "assistant", "content": content},
        "done": done,
    }
    if done:
        line |= {"done_reason": "stop", "total_duration": 4883583458, "eval_count": 12}
    return json.dumps(line).encode() + b"\n"


def _ollama_chat(model: Model, request: Recorded) -> Reply:
    if model.fail_status is not None:
        return json_reply({"error": "llama runner process has terminated: exit status 2"}, model.fail_status)
    if not request.json()["stream"]:
        return json_reply(
            {
                "model": "llama3.1:8b",
                "created_at": "2023-12-12T14:13:43.416799Z",
                "message": {"role": "assistant", "content": model.text},
                "done_reason": "stop",
                "done": True,
            }
        )

    def body() -> Iterator[bytes]:
        for piece in model.pieces:
            yield _ollama_line(piece)
        if model.fail_mid_stream:
            yield json.dumps({"error": "an error was encountered while running the model"}).encode() + b"\n"
            return
        yield _ollama_line("", done=True)

    return 200, {"Content-Type": "application/x-ndjson"}, body()


def _openai_chunk(content: str | None, finish_reason: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    chunk = {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1694268190,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()


def _openai_chat(model: Model, request: Recorded) -> Reply:
    if model.fail_status is not None:
        error = {"message": "CUDA out of memory", "type": "server_error", "code": None}
        return json_reply({"error": error}, model.fail_status)
    if not request.json()["stream"]:
        return json_reply(
            {
                "id": "chatcmpl-123",
                "object": "chat.completion",
                "created": 1677652288,
                "model": "gpt-4o-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": model.text},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 21, "completion_tokens": 9, "total_tokens": 30},
            }
        )

    def body() -> Iterator[bytes]:
        for piece in model.pieces:
            yield _openai_chunk(piece)
        if model.fail_mid_stream:
            error = {"error": {"message": "the model crashed", "type": "server_error", "code": None}}
            yield f"data: {json.dumps(error)}\n\n".encode()
            return
        yield _openai_chunk(None, finish_reason="stop")
        yield b"data: [DONE]\n\n"

    return 200, {"Content-Type": "text/event-stream"}, body()


@pytest.fixture(scope="module", params=["ollama", "openai"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Backend]:
    name: str = request.param
    model = Model()
    if name == "ollama":
        chat_path = "/api/chat"
        routes = {
            ("POST", chat_path): lambda r: _ollama_chat(model, r),
            ("GET", "/api/tags"): lambda _: json_reply(
                {"models": [{"name": "llama3.1:8b", "model": "llama3.1:8b"}]}
            ),
        }
    else:
        chat_path = "/v1/chat/completions"
        routes = {
            ("POST", chat_path): lambda r: _openai_chat(model, r),
            ("GET", "/v1/models"): lambda _: json_reply({"object": "list", "data": [{"id": "gpt-4o-mini"}]}),
        }
    tmp_path = tmp_path_factory.mktemp(name)
    shutil.copyfile(sqlite_template, tmp_path / "luna.db")
    with stream_server(routes) as server:
        overrides: dict[str, Any] = (
            {"ollama_url": server.url, "generator_backend": "ollama", "embedding_backend": "local"}
            if name == "ollama"
            else {
                "openai_base_url": server.url + "/v1",
                "generator_backend": "openai",
                "openai_api_key": "sk-test-42",
            }
        )
        settings = make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'luna.db'}", **overrides)
        with running(settings) as client:
            folder = resources.files("luna_iems.knowledge").joinpath("seed")
            for file_name in ("operating-manual-lunaburg-en.md", "betriebshandbuch-lunaburg-de.md"):
                text = folder.joinpath(file_name).read_text("utf-8")
                title = text.splitlines()[0].lstrip("# ").strip()
                ingest_text(client, title, text, tags=SEED_TAGS[file_name], source=file_name)
            yield Backend(name, chat_path, server, client, model)


@pytest.fixture
def llm(backend: Backend) -> Backend:
    """The module's backend with a fresh model behaviour and an empty request log."""
    backend.model.__dict__.update(Model().__dict__)
    backend.server.requests.clear()
    return backend


def ask(backend: Backend, question: str = QUESTION, **extra: Any) -> dict[str, Any]:
    response = backend.client.post("/rag/ask", headers=ADMIN, json={"question": question, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _sources_in_prompt(system: str) -> list[tuple[int, str]]:
    """(n, label) of the delimited sources of prompt luna-v2: `<<<SOURCE [n] title, heading>>>`."""
    found = re.findall(r"^<<<SOURCE \[(\d+)\] ([^\n]+)>>>$", system, flags=re.MULTILINE)
    return [(int(n), label) for n, label in found]


# --- tests -------------------------------------------------------------------------------------------


def test_answer_comes_from_the_model_with_the_sources_and_the_persona_in_the_prompt(llm: Backend) -> None:
    body = ask(llm)
    assert body["generator"] == llm.name
    assert body["answer"] == "The peak-shaving limit is 380 kW [1]."
    assert (body["found_relevant"], body["language"], body["notes"]) == (True, "en", [])
    assert [c["n"] for c in body["citations"]] == [1]  # only the cited source is returned

    (chat,) = llm.chats()
    assert chat["stream"] is False
    if llm.name == "ollama":
        assert chat["model"] == "llama3.1:8b"
        assert chat["options"] == {"num_predict": 512, "temperature": 0.2}
    else:
        assert (chat["model"], chat["max_tokens"], chat["temperature"]) == ("gpt-4o-mini", 512, 0.2)
        assert llm.chat_requests()[0].headers["Authorization"] == "Bearer sk-test-42"
    system, user = chat["messages"]
    assert user == {"role": "user", "content": QUESTION}
    assert system["role"] == "system"
    prompt = system["content"]
    # the persona and rules of the versioned prompt, for English
    template = resources.files("luna_iems.knowledge").joinpath("prompts/luna-v2.md").read_text("utf-8")
    head = template.split("$context")[0].replace("$language_name", "English")
    assert prompt.startswith(head)
    assert "You are Luna" in prompt
    # numbered sources 1..k, the first being the cited chunk, with its full text
    sources = _sources_in_prompt(prompt.removeprefix(head))
    assert [n for n, _ in sources] == list(range(1, len(sources) + 1))
    assert len(sources) >= 1  # only the sources whose evidence is close to the best (issue 14)
    (cited,) = body["citations"]
    assert sources[0][1].startswith(cited["title"] + ", ")  # title, then its heading
    chunk = next(c for c in chunks_of(llm.client, cited["item_id"]) if c["chunk_id"] == cited["chunk_id"])
    body_text = chunk["text"].removeprefix(" > ".join(chunk["heading_path"]) + ": ")
    assert body_text != chunk["text"]
    assert f"{sources[0][1]}>>>\n{body_text}\n<<<END SOURCE [1]>>>" in prompt
    assert "380 kW" in prompt


def test_german_question_asks_the_model_for_german(llm: Backend) -> None:
    llm.model.text = "Die Kappungsgrenze liegt bei 380 kW [1]."
    body = ask(llm, "Wie hoch ist die Kappungsgrenze für den Netzbezug?")
    assert (body["language"], body["answer"]) == ("de", "Die Kappungsgrenze liegt bei 380 kW [1].")
    prompt = llm.chats()[0]["messages"][0]["content"]
    assert "Answer in the language of the question: German (Deutsch)." in prompt
    assert "Kappungsgrenze von 380 kW" in prompt


def test_reference_to_a_source_that_was_not_given_is_removed(llm: Backend) -> None:
    llm.model.text = "The limit is 380 kW [1]. The battery is enormous [7]."
    body = ask(llm)
    assert "[7]" not in body["answer"]
    assert body["answer"] == "The limit is 380 kW [1]. The battery is enormous ."
    assert body["notes"] == ["removed references to sources that were not given: [7]"]
    assert [c["n"] for c in body["citations"]] == [1]


def test_answer_without_any_citation_lists_no_source_with_a_note(llm: Backend) -> None:
    """Issue 14: sources the answer does not cite are not returned (before, all were listed)."""
    llm.model.text = "It is 380 kW."
    body = ask(llm)
    assert body["answer"] == "It is 380 kW."
    assert body["notes"] == ["the model cited no source; no document backs this answer"]
    assert body["citations"] == []


def test_model_error_falls_back_to_an_extractive_answer(llm: Backend) -> None:
    llm.model.fail_status = 500
    body = ask(llm)
    assert body["generator"] == "extractive"
    assert body["answer"].startswith(EN_LABEL) and "380 kW" in body["answer"]
    (note,) = body["notes"]
    assert note.startswith(f"the {llm.name} model could not answer (")
    assert "HTTP 500" in note and note.endswith("; extractive answer")
    assert body["found_relevant"] is True and body["citations"]
    assert len(llm.chats()) == 1


def test_unrelated_question_does_not_call_the_model(llm: Backend) -> None:
    body = ask(llm, "What is the capital of France?")
    assert (body["found_relevant"], body["citations"], body["generator"]) == (False, [], "extractive")
    assert llm.chats() == []


def test_follow_up_sends_the_previous_turn_as_history(llm: Backend) -> None:
    first = ask(llm)
    llm.model.text = "From October to March, 30 % state of charge is reserved [1]."
    second = ask(llm, "And what reserve is kept in winter?", conversation_id=first["conversation_id"])
    assert second["conversation_id"] == first["conversation_id"]
    messages = llm.chats()[1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1:] == [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first["answer"]},
        {"role": "user", "content": "And what reserve is kept in winter?"},
    ]
    assert "30 %" in messages[0]["content"]  # retrieval used the follow-up together with the question


def _stream(backend: Backend, question: str = QUESTION) -> list[tuple[str, Any]]:
    with backend.client.stream(
        "POST", "/rag/ask", headers=ADMIN, json={"question": question, "stream": True}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return sse_events(response.read().decode())


def test_streaming_passes_the_model_tokens_through(llm: Backend) -> None:
    llm.model.pieces = ["The peak-shaving ", "limit is ", "380 kW", " [1]."]
    events = _stream(llm)
    assert [name for name, _ in events] == ["citations", "token", "token", "token", "token", "done"]
    assert [data for name, data in events if name == "token"] == llm.model.pieces
    citations, done = events[0][1], events[-1][1]
    assert len(citations) >= 1
    assert done["answer"] == "The peak-shaving limit is 380 kW [1]."
    assert (done["generator"], done["notes"]) == (llm.name, [])
    assert done["citations"] == [citations[0]]
    (chat,) = llm.chats()
    assert chat["stream"] is True


def test_streaming_removes_invalid_references_in_the_final_answer(llm: Backend) -> None:
    llm.model.pieces = ["380 kW [1]", " and [9]."]
    done = _stream(llm)[-1][1]
    assert done["answer"] == "380 kW [1] and ."
    assert done["notes"] == ["removed references to sources that were not given: [9]"]


def test_streaming_model_error_falls_back_to_an_extractive_answer(llm: Backend) -> None:
    llm.model.fail_status = 503
    events = _stream(llm)
    assert [name for name, _ in events] == ["citations", "token", "done"]
    done = events[-1][1]
    assert events[1][1] == done["answer"]
    assert done["generator"] == "extractive" and done["answer"].startswith(EN_LABEL)
    assert done["notes"][0].startswith(f"the {llm.name} model could not answer")


def test_streaming_model_error_mid_stream_keeps_tokens_and_done_consistent(llm: Backend) -> None:
    llm.model.pieces = ["The peak-shaving ", "limit is "]
    llm.model.fail_mid_stream = True
    events = _stream(llm)
    done = events[-1][1]
    assert done["generator"] == "extractive"
    names = [name for name, _ in events]
    assert "reset" in names, "tokens of the failed answer must be withdrawn"
    after_reset = events[len(names) - 1 - names[::-1].index("reset") :]
    assert "".join(data for name, data in after_reset if name == "token") == done["answer"]
