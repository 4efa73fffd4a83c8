"""What the recommendations receive from the wiring: built in `bootstrap`, never the whole `Container`.

The knowledge domain's dependencies give the embedder (arm descriptions and the context's text are
embedded with the model that indexes the documents) and the document search.
"""

from __future__ import annotations

from dataclasses import dataclass

from luna_iems.knowledge.deps import KnowledgeDeps
from luna_iems.settings import Settings


@dataclass(frozen=True)
class RecommendDeps:
    settings: Settings
    knowledge: KnowledgeDeps
