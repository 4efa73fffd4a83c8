"""Embedders: the real all-MiniLM-L6-v2 from the PyPI package, and the Ollama client against a
loopback server speaking Ollama's documented `/api/embed` API (Ollama cannot run here)."""

from __future__ import annotations

import numpy as np
import pytest

from luna_iems.adapters.local_embedder import LocalEmbedder
from luna_iems.adapters.ollama import OllamaEmbedder
from luna_iems.errors import BackendUnavailableError
from tests.support.loopback import json_reply, loopback_server


@pytest.mark.slow
def test_local_model_loads_offline_and_embeds_meaningfully() -> None:
    embedder = LocalEmbedder()
    assert embedder.health().ok and not embedder.loaded
    vectors = np.asarray(
        embedder.embed(
            [
                "The battery is charged when electricity prices are low.",
                "We charge the storage system during cheap hours.",
                "The cat sleeps on the sofa.",
            ],
            kind="passage",
        )
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    related, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert related > 0.5 > unrelated
    assert embedder.health().info["loaded"] is True
    assert embedder.embed([], kind="query") == []


def test_unknown_local_model_is_a_clear_error() -> None:
    with pytest.raises(BackendUnavailableError, match="unknown local embedding model"):
        LocalEmbedder(model_name="bge-m3")


def test_ollama_embedder_speaks_the_embed_api() -> None:
    def embed(request):  # type: ignore[no-untyped-def]
        body = request.json()
        return json_reply(
            {"model": body["model"], "embeddings": [[float(len(t)), 1.0, 0.0] for t in body["input"]]}
        )

    with loopback_server({("POST", "/api/embed"): embed}) as server:
        embedder = OllamaEmbedder(base_url=server.url + "/", model="nomic-embed-text")
        vectors = embedder.embed(["ab", "abcd"], kind="passage")
        assert vectors == [[2.0, 1.0, 0.0], [4.0, 1.0, 0.0]]
        assert embedder.dimension == 3
        assert server.requests[0].json() == {"model": "nomic-embed-text", "input": ["ab", "abcd"]}
        embedder.close()


def test_ollama_errors_name_the_component() -> None:
    with loopback_server({}) as server:
        embedder = OllamaEmbedder(base_url=server.url, model="missing-model")
        with pytest.raises(BackendUnavailableError, match="Ollama /api/embed failed") as info:
            embedder.embed(["x"], kind="query")
        assert info.value.component == "embedder"
        health = embedder.health()
        assert not health.ok and "HTTP 404" in health.detail
        embedder.close()


def test_ollama_embedder_is_not_ready_until_its_model_is_pulled() -> None:
    """`GET /api/tags` is Ollama's list of pulled models (`{"models": [{"name": "x:latest", ...}]}`): the
    embedder is ready only once the configured model is in it, and says which model to pull until then."""
    pulled: list[dict[str, str]] = [{"name": "llama3.1:8b", "model": "llama3.1:8b"}]
    with loopback_server({("GET", "/api/tags"): lambda _: json_reply({"models": pulled})}) as server:
        embedder = OllamaEmbedder(base_url=server.url, model="nomic-embed-text")
        health = embedder.health()
        assert not health.ok and health.required
        assert health.name == "embedder" and health.kind == "ollama"
        assert "model 'nomic-embed-text' is not pulled" in health.detail
        assert "available: llama3.1:8b" in health.detail
        assert "ollama pull nomic-embed-text" in health.detail

        # What `ollama pull nomic-embed-text` (the compose stack's ollama-init step) leaves behind.
        pulled.append({"name": "nomic-embed-text:latest", "model": "nomic-embed-text:latest"})
        health = embedder.health()
        assert health.ok, health.detail
        assert health.info["model"] == "nomic-embed-text"
        assert "nomic-embed-text:latest" in health.info["models"]
        assert [r.path for r in server.requests] == ["/api/tags", "/api/tags"]
        embedder.close()


def test_ollama_embedder_health_reports_a_malformed_tag_list() -> None:
    with loopback_server({("GET", "/api/tags"): lambda _: json_reply({"error": "boom"})}) as server:
        embedder = OllamaEmbedder(base_url=server.url, model="nomic-embed-text")
        health = embedder.health()
        assert not health.ok and "'models' list" in health.detail
        embedder.close()
