"""Recommendations (`POST /recommend`) and the bandit learning loop behind them (docs/learning.md).

Ranking, by policy (RECOMMEND_POLICY, or the request's `policy`):
- `content` (the MVP): actions by cosine similarity of the context's text (the question, else a
  description of the page) to each arm's description; documents by the knowledge search.
- `linucb` / `thompson`: actions by the bandit score (upper confidence bound, or one posterior draw)
  of the context vector, plus the content similarity weighted by K/(K + n_arm) with K = COLD_START_PULLS:
  a new arm is ranked by content, one with many rewards by what it learned.
Documents (only when a question is asked) are merged into the list by their dense cosine similarity.

Interface for the rest of the learning loop:
- `apply_reward(session, recommendation_id, reward, source=...)`: called by `/feedback` and telemetry.
- `bandit_state(session)`: the statistics the DP export publishes.
- `import_priors(session, snapshot, weight=...)`: another instance's statistics as a prior.
LinUCB and Thompson sampling share one set of statistics per arm (both are ridge regressions of the
reward on the context; they differ only in how they explore), stored under the policy name "linear".
"""

from __future__ import annotations

import math
import threading
import uuid
import zlib
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from luna_iems.db.base import utcnow
from luna_iems.errors import InvalidInputError
from luna_iems.knowledge import retrieval
from luna_iems.telemetry.recommend import arms as arm_catalog
from luna_iems.telemetry.recommend import features as feature_space
from luna_iems.telemetry.recommend import repository
from luna_iems.telemetry.recommend.bandits import (
    ArmStats,
    BanditSnapshot,
    Vector,
    linucb_scores,
    snapshot,
    thompson_scores,
)
from luna_iems.telemetry.recommend.deps import RecommendDeps
from luna_iems.telemetry.recommend.models import BanditArm, Recommendation, RecommendationReward
from luna_iems.telemetry.recommend.schemas import (
    ArmList,
    ArmRead,
    Policy,
    ReasonCode,
    ReasonParams,
    RecommendIn,
    RecommendItem,
    RecommendRead,
)

STATS_POLICY = "linear"  # the statistics set LinUCB and Thompson sampling share
COLD_START_PULLS = 10  # K in the blending weight K / (K + n_arm)
MAX_DOCUMENTS = 5
PAGE_TEXT: dict[str, str] = {
    "/": "overview of the site: energy flows, battery, PV, alerts",
    "/prices": "electricity prices, spot market, tariff and cheap hours",
    "/smart-meters": "smart meters, readings, consumption, alerts of meters",
    "/playbook": "what-if playbook: battery, PV, tariff and peak limit scenarios",
    "/support": "help, documentation and questions to Luna",
}


# --- statistics ---------------------------------------------------------------------------------------
def _load_stats(session: Session, *, for_update: bool = False) -> dict[str, ArmStats]:
    """Every arm's statistics; arms without a stored row start fresh (A = I, b = 0)."""
    stored = {
        row.arm_id: row
        for row in repository.list_arms(session=session, policy=STATS_POLICY, for_update=for_update)
    }
    stats: dict[str, ArmStats] = {}
    for arm_id in arm_catalog.ARM_IDS:
        row = stored.get(arm_id)
        if row is None:
            stats[arm_id] = ArmStats.fresh(feature_space.DIM)
            continue
        if list(row.features) != list(feature_space.FEATURES):
            # A schema change of the features without a migration of the statistics: refuse rather
            # than multiply vectors of different meaning.
            raise InvalidInputError(
                f"bandit_arms: arm {arm_id!r} was stored with features {row.features}, "
                f"this version uses {list(feature_space.FEATURES)}",
                details={"field": "features", "arm_id": arm_id},
            )
        stats[arm_id] = ArmStats(
            A=np.asarray(row.a_matrix, dtype=np.float64),
            b=np.asarray(row.b_vector, dtype=np.float64),
            n=row.n,
            reward_sum=row.reward_sum,
        )
    return stats


