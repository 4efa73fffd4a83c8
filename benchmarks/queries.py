"""Query latency on a year of 15-minute data for 100 simulated meters (3.5 M readings).

Build, in process (no HTTP): `migrate.upgrade`, then `simulation.service.backfill_meters` for
`select_meters(config, meter_ids=None, count=100)` over the local calendar year 2025 (it writes through
`write_readings` and refreshes the rollups at the end), then `backfill_prices` for the same year. The
build's rows/s is reported too.

Then one `luna serve` process on that database and one sequential client (httpx, keep-alive), N
requests per scenario, one scenario after another:
  baseline        GET /health/live: the floor of this harness + uvicorn + FastAPI
  daily, 1 meter  GET /timeseries/readings?meter_id=sim-household-001&bucket=1d&agg=sum over the year
                  (365 points); target p50 < 50 ms
  a year, 15 min  GET /timeseries/readings?bucket=15m over the year (35,040 points, one object each),
                  then the same as GET /timeseries/readings/columns (arrays): the chart's request
                  (issue 11: a year of 15-min data interactive in < 1 s); a fifth of N requests each
  monthly KPIs    GET /kpis?site=sim&from=<month start>&to=<next month start>, cycling through the
                  12 months (100 meters); target p50 < 500 ms
  baseline        again, last: drift during the run
`p50_vs_live` is a scenario's p50 over the first baseline's p50 (how many harness floors it costs).
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx

from benchmarks.common import (
    ADMIN_KEY,
    EMPTY_SERVICE,
    databases,
    in_process_container,
    percentiles_ms,
    serve_process,
)

METERS, QUICK_METERS = 100, 10
REPEAT, QUICK_REPEAT = 50, 10
YEAR = 2025
TZ = ZoneInfo("Europe/Berlin")
METER = "sim-household-001"


def _month(month: int) -> tuple[str, str]:
    start = datetime(YEAR, month, 1, tzinfo=TZ)
    end = datetime(YEAR + month // 12, month % 12 + 1, 1, tzinfo=TZ)
    return quote(start.isoformat()), quote(end.isoformat())  # '+' must not become a space


def build(data_dir: Path, database_url: str | None, meters: int) -> dict[str, Any]:
    """Backfill `meters` x one year and a year of prices; returns rows, seconds, rows/s."""
    from luna_iems.simulation import service as sim

    container = in_process_container(data_dir, database_url)
    try:
        deps = container.timeseries_deps
        config = sim.load_config(deps)
        specs = sim.select_meters(config, meter_ids=None, count=meters)
        start, end = datetime(YEAR, 1, 1, tzinfo=TZ), datetime(YEAR + 1, 1, 1, tzinfo=TZ)
        t0 = time.perf_counter()
        readings = sim.backfill_meters(deps=deps, ts_from=start, ts_to=end, meters=specs)
        t1 = time.perf_counter()
        prices = sim.backfill_prices(deps=deps, ts_from=start, ts_to=end)
        t2 = time.perf_counter()
    finally:
        container.close()
    return {
        "readings": readings.rows_written,
        "readings_seconds": round(t1 - t0, 2),
        "readings_per_s": round(readings.rows_written / (t1 - t0)),
        "prices": prices.rows_written,
        "prices_seconds": round(t2 - t1, 2),
    }


def _timed(client: httpx.Client, paths: list[str], check: Any) -> list[float]:
    latencies = []
    for path in paths:
        start = time.perf_counter()
        response = client.get(path)
        latencies.append(time.perf_counter() - start)
        if not response.is_success:
            raise RuntimeError(f"GET {path}: HTTP {response.status_code} {response.text[:500]}")
        check(response.json())
    return latencies


def _scenarios(repeat: int, meters: int) -> list[tuple[str, str, list[str], Any]]:
    year_from, year_to = datetime(YEAR, 1, 1, tzinfo=TZ), datetime(YEAR + 1, 1, 1, tzinfo=TZ)
    daily = (
        f"/timeseries/readings?meter_id={METER}&bucket=1d&agg=sum"
        f"&from={quote(year_from.isoformat())}&to={quote(year_to.isoformat())}"
    )
    year_range = f"from={quote(year_from.isoformat())}&to={quote(year_to.isoformat())}"
    quarter_hours = f"meter_id={METER}&bucket=15m&agg=avg&{year_range}"
    year_repeat = max(3, repeat // 5)
    months = [_month(1 + i % 12) for i in range(repeat)]
    kpis = [f"/kpis?site=sim&from={a}&to={b}" for a, b in months]

    def daily_ok(body: dict[str, Any]) -> None:
        if len(body["points"]) != 365:
            raise RuntimeError(f"expected 365 daily points, got {len(body['points'])}")

    def year_points_ok(body: dict[str, Any]) -> None:
        if len(body["points"]) != 35_040:
            raise RuntimeError(f"expected 35,040 quarter-hours, got {len(body['points'])}")

    def year_columns_ok(body: dict[str, Any]) -> None:
        if len(body["ts"]) != 35_040 or len(body["consumption_kw"]) != 35_040:
            raise RuntimeError(f"expected 35,040 quarter-hours, got {len(body['ts'])}")

    def kpis_ok(body: dict[str, Any]) -> None:
        if body["scope"]["meters"] != meters or body["coverage"] < 0.99:
            raise RuntimeError(f"unexpected KPI scope or coverage: {body['scope']}, {body['coverage']}")

    def live_ok(body: dict[str, Any]) -> None:
        pass

    live = ["/health/live"] * repeat
    return [
        ("baseline", "GET /health/live", live, live_ok),
        (
            "daily buckets, 1 meter, 1 year",
            "GET /timeseries/readings bucket=1d agg=sum",
            [daily] * repeat,
            daily_ok,
        ),
        (
            "a year of quarter-hours, 1 meter, as points",
            "GET /timeseries/readings bucket=15m",
            [f"/timeseries/readings?{quarter_hours}"] * year_repeat,
            year_points_ok,
        ),
        (
            "a year of quarter-hours, 1 meter, as columns",
            "GET /timeseries/readings/columns bucket=15m",
            [f"/timeseries/readings/columns?{quarter_hours}"] * year_repeat,
            year_columns_ok,
        ),
        ("monthly KPIs, whole site", "GET /kpis?site=sim (12 months in turn)", kpis, kpis_ok),
        ("baseline (repeat)", "GET /health/live", live, live_ok),
    ]


def measure(
    database_url: str | None, meters: int, repeat: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="luna-bench-") as tmp:
        data_dir = Path(tmp) / "var"
        built = build(data_dir, database_url, meters)
        with (
            serve_process(database_url, data_dir, EMPTY_SERVICE) as server,
            httpx.Client(base_url=server.base, headers={"X-API-Key": ADMIN_KEY}, timeout=120) as client,
        ):
            for scenario, endpoint, paths, check in _scenarios(repeat, meters):
                _timed(client, paths[:3], check)  # warm-up: connection, caches, first-call imports
                stats = percentiles_ms(_timed(client, paths, check))
                rows.append({"scenario": scenario, "endpoint": endpoint, "requests": len(paths), **stats})
    floor = rows[0]["p50_ms"]
    for row in rows:
        row["p50_vs_live"] = round(row["p50_ms"] / floor, 1)
    return built, rows


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    meters, repeat = (QUICK_METERS, QUICK_REPEAT) if quick else (METERS, REPEAT)
    rows, builds = [], []
    for name, url in databases(postgres):
        built, measured = measure(url, meters, repeat)
        builds.append({"database": name, **built})
        rows += [{"database": name, **row} for row in measured]
    return {
        "title": f"Query latency: {meters} meters x {YEAR} at 15 minutes, {repeat} sequential requests each",
        "params": {"meters": meters, "repeat": repeat, "year": YEAR, "quick": quick},
        "columns": [
            "database",
            "scenario",
            "endpoint",
            "requests",
            "p50_ms",
            "p95_ms",
            "max_ms",
            "p50_vs_live",
        ],
        "rows": rows,
        "build": builds,
        "notes": [f"build (in process): {b}" for b in builds]
        + ["one client, sequential requests, after 3 warm-up requests per scenario"],
    }
