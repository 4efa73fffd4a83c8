"""Recommendations (issue 13): offline replay of the bandits on simulated operators, and `/recommend`
latency over HTTP.

Replay. Each seed is one simulated population of operators with hidden linear preferences: every arm
a of the real arm set (`telemetry.recommend.arms`) has a true weight vector θ*_a over the real context
features (`telemetry.recommend.features`), drawn at random plus a few planted habits (charge in low
prices with a low battery, discharge in high prices with a full one, review alerts when there are
some). Each round draws a context (time of day, SOC or missing, price level or missing, open alerts,
page, question flag), the policy picks one arm, the simulated operator answers with reward
θ*_aᵀx + N(0, 0.3²). Regret of a round = max_a θ*_aᵀx - θ*_chosenᵀx (expected rewards, so the noise
does not add to it). Policies:
  random      uniform over the arms
  greedy      ε = 0: ridge regression per arm, always the best point estimate (ties: first arm)
  ε-greedy    ε = 0.1: the same, but a uniformly random arm one round in ten
  linucb      `bandits.linucb_scores` with alpha = RECOMMEND_ALPHA's tuned value
  thompson    `bandits.thompson_scores` with v = RECOMMEND_THOMPSON_V's tuned value, seeded
alpha and v are tuned on the seeds TUNE_SEEDS and reported on the disjoint REPORT_SEEDS.
A cross-check replays one seed with mabwiser's LinUCB fed the same history: how often it picks the
same arm as ours.

Latency. A real `luna serve` (SQLite, no scheduler) with two small documents: `POST /recommend`
without and with a question (the question adds one query embedding and the hybrid document search),
against `GET /health/live` and `GET /recommend/arms` (one SQL read) measured in the same run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.common import ADMIN_KEY, EMPTY_SERVICE, serve_process
from luna_iems.telemetry.recommend.arms import ARM_IDS
from luna_iems.telemetry.recommend.bandits import ArmStats, greedy_scores, linucb_scores, thompson_scores
from luna_iems.telemetry.recommend.features import ALERTS_CAP, DIM, FEATURES, PAGES

ROUNDS = 2000
QUICK_ROUNDS = 400
TUNE_SEEDS = (0, 1, 2)
REPORT_SEEDS = (100, 101, 102, 103, 104)
ALPHAS = (0.1, 0.25, 0.5, 1.0, 2.0)
VS = (0.05, 0.1, 0.3, 0.5, 1.0)
NOISE_SD = 0.3
EPSILON = 0.1
REQUESTS = 300
QUICK_REQUESTS = 40
PLOT = Path(__file__).resolve().parents[1] / "docs" / "img" / "bandit_regret.png"
_IDX = {name: i for i, name in enumerate(FEATURES)}

Policy = Callable[[list[ArmStats], np.ndarray, np.random.Generator], int]


# --- simulation ---------------------------------------------------------------------------------------
def preferences(seed: int) -> np.ndarray:
    """Hidden θ* (arms x features): random tastes plus planted habits a real operator would show."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 0.35, size=(len(ARM_IDS), DIM))
    arm = {a: i for i, a in enumerate(ARM_IDS)}
    theta[arm["charge_battery_cheap"], [_IDX["price_low"], _IDX["soc"]]] += (1.0, -0.6)
    theta[arm["discharge_battery_peak"], [_IDX["price_high"], _IDX["soc"]]] += (1.0, 0.6)
    theta[arm["review_alerts"], _IDX["alerts"]] += 1.5
    return theta


def context(rng: np.random.Generator) -> np.ndarray:
    """One random context in the features' order (the same encoding `features.context_vector` makes)."""
    x = np.zeros(DIM)
    x[_IDX["bias"]] = 1.0
    angle = rng.uniform(0, 2 * np.pi)
    x[_IDX["hour_sin"]], x[_IDX["hour_cos"]] = np.sin(angle), np.cos(angle)
    if rng.random() < 0.2:
        x[_IDX["soc_missing"]] = 1.0
    else:
        x[_IDX["soc"]] = rng.uniform(0.05, 1.0)
    level = rng.choice(["low", "normal", "high", "missing"], p=[0.3, 0.35, 0.25, 0.1])
    if level != "normal":
        x[_IDX[f"price_{level}"]] = 1.0
    x[_IDX["alerts"]] = min(int(rng.poisson(0.6)), ALERTS_CAP) / ALERTS_CAP
    page = int(rng.integers(0, len(PAGES) + 1))  # the last: a page outside the list
    if page < len(PAGES):
        x[_IDX["page_home"] + page] = 1.0
    x[_IDX["question"]] = float(rng.random() < 0.3)
    return x


def _argmax(scores: np.ndarray) -> int:
    return int(np.argmax(scores))  # first of equal scores, as the service's stable sort


