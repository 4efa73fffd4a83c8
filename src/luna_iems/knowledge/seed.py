"""Sample documents for a fresh instance: an energy glossary and an operating manual for a fictional
plant, in English and German, so Luna answers questions at once."""

from __future__ import annotations

import logging
from importlib import resources

from sqlalchemy import func, select

from luna_iems.knowledge import service as knowledge_service
from luna_iems.knowledge.deps import KnowledgeDeps
from luna_iems.knowledge.models import Item
from luna_iems.knowledge.schemas import TextIn

log = logging.getLogger("luna_iems.knowledge.seed")

SEED_TAGS = {
    "energy-glossary-en.md": ["seed", "glossary", "en"],
    "energie-glossar-de.md": ["seed", "glossary", "de"],
    "operating-manual-lunaburg-en.md": ["seed", "manual", "en"],
    "betriebshandbuch-lunaburg-de.md": ["seed", "manual", "de"],
}


def needs_seed(deps: KnowledgeDeps) -> bool:
    with deps.session_factory() as session:
        return not int(session.scalar(select(func.count()).select_from(Item)) or 0)


def seed_documents(deps: KnowledgeDeps, *, force: bool = False) -> str | None:
    """Ingest the sample documents (idempotent: the same text is a duplicate). Without `force`, only
    into an empty knowledge base. Returns a one-line summary, or None when skipped."""
    if not force and not needs_seed(deps):
        return None
    folder = resources.files("luna_iems.knowledge").joinpath("seed")
    chunks = 0
    for name, tags in SEED_TAGS.items():
        text = folder.joinpath(name).read_text("utf-8")
        title = text.splitlines()[0].lstrip("# ").strip()
        result = knowledge_service.ingest_text(
            deps=deps, text_in=TextIn(title=title, text=text, tags=tags, source=f"seed:{name}")
        )
        chunks += result.chunks
    log.info("sample documents indexed", extra={"documents": len(SEED_TAGS), "chunks": chunks})
    return f"{len(SEED_TAGS)} sample documents (glossary and operating manual, EN and DE), {chunks} chunks"
