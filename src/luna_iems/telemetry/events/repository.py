"""SQL of telemetry/events: events by id, the multi-row insert, labels, answers (conversation turns)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from luna_iems.knowledge.models import Conversation, ConversationTurn
from luna_iems.telemetry.models import Event, Label

EVENTS: Table = Event.__table__  # type: ignore[assignment]  # declarative tables are Tables


def stored_ts(*, session: Session, event_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    """The stored `ts` of each of `event_ids` that exists (one query)."""
    wanted = list(set(event_ids))
    if not wanted:
        return {}
    rows = session.execute(select(Event.event_id, Event.ts).where(Event.event_id.in_(wanted)))
    return {event_id: ts for event_id, ts in rows}


def insert_events(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """One multi-row INSERT (Core's insertmanyvalues); the primary key refuses a replayed row.

    On the table, not the ORM class: ORM bulk inserts leave out NULL values, so rows with and without
    `duration_ms` (dwell and the rest) would split into many small statements."""
    if rows:
        session.execute(insert(EVENTS), list(rows))


def get_label(*, session: Session, dedup_key: str) -> Label | None:
    return session.scalars(select(Label).where(Label.dedup_key == dedup_key)).one_or_none()


def add_label(*, session: Session, label: Label) -> Label:
    session.add(label)
    session.flush()
    return label


def answer_of_key(*, session: Session, turn_id: int, key_id: uuid.UUID) -> ConversationTurn | None:
    """The conversation turn `turn_id` if its conversation belongs to `key_id` (or to no key)."""
    statement = (
        select(ConversationTurn)
        .join(Conversation, Conversation.conversation_id == ConversationTurn.conversation_id)
        .where(ConversationTurn.turn_id == turn_id)
        .where((Conversation.key_id == key_id) | Conversation.key_id.is_(None))
    )
    return session.scalars(statement).one_or_none()
