"""Chat answers from an Ollama server over its documented `/api/chat` API.

Wire protocol (Ollama `docs/api.md`, "Generate a chat completion"):

* request  `POST /api/chat`
  `{"model", "messages": [{"role", "content"}], "stream", "options", "keep_alive"?}`;
  `options.num_predict` caps the generated tokens, `options.temperature` sets the sampling temperature;
* `"stream": false` → one JSON object
  `{"model", "message": {"role": "assistant", "content"}, "done": true, …}`;
* `"stream": true` → NDJSON (`application/x-ndjson`): one such object per line, each `message.content` a piece
  of the answer, the last line has `"done": true`; a failure mid-stream arrives as a line `{"error": "…"}`;
* an unknown model answers HTTP 404 `{"error": "model 'x' not found, try pulling it first"}`;
* `GET /api/tags` → `{"models": [{"name": "llama3.2:latest", "model": "llama3.2:latest", …}]}`.

No retries here: the caller falls back to an extractive answer, so every failure becomes one clear
`BackendUnavailableError("generator", …)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from luna_iems.adapters.chat_tools import tool_reply
from luna_iems.adapters.http_text import excerpt as body_excerpt
from luna_iems.adapters.http_text import read_quietly, shorten
from luna_iems.adapters.ollama import model_listed, tag_names
from luna_iems.errors import BackendUnavailableError
from luna_iems.ports import ChatMessage, ComponentHealth, ToolReply

COMPONENT = "generator"


class OllamaGenerator:
    """A chat model served by Ollama. One `httpx.Client` per instance; call `close()` when done."""

    def __init__(
        self, *, base_url: str, model: str, timeout_s: float = 120.0, keep_alive: str | None = None
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._model = model
        self._timeout_s = timeout_s
        self._keep_alive = keep_alive
        self._client = httpx.Client(
            base_url=self._base_url, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
        )

    @property
    def name(self) -> str:
        return "ollama"

    @property
    def model(self) -> str:
        return self._model

    # --- generation -------------------------------------------------------------------------------

    def generate(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float) -> str:
        sent = [{"role": m.role, "content": m.content} for m in messages]
        payload = self._post_chat(
            self._body(sent, max_tokens=max_tokens, temperature=temperature, stream=False)
        )
        return _message_content(payload, required=True)

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        """Send the request now (connection and HTTP errors raise here, before any piece is
        produced) and return an iterator over the answer's pieces. Iterate it to the end or
        `close()` it so the connection is released."""
        sent = [{"role": m.role, "content": m.content} for m in messages]
        body = self._body(sent, max_tokens=max_tokens, temperature=temperature, stream=True)
        request = self._client.build_request("POST", "/api/chat", json=body)
        try:
            response = self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if not response.is_success:
            read_quietly(response)
            raise self._status_error(response)
        return self._pieces(response)

    def chat_with_tools(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]],
        max_tokens: int,
        temperature: float,
    ) -> ToolReply:
        """One non-streamed `/api/chat` turn with `tools` (Ollama's tool calling): `message.tool_calls[]`
        carry `function.name` and `function.arguments` as an object; OpenAI-style messages are sent
        with tool-call arguments as objects, as Ollama expects."""
        sent = [_ollama_message(m) for m in messages]
        body = self._body(sent, max_tokens=max_tokens, temperature=temperature, stream=False)
        body["tools"] = list(tools)
        return tool_reply(self._post_chat(body).get("message"))

    def _pieces(self, response: httpx.Response) -> Iterator[str]:
        try:
            for line in response.iter_lines():
                if not line.strip():
                    continue
                payload = _parse_json(line, "/api/chat stream")
                self._raise_embedded_error(payload)
                piece = _message_content(payload, required=False)
                if piece:
                    yield piece
                if payload.get("done") is True:
                    return
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        finally:
            response.close()
        raise BackendUnavailableError(
            COMPONENT, f"Ollama at {self._base_url} ended the /api/chat stream before its final 'done' line"
        )

    def _post_chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """One non-streamed `/api/chat` request: its JSON object, or a `BackendUnavailableError`."""
        try:
            response = self._client.post("/api/chat", json=body)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if not response.is_success:
            raise self._status_error(response)
        payload = _parse_json(response.text, "/api/chat")
        self._raise_embedded_error(payload)
        return payload

    def _body(
        self, messages: list[dict[str, Any]], *, max_tokens: int, temperature: float, stream: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model,
            "messages": messages,
            "stream": stream,
            "options": {"num_predict": max_tokens, "temperature": temperature},
        }
        if self._keep_alive is not None:
            body["keep_alive"] = self._keep_alive
        return body

    # --- errors -----------------------------------------------------------------------------------

    def _unreachable(self, exc: httpx.HTTPError) -> BackendUnavailableError:
        if isinstance(exc, httpx.TimeoutException):
            reason = f"no answer within {self._timeout_s:g}s ({type(exc).__name__})"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        return BackendUnavailableError(COMPONENT, f"Ollama at {self._base_url} unreachable: {reason}")

    def _status_error(self, response: httpx.Response) -> BackendUnavailableError:
        excerpt = body_excerpt(response)
        if response.status_code == 404 and _mentions_missing_model(excerpt):
            return BackendUnavailableError(
                COMPONENT,
                f"Ollama at {self._base_url} does not have model '{self._model}': "
                f"run `ollama pull {self._model}` on the Ollama host (server said: {excerpt})",
            )
        return BackendUnavailableError(
            COMPONENT,
            f"Ollama at {self._base_url} answered HTTP {response.status_code} on "
            f"{response.request.url.path}: {excerpt or '(empty body)'}",
        )

    def _raise_embedded_error(self, payload: dict[str, Any]) -> None:
        error = payload.get("error")
        if error is not None:
            raise BackendUnavailableError(
                COMPONENT, f"Ollama at {self._base_url} reported an error: {shorten(str(error))}"
            )

    # --- health -----------------------------------------------------------------------------------

    def health(self) -> ComponentHealth:
        info: dict[str, Any] = {"url": self._base_url, "model": self._model}

        def result(ok: bool, detail: str = "") -> ComponentHealth:
            return ComponentHealth(name=COMPONENT, kind="ollama", ok=ok, detail=detail, info=info)

        try:
            response = self._client.get("/api/tags")
        except httpx.HTTPError as exc:
            return result(False, self._unreachable(exc).message)
        if not response.is_success:
            return result(False, f"HTTP {response.status_code} from /api/tags: {body_excerpt(response)}")
        try:
            payload = _parse_json(response.text, "/api/tags")
            available = _model_names(payload)
        except BackendUnavailableError as exc:
            return result(False, exc.message)
        info["models"] = available
        if model_listed(self._model, available):
            return result(True)
        listed = ", ".join(available) if available else "none"
        return result(
            False,
            f"model '{self._model}' is not pulled (available: {listed}); run `ollama pull {self._model}`",
        )

    def close(self) -> None:
        self._client.close()


# --- helpers ---------------------------------------------------------------------------------------


def _parse_json(text: str, where: str) -> dict[str, Any]:
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise BackendUnavailableError(
            COMPONENT, f"Ollama {where} answered something that is not JSON: {shorten(text)!r}"
        ) from exc
    if not isinstance(payload, dict):
        raise BackendUnavailableError(
            COMPONENT, f"Ollama {where} answered JSON that is not an object: {shorten(text)!r}"
        )
    return payload


def _message_content(payload: dict[str, Any], *, required: bool) -> str:
    """`message.content` of a chat response object; the final stream line may lack `message`."""
    message = payload.get("message")
    if message is None and not required:
        return ""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    raise BackendUnavailableError(
        COMPONENT,
        f"Ollama /api/chat answer has no string message.content: {shorten(json.dumps(payload))!r}",
    )


def _model_names(payload: dict[str, Any]) -> list[str]:
    names = tag_names(payload)
    if names is None:
        raise BackendUnavailableError(COMPONENT, "Ollama /api/tags answer has no 'models' list")
    return names


def _mentions_missing_model(text: str) -> bool:
    lowered = text.lower()
    return "model" in lowered and "not found" in lowered


def _ollama_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI-style chat message as Ollama takes it: tool-call arguments as objects."""
    out = dict(message)
    calls = []
    for call in message.get("tool_calls") or []:
        function = dict(call.get("function") or {})
        if isinstance(function.get("arguments"), str):
            try:
                function["arguments"] = json.loads(function["arguments"])
            except ValueError:
                function["arguments"] = {}
        calls.append({"function": function})
    if calls:
        out["tool_calls"] = calls
    return out
