"""POST /recommend over HTTP on both databases: content ranking with the real embedding model and
knowledge search, rewards updating the bandit statistics (persisted across a new app), determinism,
422s naming the field, and unknown recommendation ids."""

from __future__ import annotations

import uuid
from typing import Any, get_args

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from luna_iems.errors import InvalidInputError
from luna_iems.main import create_app
from luna_iems.settings import Settings
from luna_iems.telemetry.recommend import service as recommend_service
from luna_iems.telemetry.recommend.arms import ARM_IDS
from luna_iems.telemetry.recommend.features import DIM
from luna_iems.telemetry.recommend.models import BanditArm, RecommendationReward
from luna_iems.telemetry.recommend.schemas import ReasonCode
from tests.conftest import ADMIN_TOKEN, auth
from tests.knowledge.api_support import container_of, ingest_text

ADMIN = auth(ADMIN_TOKEN)
EVENING = "2026-12-06T18:00:00+01:00"

BATTERY = """# Battery storage guide

The lithium-ion battery storage stores 500 kWh. Charge the battery when electricity is cheap and
discharge it in the evening peak; keep the state of charge above 20 % in winter.
"""
PUMPS = """# Pump station maintenance

The seal kit for the booster pump has the part number XK-4471 and must be replaced every 4,000 hours.
The pumps are inspected every spring; vibration above 7 mm/s means the bearings must be checked.
"""


