"""Factories for the telemetry tests: events, batches, stored conversation turns, a recording double of
the recommender's `apply_reward`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from luna_iems.bootstrap import Container
from luna_iems.knowledge.models import Conversation, ConversationTurn
from luna_iems.telemetry.models import Event, Label
from luna_iems.telemetry.recommend import service as recommend_service
from tests.conftest import ADMIN_TOKEN, auth

ADMIN = auth(ADMIN_TOKEN)
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def event(**fields: Any) -> dict[str, Any]:
    """A valid event (a view of a document) with a fresh event_id; `fields` override."""
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "ts": T0.isoformat(),
        "type": "view",
        "item_kind": "document",
        "item_id": "doc-1",
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def events(n: int, **fields: Any) -> list[dict[str, Any]]:
    return [event(ts=(T0 + timedelta(seconds=i)).isoformat(), **fields) for i in range(n)]


def post_events(
    client: TestClient,
    batch: list[dict[str, Any]],
    *,
    expect: int = 200,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    response = client.post("/ingest/telemetry", json={"events": batch}, headers=headers or ADMIN)
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


def container_of(client: TestClient) -> Container:
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    return container


def session_of(client: TestClient) -> Session:
    return container_of(client).session_factory()


def stored_events(client: TestClient) -> int:
    with session_of(client) as session:
        return int(session.scalar(select(func.count()).select_from(Event)) or 0)


def labels(client: TestClient) -> list[Label]:
    with session_of(client) as session:
        return list(session.scalars(select(Label).order_by(Label.label_id)).all())


def key_id_of(client: TestClient, token: str) -> uuid.UUID:
    me = client.get("/auth/me", headers=auth(token))
    assert me.status_code == 200, me.text
    return uuid.UUID(me.json()["key_id"])


def store_turn(
    client: TestClient,
    key_id: uuid.UUID | None,
    *,
    conversation_id: uuid.UUID | None = None,
    question: str = "q?",
) -> tuple[uuid.UUID, int]:
    """A stored conversation turn of `key_id` (what /rag/ask stores); returns (conversation_id, answer_id)."""
    with session_of(client) as session:
        conversation_id = conversation_id or uuid.uuid4()
        if session.get(Conversation, conversation_id) is None:
            session.add(
                Conversation(conversation_id=conversation_id, key_id=key_id, created_at=T0, updated_at=T0)
            )
            session.flush()
        turn = ConversationTurn(
            conversation_id=conversation_id,
            question=question,
            answer="a.",
            citations=[],
            generator="extractive",
        )
        session.add(turn)
        session.commit()
        return conversation_id, turn.turn_id


@dataclass
class FakeRecommender:
    """Records `apply_reward` calls; knows the ids in `known` (a double of recommend.service's function)."""

    known: set[uuid.UUID] = field(default_factory=set)
    calls: list[tuple[uuid.UUID, float, str]] = field(default_factory=list)
    arms: list[str | None] = field(default_factory=list)  # the action named by each call (None: top)

    def apply_reward(
        self,
        session: Session,
        recommendation_id: uuid.UUID,
        reward: float,
        *,
        source: str,
        arm_id: str | None = None,
    ) -> bool:
        assert isinstance(session, Session)
        if recommendation_id not in self.known:
            return False
        self.calls.append((recommendation_id, reward, source))
        self.arms.append(arm_id)
        return True


@pytest.fixture
def recommender(monkeypatch: pytest.MonkeyPatch) -> FakeRecommender:
    fake = FakeRecommender()
    monkeypatch.setattr(recommend_service, "apply_reward", fake.apply_reward)
    return fake
