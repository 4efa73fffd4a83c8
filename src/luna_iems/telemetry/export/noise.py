"""Laplace noise from OpenDP and the sensitivities of what the export publishes (docs/learning.md,
"The DP guarantee").

Why OpenDP and not diffprivlib: diffprivlib 0.6.6 (the newest release) does not import with the
scikit-learn this project pins (`sklearn.tree._tree.DOUBLE` is gone), and OpenDP's Laplace samples
from the OS's cryptographic generator with an exact, floating-point-safe sampler, where a hand-written
`numpy` Laplace leaks through the gaps of its float grid. OpenDP builds a measurement from a domain,
a metric and a scale, and `map(sensitivity)` returns the ε it spends: the scale below is checked
against that, so a wrong scale formula fails loudly instead of under-noising.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

MAX_EVENTS_PER_USER = 50  # per export period: a user's (user_hash) events beyond the first 50 are dropped
DWELL_CAP_S = 600.0  # one dwell event contributes at most 10 minutes
REWARD_BOUND = 1.0  # rewards are clamped to [-1, 1]

# Every context vector `recommend.features.context_vector` builds (tests/telemetry/test_export_noise.py
# checks): bias 1, (sin, cos) on the unit circle, soc or its missing flag (one of them, <= 1), one price
# flag, alerts/ALERTS_CAP <= 1, one page flag, question.
CONTEXT_L1_BOUND = 6.0 + math.sqrt(2.0)  # max Σ|x_i| (|sin|+|cos| <= √2)
CONTEXT_L2_SQ_BOUND = 7.0  # max Σ x_i²

# Event-level neighbours (one event added or removed). With the per-user cap, removing one kept event
# can let the user's 51st event in: two cells change, so the histogram's L1 sensitivity is 2, and the
# dwell sum's 2·cap. One label moves one arm's (count, reward sum) by (1, <= 1): L1 sensitivity 2.
HISTOGRAM_SENSITIVITY = 2.0
DWELL_SUM_SENSITIVITY = 2.0 * DWELL_CAP_S
REWARDS_SENSITIVITY = 1.0 + REWARD_BOUND
# One bandit round (x, r) changes one arm: the upper triangle of x xᵀ (L1 = (‖x‖₁² + ‖x‖₂²)/2), r·x in
# b (L1 <= ‖x‖₁), n by 1 and the reward sum by |r| <= 1.
BANDIT_SENSITIVITY = (
    (CONTEXT_L1_BOUND**2 + CONTEXT_L2_SQ_BOUND) / 2.0 + CONTEXT_L1_BOUND * REWARD_BOUND + 1.0 + REWARD_BOUND
)


@cache
def _opendp() -> Any:
    """OpenDP, imported on first use (its native library adds ~1 s to every start of `luna`), with
    the "contrib" features on: the Laplace mechanism on floats is vetted but not yet proven in Lean."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


def laplace_scale(*, sensitivity: float, epsilon: float) -> float:
    """The Laplace scale b = sensitivity / ε (its standard deviation is √2·b)."""
    return sensitivity / epsilon


def laplace(values: list[float], *, sensitivity: float, epsilon: float) -> list[float]:
    """`values` plus independent Laplace noise of scale sensitivity/ε: ε-DP for a vector whose L1
    sensitivity is `sensitivity` (values must be finite). Raises ValueError for a non-positive ε."""
    if not (epsilon > 0 and math.isfinite(epsilon)):
        raise ValueError(f"epsilon must be a finite number > 0, got {epsilon!r}")
    if not values:
        return []
    dp = _opendp()
    scale = laplace_scale(sensitivity=sensitivity, epsilon=epsilon)
    measurement = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l1_distance(T=float), scale=scale
    )
    spent = float(measurement.map(sensitivity))
    # OpenDP rounds ε up (conservatively); more than a hair above the target means a wrong scale.
    if spent > epsilon * (1.0 + 1e-6):
        raise ValueError(f"OpenDP says scale {scale} spends ε={spent}, more than {epsilon}")
    noisy: list[float] = measurement([float(v) for v in values])
    return [float(v) for v in noisy]