def _arm_row(session: Session, arm_id: str) -> BanditArm:
    """The arm's row, locked (PostgreSQL) for the rest of the transaction; created fresh if missing."""
    rows = {r.arm_id: r for r in repository.list_arms(session=session, policy=STATS_POLICY, for_update=True)}
    if arm_id in rows:
        return rows[arm_id]
    fresh = ArmStats.fresh(feature_space.DIM)
    values = {
        "policy": STATS_POLICY,
        "arm_id": arm_id,
        "features": list(feature_space.FEATURES),
        "a_matrix": fresh.A.tolist(),
        "b_vector": fresh.b.tolist(),
        "n": 0,
        "reward_sum": 0.0,
        "updated_at": utcnow(),
    }
    # If another transaction created it first, this inserts nothing and the row read next is theirs.
    repository.add_arm_if_missing(session=session, values=values)
    rows = {r.arm_id: r for r in repository.list_arms(session=session, policy=STATS_POLICY, for_update=True)}
    return rows[arm_id]


def _store(row: BanditArm, stats: ArmStats) -> None:
    row.a_matrix = stats.A.tolist()
    row.b_vector = stats.b.tolist()
    row.n = stats.n
    row.reward_sum = float(stats.reward_sum)
    row.updated_at = utcnow()


def apply_reward(
    session: Session,
    recommendation_id: uuid.UUID,
    reward: float,
    *,
    source: str,
    arm_id: str | None = None,
) -> bool:
    """Records `reward` (expected in -1..1: helpful 1, not helpful 0 or -1) for one action of a stored
    recommendation: `arm_id`, or by default its first item of kind `action` (the top-ranked action).

    Credit: that arm, with the context vector stored with the recommendation: A += x xᵀ, b += r x,
    n += 1, reward_sum += r. Documents are not arms and learn nothing. One reward per (recommendation,
    action): a second call replaces the first (A and n stay, b and reward_sum are corrected by the
    difference), so a changed vote never counts twice; a vote on another action of the same list is
    that action's own.
    Returns False for an unknown recommendation. Raises InvalidInputError for a non-finite reward or an
    `arm_id` that is not an action of this recommendation. Does NOT commit: the caller's transaction
    stores the reward and the arm's statistics together."""
    if not math.isfinite(reward):
        raise InvalidInputError(
            f"reward: must be a finite number, got {reward!r}", details={"field": "reward"}
        )
    recommendation = repository.get_recommendation(
        session=session, recommendation_id=recommendation_id, for_update=True
    )
    if recommendation is None:
        return False
    actions = [item["id"] for item in recommendation.items if item.get("kind") == "action"]
    if arm_id is None:
        arm_id = actions[0] if actions else None
    elif arm_id not in actions:
        raise InvalidInputError(
            f"id: {arm_id!r} is not an action of recommendation {recommendation_id} "
            f"(its actions: {', '.join(actions)})",
            details={"field": "id", "arm_id": arm_id, "actions": actions},
        )
    if arm_id is None or arm_id not in arm_catalog.BY_ID:
        return True
    stored = repository.get_reward(
        session=session, recommendation_id=recommendation_id, arm_id=arm_id
    ) or RecommendationReward(recommendation_id=recommendation_id, arm_id=arm_id)
    previous: float | None = stored.reward  # None: this action's first reward
    stored.reward, stored.source, stored.rewarded_at = float(reward), source[:40], utcnow()
    repository.add_reward(session=session, reward=stored)  # a no-op for a stored one
    x = np.asarray(recommendation.context["values"], dtype=np.float64)
    row = _arm_row(session, arm_id)
    stats = _load_stats(session)[arm_id]
    if previous is None:
        stats.update(x, float(reward))
    else:
        stats.b = stats.b + (float(reward) - previous) * x
        stats.reward_sum += float(reward) - previous
    _store(row, stats)
    session.flush()
    return True


def bandit_state(session: Session) -> BanditSnapshot:
    """The per-arm statistics (policy "linear", shared by LinUCB and Thompson sampling), every arm of
    `arms.ARMS` in that order, features in `features.FEATURES` order. Reads only."""
    stats = _load_stats(session)
    return snapshot(STATS_POLICY, list(feature_space.FEATURES), list(arm_catalog.ARM_IDS), stats)


