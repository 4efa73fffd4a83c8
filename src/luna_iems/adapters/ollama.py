"""Ollama over its documented HTTP API (`/api/embed`, `/api/version`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

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
        return probe_http("embedder", "ollama", self._client, "/api/version")

    def close(self) -> None:
        self._client.close()


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
