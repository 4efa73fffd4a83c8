"""What the knowledge domain receives from the wiring: built in `bootstrap`, never the whole `Container`.

Ingest, retrieval, RAG, the seed and the reconcile open their own sessions and use the ports below.
Two of them stay lazy, as they are in the container: the vector store (opening the embedded index
loads it into memory, and some start-up paths must not) and the word-piece counter (it loads the
model's tokenizer). Both are opened on first use through the properties, then cached by the
container. A new need (a port) becomes a field here, built in `bootstrap.Container.knowledge_deps`,
so the domain's reach stays visible in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from luna_iems.knowledge.index import KnowledgeIndex
from luna_iems.ports import Embedder, Extractor, Generator, ObjectStore, VectorStore
from luna_iems.settings import Settings


@dataclass(frozen=True)
class KnowledgeDeps:
    session_factory: sessionmaker[Session]
    settings: Settings
    embedder: Embedder
    object_store: ObjectStore
    extractor: Extractor
    # None: no chat model configured; Luna answers extractively.
    generator: Generator | None
    knowledge_index: KnowledgeIndex
    open_vector_store: Callable[[], VectorStore]
    load_token_counter: Callable[[], Callable[[str], int]]

    @property
    def vector_store(self) -> VectorStore:
        """Opened on first use (the embedded index loads into memory)."""
        return self.open_vector_store()

    @property
    def token_counter(self) -> Callable[[str], int]:
        """Word pieces of the embedding model, for chunk sizes (loaded on first use)."""
        return self.load_token_counter()
