"""Conversation memory: what Luna remembers of a customer, per API key, and how to see and forget it.

A key's memory is its site and the preferences it stated, set through `PUT /memory` or captured from
its questions ("I prefer …", "please always …", "my site is X", "Ich bevorzuge …", "bitte immer …",
"meine Anlage ist X") by fixed patterns, never by a model, so what is stored is predictable. Luna puts
it into the prompt as data about the customer (`context_for`), never as instructions. Everything is per
key: no route shows or deletes another key's memory or conversations, whatever the caller's role.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from luna_iems.db.base import utcnow
from luna_iems.errors import LunaError, NotFoundError
from luna_iems.telemetry.events.privacy import personal_data_in_text
from luna_iems.telemetry.memory import repository
from luna_iems.telemetry.memory.models import Memory
from luna_iems.telemetry.memory.schemas import (
    MAX_CONVERSATIONS_LISTED,
    MAX_PREFERENCES,
    MAX_TURNS_LISTED,
    PREFERENCE_MAX_CHARS,
    TITLE_MAX_CHARS,
    ConversationRead,
    ConversationSummary,
    MemoryRead,
    MemoryUpdate,
    TurnRead,
)
from luna_iems.timeseries import service as timeseries_service

_CLAUSE = r"(?P<text>[^.!?;\n]{2,})"
_SITE = r"[\"'„“]?(?P<site>[\w\-]{1,100})"
# (pattern, how the captured text is stored): "prefers {text}", "always {text}", ...
_PREFERENCE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"\bI(?: would|'d)? prefer\s+{_CLAUSE}", re.IGNORECASE), "prefers {text}"),
    (re.compile(rf"\bplease always\s+{_CLAUSE}", re.IGNORECASE), "always {text}"),
    (re.compile(rf"\bich bevorzuge\s+{_CLAUSE}", re.IGNORECASE), "bevorzugt {text}"),
    (re.compile(rf"\bich möchte immer\s+{_CLAUSE}", re.IGNORECASE), "immer {text}"),
    (re.compile(rf"\bbitte immer\s+{_CLAUSE}", re.IGNORECASE), "immer {text}"),
)
_SITE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(rf"\b(?:my|our) (?:site|plant) is(?: called| named)?\s+{_SITE}", re.IGNORECASE),
    re.compile(rf"\b(?:meine|unsere) (?:Anlage|Liegenschaft|Site) (?:ist|heißt)\s+{_SITE}", re.IGNORECASE),
    re.compile(rf"\b(?:mein|unser) Standort (?:ist|heißt)\s+{_SITE}", re.IGNORECASE),
)


@dataclass(frozen=True)
class MemoryContext:
    """A key's customer context, for the prompt: data about the customer, not instructions."""

    site: str | None
    preferences: list[str] = field(default_factory=list)

    def as_text(self) -> str:
        lines = []
        if self.site:
            lines.append(f"- site: {self.site}")
        lines += [f"- stated preference: {p}" for p in self.preferences]
        return "\n".join(lines)


def _site_known(session: Session, site: str) -> bool:
    try:
        timeseries_service.meters_in_scope(session=session, meter_id=None, site=site)
    except LunaError:
        return False
    return True


def _memory_read(session: Session, key_id: uuid.UUID, memory: Memory | None) -> MemoryRead:
    rows = repository.conversations_of_key(session=session, key_id=key_id, limit=MAX_CONVERSATIONS_LISTED)
    ids = [c.conversation_id for c, _ in rows]
    questions = repository.first_questions(session=session, conversation_ids=ids)
    return MemoryRead(
        site=memory.site if memory else None,
        preferences=list(memory.preferences) if memory else [],
        updated_at=memory.updated_at if memory else None,
        conversations=[
            ConversationSummary(
                conversation_id=c.conversation_id,
                created_at=c.created_at,
                updated_at=c.updated_at,
                turns=n,
                first_question=_title(questions.get(c.conversation_id)),
            )
            for c, n in rows
        ],
        conversations_total=repository.count_conversations(session=session, key_id=key_id),
    )


def get_memory(*, session: Session, key_id: uuid.UUID) -> MemoryRead:
    """The key's memory (empty if nothing is remembered) and its conversations with turn counts."""
    return _memory_read(session, key_id, repository.get_memory(session=session, key_id=key_id))


def _memory_for_update(session: Session, key_id: uuid.UUID) -> Memory:
    memory = repository.get_memory(session=session, key_id=key_id)
    if memory is None:
        memory = repository.add_memory(
            session=session, memory=Memory(key_id=key_id, site=None, preferences=[], updated_at=utcnow())
        )
    return memory


def put_memory(*, session: Session, key_id: uuid.UUID, memory_in: MemoryUpdate) -> MemoryRead:
    """Replace the key's site and preferences. Raises NotFoundError (404) for a site no meter has."""
    if memory_in.site is not None:
        timeseries_service.meters_in_scope(session=session, meter_id=None, site=memory_in.site)
    memory = _memory_for_update(session, key_id)
    memory.site = memory_in.site
    memory.preferences = _deduplicated(memory_in.preferences)
    memory.updated_at = utcnow()
    session.commit()
    return _memory_read(session, key_id, memory)


