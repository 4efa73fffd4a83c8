"""Simulation backfill rows/s: 10 meters x one year at 15 minutes, against the pure simulation.

In process, per database (a fresh, migrated one):
  pure simulation   baseline: `simulate_meter` for the same 10 meters (`select_meters(count=10)`) over
                    the same year in the same 92-day chunks `backfill_meters` uses; nothing is written
  backfill          `backfill_meters`: simulation + `write_readings` (one transaction per meter-quarter)
                    + `refresh_rollups` for the 10 meters at the end. The rollup share is timed by
                    wrapping `rollup_service.refresh_rollups` (the benchmark's instrumentation only)
  pure simulation   the baseline again, last: drift
Both first warm up on one day of one meter (imports, cached tables), so neither pays for them. The
clear-sky cache (`energy.solar.clear_sky_grid`, an LRU cache per site and window that all meters share) is
emptied before each timed run: each then computes the clear sky once per 92-day window, as a first
backfill in a fresh process does; otherwise whichever runs second would skip that work.
`ratio_vs_simulation` is rows/s over the first pure simulation's rows/s.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.common import databases, in_process_container

METERS, QUICK_METERS = 10, 3
YEAR = 2025
TZ = ZoneInfo("Europe/Berlin")


def pure_simulation(config: Any, specs: list[Any], start: datetime, end: datetime) -> tuple[float, int]:
    """Seconds and rows for `simulate_meter` over the meters, chunked exactly as `backfill_meters`."""
    from luna_iems.energy.solar import clear_sky_grid
    from luna_iems.simulation import service as sim

    rows = 0
    clear_sky_grid.cache_clear()
    t0 = time.perf_counter()
    for spec in specs:
        cursor = start
        while cursor < end:
            chunk_end = min(cursor + sim.CHUNK, end)
            readings = sim.simulate(spec, config, start=cursor, end=chunk_end)
            rows += len(readings)
            cursor = chunk_end
    return time.perf_counter() - t0, rows


def _timing(target: Callable[..., Any], spent: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return target(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    return wrapper


def measure(database_url: str | None, meters: int) -> list[dict[str, Any]]:
    from luna_iems.energy.solar import clear_sky_grid
    from luna_iems.simulation import service as sim
    from luna_iems.timeseries import rollup_service

    start, end = datetime(YEAR, 1, 1, tzinfo=TZ), datetime(YEAR + 1, 1, 1, tzinfo=TZ)
    with tempfile.TemporaryDirectory(prefix="luna-bench-") as tmp:
        container = in_process_container(Path(tmp) / "var", database_url)
        try:
            deps = container.timeseries_deps
            config = sim.load_config(deps)
            specs = sim.select_meters(config, meter_ids=None, count=meters)
            warm = sim.select_meters(config, meter_ids=None, count=1)[0].model_copy(
                update={"meter_id": "warm"}
            )
            pure_simulation(config, [warm], start, datetime(YEAR, 1, 2, tzinfo=TZ))
            sim.backfill_meters(
                deps=deps, ts_from=start, ts_to=datetime(YEAR, 1, 2, tzinfo=TZ), meters=[warm]
            )
            pure_s, pure_rows = pure_simulation(config, specs, start, end)
            spent: list[float] = []
            original = rollup_service.refresh_rollups
            rollup_service.refresh_rollups = _timing(original, spent)
            try:
                clear_sky_grid.cache_clear()
                t0 = time.perf_counter()
                result = sim.backfill_meters(deps=deps, ts_from=start, ts_to=end, meters=specs)
                backfill_s = time.perf_counter() - t0
            finally:
                rollup_service.refresh_rollups = original
            repeat_s, _ = pure_simulation(config, specs, start, end)
        finally:
            container.close()
    rollups_s = sum(spent)
    base_rate = pure_rows / pure_s
    rows = [
        ("pure simulation (baseline)", pure_rows, pure_s, ""),
        ("backfill_meters (simulate + write + rollups)", result.rows_written, backfill_s, ""),
        (
            "  of which refresh_rollups",
            result.rows_written,
            rollups_s,
            f"{100 * rollups_s / backfill_s:.0f}%",
        ),
        ("pure simulation (repeat)", pure_rows, repeat_s, ""),
    ]
    return [
        {
            "scenario": name,
            "rows": n,
            "seconds": round(seconds, 2),
            "rows_per_s": round(n / seconds),
            "ratio_vs_simulation": round(n / seconds / base_rate, 3),
            "share_of_backfill": share,
        }
        for name, n, seconds, share in rows
    ]


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    meters = QUICK_METERS if quick else METERS
    rows = []
    for name, url in databases(postgres):
        rows += [{"database": name, **row} for row in measure(url, meters)]
    return {
        "title": f"Simulation backfill: {meters} meters x {YEAR} (local year) at 15 minutes, in process",
        "params": {"meters": meters, "year": YEAR, "quick": quick},
        "columns": [
            "database",
            "scenario",
            "rows",
            "seconds",
            "rows_per_s",
            "ratio_vs_simulation",
            "share_of_backfill",
        ],
        "rows": rows,
        "notes": ["'of which refresh_rollups' counts the backfill's rows over the rollup time alone"],
    }
