"""Build the adapters from settings: the one place that picks backends.

A backend URL in the settings selects the production engine for that concern; its absence selects
the embedded default. Domain code receives the `Container` and never asks which backend it got.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from luna_iems.adapters.local_files import LocalObjectStore
from luna_iems.db.engine import build_engine, build_session_factory
from luna_iems.ports import ComponentHealth, Embedder, HealthCheck, ObjectStore, VectorStore
from luna_iems.settings import Settings


def collection_name(prefix: str, model: str, dimension: int) -> str:
    """The collection carries model and dimension, so a changed model never mixes vector spaces."""
    slug = re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")
    return f"{prefix}__{slug}__{dimension}"


@dataclass
class Container:
    """Everything a request or job needs, built once per process."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    embedder: Embedder
    object_store: ObjectStore
    # Built on first use: opening the vector index loads it into memory.
    _vector_store_factory: Callable[[], VectorStore]
    # Optional HTTP backends (Tika, an Ollama chat host) that readiness must check when configured.
    extra_checks: list[HealthCheck] = field(default_factory=list)
    _vector_store: VectorStore | None = None

    @property
    def vector_store(self) -> VectorStore:
        if self._vector_store is None:
            self._vector_store = self._vector_store_factory()
        return self._vector_store

    def health_checks(self) -> list[HealthCheck]:
        try:
            vectors: HealthCheck = self.vector_store
        except Exception as exc:  # e.g. the embedder that gives the dimension is unreachable
            vectors = _Failed(ComponentHealth(name="vector_store", kind="unknown", ok=False, detail=str(exc)))
        return [_DatabaseCheck(self.engine), vectors, self.embedder, self.object_store, *self.extra_checks]

    def close(self) -> None:
        for component in (self._vector_store, self.embedder, self.object_store, *self.extra_checks):
            closer: Any = getattr(component, "close", None)
            if callable(closer):
                closer()
        self.engine.dispose()


class _Failed:
    def __init__(self, result: ComponentHealth) -> None:
        self._result = result

    def health(self) -> ComponentHealth:
        return self._result


class _DatabaseCheck:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def health(self) -> ComponentHealth:
        from sqlalchemy import text

        kind = self._engine.dialect.name
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any DBAPI error means "not reachable"
            return ComponentHealth(name="database", kind=kind, ok=False, detail=f"unreachable: {exc}")
        return ComponentHealth(
            name="database", kind=kind, ok=True, info={"url": self._engine.url.render_as_string()}
        )


def build_embedder(settings: Settings) -> Embedder:
    backend = settings.embedding_backend
    if backend == "ollama" or (backend == "auto" and settings.ollama_url):
        if not settings.ollama_url:
            raise ValueError("EMBEDDING_BACKEND=ollama needs OLLAMA_URL")
        from luna_iems.adapters.ollama import OllamaEmbedder

        return OllamaEmbedder(base_url=settings.ollama_url, model=settings.ollama_embed_model)
    from luna_iems.adapters.local_embedder import LocalEmbedder

    return LocalEmbedder(model_name=settings.embedding_model, batch_size=settings.embedding_batch_size)


def build_vector_store_factory(settings: Settings, embedder: Embedder) -> Callable[[], VectorStore]:
    def factory() -> VectorStore:
        name = collection_name(settings.vector_collection_prefix, embedder.model_name, embedder.dimension)
        if settings.qdrant_url:
            from luna_iems.adapters.qdrant_vectors import QdrantVectorStore

            api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
            return QdrantVectorStore(
                url=settings.qdrant_url,
                api_key=api_key,
                collection=name,
                dimension=embedder.dimension,
                timeout_s=settings.http_timeout_s,
            )
        from luna_iems.adapters.numpy_vectors import NumpyVectorStore

        return NumpyVectorStore(
            path=settings.data_dir / "vectors.db", collection=name, dimension=embedder.dimension
        )

    return factory


def build_extra_checks(settings: Settings) -> list[HealthCheck]:
    from luna_iems.adapters.ollama import HttpService

    checks: list[HealthCheck] = []
    if settings.tika_url:
        checks.append(
            HttpService(
                name="tika",
                kind="tika",
                base_url=settings.tika_url,
                probe_path="/version",
                timeout_s=settings.http_timeout_s,
            )
        )
    if settings.ollama_url:
        checks.append(
            HttpService(
                name="generator",
                kind="ollama",
                base_url=settings.ollama_url,
                probe_path="/api/version",
                timeout_s=settings.http_timeout_s,
            )
        )
    return checks


def build_container(settings: Settings) -> Container:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = build_engine(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        pool_timeout_s=settings.db_pool_timeout_s,
        echo=settings.db_echo,
    )
    embedder = build_embedder(settings)
    object_store: ObjectStore
    if settings.s3_endpoint_url:
        from luna_iems.adapters.s3_files import S3ObjectStore

        object_store = S3ObjectStore(
            endpoint_url=settings.s3_endpoint_url,
            bucket=settings.s3_bucket,
            access_key=settings.s3_access_key.get_secret_value() if settings.s3_access_key else None,
            secret_key=settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None,
            timeout_s=settings.http_timeout_s,
        )
    else:
        object_store = LocalObjectStore(settings.data_dir / "files")
    return Container(
        settings=settings,
        engine=engine,
        session_factory=build_session_factory(engine),
        embedder=embedder,
        object_store=object_store,
        _vector_store_factory=build_vector_store_factory(settings, embedder),
        extra_checks=build_extra_checks(settings),
    )