def policies(alpha: float, v: float) -> dict[str, Policy]:
    return {
        "random": lambda stats, x, rng: int(rng.integers(0, len(stats))),
        "greedy (ε=0)": lambda stats, x, rng: _argmax(greedy_scores(stats, x)),
        f"ε-greedy (ε={EPSILON})": lambda stats, x, rng: (
            int(rng.integers(0, len(stats))) if rng.random() < EPSILON else _argmax(greedy_scores(stats, x))
        ),
        "linucb": lambda stats, x, rng: _argmax(linucb_scores(stats, x, alpha=alpha)),
        "thompson": lambda stats, x, rng: _argmax(thompson_scores(stats, x, v=v, rng=rng)),
    }


def replay(policy: Policy, seed: int, rounds: int) -> np.ndarray:
    """Cumulative regret per round of `policy` against the simulated operators of `seed`."""
    theta = preferences(seed)
    world = np.random.default_rng([seed, 1])  # contexts and noise: the same stream for every policy
    chooser = np.random.default_rng([seed, 2])  # the policy's own randomness
    stats = [ArmStats.fresh(DIM) for _ in ARM_IDS]
    regret = np.empty(rounds)
    for t in range(rounds):
        x = context(world)
        noise = world.normal(0.0, NOISE_SD)
        means = theta @ x
        arm = policy(stats, x, chooser)
        stats[arm].update(x, float(means[arm] + noise))
        regret[t] = means.max() - means[arm]
    return np.cumsum(regret)


def tune(rounds: int) -> tuple[float, float, dict[str, Any]]:
    """alpha and v with the least mean final regret on TUNE_SEEDS."""
    linucb = {
        a: float(np.mean([replay(policies(a, 1.0)["linucb"], s, rounds)[-1] for s in TUNE_SEEDS]))
        for a in ALPHAS
    }
    thompson = {
        v: float(np.mean([replay(policies(1.0, v)["thompson"], s, rounds)[-1] for s in TUNE_SEEDS]))
        for v in VS
    }
    alpha, v = min(linucb, key=linucb.__getitem__), min(thompson, key=thompson.__getitem__)
    grid = {
        "linucb_alpha_to_regret": {str(k): round(r, 1) for k, r in linucb.items()},
        "thompson_v_to_regret": {str(k): round(r, 1) for k, r in thompson.items()},
    }
    return alpha, v, grid


def mabwiser_agreement(alpha: float, seed: int, rounds: int) -> dict[str, Any]:
    """Our LinUCB's choice vs mabwiser's LinUCB given the same history, round by round."""
    from mabwiser.mab import MAB, LearningPolicy

    theta = preferences(seed)
    world = np.random.default_rng([seed, 1])
    stats = [ArmStats.fresh(DIM) for _ in ARM_IDS]
    oracle = MAB(list(ARM_IDS), LearningPolicy.LinUCB(alpha=alpha, l2_lambda=1.0), seed=seed)
    same = compared = 0
    for t in range(rounds):
        x = context(world)
        noise = world.normal(0.0, NOISE_SD)
        scores = linucb_scores(stats, x, alpha=alpha)
        arm = _argmax(scores)
        if t > 0:
            expectations = oracle.predict_expectations(x.reshape(1, -1))
            theirs = np.array([expectations[a] for a in ARM_IDS])
            if np.sort(theirs)[-1] - np.sort(theirs)[-2] > 1e-9:  # a tie could go either way
                compared += 1
                same += int(ARM_IDS[int(np.argmax(theirs))] == ARM_IDS[arm])
        reward = float(theta[arm] @ x + noise)
        stats[arm].update(x, reward)
        if t == 0:
            oracle.fit([ARM_IDS[arm]], [reward], x.reshape(1, -1))
        else:
            oracle.partial_fit([ARM_IDS[arm]], [reward], x.reshape(1, -1))
    return {
        "rounds_compared": compared,
        "same_arm": same,
        "agreement": round(same / compared, 4) if compared else None,
    }


def plot(curves: dict[str, np.ndarray], rounds: int, path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), dpi=110)
    steps = np.arange(1, rounds + 1)
    for ax, names in ((axes[0], list(curves)), (axes[1], [n for n in curves if n != "random"])):
        for index, (name, runs) in enumerate(curves.items()):
            if name not in names:
                continue
            color = f"C{index}"
            ax.plot(steps, runs.mean(axis=0), label=name, linewidth=1.8, color=color)
            ax.fill_between(steps, runs.min(axis=0), runs.max(axis=0), alpha=0.15, color=color)
        ax.set_xlabel("round")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    axes[0].set_ylabel("cumulative regret (expected reward lost)")
    axes[0].set_title("all policies")
    axes[1].set_title("without random")
    fig.suptitle(f"Bandits on simulated operators: mean and range over {len(REPORT_SEEDS)} report seeds")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path.relative_to(path.parents[2]))


# --- latency ------------------------------------------------------------------------------------------
BATTERY_DOC = "The battery storage charges when prices are low and discharges in the evening peak."
PUMP_DOC = "The booster pump seal kit XK-4471 is replaced every 4,000 hours; inspect bearings in spring."


