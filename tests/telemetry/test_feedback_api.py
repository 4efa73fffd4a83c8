"""POST /feedback on SQLite and PostgreSQL: the reward mapping, one label per key, target and id (a
replay replaces it), 404 for unknown or other keys' answers and unknown recommendations, 422 for
malformed ids and personal data in comments. The recommender is a recording double of
`recommend.service.apply_reward` (its real implementation is tested in its own domain), except in the
last test, which goes through the real `POST /recommend` and stored recommendation."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from luna_iems.admin.schemas import Role
from luna_iems.telemetry.events.service import REWARDS
from luna_iems.telemetry.recommend.models import BanditArm, RecommendationReward
from tests.conftest import auth
from tests.telemetry.events_support import (
    ADMIN,
    FakeRecommender,
    event,
    key_id_of,
    labels,
    post_events,
    recommender,
    session_of,
    store_turn,
)

__all__ = ["recommender"]  # the fixture, imported for pytest


def feedback(
    client: TestClient, expect: int = 200, headers: dict[str, str] | None = None, **body: Any
) -> dict[str, Any]:
    response = client.post("/feedback", json=body, headers=headers or ADMIN)
    assert response.status_code == expect, response.text
    out: dict[str, Any] = response.json()
    return out


def test_the_reward_mapping_is_the_documented_one() -> None:
    assert REWARDS == {
        "helpful": 1.0,
        "not_helpful": -1.0,
        "solve": 1.0,
        "like": 0.5,
        "click": 0.25,
        "dismiss": -0.5,
    }


def test_feedback_on_an_answer_is_stored_once_per_key(client: TestClient, make_key: Any) -> None:
    viewer = make_key(client, Role.VIEWER)
    _, answer_id = store_turn(client, key_id_of(client, viewer))
    body = feedback(
        client, headers=auth(viewer), target="answer", id=str(answer_id), helpful=True, comment="clear"
    )
    assert body == {
        "target": "answer",
        "id": str(answer_id),
        "helpful": True,
        "comment": "clear",
        "reward": 1.0,
        "replaced": False,
    }
    # The same feedback again, changed: replaced, not duplicated.
    body = feedback(client, headers=auth(viewer), target="answer", id=str(answer_id), helpful=False)
    assert (body["reward"], body["replaced"], body["comment"]) == (-1.0, True, None)
    stored = labels(client)
    assert len(stored) == 1
    assert (stored[0].kind, stored[0].target, stored[0].target_id, stored[0].helpful, stored[0].reward) == (
        "explicit",
        "answer",
        str(answer_id),
        False,
        -1.0,
    )
    assert stored[0].key_id == key_id_of(client, viewer)


def test_unknown_answers_and_other_keys_answers_are_404(client: TestClient, make_key: Any) -> None:
    viewer = make_key(client, Role.VIEWER)
    _, mine = store_turn(client, key_id_of(client, viewer))
    body = feedback(client, expect=404, target="answer", id=str(mine), helpful=True)  # the admin's key
    assert body["error"]["details"] == {"target": "answer", "id": str(mine)}
    assert f"answer {mine} does not exist" in body["error"]["message"]
    feedback(client, expect=404, headers=auth(viewer), target="answer", id="999999", helpful=True)
    body = feedback(client, expect=422, target="answer", id="abc", helpful=True)
    assert "answer_id" in body["error"]["message"]
    assert labels(client) == []


def test_feedback_on_a_recommendation_rewards_the_recommender(
    client: TestClient, recommender: FakeRecommender
) -> None:
    known = uuid.uuid4()
    recommender.known.add(known)
    assert feedback(client, target="recommendation", id=str(known).upper(), helpful=True)["reward"] == 1.0
    assert recommender.calls == [(known, 1.0, "feedback")]
    replay = feedback(client, target="recommendation", id=str(known), helpful=False)
    assert (replay["replaced"], replay["reward"], replay["id"]) == (True, -1.0, str(known))
    # The recommender is told again; it keeps the latest reward per recommendation (its contract).
    assert recommender.calls == [(known, 1.0, "feedback"), (known, -1.0, "feedback")]
    assert [(lb.target_id, lb.reward) for lb in labels(client)] == [(str(known), -1.0)]


def test_unknown_recommendations_are_404_and_store_nothing(
    client: TestClient, recommender: FakeRecommender
) -> None:
    unknown = uuid.uuid4()
    body = feedback(client, expect=404, target="recommendation", id=str(unknown), helpful=True)
    assert str(unknown) in body["error"]["message"]
    assert body["error"]["details"] == {"target": "recommendation", "id": str(unknown)}
    body = feedback(client, expect=422, target="recommendation", id="rec-1", helpful=True)
    assert body["error"]["details"] == {"field": "id"}
    assert labels(client) == [] and recommender.calls == []


def test_comments_are_bounded_and_free_of_personal_data(
    client: TestClient, recommender: FakeRecommender
) -> None:
    known = uuid.uuid4()
    recommender.known.add(known)
    base = {"target": "recommendation", "id": str(known), "helpful": True}
    body = feedback(client, expect=422, **base, comment="mail me: jane@example.com")
    assert body["error"]["details"][0]["field"] == "body.comment" and "e-mail" in body["error"]["message"]
    body = feedback(client, expect=422, **base, comment="x" * 501)
    assert body["error"]["details"][0]["field"] == "body.comment"
    body = feedback(client, expect=422, **base, user="x")
    assert body["error"]["details"][0]["field"] == "body.user"
    assert labels(client) == []


def test_feedback_and_events_reach_the_real_recommender(client: TestClient) -> None:
    # No double here: POST /recommend stores a recommendation, feedback and a telemetry event reward it.
    response = client.post("/recommend", headers=ADMIN, json={"page": "/prices", "top_k": 3})
    assert response.status_code == 200, response.text
    recommendation_id = response.json()["recommendation_id"]
    top, second = (item["id"] for item in response.json()["items"][:2])
    rid = uuid.UUID(recommendation_id)

    def stored(arm_id: str) -> tuple[float, str] | None:
        with session_of(client) as session:
            row = session.get(RecommendationReward, (rid, arm_id))
            return None if row is None else (row.reward, row.source)

    feedback(client, target="recommendation", id=recommendation_id, helpful=True)
    assert stored(top) == (1.0, "feedback")
    post_events(client, [event(type="dismiss", item_kind="recommendation", item_id=recommendation_id)])
    assert stored(top) == (-0.5, "event:dismiss")  # the latest reward of that action replaces the vote
    assert [(lb.kind, lb.reward) for lb in labels(client)] == [("explicit", 1.0), ("implicit", -0.5)]
    # "<id>/<action>" rewards that action, not the top one.
    post_events(
        client, [event(type="click", item_kind="recommendation", item_id=f"{recommendation_id}/{second}")]
    )
    assert stored(second) == (0.25, "event:click") and stored(top) == (-0.5, "event:dismiss")
    with session_of(client) as session:
        arms = {row.arm_id: row for row in session.query(BanditArm)}
    assert (arms[top].n, arms[top].reward_sum) == (1, -0.5)
    assert (arms[second].n, arms[second].reward_sum) == (1, 0.25)


def test_feedback_on_one_action_of_a_recommendation(client: TestClient) -> None:
    response = client.post("/recommend", headers=ADMIN, json={"page": "/prices", "top_k": 2})
    assert response.status_code == 200, response.text
    recommendation_id = response.json()["recommendation_id"]
    second = response.json()["items"][1]["id"]
    out = feedback(client, target="recommendation", id=f"{recommendation_id.upper()}/{second}", helpful=False)
    assert (out["id"], out["reward"]) == (f"{recommendation_id}/{second}", -1.0)  # normalised
    with session_of(client) as session:
        row = session.get(RecommendationReward, (uuid.UUID(recommendation_id), second))
        assert row is not None and (row.reward, row.source) == (-1.0, "feedback")
    # An action the list did not show: 422 naming the id and the actions it did show.
    error = feedback(client, 422, target="recommendation", id=f"{recommendation_id}/not_an_arm", helpful=True)
    assert error["error"]["details"]["field"] == "id"
    assert second in error["error"]["details"]["actions"]
    with session_of(client) as session:
        assert session.get(RecommendationReward, (uuid.UUID(recommendation_id), "not_an_arm")) is None
