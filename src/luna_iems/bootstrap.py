"""Build the adapters from settings: the one place that picks backends.

A backend URL in the settings selects the production engine for that concern; its absence selects
the embedded default. Each domain receives a small dataclass of what it uses, built here
(`Container.<domain>_deps`), never the whole `Container`, and never asks which backend it got.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from luna_iems.adapters.local_files import LocalObjectStore
from luna_iems.admin.deps import AdminDeps
from luna_iems.assistant.deps import AssistantDeps
from luna_iems.db.engine import build_engine, build_session_factory
from luna_iems.decisions.deps import DecisionsDeps
from luna_iems.integrations.devices.deps import DevicesDeps
from luna_iems.integrations.dispatch.deps import DispatchDeps
from luna_iems.integrations.notify.deps import NotifyDeps
from luna_iems.integrations.prices.deps import PriceFetchDeps
from luna_iems.integrations.stream.service import StreamHub
from luna_iems.knowledge.deps import KnowledgeDeps
from luna_iems.knowledge.index import KnowledgeIndex
from luna_iems.ops.deps import OpsDeps
from luna_iems.ports import (
    ComponentHealth,
    Embedder,
    Extractor,
    Generator,
    HealthCheck,
    MessagePublisher,
    ObjectStore,
    VectorStore,
)
from luna_iems.settings import Settings
from luna_iems.tariffs.deps import TariffsDeps
from luna_iems.telemetry.recommend.deps import RecommendDeps
from luna_iems.timeseries.deps import TimeseriesDeps

if TYPE_CHECKING:
    from luna_iems.admin.backup import BackupTargets


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
    extractor: Extractor
    # Built on first use: opening the vector index loads it into memory.
    _vector_store_factory: Callable[[], VectorStore]
    # None: no chat model configured; Luna answers extractively.
    generator: Generator | None = None
    knowledge_index: KnowledgeIndex = field(default_factory=KnowledgeIndex)
    # Optional HTTP backends (Tika, an Ollama chat host) that readiness must check when configured.
    extra_checks: list[HealthCheck] = field(default_factory=list)
    _vector_store: VectorStore | None = None
    _token_counter: Callable[[str], int] | None = None
    # MQTT publisher (MQTT_URL set): built on first use, so the CLI opens no broker connection.
    _publisher_factory: Callable[[], MessagePublisher] | None = None
    _message_publisher: MessagePublisher | None = None
    _publisher_lock: threading.Lock = field(default_factory=threading.Lock)
    # Set by an activation (HTTP) to wake the dispatcher thread: one per process, shared by both.
    dispatch_wakeup: threading.Event = field(default_factory=threading.Event)
    # The live stream's poller (GET /stream/readings): one per process, built on first use.
    _stream_hub: StreamHub | None = None
    _stream_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def stream_hub(self) -> StreamHub:
        with self._stream_lock:
            if self._stream_hub is None:
                self._stream_hub = StreamHub(self.session_factory, poll_s=self.settings.stream_poll_s)
            return self._stream_hub

    @property
    def message_publisher(self) -> MessagePublisher | None:
        """The broker publisher (setpoints, Home Assistant discovery, alerts), or None without MQTT_URL.
        One per process, whichever thread asks first."""
        with self._publisher_lock:
            if self._message_publisher is None and self._publisher_factory is not None:
                self._message_publisher = self._publisher_factory()
            return self._message_publisher

    @property
    def vector_store(self) -> VectorStore:
        if self._vector_store is None:
            self._vector_store = self._vector_store_factory()
        return self._vector_store

    @property
    def decisions_deps(self) -> DecisionsDeps:
        """What the decisions domain may use (it never receives the whole container)."""
        return DecisionsDeps(session_factory=self.session_factory, settings=self.settings)

    @property
    def knowledge_deps(self) -> KnowledgeDeps:
        """What the knowledge domain may use; the vector store and the token counter stay lazy."""
        return KnowledgeDeps(
            session_factory=self.session_factory,
            settings=self.settings,
            embedder=self.embedder,
            object_store=self.object_store,
            extractor=self.extractor,
            generator=self.generator,
            knowledge_index=self.knowledge_index,
            open_vector_store=lambda: self.vector_store,
            load_token_counter=lambda: self.token_counter,
        )

    @property
    def assistant_deps(self) -> AssistantDeps:
        """What Luna's site-data answers may use: sessions, settings and the chat model (if any)."""
        return AssistantDeps(
            session_factory=self.session_factory, settings=self.settings, generator=self.generator
        )

    @property
    def recommend_deps(self) -> RecommendDeps:
        """What recommendations may use: the knowledge domain's embedder and document search."""
        return RecommendDeps(settings=self.settings, knowledge=self.knowledge_deps)

    @property
    def ops_deps(self) -> OpsDeps:
        """What readiness and the status summary may use (the vector store stays lazy)."""
        return OpsDeps(
            settings=self.settings,
            engine=self.engine,
            session_factory=self.session_factory,
            health_checks=self.health_checks,
            vector_store=lambda: self.vector_store,
            knowledge_index=self.knowledge_index,
        )

    @property
    def admin_deps(self) -> AdminDeps:
        """What the scheduled backup may use (the targets are built when a backup runs)."""
        return AdminDeps(settings=self.settings, backup_targets=self.backup_targets)

    def backup_targets(self) -> BackupTargets:
        """What a backup reads and a restore writes; opens the vector store."""
        from luna_iems.admin.backup import BackupTargets

        return BackupTargets(engine=self.engine, vectors=self.vector_store, objects=self.object_store)

    @property
    def price_fetch_deps(self) -> PriceFetchDeps:
        """What the scheduled price fetch (ENTSO-E, a URL) may use: sessions and settings."""
        return PriceFetchDeps(session_factory=self.session_factory, settings=self.settings)

    @property
    def timeseries_deps(self) -> TimeseriesDeps:
        """What the time-series domain may use (ingest, MQTT, jobs); the simulator writes through it too."""
        return TimeseriesDeps(session_factory=self.session_factory, settings=self.settings)

    @property
    def devices_deps(self) -> DevicesDeps:
        """What the field-device poller may use: it stores through the time-series ingest."""
        return DevicesDeps(settings=self.settings, timeseries=self.timeseries_deps)

    @property
    def dispatch_deps(self) -> DispatchDeps:
        """What dispatch and Home Assistant discovery may use; the publisher only when one is on."""
        settings = self.settings
        wanted = settings.dispatch_enabled or settings.ha_discovery_enabled
        return DispatchDeps(
            session_factory=self.session_factory,
            settings=settings,
            publisher=self.message_publisher if wanted else None,
            wakeup=self.dispatch_wakeup,
        )

    @property
    def notify_deps(self) -> NotifyDeps:
        """What the notification outbox may use; the MQTT publisher is opened on the first MQTT send."""
        return NotifyDeps(
            session_factory=self.session_factory,
            settings=self.settings,
            publisher=lambda: self.message_publisher,
            mqtt_enabled=self._publisher_factory is not None,
        )

    @property
    def tariffs_deps(self) -> TariffsDeps:
        """What the tariffs domain may use: the stored spot prices come from the time-series domain
        (which imports tariffs, so tariffs cannot import it)."""
        from luna_iems.timeseries.kpis import prices_per_slot

        return TariffsDeps(settings=self.settings, spot_prices=prices_per_slot)

    @property
    def token_counter(self) -> Callable[[str], int]:
        """Word pieces of the embedding model, for chunk sizes (loaded once, no torch import)."""
        if self._token_counter is None:
            from luna_iems.knowledge.wordpieces import wordpiece_counter

            self._token_counter = wordpiece_counter()
        return self._token_counter

    def health_checks(self) -> list[HealthCheck]:
        try:
            vectors: HealthCheck = self.vector_store
        except Exception as exc:  # e.g. the embedder that gives the dimension is unreachable
            vectors = _Failed(ComponentHealth(name="vector_store", kind="unknown", ok=False, detail=str(exc)))
        checks = [_DatabaseCheck(self.engine), vectors, self.embedder, self.object_store, self.extractor]
        if self.generator is not None:
            # With GENERATOR_BACKEND=auto, Luna still answers (extractively) without the chat model: not
            # required. A backend chosen by name (ollama, openai) is required: ready means it answers.
            explicit = self.settings.generator_backend in {"ollama", "openai"}
            checks.append(self.generator if explicit else _Optional(self.generator))
        if self._message_publisher is not None:
            checks.append(self._message_publisher)
        return [*checks, *self.extra_checks]

    def close(self) -> None:
        parts = (
            self._vector_store, self.embedder, self.object_store, self.extractor, self.generator,
            self._message_publisher, self._stream_hub,
        )  # fmt: skip
        for component in (*parts, *self.extra_checks):
            closer: Any = getattr(component, "close", None)
            if callable(closer):
                closer()
        self.engine.dispose()