def _check_snapshot(prior: BanditSnapshot, weight: float) -> None:
    if not (math.isfinite(weight) and weight >= 0):
        raise InvalidInputError(
            f"weight: must be a finite number >= 0, got {weight!r}", details={"field": "weight"}
        )
    if prior.policy not in (STATS_POLICY, "linucb", "thompson"):
        raise InvalidInputError(
            f"policy: priors hold linear statistics ('linear', 'linucb' or 'thompson'), got {prior.policy!r}",
            details={"field": "policy"},
        )
    if list(prior.features) != list(feature_space.FEATURES):
        raise InvalidInputError(
            f"features: the prior's features {list(prior.features)} differ from this instance's "
            f"{list(feature_space.FEATURES)}",
            details={"field": "features"},
        )
    if sorted(prior.arms) != sorted(arm_catalog.ARM_IDS):
        raise InvalidInputError(
            f"arms: the prior's arms {sorted(prior.arms)} differ from this instance's "
            f"{sorted(arm_catalog.ARM_IDS)}",
            details={"field": "arms"},
        )
    d = feature_space.DIM
    for arm_id in arm_catalog.ARM_IDS:
        for name, value, shape in (("A", prior.A.get(arm_id), (d, d)), ("b", prior.b.get(arm_id), (d,))):
            array = np.asarray(value if value is not None else [], dtype=np.float64)
            if array.shape != shape or not np.all(np.isfinite(array)):
                raise InvalidInputError(
                    f"{name}: arm {arm_id!r} needs {shape} finite numbers, got shape {array.shape}",
                    details={"field": name, "arm_id": arm_id},
                )


def import_priors(session: Session, snapshot: BanditSnapshot, *, weight: float) -> None:
    """Adds another instance's statistics to this one's, scaled by `weight` (0: nothing, 1: as if its
    rewards had happened here): A += weight·(A_prior - I), b += weight·b_prior,
    n += round(weight·n_prior), reward_sum += weight·reward_sum_prior. The prior's identity regulariser
    is removed so the ridge term is counted once. θ is recomputed from A and b (the prior's θ is ignored).
    Raises InvalidInputError naming `features`, `arms`, `A`, `b`, `policy` or `weight` when the snapshot
    does not fit. Does NOT commit (the caller's transaction does)."""
    _check_snapshot(snapshot, weight)
    identity = np.eye(feature_space.DIM)
    rows = {arm_id: _arm_row(session, arm_id) for arm_id in arm_catalog.ARM_IDS}
    stats = _load_stats(session)
    for arm_id, row in rows.items():
        own = stats[arm_id]
        own.A = own.A + weight * (np.asarray(snapshot.A[arm_id], dtype=np.float64) - identity)
        own.b = own.b + weight * np.asarray(snapshot.b[arm_id], dtype=np.float64)
        own.n += round(weight * snapshot.n.get(arm_id, 0))
        own.reward_sum += weight * snapshot.reward_sum.get(arm_id, 0.0)
        own._inv = None
        _store(row, own)
    session.flush()


# --- content similarity ---------------------------------------------------------------------------------
_vector_lock = threading.Lock()
_vectors: dict[tuple[str, str, str], Vector] = {}


def _cached(deps: RecommendDeps, texts: list[str], *, kind: Literal["query", "passage"]) -> list[Vector]:
    """Unit vectors of fixed texts (arm descriptions, page descriptions), cached per model: they repeat
    on every call. Only for that bounded set — a question is embedded afresh (`_embed_question`)."""
    embedder = deps.knowledge.embedder
    keys = [(embedder.model_name, kind, text) for text in texts]
    with _vector_lock:
        missing = [k for k in keys if k not in _vectors]
    if missing:
        vectors = embedder.embed([k[2] for k in missing], kind=kind)
        with _vector_lock:
            for key, vector in zip(missing, vectors, strict=True):
                _vectors[key] = np.asarray(vector, dtype=np.float64)
    with _vector_lock:
        return [_vectors[k] for k in keys]


def _query_vector(deps: RecommendDeps, body: RecommendIn) -> Vector | None:
    """The question's vector (not cached: questions are unbounded), else the page's (cached)."""
    if body.question and body.question.strip():
        vector = deps.knowledge.embedder.embed([body.question.strip()], kind="query")[0]
        return np.asarray(vector, dtype=np.float64)
    page = PAGE_TEXT.get(feature_space.page_key(body.page))
    return _cached(deps, [page], kind="query")[0] if page else None


def _arm_vectors(deps: RecommendDeps) -> list[Vector]:
    return _cached(deps, [f"{a.title}. {a.description}" for a in arm_catalog.ARMS], kind="passage")


# --- reasons --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Situation:
    at_local: str
    hour: float
    soc_pct: float | None
    price_level: str | None
    open_alerts: int
    question: bool


@dataclass(frozen=True)
class _Reason:
    code: ReasonCode
    params: ReasonParams
    text: str  # English; clients word `code` with `params` in their language


