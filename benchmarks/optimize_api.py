"""`POST /optimize/schedule` end to end: latency of the 96-step case (24 h at 15 minutes) over HTTP.

A real `luna serve` (SQLite, empty, no scheduler) answers sequential requests from one client:
explicit arrays (a simulated household with PV and simulated day-ahead prices, import = spot + 0.20
EUR/kWh, export = spot), one 10 kWh battery with a final SOC, and, in a second case, the same with
two deferrable loads (dishwasher 2 kW x 1 h, EV 11 kW x 2 h, minimum runs). A third case uses
`stored` inputs after a four-week backfill of the simulated meter and prices: the request then also
forecasts load and PV from the stored history (fewer requests: each fits two models).

Baselines measured in the same run: `GET /health/live` over the same connection (what the HTTP stack
alone costs) and `optimizer.solve` of the same problem in this process (what the MILP costs). The
ratio column is the end-to-end p50 over the in-process solve p50.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np

from benchmarks.common import ADMIN_KEY, EMPTY_SERVICE, percentiles_ms, serve_process

START = datetime(2025, 6, 2, tzinfo=UTC)  # a Monday in June: PV, negative middays
REQUESTS = 30
QUICK_REQUESTS = 8
BATTERY = {"capacity_kwh": 10, "charge_max_kw": 5, "discharge_max_kw": 5, "soc_final_pct": 50}
LOADS = [
    {"name": "dishwasher", "power_kw": 2, "energy_kwh": 2, "min_run_minutes": 60},
    {"name": "ev", "power_kw": 11, "energy_kwh": 22, "min_run_minutes": 60},
]


def inputs() -> dict[str, list[float]]:
    from luna_iems.simulation.config import load_sim_config
    from luna_iems.simulation.meters import simulate_meter
    from luna_iems.simulation.prices import simulate_prices

    config = load_sim_config()
    site = {"seed": config.seed, "timezone": config.timezone, "lat": config.site.lat, "lon": config.site.lon}
    end = START + timedelta(days=1)
    meter = simulate_meter(
        meter_id="sim-household-002", profile=config.profile("household_pv"), start=START, end=end, **site
    )
    prices = simulate_prices(spec=config.prices, start=START, end=end, **site)
    spot = prices.price_eur_mwh / 1000.0
    return {
        "load_kw": np.nan_to_num(meter.consumption_kw).round(4).tolist(),
        "pv_kw": np.nan_to_num(meter.production_kw).round(4).tolist(),
        "import_price_eur_kwh": (spot + 0.20).round(5).tolist(),
        "export_price_eur_kwh": spot.round(5).tolist(),
    }


def in_process_solve_s(body: dict[str, Any], runs: int) -> float:
    """Median time of `optimizer.solve` on the request's problem, built by the service's own code."""
    from luna_iems.decisions import optimize_service
    from luna_iems.decisions.schemas import OptimizeRequest
    from luna_iems.settings import Settings

    request = OptimizeRequest.model_validate(body)
    assert request.inputs is not None
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    built = optimize_service.explicit_inputs(request.inputs, start=START, step_minutes=15)
    problem = optimize_service.build_problem(request, built, settings)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        optimize_service.solve(problem)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def timed(client: httpx.Client, method: str, path: str, runs: int, **kwargs: Any) -> list[float]:
    latencies = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.request(method, path, **kwargs)
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
    return latencies


def stored_case(client: httpx.Client, runs: int) -> dict[str, Any]:
    """Backfill four weeks, then schedule from forecasts and stored prices."""
    history = {"from": (START - timedelta(days=28)).isoformat(), "to": START.isoformat()}
    meter = history | {"meter_ids": ["sim-household-002"]}
    client.post("/sim/meter/generate", json=meter).raise_for_status()
    prices = history | {"to": (START + timedelta(days=1)).isoformat()}
    client.post("/sim/market/generate", json=prices).raise_for_status()
    body = {
        "start": START.isoformat(),
        "horizon_h": 24,
        "stored": {"meter_id": "sim-household-002"},
        "batteries": [BATTERY],
    }
    warm_up = client.post("/optimize/schedule", json=body)  # warm-up
    warm_up.raise_for_status()
    measured = percentiles_ms(timed(client, "POST", "/optimize/schedule", runs, json=body))
    return {
        "case": "POST /optimize/schedule, 1 battery, stored inputs (2 forecasts)",
        "steps": 96,
        "status": warm_up.json()["status"],
        **measured,
    }


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    del postgres  # the optimiser reads nothing from the database with explicit inputs
    runs = QUICK_REQUESTS if quick else REQUESTS
    arrays = inputs()
    cases = {
        "1 battery": {"start": START.isoformat(), "inputs": arrays, "batteries": [BATTERY]},
        "1 battery + 2 deferrable loads": {
            "start": START.isoformat(),
            "inputs": arrays,
            "batteries": [BATTERY],
            "deferrable_loads": LOADS,
        },
    }
    rows: list[dict[str, Any]] = []
    with serve_process(extra_env=EMPTY_SERVICE) as server:
        headers = {"X-API-Key": ADMIN_KEY}
        with httpx.Client(base_url=server.base, headers=headers, timeout=120) as client:
            health = percentiles_ms(timed(client, "GET", "/health/live", runs))
            rows.append({"case": "GET /health/live (baseline)", "steps": None, **health})
            for name, body in cases.items():
                warm_up = client.post("/optimize/schedule", json=body)  # warm-up
                warm_up.raise_for_status()
                plan = warm_up.json()
                latencies = timed(client, "POST", "/optimize/schedule", runs, json=body)
                solve_s = in_process_solve_s(body, max(3, runs // 3))
                measured = percentiles_ms(latencies)
                rows.append(
                    {
                        "case": f"POST /optimize/schedule, {name}",
                        "steps": 96,
                        "status": plan["status"],
                        "mip_gap": plan["mip_gap"],
                        **measured,
                        "solve_in_process_ms": round(solve_s * 1000, 2),
                        "ratio_to_solve": round(measured["p50_ms"] / (solve_s * 1000), 2),
                    }
                )
            rows.append(stored_case(client, max(3, runs // 5)))
    return {
        "title": f"POST /optimize/schedule end to end, 96 steps, {runs} sequential requests",
        "params": {"quick": quick, "requests": runs, "start": START.isoformat()},
        "columns": [
            "case",
            "steps",
            "status",
            "mip_gap",
            "p50_ms",
            "p95_ms",
            "max_ms",
            "solve_in_process_ms",
            "ratio_to_solve",
        ],
        "rows": rows,
        "notes": [
            "in-process solve: optimizer.solve on the same problem built by optimize_service (median)",
            "ratio_to_solve: end-to-end p50 / in-process solve median (HTTP, validation, JSON of 96 steps)",
        ],
    }