def forget(*, session: Session, key_id: uuid.UUID) -> None:
    """Forget everything of the key: its memory, all its conversations and turns, and the feedback it
    gave (comments may hold what it said). Aggregates already learnt (the recommender's) stay."""
    repository.delete_conversations(session=session, key_id=key_id, conversation_id=None)
    repository.delete_labels_of_key(session=session, key_id=key_id)
    repository.delete_memory(session=session, key_id=key_id)
    session.commit()


def _owned_conversation(session: Session, key_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
    conversation = repository.get_conversation(session=session, conversation_id=conversation_id)
    # Another key's conversation gets the same 404 as none, so ids reveal nothing.
    if conversation is None or conversation.key_id != key_id:
        raise NotFoundError(
            f"conversation {conversation_id} does not exist",
            details={"conversation_id": str(conversation_id)},
        )


def get_conversation(*, session: Session, key_id: uuid.UUID, conversation_id: uuid.UUID) -> ConversationRead:
    """The turns of one of the key's conversations, oldest first; NotFoundError for any other."""
    _owned_conversation(session, key_id, conversation_id)
    conversation = repository.get_conversation(session=session, conversation_id=conversation_id)
    assert conversation is not None
    turns = repository.turns(session=session, conversation_id=conversation_id, limit=MAX_TURNS_LISTED)
    return ConversationRead(
        conversation_id=conversation.conversation_id,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        turns=[
            TurnRead(
                answer_id=t.turn_id,
                question=t.question,
                answer=t.answer,
                generator=t.generator,
                citations=list(t.citations),
                created_at=t.created_at,
            )
            for t in turns
        ],
    )


def delete_conversation(*, session: Session, key_id: uuid.UUID, conversation_id: uuid.UUID) -> None:
    """Delete one of the key's conversations with its turns and the feedback on them."""
    _owned_conversation(session, key_id, conversation_id)
    repository.delete_conversations(session=session, key_id=key_id, conversation_id=conversation_id)
    session.commit()


def _deduplicated(preferences: list[str]) -> list[str]:
    # Case-insensitive; a restated preference moves to the end (newest); the oldest drop beyond the limit.
    out: dict[str, str] = {}
    for preference in preferences:
        text = " ".join(preference.split())
        out.pop(text.casefold(), None)
        out[text.casefold()] = text
    return list(out.values())[-MAX_PREFERENCES:]


def _clip(text: str) -> str:
    text = " ".join(text.split()).strip(" ,:-\"'“”„")
    if len(text) <= PREFERENCE_MAX_CHARS:
        return text
    return text[:PREFERENCE_MAX_CHARS].rsplit(" ", 1)[0]


def _title(question: str | None) -> str | None:
    """A conversation's first question on one line, cut at a word before TITLE_MAX_CHARS with '…'."""
    if question is None:
        return None
    text = " ".join(question.split())
    if len(text) <= TITLE_MAX_CHARS:
        return text
    return text[: TITLE_MAX_CHARS - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def captured(question: str) -> tuple[str | None, list[str]]:
    """The site named and the preferences stated in `question` (patterns only, no model)."""
    site = next((m.group("site") for p in _SITE_PATTERNS if (m := p.search(question))), None)
    preferences: list[str] = []
    for pattern, shape in _PREFERENCE_PATTERNS:
        for match in pattern.finditer(question):
            text = _clip(shape.format(text=match.group("text")))
            if text and personal_data_in_text(text) is None:
                preferences.append(text)
    return site, preferences


def remember_from_question(session: Session, key_id: uuid.UUID, question: str) -> list[str]:
    """Store the site (if some meter has it) and the preferences stated in `question` in the key's
    memory; returns what was noted ("site: plant", "prefers answers in kWh"), empty if nothing.
    Adds to the session without committing: the caller commits with the conversation turn."""
    site, preferences = captured(question)
    if site is not None and not _site_known(session, site):
        site = None
    if site is None and not preferences:
        return []
    memory = _memory_for_update(session, key_id)
    noted: list[str] = []
    if site is not None and site != memory.site:
        memory.site = site
        noted.append(f"site: {site}")
    if preferences:
        new = [p for p in preferences if p.casefold() not in {q.casefold() for q in memory.preferences}]
        memory.preferences = _deduplicated([*memory.preferences, *preferences])
        noted += new
    if noted:
        memory.updated_at = utcnow()
    session.flush()
    return noted


def context_for(session: Session, key_id: uuid.UUID) -> MemoryContext | None:
    """The key's customer context for the prompt; None if nothing is remembered."""
    memory = repository.get_memory(session=session, key_id=key_id)
    if memory is None or (memory.site is None and not memory.preferences):
        return None
    return MemoryContext(site=memory.site, preferences=list(memory.preferences))
