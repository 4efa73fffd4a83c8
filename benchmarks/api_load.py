"""API latency under load: N concurrent async httpx clients, each looping GETs for D seconds.

Scenarios run one after another against ONE server process (per database):
  baseline  GET /health/live     does nothing: the floor of this harness + uvicorn + FastAPI
  ready     GET /health/ready    database, vector store and embedder checks
  summary   GET /status/summary  viewer key; row counts of every table + the same backend checks,
                                 first with 10 clients, then with all of them
  baseline  GET /health/live     again, last: how much the machine drifted during the run
Each figure is reported with its ratio to the first baseline's requests/s. The driver shares the
machine (and its cores) with the server, so absolute figures understate a dedicated server.

Each simulated client has its own `httpx.AsyncClient` with one connection. One shared client with
`Limits(max_connections=50)` was tried first: its connection pool made the driver the bottleneck
(~6 ms of driver CPU per request): /health/live at 170-190 requests/s against 590-710 with one
client per loop, measured A/B against the same server (see httpx issue #3215).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import Summary, luna, serve, service_env, summarise

CLIENTS = 50
SECONDS = 20.0
QUICK_SECONDS = 3.0
WARMUP_SECONDS = 1.0
TIMEOUT_S = 60.0  # longer than the server's own 30 s waits, so their answer is what we count


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    authenticated: bool = False
    clients: int | None = None  # None: all of them


SCENARIOS = (
    Scenario("baseline", "/health/live"),
    Scenario("ready", "/health/ready"),
    Scenario("summary, 10 clients", "/status/summary", authenticated=True, clients=10),
    Scenario("summary", "/status/summary", authenticated=True),
    Scenario("baseline (repeat)", "/health/live"),
)


async def _client_loop(
    client: httpx.AsyncClient,
    url: str,
    headers: Mapping[str, str],
    deadline: float,
    latencies: list[float],
    errors: Counter[str],
) -> None:
    """GET `url` until `deadline`; append successful latencies (s); count errors by kind."""
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        try:
            response = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            errors[type(exc).__name__] += 1
            await asyncio.sleep(0.01)  # a refused connection must not become a hot loop
            continue
        if response.is_success:
            latencies.append(time.perf_counter() - start)
        else:
            errors[f"HTTP {response.status_code}"] += 1


async def drive(
    clients: Sequence[httpx.AsyncClient], url: str, headers: Mapping[str, str], seconds: float
) -> tuple[Summary, dict[str, int]]:
    """Every client loops on one URL for `seconds`, concurrently: the summary and errors by kind."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(_client_loop(c, url, headers, deadline, latencies, errors) for c in clients))
    return summarise(latencies, errors.total(), time.perf_counter() - start), dict(errors)


async def _measure(base: str, token: str, clients: int, seconds: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async with AsyncExitStack() as stack:
        pool = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=1), timeout=TIMEOUT_S)
            )
            for _ in range(clients)
        ]
        await drive(pool, "/health/live", {}, WARMUP_SECONDS)  # open the connections
        for scenario in SCENARIOS:
            headers = {"X-API-Key": token} if scenario.authenticated else {}
            active = pool[: scenario.clients] if scenario.clients else pool
            summary, errors = await drive(active, scenario.path, headers, seconds)
            row = {"scenario": scenario.name, "endpoint": f"GET {scenario.path}", **summary.as_dict()}
            rows.append(row | {"error_kinds": errors})
    baseline_rps = rows[0]["rps"]
    for row in rows:
        row["rps_vs_baseline"] = round(row["rps"] / baseline_rps, 3) if baseline_rps else None
    return rows


def measure_backend(database_url: str | None, clients: int, seconds: float) -> list[dict[str, Any]]:
    """A viewer key created with the CLI, then one server process and every scenario against it."""
    with tempfile.TemporaryDirectory(prefix="luna-bench-") as tmp:
        data_dir = Path(tmp) / "var"
        env = service_env(data_dir, database_url)
        token = luna(env, "keys", "create", "--name", "bench", "--role", "viewer").strip().splitlines()[-1]
        with serve(database_url, data_dir=data_dir) as base:
            return asyncio.run(_measure(base, token, clients, seconds))


@contextmanager
def _postgres_url() -> Iterator[str]:
    from tests.support.postgres import start_postgres

    server = start_postgres()
    try:
        server.create_database("luna_bench")
        yield server.url("luna_bench")
    finally:
        server.stop()


def run(*, quick: bool = False, postgres: bool = False, clients: int = CLIENTS) -> dict[str, Any]:
    seconds = QUICK_SECONDS if quick else SECONDS
    rows = [{"database": "sqlite", **row} for row in measure_backend(None, clients, seconds)]
    if postgres:
        with _postgres_url() as url:
            rows += [{"database": "postgresql", **row} for row in measure_backend(url, clients, seconds)]
    return {
        "title": f"API under load: {clients} concurrent clients, {seconds:g} s per scenario",
        "params": {"clients": clients, "seconds": seconds, "quick": quick},
        "columns": [
            "database",
            "endpoint",
            "scenario",
            "requests",
            "errors",
            "seconds",
            "rps",
            "p50_ms",
            "p99_ms",
            "rps_vs_baseline",
            "error_kinds",
        ],
        "rows": rows,
        "notes": [
            "driver (one asyncio httpx process) and server (one uvicorn process) share the same cores, "
            "over loopback; rps and latencies count successful (2xx) requests only",
            "'summary, 10 clients' uses 10 of the clients: its ratio compares throughput, not concurrency",
        ],
    }