def _situation_reason(arm_id: str, s: _Situation) -> _Reason | None:
    """A sentence about the context that makes this action pay, or None when the context says nothing."""
    soc = s.soc_pct
    high, low = s.price_level == "high", s.price_level == "low"
    plural = "s" if s.open_alerts != 1 else ""
    at = ReasonParams(at_local=s.at_local)
    battery = ReasonParams(soc_pct=soc, at_local=s.at_local)
    reasons: dict[str, tuple[bool, _Reason]] = {
        "discharge_battery_peak": (
            high and soc is not None and soc >= 30,
            _Reason(
                "discharge_pays",
                battery,
                f"battery at {soc or 0:.0f} % and prices high at {s.at_local}: discharging pays",
            ),
        ),
        "charge_battery_cheap": (
            low and soc is not None and soc < 80,
            _Reason(
                "charging_cheap",
                battery,
                f"battery at {soc or 0:.0f} % and prices low at {s.at_local}: charging now is cheap",
            ),
        ),
        "shift_load_to_pv": (
            10 <= s.hour < 15,
            _Reason("pv_midday", at, f"{s.at_local} is PV midday: flexible load runs on own solar power now"),
        ),
        "review_alerts": (
            s.open_alerts > 0,
            _Reason(
                "open_alerts",
                ReasonParams(open_alerts=s.open_alerts),
                f"{s.open_alerts} open alert{plural} waiting",
            ),
        ),
        "lower_peak_limit": (
            high,
            _Reason(
                "lower_peak",
                at,
                f"prices high at {s.at_local}: a lower import peak limit cuts the costly peak",
            ),
        ),
        "check_tariff": (
            high,
            _Reason("check_tariff", ReasonParams(), "prices are high: check whether the tariff still fits"),
        ),
    }
    applies, reason = reasons.get(arm_id, (False, None))
    return reason if applies else None


def _reason(arm_id: str, s: _Situation, *, similarity: float, stats: ArmStats, policy: Policy) -> _Reason:
    situation = _situation_reason(arm_id, s)
    if situation is not None:
        return situation
    if policy != "content" and stats.n > 0:
        mean = stats.reward_sum / stats.n
        rated = ReasonParams(mean_rating=round(mean, 2), ratings=stats.n)
        plural = "s" if stats.n != 1 else ""
        return _Reason("rated", rated, f"rated {mean:.2f} on average in {stats.n} similar situation{plural}")
    similar = ReasonParams(similarity=round(similarity, 2))
    if s.question:
        return _Reason("similar_question", similar, f"similar to your question ({similarity:.2f})")
    return _Reason("fits_page", similar, f"fits the page you are on ({similarity:.2f})")


# --- ranking --------------------------------------------------------------------------------------------
def _rng_seed(settings_seed: int, x: Vector, stats: dict[str, ArmStats]) -> list[int]:
    """Thompson sampling's seed: the settings' seed, the context and the number of rewards so far —
    the same request on the same statistics ranks the same (tests, retries); a new reward draws anew."""
    total = sum(s.n for s in stats.values())
    return [settings_seed, zlib.crc32(np.round(x, 9).tobytes()), total]


def _action_scores(
    policy: Policy, x: Vector, similarity: Vector, stats: dict[str, ArmStats], deps: RecommendDeps
) -> Vector:
    settings = deps.settings
    ordered = [stats[a] for a in arm_catalog.ARM_IDS]
    if policy == "content":
        return similarity
    if policy == "linucb":
        bandit = linucb_scores(ordered, x, alpha=settings.recommend_alpha)
    else:
        rng = np.random.default_rng(_rng_seed(settings.recommend_seed, x, stats))
        bandit = thompson_scores(ordered, x, v=settings.recommend_thompson_v, rng=rng)
    pulls = np.array([s.n for s in ordered], dtype=np.float64)
    return np.asarray(bandit + COLD_START_PULLS / (COLD_START_PULLS + pulls) * similarity, dtype=np.float64)


def _documents(deps: RecommendDeps, question: str, query_vector: Vector, limit: int) -> list[RecommendItem]:
    """Documents for the question from the knowledge search (hybrid), one item per document, scored by
    the dense cosine similarity of their best chunk (0 when only the word ranking found them)."""
    result = retrieval.search(
        deps=deps.knowledge, query=question, top_k=limit * 3, query_vector=[float(v) for v in query_vector]
    )
    seen: set[uuid.UUID] = set()
    items: list[RecommendItem] = []
    for hit in result.hits:
        if hit.item_id in seen:
            continue
        seen.add(hit.item_id)
        score = hit.dense_score if hit.dense_score is not None else 0.0
        items.append(
            RecommendItem(
                kind="document",
                id=str(hit.item_id),
                title=hit.title,
                score=round(float(score), 6),
                reason=f"similar to your question: “{hit.snippet[:120]}”",
                reason_code="document_match",
                reason_params=ReasonParams(snippet=hit.snippet[:120]),
                link=f"/support?document={hit.item_id}",
            )
        )
        if len(items) == limit:
            break
    return items


