"""What the ops domain receives from the wiring: built in `bootstrap`, never the whole `Container`.

Readiness and the status summary look at every backend, so ops receives their health checks as a
callable (the list is built on each call: the vector store, say, opens on first use) and the few
things the summary reads itself. A new need becomes a field here, built in
`bootstrap.Container.ops_deps`, so the domain's reach stays visible in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from luna_iems.knowledge.index import KnowledgeIndex
from luna_iems.ports import HealthCheck, VectorStore
from luna_iems.settings import Settings


@dataclass(frozen=True)
class OpsDeps:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    # Every backend's health check (the database, the ports, optional extras such as MQTT).
    health_checks: Callable[[], list[HealthCheck]]
    # Opened on first call (it loads the index into memory) and may raise when its backend is down.
    vector_store: Callable[[], VectorStore]
    knowledge_index: KnowledgeIndex
