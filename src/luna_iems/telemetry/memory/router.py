"""HTTP for telemetry/memory: the caller's own memory and conversations (parse, call, return).

Every route acts on the calling key only: an admin sees and deletes nothing of other keys here."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, status

from luna_iems.deps import SessionDep, ViewerKey
from luna_iems.errors import AUTHENTICATED_ERRORS, BODY_ERRORS, error_responses
from luna_iems.telemetry.memory import service as memory_service
from luna_iems.telemetry.memory.schemas import ConversationRead, MemoryRead, MemoryUpdate

router = APIRouter(tags=["memory"], responses=AUTHENTICATED_ERRORS)
ConversationPath = Annotated[uuid.UUID, Path(description="A conversation_id that /rag/ask returned")]


@router.get("/memory", response_model=MemoryRead)
def get_memory(session: SessionDep, principal: ViewerKey) -> MemoryRead:
    """What Luna remembers of your key: site, stated preferences and your conversations."""
    return memory_service.get_memory(session=session, key_id=principal.key_id)


@router.put("/memory", response_model=MemoryRead, responses=BODY_ERRORS | error_responses(404))
def put_memory(body: MemoryUpdate, session: SessionDep, principal: ViewerKey) -> MemoryRead:
    """Set your site (one some meter has) and preferences; both are replaced."""
    return memory_service.put_memory(session=session, key_id=principal.key_id, memory_in=body)


@router.delete("/memory", status_code=status.HTTP_204_NO_CONTENT)
def delete_memory(session: SessionDep, principal: ViewerKey) -> None:
    """Forget everything of your key: memory, every conversation and the feedback you gave."""
    memory_service.forget(session=session, key_id=principal.key_id)


@router.get(
    "/conversations/{conversation_id}", response_model=ConversationRead, responses=error_responses(404)
)
def get_conversation(
    conversation_id: ConversationPath, session: SessionDep, principal: ViewerKey
) -> ConversationRead:
    """One of your conversations, its turns oldest first (another key's: 404, as for none)."""
    return memory_service.get_conversation(
        session=session, key_id=principal.key_id, conversation_id=conversation_id
    )


@router.delete(
    "/conversations/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
def delete_conversation(conversation_id: ConversationPath, session: SessionDep, principal: ViewerKey) -> None:
    """Delete one of your conversations with its turns."""
    memory_service.delete_conversation(
        session=session, key_id=principal.key_id, conversation_id=conversation_id
    )