def recommend(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/recommend", headers=ADMIN, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def reward(client: TestClient, recommendation_id: str, value: float) -> bool:
    with container_of(client).session_factory() as session:
        found = recommend_service.apply_reward(session, uuid.UUID(recommendation_id), value, source="test")
        session.commit()
    return found


def test_content_ranks_the_battery_action_and_document_first(client: TestClient) -> None:
    battery = ingest_text(client, "Battery storage guide", BATTERY)
    ingest_text(client, "Pump station maintenance", PUMPS)
    result = recommend(
        client,
        policy="content",
        question="How should I charge my battery storage?",
        page="/support",
        top_k=10,
    )
    assert result["policy"] == "content"
    uuid.UUID(result["recommendation_id"])
    actions = [item for item in result["items"] if item["kind"] == "action"]
    documents = [item for item in result["items"] if item["kind"] == "document"]
    assert actions[0]["id"] == "charge_battery_cheap"
    assert documents[0]["id"] == battery["item_id"]
    assert documents[0]["reason"].startswith("similar to your question")
    assert documents[0]["reason_code"] == "document_match"
    assert documents[0]["reason_params"]["snippet"] in documents[0]["reason"]
    assert actions[0]["reason"].startswith("similar to your question")
    assert actions[0]["reason_code"] == "similar_question"
    assert f"({actions[0]['reason_params']['similarity']:.2f})" in actions[0]["reason"]
    assert actions[0]["link"] == "/prices"
    scores = [item["score"] for item in result["items"]]
    assert scores == sorted(scores, reverse=True)


def test_reasons_describe_the_situation(client: TestClient) -> None:
    result = recommend(client, policy="content", soc_pct=85, price_level="high", at=EVENING, top_k=20)
    reasons = {item["id"]: item["reason"] for item in result["items"]}
    assert reasons["discharge_battery_peak"] == "battery at 85 % and prices high at 18:00: discharging pays"
    # The same reason as a code and its values, for a client that words it in its own language.
    codes = {item["id"]: (item["reason_code"], item["reason_params"]) for item in result["items"]}
    code, params = codes["discharge_battery_peak"]
    assert code == "discharge_pays"
    assert (params["soc_pct"], params["at_local"]) == (85, "18:00")
    assert codes["check_tariff"][0] == "check_tariff"
    assert {c for c, _ in codes.values()} <= set(get_args(ReasonCode))
    assert len(result["items"]) == len(ARM_IDS)  # no question: actions only


def test_a_reward_updates_the_statistics_and_survives_a_new_app(
    client: TestClient, settings: Settings
) -> None:
    result = recommend(client, policy="linucb", soc_pct=40, price_level="low", at=EVENING, page="/prices")
    top_action = next(item["id"] for item in result["items"] if item["kind"] == "action")
    assert reward(client, result["recommendation_id"], 1.0)
    with container_of(client).session_factory() as session:
        state = recommend_service.bandit_state(session)
    assert state.n[top_action] == 1 and state.reward_sum[top_action] == 1.0
    assert sum(state.n.values()) == 1
    a = np.asarray(state.A[top_action])
    x = a.diagonal() - 1.0  # A = I + x xᵀ; x holds 0/1 flags and the bias 1, so diag(x xᵀ) = x²
    assert a.shape == (DIM, DIM) and x[0] == pytest.approx(1.0)  # the bias
    np.testing.assert_allclose(state.theta[top_action], np.linalg.solve(a, state.b[top_action]))

    # A changed vote replaces the first: n stays 1, the sum follows the new reward.
    assert reward(client, result["recommendation_id"], 0.0)
    with container_of(client).session_factory() as session:
        again = recommend_service.bandit_state(session)
    assert again.n[top_action] == 1 and again.reward_sum[top_action] == 0.0
    np.testing.assert_allclose(again.A[top_action], state.A[top_action])

    with TestClient(create_app(settings)) as restarted:
        arms = restarted.get("/recommend/arms", headers=ADMIN).json()
        with container_of(restarted).session_factory() as session:
            after = recommend_service.bandit_state(session)
    by_id = {arm["arm_id"]: arm for arm in arms["items"]}
    assert by_id[top_action]["n"] == 1 and by_id[top_action]["reward_mean"] == 0.0
    assert after == again


def test_a_reward_rolled_back_leaves_no_arm_row(client: TestClient) -> None:
    """The first reward of an arm creates its row inside the caller's transaction (no savepoint that
    SQLite's driver would commit early): rolling the transaction back leaves no row and no reward."""
    result = recommend(client, policy="linucb", soc_pct=40, price_level="low", at=EVENING, page="/prices")
    with container_of(client).session_factory() as session:
        assert recommend_service.apply_reward(
            session, uuid.UUID(result["recommendation_id"]), 1.0, source="test"
        )
        session.rollback()
    with container_of(client).session_factory() as session:
        state = recommend_service.bandit_state(session)
        stored = session.scalars(select(BanditArm)).all()
    assert stored == [] and sum(state.n.values()) == 0
    # The same reward committed afterwards is credited once.
    assert reward(client, result["recommendation_id"], 1.0)
    with container_of(client).session_factory() as session:
        assert sum(recommend_service.bandit_state(session).n.values()) == 1


def test_learning_moves_a_rewarded_action_to_the_top(client: TestClient) -> None:
    context = {"policy": "linucb", "soc_pct": 90, "price_level": "high", "at": EVENING, "page": "/"}
    shown = []
    for _ in range(16):
        result = recommend(client, **context)
        shown.append(result["items"][0]["id"])
        # The simulated operator likes only "review_alerts" in this situation.
        assert reward(client, result["recommendation_id"], 1.0 if shown[-1] == "review_alerts" else 0.0)
    assert len(set(shown)) > 1  # it explored
    assert recommend(client, **context)["items"][0]["id"] == "review_alerts"


@pytest.mark.parametrize("policy", ["linucb", "thompson"])
def test_the_same_request_on_the_same_state_ranks_the_same(client: TestClient, policy: str) -> None:
    body = {"policy": policy, "soc_pct": 55, "price_level": "normal", "open_alerts": 2, "at": EVENING}
    first, second = recommend(client, **body), recommend(client, **body)
    assert first["items"] == second["items"]
    assert first["recommendation_id"] != second["recommendation_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"soc_pct": 150}, "soc_pct"),
        ({"soc_pct": "80"}, "soc_pct"),
        ({"price_level": "cheap"}, "price_level"),
        ({"page": "prices"}, "page"),
        ({"open_alerts": -1}, "open_alerts"),
        ({"at": "18:00"}, "at"),
        ({"policy": "greedy"}, "policy"),
        ({"top_k": 0}, "top_k"),
        ({"question": "x" * 1001}, "question"),
        ({"site_mood": "happy"}, "site_mood"),
    ],
)
def test_a_bad_context_is_422_naming_the_field(
    sqlite_client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = sqlite_client.post("/recommend", headers=ADMIN, json=body)
    assert response.status_code == 422, response.text
    assert field in response.text


def test_an_unknown_recommendation_id_is_not_rewarded(client: TestClient) -> None:
    assert not reward(client, str(uuid.uuid4()), 1.0)
    with container_of(client).session_factory() as session:
        assert sum(recommend_service.bandit_state(session).n.values()) == 0


def test_a_viewer_may_ask_and_the_key_is_stored(client: TestClient, make_key: Any) -> None:
    from luna_iems.admin.schemas import Role
    from luna_iems.telemetry.recommend.models import Recommendation

    token = make_key(client, Role.VIEWER)
    response = client.post("/recommend", headers=auth(token), json={"page": "/playbook"})
    assert response.status_code == 200, response.text
    with container_of(client).session_factory() as session:
        stored = session.get(Recommendation, uuid.UUID(response.json()["recommendation_id"]))
        assert stored is not None and stored.key_id is not None
        assert session.scalars(select(RecommendationReward)).all() == []  # no reward yet
        assert stored.context["values"][0] == 1.0 and len(stored.context["values"]) == DIM


def test_feedback_on_a_recommendation_trains_its_first_action(client: TestClient) -> None:
    """The whole loop over HTTP: recommend, `POST /feedback` (telemetry/events), statistics."""
    result = recommend(client, policy="linucb", open_alerts=3, at=EVENING)
    first = result["items"][0]["id"]
    response = client.post(
        "/feedback",
        headers=ADMIN,
        json={"target": "recommendation", "id": result["recommendation_id"], "helpful": True},
    )
    assert response.status_code in (200, 201), response.text
    arms = {arm["arm_id"]: arm for arm in client.get("/recommend/arms", headers=ADMIN).json()["items"]}
    assert arms[first]["n"] == 1 and arms[first]["reward_mean"] == 1.0
    assert sum(arm["n"] for arm in arms.values()) == 1


def test_a_rated_action_says_how_it_was_rated_and_a_fresh_one_how_it_fits(client: TestClient) -> None:
    first = recommend(client, policy="linucb", page="/prices", at=EVENING)
    top = first["items"][0]
    assert top["reason_code"] == "fits_page" and top["reason"].startswith("fits the page you are on")
    assert reward(client, first["recommendation_id"], 0.5)
    second = recommend(client, policy="linucb", page="/prices", at=EVENING, top_k=20)
    again = {item["id"]: item for item in second["items"]}
    rated = again[top["id"]]
    assert rated["reason_code"] == "rated"
    assert rated["reason_params"]["mean_rating"] == 0.5 and rated["reason_params"]["ratings"] == 1
    assert rated["reason"] == "rated 0.50 on average in 1 similar situation"


def test_each_action_of_a_list_keeps_its_own_reward(client: TestClient) -> None:
    """A reward names an action of the list ("<id>/<arm>" at the API, `arm_id` here); each keeps its
    latest reward; an action the list did not show is refused, naming the actions it did show."""
    result = recommend(client, policy="linucb", page="/prices", at=EVENING, top_k=3)
    rid = uuid.UUID(result["recommendation_id"])
    top, second, third = (item["id"] for item in result["items"])
    shown = {top, second, third}
    hidden = next(arm for arm in ARM_IDS if arm not in shown)
    with container_of(client).session_factory() as session:
        assert recommend_service.apply_reward(session, rid, 1.0, source="test", arm_id=second)
        assert recommend_service.apply_reward(session, rid, -0.5, source="test", arm_id=third)
        assert recommend_service.apply_reward(session, rid, 0.5, source="test", arm_id=second)  # replaces
        session.commit()
        with pytest.raises(InvalidInputError) as refused:
            recommend_service.apply_reward(session, rid, 1.0, source="test", arm_id=hidden)
        session.rollback()
    assert refused.value.details["actions"] == [top, second, third]
    with container_of(client).session_factory() as session:
        state = recommend_service.bandit_state(session)
        rows = {r.arm_id: r.reward for r in session.scalars(select(RecommendationReward))}
    assert rows == {second: 0.5, third: -0.5}
    assert (state.n[second], state.reward_sum[second]) == (1, 0.5)
    assert (state.n[third], state.reward_sum[third]) == (1, -0.5)
    assert state.n[top] == 0 and state.n[hidden] == 0
