"""Chat answers from an OpenAI-compatible server (vLLM, llama.cpp `llama-server`, OpenAI itself).

Wire protocol (OpenAI API reference, "Create chat completion"); `base_url` includes the version
prefix, e.g. `http://vllm:8000/v1`:

* request  `POST {base_url}/chat/completions` `{"model", "messages": [{"role", "content"}], "max_tokens",
  "temperature", "stream"}` with `Authorization: Bearer <key>` when a key is configured;
* `"stream": false` → `{"choices": [{"index": 0, "message": {"role": "assistant", "content"}, …}], …}`;
* `"stream": true` → Server-Sent Events (`text/event-stream`): events `data: {chunk}` where each chunk is
  `{"choices": [{"delta": {"content": "piece"}, "finish_reason": null | "stop" | …}]}`, ended by
  `data: [DONE]`; errors are `{"error": {"message", "type", "code"}}` (as a body, or as an event);
* `GET {base_url}/models` → `{"object": "list", "data": [{"id": "model-name", …}]}`.

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
from luna_iems.errors import BackendUnavailableError
from luna_iems.ports import ChatMessage, ComponentHealth, ToolReply

COMPONENT = "generator"
_DONE = "[DONE]"


class OpenAICompatibleGenerator:
    """A chat model behind `/chat/completions`. One `httpx.Client` per instance; call `close()` when done."""

    def __init__(self, *, base_url: str, model: str, api_key: str | None, timeout_s: float = 120.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._model = model
        self._timeout_s = timeout_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self._base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
        )

    @property
    def name(self) -> str:
        return "openai"

    @property
    def model(self) -> str:
        return self._model

    # --- generation -------------------------------------------------------------------------------

    def generate(self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float) -> str:
        sent = [{"role": m.role, "content": m.content} for m in messages]
        body = self._body(sent, max_tokens=max_tokens, temperature=temperature, stream=False)
        return self._completion_content(self._post_completion(body))

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        """Send the request now (connection and HTTP errors raise here, before any piece is
        produced) and return an iterator over the answer's pieces. Iterate it to the end or
        `close()` it so the connection is released."""
        sent = [{"role": m.role, "content": m.content} for m in messages]
        body = self._body(sent, max_tokens=max_tokens, temperature=temperature, stream=True)
        request = self._client.build_request("POST", "chat/completions", json=body)
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
        """One non-streamed turn with `tools`: `choices[0].message.tool_calls[]` (`id`,
        `function.name`, `function.arguments` as JSON text) or the final `content`."""
        body = self._body(
            [dict(m) for m in messages], max_tokens=max_tokens, temperature=temperature, stream=False
        )
        body["tools"] = list(tools)
        payload = self._post_completion(body)
        self._raise_embedded_error(payload)
        choices = payload.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else {}
        return tool_reply(first.get("message") if isinstance(first, dict) else None)

    def _pieces(self, response: httpx.Response) -> Iterator[str]:
        finished = False  # a chunk carried a finish_reason: tolerate servers that omit `[DONE]`
        try:
            if response.headers.get("content-type", "").startswith("application/json"):
                # The server ignored `"stream": true` and answered one completion object.
                response.read()
                content = self._completion_content(_parse_json(response.text, "/chat/completions"))
                if content:
                    yield content
                return
            for data in _sse_data(response.iter_lines()):
                if data.strip() == _DONE:
                    return
                chunk = _parse_json(data, "/chat/completions stream")
                self._raise_embedded_error(chunk)
                piece, finish_reason = _delta_content(chunk)
                if piece:
                    yield piece
                finished = finished or finish_reason is not None
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        finally:
            response.close()
        if not finished:
            raise BackendUnavailableError(
                COMPONENT,
                f"OpenAI-compatible server at {self._base_url} ended the stream before `data: [DONE]`",
            )

    def _post_completion(self, body: dict[str, Any]) -> dict[str, Any]:
        """One non-streamed `chat/completions` request: its JSON object, or a `BackendUnavailableError`."""
        try:
            response = self._client.post("chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc
        if not response.is_success:
            raise self._status_error(response)
        return _parse_json(response.text, "/chat/completions")

    def _body(
        self, messages: list[dict[str, Any]], *, max_tokens: int, temperature: float, stream: bool
    ) -> dict[str, Any]:
        return {
            "model": self._model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": stream,
        }

    def _completion_content(self, payload: dict[str, Any]) -> str:
        self._raise_embedded_error(payload)
        choices = payload.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            return content
        raise BackendUnavailableError(
            COMPONENT,
            f"OpenAI-compatible server at {self._base_url} answered without a string "
            f"choices[0].message.content: {shorten(json.dumps(payload))!r}",
        )

    # --- errors -----------------------------------------------------------------------------------

    def _unreachable(self, exc: httpx.HTTPError) -> BackendUnavailableError:
        if isinstance(exc, httpx.TimeoutException):
            reason = f"no answer within {self._timeout_s:g}s ({type(exc).__name__})"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        return BackendUnavailableError(
            COMPONENT, f"OpenAI-compatible server at {self._base_url} unreachable: {reason}"
        )

    def _status_error(self, response: httpx.Response) -> BackendUnavailableError:
        excerpt = body_excerpt(response) or "(empty body)"
        status = response.status_code
        hint = ""
        if status in {401, 403}:
            hint = " (check the configured API key)"
        elif status == 404 and "model" in excerpt.lower():
            hint = f" (is model '{self._model}' served there? see GET {self._base_url}/models)"
        return BackendUnavailableError(
            COMPONENT,
            f"OpenAI-compatible server at {self._base_url} answered HTTP {status} on "
            f"{response.request.url.path}{hint}: {excerpt}",
        )

    def _raise_embedded_error(self, payload: dict[str, Any]) -> None:
        error = payload.get("error")
        if error is None:
            return
        message = error.get("message", error) if isinstance(error, dict) else error
        raise BackendUnavailableError(
            COMPONENT,
            f"OpenAI-compatible server at {self._base_url} reported an error: {shorten(str(message))}",
        )

    # --- health -----------------------------------------------------------------------------------

    def health(self) -> ComponentHealth:
        """Healthy on a 2xx `GET /models`; `info["models"]` lists what the server says it serves."""
        info: dict[str, Any] = {"url": self._base_url, "model": self._model}
        try:
            response = self._client.get("models")
        except httpx.HTTPError as exc:
            return ComponentHealth(
                name=COMPONENT, kind="openai", ok=False, detail=self._unreachable(exc).message, info=info
            )
        if not response.is_success:
            detail = f"HTTP {response.status_code} from {response.request.url.path}: {body_excerpt(response)}"
            return ComponentHealth(name=COMPONENT, kind="openai", ok=False, detail=detail, info=info)
        detail = ""
        served = _served_models(response)
        if served is not None:
            info["models"] = served
            if self._model not in served:
                listed = ", ".join(served) or "none"
                detail = f"model '{self._model}' is not among the served models: {listed}"
        return ComponentHealth(name=COMPONENT, kind="openai", ok=True, detail=detail, info=info)

    def close(self) -> None:
        self._client.close()


# --- helpers ---------------------------------------------------------------------------------------


def _sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The `data` of each Server-Sent Event (multi-line data joined by "\\n"); other fields and
    `:` comments are skipped."""
    buffer: list[str] = []
    for line in lines:
        if not line.strip():
            if buffer:
                yield "\n".join(buffer)
                buffer = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            buffer.append(value.removeprefix(" "))
    if buffer:
        yield "\n".join(buffer)


