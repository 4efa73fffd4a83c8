"""The process-wide lexical side of retrieval: the BM25 index plus what filters need per chunk.

SQL is the source of truth (each chunk row stores its stemmed term counts); this in-memory copy is
loaded once (lazily, or by the warm-up at start) and then kept current by ingest and delete, so a
query never rebuilds anything. One service process owns one copy.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from luna_iems.knowledge.lexical import LexicalIndex, from_term_counts
from luna_iems.knowledge.models import Item, ItemChunk

log = logging.getLogger("luna_iems.knowledge.index")


@dataclass(frozen=True, slots=True)
class ChunkMeta:
    item_id: str
    tags: frozenset[str]
    created_at: datetime
    lead: bool = False  # the document's first chunk (title and opening)


@dataclass(frozen=True, slots=True)
class IndexEntry:
    chunk_id: str
    terms: Sequence[str]
    meta: ChunkMeta


class KnowledgeIndex:
    def __init__(self) -> None:
        self.lexical = LexicalIndex()
        self._meta: dict[str, ChunkMeta] = {}
        self._lock = threading.RLock()
        self._loaded = False

    @property
    def loaded(self) -> bool:
        return self._loaded

    def ensure_loaded(self, session_factory: sessionmaker[Session]) -> None:
        """Load every chunk's terms from SQL once (thread-safe; later calls return at once)."""
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            started = time.perf_counter()
            count = 0
            with session_factory() as session:
                rows = session.execute(_ENTRY_QUERY).yield_per(5000)
                for row in rows:
                    self._add(_entry(row))
                    count += 1
            self._loaded = True
            log.info(
                "lexical index loaded",
                extra={"chunks": count, "seconds": round(time.perf_counter() - started, 3)},
            )

    def _add(self, entry: IndexEntry) -> None:
        self.lexical.add(entry.chunk_id, entry.terms)
        self._meta[entry.chunk_id] = entry.meta

    def replace(self, *, remove: Iterable[str], add: Iterable[IndexEntry]) -> None:
        """Apply a committed change (only once the index has been loaded; otherwise the load sees it)."""
        with self._lock:
            if not self._loaded:
                return
            for chunk_id in remove:
                self.lexical.remove(chunk_id)
                self._meta.pop(chunk_id, None)
            for entry in add:
                self._add(entry)

    def reconcile(self, session_factory: sessionmaker[Session], *, fix: bool) -> tuple[int, int]:
        """Compare the loaded index with the committed chunks: (extra entries, missing chunks); with
        `fix`, drop the extra ones and load the missing ones. Under the lock, with the database read
        inside it, so a concurrent ingest or delete (which applies its change here after its commit,
        under the same lock) cannot interleave. Not loaded: (0, 0), the load will read SQL anyway."""
        with self._lock:
            if not self._loaded:
                return 0, 0
            with session_factory() as session:
                committed = {str(c) for c in session.scalars(select(ItemChunk.chunk_id))}
                extra = set(self._meta) - committed
                missing = committed - set(self._meta)
                if fix:
                    for chunk_id in extra:
                        self.lexical.remove(chunk_id)
                        self._meta.pop(chunk_id, None)
                    wanted = [uuid.UUID(c) for c in missing]
                    for start in range(0, len(wanted), 500):
                        for entry in self._entries(session, wanted[start : start + 500]):
                            self._add(entry)
            return len(extra), len(missing)

    @staticmethod
    def _entries(session: Session, chunk_ids: Sequence[uuid.UUID]) -> list[IndexEntry]:
        rows = session.execute(_ENTRY_QUERY.where(ItemChunk.chunk_id.in_(chunk_ids)))
        return [_entry(row) for row in rows]

    def allowed(
        self,
        *,
        tags: Sequence[str] | None,
        item_ids: Sequence[str] | None,
        created_from: datetime | None,
        created_to: datetime | None,
        lead_only: bool = False,
    ) -> set[str] | None:
        """Chunk ids passing the filters, or None when there are no filters."""
        if not (tags or item_ids or created_from or created_to or lead_only):
            return None
        wanted_tags = set(tags or [])
        wanted_items = set(item_ids or [])
        with self._lock:
            return {
                chunk_id
                for chunk_id, meta in self._meta.items()
                if (not wanted_tags or meta.tags & wanted_tags)
                and (not wanted_items or meta.item_id in wanted_items)
                and (created_from is None or meta.created_at >= created_from)
                and (created_to is None or meta.created_at <= created_to)
                and (not lead_only or meta.lead)
            }

    def __len__(self) -> int:
        return len(self._meta)


# What the lexical index keeps per chunk, read at load and when a repair adds missing chunks.
_ENTRY_QUERY = select(
    ItemChunk.chunk_id, ItemChunk.terms, ItemChunk.chunk_idx, Item.item_id, Item.tags, Item.created_at
).join(Item, Item.item_id == ItemChunk.item_id)


def _entry(row: Sequence[Any]) -> IndexEntry:
    """One row of `_ENTRY_QUERY` as an index entry."""
    chunk_id, terms, chunk_idx, item_id, tags, created_at = row
    return IndexEntry(
        str(chunk_id),
        from_term_counts(terms or {}),
        ChunkMeta(str(item_id), frozenset(tags or []), created_at, lead=chunk_idx == 0),
    )
