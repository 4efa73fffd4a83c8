"""SQL of the knowledge domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from luna_iems.knowledge.models import Conversation, ConversationTurn, Item, ItemChunk, ItemVersion


def get_item(*, session: Session, item_id: uuid.UUID) -> Item | None:
    return session.get(Item, item_id)


def item_by_sha(*, session: Session, sha256: str) -> Item | None:
    return session.scalars(select(Item).where(Item.sha256 == sha256).order_by(Item.created_at)).first()


def item_by_source(*, session: Session, source: str) -> Item | None:
    return session.scalars(select(Item).where(Item.source == source).order_by(Item.created_at)).first()


def list_items(*, session: Session, tag: str | None, limit: int, offset: int) -> tuple[Sequence[Item], int]:
    query = select(Item).order_by(Item.created_at.desc(), Item.title)
    items: Sequence[Item]
    if tag is None:
        total = int(session.scalar(select(func.count()).select_from(Item)) or 0)
        items = session.scalars(query.limit(limit).offset(offset)).all()
        return items, total
    # Tags are a JSON list: filter portably in Python (document counts are modest).
    tagged = [item for item in session.scalars(query) if tag in (item.tags or [])]
    return tagged[offset : offset + limit], len(tagged)


def all_items(*, session: Session) -> Sequence[Item]:
    return session.scalars(select(Item).order_by(Item.created_at)).all()


def versions(*, session: Session, item_id: uuid.UUID) -> Sequence[ItemVersion]:
    query = select(ItemVersion).where(ItemVersion.item_id == item_id).order_by(ItemVersion.version)
    return session.scalars(query).all()


def chunk_count(*, session: Session, item_id: uuid.UUID | None = None) -> int:
    query = select(func.count()).select_from(ItemChunk)
    if item_id is not None:
        query = query.where(ItemChunk.item_id == item_id)
    return int(session.scalar(query) or 0)


def chunk_ids(*, session: Session, item_id: uuid.UUID) -> list[uuid.UUID]:
    return list(session.scalars(select(ItemChunk.chunk_id).where(ItemChunk.item_id == item_id)))


def list_chunks(*, session: Session, item_id: uuid.UUID, limit: int, offset: int) -> Sequence[ItemChunk]:
    query = (
        select(ItemChunk)
        .where(ItemChunk.item_id == item_id)
        .order_by(ItemChunk.chunk_idx)
        .limit(limit)
        .offset(offset)
    )
    return session.scalars(query).all()


def chunks_by_ids(*, session: Session, chunk_ids: Sequence[uuid.UUID]) -> list[tuple[ItemChunk, Item]]:
    if not chunk_ids:
        return []
    rows = session.execute(
        select(ItemChunk, Item)
        .join(Item, Item.item_id == ItemChunk.item_id)
        .where(ItemChunk.chunk_id.in_(chunk_ids))
    ).all()
    return [(chunk, item) for chunk, item in rows]


def iter_chunks(*, session: Session, batch: int = 500) -> Sequence[tuple[ItemChunk, Item]]:
    rows = session.execute(
        select(ItemChunk, Item)
        .join(Item, Item.item_id == ItemChunk.item_id)
        .order_by(ItemChunk.item_id, ItemChunk.chunk_idx)
        .execution_options(yield_per=batch)
    ).all()
    return [(chunk, item) for chunk, item in rows]


def delete_chunks(*, session: Session, item_id: uuid.UUID) -> None:
    session.execute(delete(ItemChunk).where(ItemChunk.item_id == item_id))


def add_chunks(*, session: Session, chunks: Sequence[ItemChunk]) -> None:
    session.add_all(chunks)


def delete_item(*, session: Session, item: Item) -> None:
    session.execute(delete(ItemChunk).where(ItemChunk.item_id == item.item_id))
    session.execute(delete(ItemVersion).where(ItemVersion.item_id == item.item_id))
    session.delete(item)


# --- conversations ----------------------------------------------------------------------------
def get_conversation(*, session: Session, conversation_id: uuid.UUID) -> Conversation | None:
    return session.get(Conversation, conversation_id)


def recent_turns(*, session: Session, conversation_id: uuid.UUID, limit: int) -> list[ConversationTurn]:
    query = (
        select(ConversationTurn)
        .where(ConversationTurn.conversation_id == conversation_id)
        .order_by(ConversationTurn.turn_id.desc())
        .limit(limit)
    )
    return list(reversed(session.scalars(query).all()))