def recommend(
    *, session: Session, deps: RecommendDeps, body: RecommendIn, key_id: uuid.UUID | None
) -> RecommendRead:
    """Ranks the arms (and, with a question, documents) for the context, stores the recommendation with
    its feature vector and returns it. Scores are comparable within one list only. Commits."""
    settings = deps.settings
    policy: Policy = body.policy or settings.recommend_policy
    at = body.at or utcnow()
    x = feature_space.context_vector(
        at=at,
        timezone=settings.timezone,
        soc_pct=body.soc_pct,
        price_level=body.price_level,
        open_alerts=body.open_alerts,
        page=body.page,
        question=bool(body.question and body.question.strip()),
    )
    query_vector = _query_vector(deps, body)
    arm_vectors = _arm_vectors(deps)
    similarity = (
        np.array([float(v @ query_vector) for v in arm_vectors])
        if query_vector is not None
        else np.zeros(len(arm_vectors))
    )
    stats = _load_stats(session)
    scores = _action_scores(policy, x, similarity, stats, deps)
    local = at.astimezone(ZoneInfo(settings.timezone))
    situation = _Situation(
        at_local=local.strftime("%H:%M"),
        hour=local.hour + local.minute / 60,
        soc_pct=body.soc_pct,
        price_level=body.price_level,
        open_alerts=body.open_alerts,
        question=bool(body.question and body.question.strip()),
    )
    # Ties (fresh arms with equal scores) go to the catalogue order: stable across runs.
    order = sorted(range(len(arm_catalog.ARMS)), key=lambda i: (-scores[i], i))
    items = []
    for i in order:
        arm = arm_catalog.ARMS[i]
        reason = _reason(
            arm.arm_id, situation, similarity=float(similarity[i]), stats=stats[arm.arm_id], policy=policy
        )
        items.append(
            RecommendItem(
                kind="action",
                id=arm.arm_id,
                title=arm.title,
                score=round(float(scores[i]), 6),
                reason=reason.text,
                reason_code=reason.code,
                reason_params=reason.params,
                link=arm.link,
            )
        )
    if situation.question and body.question is not None and query_vector is not None:
        documents = _documents(deps, body.question.strip(), query_vector, min(MAX_DOCUMENTS, body.top_k))
        # Stable merge by score: an action before a document of equal score.
        items = sorted(items + documents, key=lambda item: -item.score)
    items = _keep_an_action(items, body.top_k)
    recommendation = Recommendation(
        recommendation_id=uuid.uuid4(),
        created_at=utcnow(),
        key_id=key_id,
        policy=policy,
        context={"names": list(feature_space.FEATURES), "values": [float(v) for v in x]},
        items=[item.model_dump() for item in items],
    )
    repository.add_recommendation(session=session, recommendation=recommendation)
    session.commit()
    return RecommendRead(
        recommendation_id=recommendation.recommendation_id,
        created_at=recommendation.created_at,
        policy=policy,
        items=items,
    )


def _keep_an_action(items: list[RecommendItem], top_k: int) -> list[RecommendItem]:
    """The first `top_k` items, with the best action kept in the list even when documents fill it: the
    reward of a recommendation is credited to its first action, so every list must show one."""
    head = items[:top_k]
    if any(item.kind == "action" for item in head):
        return head
    best_action = next(item for item in items if item.kind == "action")
    return [*head[: top_k - 1], best_action]


def list_arms(*, session: Session) -> ArmList:
    """The arm catalogue with what each arm has learned so far."""
    stats = _load_stats(session)
    return ArmList(
        features=list(feature_space.FEATURES),
        items=[
            ArmRead(
                arm_id=arm.arm_id,
                title=arm.title,
                description=arm.description,
                link=arm.link,
                n=stats[arm.arm_id].n,
                reward_mean=round(stats[arm.arm_id].reward_sum / stats[arm.arm_id].n, 6)
                if stats[arm.arm_id].n
                else None,
            )
            for arm in arm_catalog.ARMS
        ],
    )