QUESTIONS = (
    "When should I charge the battery?",
    "How do I lower my grid peak?",
    "Which tariff fits a heat pump?",
    "Why is the pump vibrating?",
    "Can the EV charge from solar at noon?",
    "What does the battery cost per cycle?",
    "How often must the seal kit be replaced?",
    "Is discharging in the evening worth it?",
)


def _timed(client: httpx.Client, method: str, path: str, runs: int, bodies: list[Any]) -> list[float]:
    """`runs` requests, cycling through `bodies` (JSON for POST, query parameters for GET): questions
    vary, so no cache of a repeated text flatters the figure."""
    latencies = []
    for i in range(runs):
        body = bodies[i % len(bodies)]
        kwargs = {"json": body} if method == "POST" else {"params": body}
        started = time.perf_counter()
        response = client.request(method, path, **kwargs)
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
    return latencies


def _pcts(latencies: list[float]) -> dict[str, float]:
    ms = np.asarray(latencies) * 1000
    p50, p99 = np.percentile(ms, [50, 99])
    return {"p50_ms": round(float(p50), 2), "p99_ms": round(float(p99), 2)}


def latency(runs: int) -> list[dict[str, Any]]:
    context_body = {"page": "/prices", "soc_pct": 70, "price_level": "high", "open_alerts": 1}
    asked = [context_body | {"question": q} for q in QUESTIONS]
    cases: list[tuple[str, str, str, list[Any]]] = [
        ("GET /health/live (baseline)", "GET", "/health/live", [None]),
        ("GET /recommend/arms (baseline: one SQL read)", "GET", "/recommend/arms", [None]),
        (
            "GET /search?q=… (baseline: embed + hybrid search)",
            "GET",
            "/search",
            [{"q": q} for q in QUESTIONS],
        ),
        ("POST /recommend, linucb, no question", "POST", "/recommend", [context_body]),
        (
            "POST /recommend, thompson, no question",
            "POST",
            "/recommend",
            [context_body | {"policy": "thompson"}],
        ),
        ("POST /recommend, linucb, with a question (+ documents)", "POST", "/recommend", asked),
    ]
    rows: list[dict[str, Any]] = []
    with (
        serve_process(extra_env=EMPTY_SERVICE) as server,
        httpx.Client(base_url=server.base, headers={"X-API-Key": ADMIN_KEY}, timeout=120) as client,
    ):
        for title, text in (("Battery", BATTERY_DOC), ("Pumps", PUMP_DOC)):
            client.post(
                "/ingest/text", params={"wait": "true"}, json={"title": title, "text": text}
            ).raise_for_status()
        for name, method, path, bodies in cases:
            _timed(client, method, path, 3, bodies)  # warm-up (model load, caches)
            rows.append({"case": name, "requests": runs, **_pcts(_timed(client, method, path, runs, bodies))})
    base = rows[0]["p50_ms"]
    for row in rows:
        row["p50_vs_health"] = round(row["p50_ms"] / base, 2) if base else None
    return rows


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    del postgres  # the replay is in memory; the latency case uses the default SQLite server
    rounds = QUICK_ROUNDS if quick else ROUNDS
    started = time.perf_counter()
    alpha, v, grid = tune(rounds)
    curves = {
        name: np.array([replay(p, s, rounds) for s in REPORT_SEEDS]) for name, p in policies(alpha, v).items()
    }
    random_final = float(curves["random"][:, -1].mean())
    greedy_final = float(curves["greedy (ε=0)"][:, -1].mean())
    regret_rows = [
        {
            "policy": name,
            "final_regret_mean": round(float(runs[:, -1].mean()), 1),
            "final_regret_min": round(float(runs[:, -1].min()), 1),
            "final_regret_max": round(float(runs[:, -1].max()), 1),
            "last_500_rounds_regret_per_round": round(float((runs[:, -1] - runs[:, -501]).mean() / 500), 4)
            if rounds > 500
            else None,
            "vs_random": round(float(runs[:, -1].mean()) / random_final, 3),
            "vs_greedy": round(float(runs[:, -1].mean()) / greedy_final, 3),
        }
        for name, runs in curves.items()
    ]
    replay_s = time.perf_counter() - started
    latency_rows = latency(QUICK_REQUESTS if quick else REQUESTS)
    return {
        "title": f"regret after {rounds} rounds ({len(REPORT_SEEDS)} report seeds), /recommend latency",
        "columns": [
            "case",
            "final_regret_mean",
            "vs_random",
            "vs_greedy",
            "p50_ms",
            "p99_ms",
            "p50_vs_health",
        ],
        "rows": [{"case": row["policy"], **row} for row in regret_rows] + latency_rows,
        "rounds": rounds,
        "tune_seeds": list(TUNE_SEEDS),
        "report_seeds": list(REPORT_SEEDS),
        "tuned": {"alpha": alpha, "v": v, **grid},
        "regret": regret_rows,
        "mabwiser_linucb": mabwiser_agreement(alpha, REPORT_SEEDS[0], min(rounds, 500)),
        "plot": plot(curves, rounds, PLOT),
        "replay_s": round(replay_s, 1),
        "latency": latency_rows,
    }
