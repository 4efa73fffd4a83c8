"""The bandit arithmetic: LinUCB against mabwiser's LinUCB (same data, same scores and arms), seeded
Thompson sampling, snapshots, and `import_priors` (merge rule, refusals) on both databases."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from mabwiser.mab import MAB, LearningPolicy

from luna_iems.bootstrap import Container
from luna_iems.errors import InvalidInputError
from luna_iems.telemetry.recommend import service as recommend_service
from luna_iems.telemetry.recommend.arms import ARM_IDS
from luna_iems.telemetry.recommend.bandits import (
    ArmStats,
    BanditSnapshot,
    linucb_scores,
    snapshot,
    thompson_scores,
)
from luna_iems.telemetry.recommend.features import DIM, FEATURES


def _fitted(seed: int, arms: list[str], d: int, rounds: int) -> tuple[dict[str, ArmStats], MAB, np.ndarray]:
    rng = np.random.default_rng(seed)
    contexts = rng.normal(size=(rounds, d))
    decisions = rng.choice(arms, size=rounds)
    rewards = rng.normal(size=rounds)
    oracle = MAB(arms, LearningPolicy.LinUCB(alpha=0.7, l2_lambda=1.0), seed=seed)
    oracle.fit(decisions, rewards, contexts)
    ours = {arm: ArmStats.fresh(d) for arm in arms}
    for x, arm, r in zip(contexts, decisions, rewards, strict=True):
        ours[arm].update(x, float(r))
    return ours, oracle, rng.normal(size=(100, d))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linucb_chooses_the_arms_mabwiser_chooses(seed: int) -> None:
    arms = list(ARM_IDS)
    ours, oracle, tests = _fitted(seed, arms, DIM, rounds=400)
    expected = oracle.predict_expectations(tests)
    for x, theirs in zip(tests, expected, strict=True):
        scores = linucb_scores([ours[a] for a in arms], x, alpha=0.7)
        np.testing.assert_allclose(scores, [theirs[a] for a in arms], rtol=1e-9, atol=1e-9)
    assert [
        arms[int(np.argmax(linucb_scores([ours[a] for a in arms], x, alpha=0.7)))] for x in tests
    ] == list(oracle.predict(tests))


def test_thompson_sampling_is_reproducible_for_a_seed_and_centred_on_theta() -> None:
    stats = [ArmStats.fresh(3) for _ in range(2)]
    for _ in range(50):
        stats[0].update(np.array([1.0, 0.0, 1.0]), 1.0)
        stats[1].update(np.array([1.0, 1.0, 0.0]), 0.0)
    x = np.array([1.0, 0.0, 1.0])
    first = thompson_scores(stats, x, v=0.3, rng=np.random.default_rng(7))
    again = thompson_scores(stats, x, v=0.3, rng=np.random.default_rng(7))
    other = thompson_scores(stats, x, v=0.3, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    draws = np.array([thompson_scores(stats, x, v=0.3, rng=np.random.default_rng(s)) for s in range(300)])
    np.testing.assert_allclose(draws.mean(axis=0), [float(s.theta @ x) for s in stats], atol=0.02)


def test_a_snapshot_holds_a_b_theta_and_counts() -> None:
    stats = {a: ArmStats.fresh(2) for a in ("x", "y")}
    stats["x"].update(np.array([1.0, 2.0]), 0.5)
    shot = snapshot("linear", ["f1", "f2"], ["x", "y"], stats)
    assert shot.A["x"] == [[2.0, 2.0], [2.0, 5.0]] and shot.b["x"] == [0.5, 1.0]
    np.testing.assert_allclose(shot.theta["x"], np.linalg.solve(shot.A["x"], shot.b["x"]))
    assert shot.n == {"x": 1, "y": 0} and shot.reward_sum == {"x": 0.5, "y": 0.0}
    with pytest.raises(dataclasses.FrozenInstanceError):
        shot.policy = "other"  # type: ignore[misc]


def _prior() -> BanditSnapshot:
    stats = {a: ArmStats.fresh(DIM) for a in ARM_IDS}
    x = np.zeros(DIM)
    x[0], x[3] = 1.0, 0.5
    for _ in range(4):
        stats["check_tariff"].update(x, 1.0)
    return snapshot("linear", list(FEATURES), list(ARM_IDS), stats)


def test_import_priors_adds_the_statistics_without_the_identity(container: Container) -> None:
    prior = _prior()
    with container.session_factory() as session:
        recommend_service.import_priors(session, prior, weight=0.5)
        session.commit()
    with container.session_factory() as session:
        state = recommend_service.bandit_state(session)
    expected_a = np.eye(DIM) + 0.5 * (np.asarray(prior.A["check_tariff"]) - np.eye(DIM))
    np.testing.assert_allclose(state.A["check_tariff"], expected_a)
    np.testing.assert_allclose(state.b["check_tariff"], 0.5 * np.asarray(prior.b["check_tariff"]))
    assert state.n["check_tariff"] == 2 and state.reward_sum["check_tariff"] == pytest.approx(2.0)
    np.testing.assert_allclose(state.A["review_alerts"], np.eye(DIM))  # an empty prior arm adds nothing
    assert state.features == list(FEATURES) and state.arms == list(ARM_IDS)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"features": [*FEATURES[:-1], "weather"]}, "features"),
        ({"arms": [*ARM_IDS[:-1], "buy_a_boat"]}, "arms"),
        ({"policy": "epsilon"}, "policy"),
    ],
)
def test_import_priors_refuses_a_snapshot_that_does_not_fit(
    container: Container, change: dict[str, object], field: str
) -> None:
    prior = dataclasses.replace(_prior(), **change)  # type: ignore[arg-type]
    with container.session_factory() as session:
        with pytest.raises(InvalidInputError, match=rf"^{field}:") as raised:
            recommend_service.import_priors(session, prior, weight=1.0)
        assert raised.value.details["field"] == field
        session.rollback()
        assert sum(recommend_service.bandit_state(session).n.values()) == 0


def test_import_priors_refuses_a_bad_matrix_or_weight(container: Container) -> None:
    prior = _prior()
    broken = dataclasses.replace(prior, A={**prior.A, "check_tariff": [[1.0]]})
    with container.session_factory() as session:
        with pytest.raises(InvalidInputError, match=r"^A: arm 'check_tariff'"):
            recommend_service.import_priors(session, broken, weight=1.0)
        with pytest.raises(InvalidInputError, match=r"^weight:"):
            recommend_service.import_priors(session, prior, weight=float("nan"))