class _Failed:
    def __init__(self, result: ComponentHealth) -> None:
        self._result = result

    def health(self) -> ComponentHealth:
        return self._result


class _Optional:
    def __init__(self, component: HealthCheck) -> None:
        self._component = component

    def health(self) -> ComponentHealth:
        return dataclasses.replace(self._component.health(), required=False)


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


def build_extractor(settings: Settings) -> Extractor:
    if settings.tika_url:
        from luna_iems.adapters.tika import TikaExtractor

        return TikaExtractor(base_url=settings.tika_url, timeout_s=max(settings.http_timeout_s, 60.0))
    from luna_iems.adapters.local_extractor import LocalExtractor

    return LocalExtractor()


def build_generator(settings: Settings) -> Generator | None:
    """The chat model for Luna's answers, or None for extractive answers (no LLM)."""
    backend = settings.generator_backend
    if backend == "extractive":
        return None
    if backend == "ollama" or (backend == "auto" and settings.ollama_url):
        if not settings.ollama_url:
            raise ValueError("GENERATOR_BACKEND=ollama needs OLLAMA_URL")
        from luna_iems.adapters.ollama_chat import OllamaGenerator

        return OllamaGenerator(
            base_url=settings.ollama_url,
            model=settings.ollama_chat_model,
            timeout_s=settings.generator_timeout_s,
        )
    if backend == "openai" or (backend == "auto" and settings.openai_base_url):
        if not settings.openai_base_url:
            raise ValueError("GENERATOR_BACKEND=openai needs OPENAI_BASE_URL")
        from luna_iems.adapters.openai_chat import OpenAICompatibleGenerator

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAICompatibleGenerator(
            base_url=settings.openai_base_url, model=settings.openai_model, api_key=key,
            timeout_s=settings.generator_timeout_s,
        )  # fmt: skip
    return None


def build_publisher_factory(settings: Settings) -> Callable[[], MessagePublisher] | None:
    """MQTT when MQTT_URL is set (paho-mqtt, its own network thread); None: nothing is published."""
    url = settings.mqtt_url
    if not url:
        return None

    def factory() -> MessagePublisher:
        from luna_iems.adapters.mqtt_publisher import MqttPublisher

        return MqttPublisher(
            url=url,
            client_id=settings.mqtt_client_id,
            availability_topic=settings.mqtt_availability_topic,
            publish_timeout_s=settings.mqtt_publish_timeout_s,
            reconnect_max_s=settings.mqtt_reconnect_max_s,
        )

    return factory


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
        extractor=build_extractor(settings),
        generator=build_generator(settings),
        _publisher_factory=build_publisher_factory(settings),
    )