def _delta_content(chunk: dict[str, Any]) -> tuple[str, object]:
    """(`choices[0].delta.content` or "", `choices[0].finish_reason`) of a stream chunk; a chunk
    without choices (e.g. a usage report) contributes nothing."""
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        raise BackendUnavailableError(
            COMPONENT, f"stream chunk without a 'choices' list: {shorten(json.dumps(chunk))!r}"
        )
    if not choices:
        return "", None
    first = choices[0]
    delta = first.get("delta") if isinstance(first, dict) else None
    if not isinstance(first, dict) or not isinstance(delta, dict):
        raise BackendUnavailableError(
            COMPONENT, f"stream chunk without choices[0].delta: {shorten(json.dumps(chunk))!r}"
        )
    content = delta.get("content")
    if content is not None and not isinstance(content, str):
        raise BackendUnavailableError(
            COMPONENT, f"stream chunk with a non-string delta.content: {shorten(json.dumps(chunk))!r}"
        )
    return content or "", first.get("finish_reason")


def _served_models(response: httpx.Response) -> list[str] | None:
    try:
        payload = json.loads(response.text)
    except ValueError:
        return None
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        return None
    return [entry["id"] for entry in data if isinstance(entry, dict) and isinstance(entry.get("id"), str)]


def _parse_json(text: str, where: str) -> dict[str, Any]:
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise BackendUnavailableError(
            COMPONENT, f"OpenAI-compatible {where} answered something that is not JSON: {shorten(text)!r}"
        ) from exc
    if not isinstance(payload, dict):
        raise BackendUnavailableError(
            COMPONENT, f"OpenAI-compatible {where} answered JSON that is not an object: {shorten(text)!r}"
        )
    return payload
