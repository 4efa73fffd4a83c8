"""Contextual bandits over the fixed arm set: LinUCB and linear Thompson sampling, in numpy.

Why our own ~100 lines and not mabwiser (which the benchmark and tests use as a cross-check): the
learning loop needs each arm's sufficient statistics A (d x d, ridge regulariser I + Σ x xᵀ) and
b (d, Σ r x) in the open — the DP export perturbs and publishes them, `import_priors` adds another
instance's statistics into them, and the database persists them as JSON. mabwiser keeps them in
private per-arm attributes of its implementors and persists by pickling the whole object, which is
neither a stable public API nor safe to load from a shared file; so the arithmetic lives here and
mabwiser's LinUCB is only a test oracle (same data → same chosen arms).

Conventions: A starts at the identity (ridge λ = 1), θ = A⁻¹ b. LinUCB scores θᵀx + alpha·sqrt(xᵀA⁻¹x);
linear Thompson sampling draws θ̃ ~ N(θ, v²·A⁻¹) with a caller-supplied seeded generator and scores θ̃ᵀx.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]

POLICIES = ("content", "linucb", "thompson")


@dataclass(frozen=True)
class BanditSnapshot:
    """Per-arm sufficient statistics of one policy, as plain lists (JSON-ready).

    `A[arm]` includes the identity regulariser; `theta[arm]` = A⁻¹ b. `features` and `arms` fix the
    order of the vector entries and must match exactly for two snapshots to be merged."""

    policy: str
    features: list[str]
    arms: list[str]
    A: dict[str, list[list[float]]]
    b: dict[str, list[float]]
    theta: dict[str, list[float]]
    n: dict[str, int]
    reward_sum: dict[str, float]


@dataclass
class ArmStats:
    """Mutable statistics of one arm: A = I + Σ x xᵀ, b = Σ r x, n pulls credited, Σ r."""

    A: Matrix
    b: Vector
    n: int = 0
    reward_sum: float = 0.0
    _inv: Matrix | None = field(default=None, repr=False, compare=False)

    @classmethod
    def fresh(cls, dim: int) -> ArmStats:
        return cls(A=np.eye(dim), b=np.zeros(dim))

    @property
    def a_inv(self) -> Matrix:
        if self._inv is None:
            self._inv = np.asarray(np.linalg.inv(self.A), dtype=np.float64)
        return self._inv

    @property
    def theta(self) -> Vector:
        return np.asarray(self.a_inv @ self.b, dtype=np.float64)

    def update(self, x: Vector, reward: float) -> None:
        """Adds one observation (context `x`, reward) — rank-one update of A and b."""
        self.A = self.A + np.outer(x, x)
        self.b = self.b + reward * x
        self.n += 1
        self.reward_sum += reward
        self._inv = None


def linucb_scores(stats: list[ArmStats], x: Vector, *, alpha: float) -> Vector:
    """Upper confidence bounds θᵀx + alpha·sqrt(xᵀA⁻¹x), one per arm (same order as `stats`)."""
    out = np.empty(len(stats))
    for i, s in enumerate(stats):
        inv = s.a_inv
        out[i] = float(s.theta @ x) + alpha * float(np.sqrt(max(float(x @ inv @ x), 0.0)))
    return out


def thompson_scores(stats: list[ArmStats], x: Vector, *, v: float, rng: np.random.Generator) -> Vector:
    """One posterior draw per arm: θ̃ ~ N(θ, v²A⁻¹), score θ̃ᵀx. Deterministic for a seeded `rng`."""
    out = np.empty(len(stats))
    for i, s in enumerate(stats):
        cov = (v * v) * s.a_inv
        # Cholesky of a symmetric positive definite matrix; symmetrise against rounding first.
        chol = np.linalg.cholesky((cov + cov.T) / 2.0)
        theta = s.theta + chol @ rng.standard_normal(len(x))
        out[i] = float(theta @ x)
    return out


def greedy_scores(stats: list[ArmStats], x: Vector) -> Vector:
    """Point estimates θᵀx (ridge regression, no exploration)."""
    return np.array([float(s.theta @ x) for s in stats])


def snapshot(policy: str, features: list[str], arms: list[str], stats: dict[str, ArmStats]) -> BanditSnapshot:
    """The JSON-ready `BanditSnapshot` of `stats` (arms in `arms` order)."""
    return BanditSnapshot(
        policy=policy,
        features=list(features),
        arms=list(arms),
        A={a: stats[a].A.tolist() for a in arms},
        b={a: stats[a].b.tolist() for a in arms},
        theta={a: stats[a].theta.tolist() for a in arms},
        n={a: stats[a].n for a in arms},
        reward_sum={a: float(stats[a].reward_sum) for a in arms},
    )
