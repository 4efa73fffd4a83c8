"""The export's noise: Laplace from OpenDP with scale sensitivity/ε (its standard deviation halves when
ε doubles), the sensitivities' context bounds hold for every context vector the recommender builds,
and a real export's published counts scatter with the scale it reports.

OpenDP draws from the OS's cryptographic generator and cannot be seeded: the statistical tests use
enough draws that the tolerance is many standard errors wide (never flaky), not a seed."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy.orm import Session

from luna_iems.bootstrap import Container
from luna_iems.db import migrate
from luna_iems.telemetry.export import noise
from luna_iems.telemetry.export import service as export_service
from luna_iems.telemetry.models import Event
from luna_iems.telemetry.recommend import features as feature_space

DRAWS = 20_000


@pytest.mark.parametrize("sensitivity", [1.0, 2.0, noise.BANDIT_SENSITIVITY])
def test_noise_scale_is_proportional_to_one_over_epsilon(sensitivity: float) -> None:
    # Laplace(b) has standard deviation √2·b; with 20 000 draws the sample standard deviation is within
    # ~0.8 % (one standard error; Laplace kurtosis 6), so 6 % is > 7 standard errors.
    stds = {}
    for epsilon in (0.5, 1.0, 2.0):
        draws = np.asarray(noise.laplace([0.0] * DRAWS, sensitivity=sensitivity, epsilon=epsilon))
        assert abs(float(draws.mean())) < 0.1 * sensitivity / epsilon  # centred on the true value
        stds[epsilon] = float(draws.std())
        expected = math.sqrt(2.0) * sensitivity / epsilon
        assert stds[epsilon] == pytest.approx(expected, rel=0.06)
    assert stds[0.5] / stds[1.0] == pytest.approx(2.0, rel=0.08)
    assert stds[1.0] / stds[2.0] == pytest.approx(2.0, rel=0.08)


def test_noise_keeps_the_values_and_refuses_a_bad_epsilon() -> None:
    noisy = noise.laplace([1000.0, -5.0], sensitivity=1.0, epsilon=1e6)
    assert noisy == pytest.approx([1000.0, -5.0], abs=1e-3)
    assert noise.laplace([], sensitivity=1.0, epsilon=1.0) == []
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="epsilon"):
            noise.laplace([1.0], sensitivity=1.0, epsilon=bad)


def test_context_vectors_stay_within_the_bounds_the_sensitivity_assumes() -> None:
    rng = np.random.default_rng(0)
    worst_l1 = worst_l2 = 0.0
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(2000):
        x = feature_space.context_vector(
            at=start + timedelta(minutes=int(rng.integers(0, 60 * 24 * 365))),
            timezone="Europe/Berlin",
            soc_pct=None if i % 7 == 0 else float(rng.uniform(0, 100)),
            price_level=[None, "low", "normal", "high"][i % 4],
            open_alerts=int(rng.integers(0, 40)),
            page=["/", "/prices", "/smart-meters", "/playbook", "/support", "/other"][i % 6],
            question=bool(i % 2),
        )
        worst_l1 = max(worst_l1, float(np.abs(x).sum()))
        worst_l2 = max(worst_l2, float(x @ x))
    assert worst_l1 <= noise.CONTEXT_L1_BOUND + 1e-9
    assert worst_l2 <= noise.CONTEXT_L2_SQ_BOUND + 1e-9
    assert worst_l1 > noise.CONTEXT_L1_BOUND - 0.3  # the bound is tight, not a loose guess


def _views(session: Session, epsilon_part: float, runs: int) -> np.ndarray:
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    return np.asarray(
        [
            export_service._metrics(session, start, end, epsilon_part)["events"]["document"]["view"]
            for _ in range(runs)
        ],
        dtype=np.float64,
    )


def test_an_exports_counts_scatter_with_the_scale_it_reports(container: Container) -> None:
    """Through the real aggregation (both databases): 300 noisy view counts of 200 true views at ε and
    at 2ε. Their standard deviation is √2·2/ε_part (sensitivity 2); rounding adds 1/12 to the variance.
    300 draws: one standard error ≈ 6.5 % of the standard deviation, the ratio's ≈ 9 %; tolerance 40 %."""
    migrate.upgrade(container.engine)
    with container.session_factory() as session:
        t0 = datetime(2026, 11, 5, tzinfo=UTC)
        for i in range(200):
            session.add(
                Event(
                    event_id=uuid.uuid4(),
                    ts=t0 + timedelta(seconds=i),
                    type="view",
                    item_kind="document",
                    item_id="doc",
                    meta={},
                )
            )
        session.commit()
        low = _views(session, 0.25, 300)
        high = _views(session, 0.5, 300)
    assert float(low.mean()) == pytest.approx(200, abs=5)
    assert float(low.std()) == pytest.approx(math.sqrt(2) * 2 / 0.25, rel=0.35)
    assert float(low.std() / high.std()) == pytest.approx(2.0, rel=0.4)
