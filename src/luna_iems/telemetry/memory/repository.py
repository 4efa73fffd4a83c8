"""SQL of telemetry/memory: memories, and the conversations (knowledge tables) of one key."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Row, delete, func, select
from sqlalchemy.orm import Session

from luna_iems.knowledge.models import Conversation, ConversationTurn
from luna_iems.telemetry.memory.models import Memory
from luna_iems.telemetry.models import Label


def get_memory(*, session: Session, key_id: uuid.UUID) -> Memory | None:
    return session.get(Memory, key_id)


def add_memory(*, session: Session, memory: Memory) -> Memory:
    session.add(memory)
    session.flush()
    return memory


def conversations_of_key(
    *, session: Session, key_id: uuid.UUID, limit: int
) -> Sequence[Row[Conversation, int]]:
    """The key's conversations with their turn counts, newest first."""
    turns = func.count(ConversationTurn.turn_id)
    statement = (
        select(Conversation, turns)
        .outerjoin(ConversationTurn, ConversationTurn.conversation_id == Conversation.conversation_id)
        .where(Conversation.key_id == key_id)
        .group_by(Conversation.conversation_id)
        .order_by(Conversation.updated_at.desc(), Conversation.conversation_id)
        .limit(limit)
    )
    return session.execute(statement).all()


def first_questions(*, session: Session, conversation_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each conversation's first question (its earliest turn), by conversation id."""
    if not conversation_ids:
        return {}
    first = (
        select(func.min(ConversationTurn.turn_id).label("turn_id"))
        .where(ConversationTurn.conversation_id.in_(conversation_ids))
        .group_by(ConversationTurn.conversation_id)
        .subquery()
    )
    statement = select(ConversationTurn.conversation_id, ConversationTurn.question).join(
        first, ConversationTurn.turn_id == first.c.turn_id
    )
    return {conversation_id: question for conversation_id, question in session.execute(statement).all()}


def count_conversations(*, session: Session, key_id: uuid.UUID) -> int:
    statement = select(func.count()).select_from(Conversation).where(Conversation.key_id == key_id)
    return int(session.scalar(statement) or 0)


def get_conversation(*, session: Session, conversation_id: uuid.UUID) -> Conversation | None:
    return session.get(Conversation, conversation_id)


def turns(*, session: Session, conversation_id: uuid.UUID, limit: int) -> Sequence[ConversationTurn]:
    statement = (
        select(ConversationTurn)
        .where(ConversationTurn.conversation_id == conversation_id)
        .order_by(ConversationTurn.turn_id)
        .limit(limit)
    )
    return session.scalars(statement).all()


def delete_conversations(*, session: Session, key_id: uuid.UUID, conversation_id: uuid.UUID | None) -> None:
    """Remove the key's conversations (all, or one), their turns, and the key's feedback on those answers.

    Explicit, not only ON DELETE CASCADE: the turns and labels go on every database."""
    ids = select(Conversation.conversation_id).where(Conversation.key_id == key_id)
    if conversation_id is not None:
        ids = ids.where(Conversation.conversation_id == conversation_id)
    turn_ids = select(ConversationTurn.turn_id).where(ConversationTurn.conversation_id.in_(ids))
    answer_ids = [str(t) for t in session.scalars(turn_ids)]
    if answer_ids:
        session.execute(
            delete(Label)
            .where(Label.key_id == key_id, Label.target == "answer", Label.target_id.in_(answer_ids))
            .execution_options(synchronize_session=False)
        )
    session.execute(
        delete(ConversationTurn)
        .where(ConversationTurn.conversation_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    conversations = delete(Conversation).where(Conversation.key_id == key_id)
    if conversation_id is not None:
        conversations = conversations.where(Conversation.conversation_id == conversation_id)
    session.execute(conversations.execution_options(synchronize_session=False))


def delete_memory(*, session: Session, key_id: uuid.UUID) -> None:
    session.execute(delete(Memory).where(Memory.key_id == key_id))


def delete_labels_of_key(*, session: Session, key_id: uuid.UUID) -> None:
    session.execute(delete(Label).where(Label.key_id == key_id).execution_options(synchronize_session=False))
