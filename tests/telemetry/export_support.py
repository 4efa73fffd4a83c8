"""Factories for the DP export and priors tests: a seeded month of events, a document with a secret
text, rewarded recommendations that trained the real bandit, the privacy flag, an export call."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from luna_iems.knowledge.models import Item, ItemChunk
from luna_iems.telemetry.models import Event
from luna_iems.telemetry.recommend import arms as arm_catalog
from luna_iems.telemetry.recommend import features as feature_space
from luna_iems.telemetry.recommend import service as recommend_service
from luna_iems.telemetry.recommend.models import Recommendation
from tests.telemetry.events_support import ADMIN, session_of

T0 = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
NOVEMBER = {"from": "2026-11-01T00:00:00+00:00", "to": "2026-12-01T00:00:00+00:00"}
SECRET_TEXT = "Zebra-quartz manual: the vanadium inverter passphrase is heliotrope-4417"


@dataclass
class Seeded:
    event_ids: list[str] = field(default_factory=list)
    item_ids: list[str] = field(default_factory=list)
    user_hashes: list[str] = field(default_factory=list)
    chunk_texts: list[str] = field(default_factory=list)
    recommendation_ids: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)

    def secrets(self) -> list[str]:
        """Every identifier and text that must never appear in an export."""
        return [
            *self.event_ids,
            *self.item_ids,
            *self.user_hashes,
            *self.chunk_texts,
            *(t[:30] for t in self.chunk_texts),
            *self.recommendation_ids,
            *self.pages,
        ]


def seed(client: TestClient, *, views: int = 40, clicks: int = 10, rewards: int = 12) -> Seeded:
    """A document (with a secret chunk text), `views` views and `clicks` clicks of it by three users,
    dwell events, and `rewards` rewarded recommendations credited to the real bandit, all in
    November 2026."""
    out = Seeded()
    with session_of(client) as session:
        item = Item(kind="document", title="Vanadium manual", sha256="ab" * 32)
        session.add(item)
        session.flush()
        session.add(ItemChunk(item_id=item.item_id, chunk_idx=0, text=SECRET_TEXT))
        out.item_ids.append(str(item.item_id))
        out.chunk_texts.append(SECRET_TEXT)
        users = [f"userhash-{uuid.uuid4().hex}" for _ in range(3)]
        out.user_hashes.extend(users)
        page = f"/support?secret-page-{uuid.uuid4().hex[:8]}"
        out.pages.append(page)
        kinds = [("view", views), ("click", clicks), ("dwell", 8)]
        i = 0
        for type_, count in kinds:
            for _ in range(count):
                event_id = uuid.uuid4()
                out.event_ids.append(str(event_id))
                session.add(
                    Event(
                        event_id=event_id,
                        ts=T0 + timedelta(minutes=i),
                        type=type_,
                        item_kind="document",
                        item_id=str(item.item_id),
                        user_hash=users[i % 3],
                        duration_ms=45_000 if type_ == "dwell" else None,
                        page=page,
                        meta={"query": SECRET_TEXT[:30]},
                        received_at=T0 + timedelta(minutes=i),
                    )
                )
                i += 1
        session.commit()
        rng = np.random.default_rng(3)
        for k in range(rewards):
            rec_id = uuid.uuid4()
            out.recommendation_ids.append(str(rec_id))
            x = feature_space.context_vector(
                at=T0 + timedelta(hours=k),
                timezone="UTC",
                soc_pct=float(rng.uniform(0, 100)),
                price_level="low",
                open_alerts=1,
                page="/prices",
                question=False,
            )
            arm = arm_catalog.ARM_IDS[k % 2]
            session.add(
                Recommendation(
                    recommendation_id=rec_id,
                    created_at=T0 + timedelta(hours=k),
                    key_id=None,
                    policy="linucb",
                    context={"names": list(feature_space.FEATURES), "values": x.tolist()},
                    items=[{"kind": "action", "id": arm, "title": "t", "score": 1.0}],
                )
            )
            session.flush()
            assert recommend_service.apply_reward(session, rec_id, 1.0 if k % 2 == 0 else -1.0, source="test")
            session.commit()
    return out


def set_privacy(client: TestClient, on: bool) -> None:
    response = client.put("/admin/privacy", json={"flag_send_aggregates": on}, headers=ADMIN)
    assert response.status_code == 200, response.text


def export(
    client: TestClient, expect: int = 200, headers: dict[str, str] | None = None, **body: Any
) -> dict[str, Any]:
    payload = {**NOVEMBER, **body}
    response = client.post("/learn/export", json=payload, headers=headers or ADMIN)
    assert response.status_code == expect, response.text
    out: dict[str, Any] = response.json()
    return out


def read_export(result: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(Path(result["file"]).read_text(encoding="utf-8"))
    return document
