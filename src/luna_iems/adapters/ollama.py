"""Ollama over its documented HTTP API (`POST /api/embed`; `GET /api/tags` lists the pulled models)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import httpx

from luna_iems.errors import BackendUnavailableError
from luna_iems.ports import ComponentHealth


class OllamaEmbedder:
    """Embeddings from an Ollama server. The dimension is learned from the first response."""

    def __init__(self, *, base_url: str, model: str, timeout_s: float = 30.0) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s)
        self._model = model
        self._dimension: int | None = None

    @property
    def model_name(self) -> str:
        return self._model

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = len(self.embed(["dimension probe"], kind="query")[0])
        return self._dimension

    def embed(self, texts: Sequence[str], *, kind: Literal["query", "passage"]) -> list[list[float]]:
        del kind
        if not texts:
            return []
        try:
            response = self._client.post("/api/embed", json={"model": self._model, "input": list(texts)})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise BackendUnavailableError("embedder", f"Ollama /api/embed failed: {exc}") from exc
        vectors: list[list[float]] = response.json()["embeddings"]
        self._dimension = len(vectors[0])
        return vectors

    def health(self) -> ComponentHealth:
        """Ready when the server answers and lists the configured model (`GET /api/tags`): without
        it every embed call fails, so readiness must say which model to pull."""
        return model_health("embedder", self._client, self._model)

    def close(self) -> None:
        self._client.close()


def model_health(name: str, client: httpx.Client, model: str, *, required: bool = True) -> ComponentHealth:
    """Health of an Ollama-served model: the server answers `GET /api/tags` and lists `model`."""
    info: dict[str, Any] = {"url": str(client.base_url), "model": model}

    def result(ok: bool, detail: str = "") -> ComponentHealth:
        return ComponentHealth(name=name, kind="ollama", ok=ok, required=required, detail=detail, info=info)

    try:
        response = client.get("/api/tags")
    except httpx.HTTPError as exc:
        return result(False, f"unreachable: {exc}")
    if not response.is_success:
        return result(False, f"HTTP {response.status_code} from /api/tags")
    try:
        available = tag_names(response.json())
    except ValueError:
        available = None
    if available is None:
        return result(False, "Ollama /api/tags answered without a 'models' list")
    info["models"] = available
    if model_listed(model, available):
        return result(True)
    listed = ", ".join(available) if available else "none"
    return result(False, f"model '{model}' is not pulled (available: {listed}); run `ollama pull {model}`")


def tag_names(payload: object) -> list[str] | None:
    """Model names of a `GET /api/tags` answer (`{"models": [{"name": ...}, ...]}`); None if malformed."""
    models = payload.get("models") if isinstance(payload, dict) else None
    if not isinstance(models, list):
        return None
    names: list[str] = []
    for entry in models:
        if isinstance(entry, dict):
            value = entry.get("name", entry.get("model"))
            if isinstance(value, str):
                names.append(value)
    return names


def model_listed(model: str, available: Sequence[str]) -> bool:
    """Ollama lists models with their tag; a configured name without a tag means `:latest`."""

    def canonical(name: str) -> str:
        return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"

    wanted = canonical(model)
    return any(canonical(name) == wanted for name in available)


def probe_http(
    name: str, kind: str, client: httpx.Client, path: str, *, required: bool = True
) -> ComponentHealth:
    """GET `path`; healthy on a 2xx answer."""
    try:
        response = client.get(path)
    except httpx.HTTPError as exc:
        return ComponentHealth(
            name=name, kind=kind, ok=False, required=required, detail=f"unreachable: {exc}"
        )
    ok = response.is_success
    detail = "" if ok else f"HTTP {response.status_code} from {path}"
    return ComponentHealth(
        name=name, kind=kind, ok=ok, required=required, detail=detail, info={"url": str(client.base_url)}
    )
