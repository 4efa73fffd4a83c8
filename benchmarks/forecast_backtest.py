"""Forecast accuracy: rolling-origin backtest of seasonal naive against the learned model (gbm).

Series (simulated with the shipped `config/sim.yml`: its seed, site and time zone): the load of the
configured meters `sim-household-001` (household, BDEW H25) and `sim-commercial-001` (commercial), the
PV production of `sim-household-002` (household_pv, 8 kWp) and the day-ahead price (EUR/MWh). Two
periods, 8 weeks of 15-minute history each, ending 30 June 2025 (summer: long days, negative midday
prices) and 30 November 2025 (winter). At each of 14 origins one day apart at the end of the history,
each model is fitted on the data before the origin only and forecasts 24 h (96 steps); errors are
pooled over origins and steps (`luna_iems.decisions.backtest`). Quick: 4 weeks, 3 origins.

Baseline, measured in the same run: seasonal naive (load: the value one week earlier; PV and price:
one day earlier). MASE = MAE / MAE of seasonal naive on the same origins and steps, so the baseline is
1.0 by construction and MASE < 1 means the learned model beats it. `coverage` is the share of actuals
inside the 80 % prediction interval. `fit_predict_s` is the mean wall time per origin of one
`forecast()` call (fit, interval calibration fit, prediction). Separately, `forecast()` with exactly
4 weeks of 15-minute history (the brief's performance figure) is timed per target (best of 3).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads: threaded code crawls on 2 shared cores

PERIOD_ENDS = (datetime(2025, 6, 30, tzinfo=UTC), datetime(2025, 11, 30, tzinfo=UTC))
WEEKS, QUICK_WEEKS = 8, 4
ORIGINS, QUICK_ORIGINS = 14, 3
HORIZON_STEPS = 96  # 24 h at 15 minutes
STEP_MINUTES = 15
MODELS = ("seasonal_naive", "gbm")
# (series name, target, configured meter id or None for the price, which reading)
SERIES = (
    ("household load", "load", "sim-household-001", "consumption_kw"),
    ("commercial load", "load", "sim-commercial-001", "consumption_kw"),
    ("household PV", "pv", "sim-household-002", "production_kw"),
    ("day-ahead price", "price", None, "price_eur_mwh"),
)


def simulated_series(config: Any, meter_id: str | None, field: str, start: datetime, end: datetime) -> Any:
    """One simulated series as a `forecasting.Series` (15-minute steps)."""
    from luna_iems.decisions.forecasting import Series
    from luna_iems.simulation.meters import simulate_meter
    from luna_iems.simulation.prices import simulate_prices

    site = {"seed": config.seed, "timezone": config.timezone, "lat": config.site.lat, "lon": config.site.lon}
    if meter_id is None:
        values = simulate_prices(
            spec=config.prices, start=start, end=end, step_minutes=STEP_MINUTES, **site
        ).price_eur_mwh
    else:
        spec = next(meter for meter in config.meters if meter.meter_id == meter_id)
        readings = simulate_meter(
            meter_id=meter_id,
            profile=config.profile(spec.profile),
            start=start,
            end=end,
            step_minutes=STEP_MINUTES,
            scale=spec.scale,
            **site,
        )
        values = getattr(readings, field)
    return Series(start=start, step_minutes=STEP_MINUTES, values=values)


def forecast_seconds(config: Any, series: Any, target: str) -> float:
    """Best of 3 wall times of `forecast()` (model "auto", so gbm) on the last 4 weeks of `series`."""
    from luna_iems.decisions.forecasting import Series, forecast

    steps = 28 * 1440 // STEP_MINUTES
    start = series.start + timedelta(minutes=STEP_MINUTES * (len(series) - steps))
    history = Series(start=start, step_minutes=STEP_MINUTES, values=series.values[-steps:])
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        forecast(
            history,
            target=target,  # type: ignore[arg-type]
            horizon_steps=HORIZON_STEPS,
            timezone=config.timezone,
            lat=config.site.lat,
            lon=config.site.lon,
        )
        times.append(time.perf_counter() - t0)
    return min(times)


def backtest_rows(
    config: Any, end: datetime, weeks: int, origins: int
) -> tuple[list[dict[str, Any]], dict[str, tuple[str, Any]]]:
    """Table rows of every series and model for the period ending at `end`, and the series themselves."""
    from luna_iems.decisions.backtest import backtest

    start = end - timedelta(weeks=weeks)
    rows: list[dict[str, Any]] = []
    all_series: dict[str, tuple[str, Any]] = {}
    for name, target, meter_id, field in SERIES:
        series = simulated_series(config, meter_id, field, start, end)
        all_series[name] = (target, series)
        results = backtest(
            series,
            target=target,  # type: ignore[arg-type]
            horizon_steps=HORIZON_STEPS,
            models=MODELS,
            origins=origins,
            timezone=config.timezone,
            lat=config.site.lat,
            lon=config.site.lon,
        )
        rows += [
            {
                "period_end": end.date().isoformat(),
                "series": name,
                "unit": "EUR/MWh" if target == "price" else "kW",
                "model": result.model,
                "mae": round(result.mae, 4),
                "rmse": round(result.rmse, 4),
                "mase": round(result.mase, 3),
                "coverage_80": round(result.coverage, 3),
                "origins": result.origins,
                "fit_predict_s": round(result.seconds, 4),
            }
            for result in results
        ]
    return rows, all_series


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    """`postgres` changes nothing: forecasting is pure computation on arrays."""
    from luna_iems.simulation.config import load_sim_config

    config = load_sim_config()
    weeks, origins = (QUICK_WEEKS, QUICK_ORIGINS) if quick else (WEEKS, ORIGINS)
    rows: list[dict[str, Any]] = []
    forecast_times: dict[str, float] = {}
    for end in PERIOD_ENDS:
        period_rows, all_series = backtest_rows(config, end, weeks, origins)
        rows += period_rows
        if end == PERIOD_ENDS[0]:
            for name, (target, series) in all_series.items():
                forecast_times[name] = round(forecast_seconds(config, series, target), 3)
    learned = {f"{row['series']} {row['period_end']}": row["mase"] for row in rows if row["model"] == "gbm"}
    return {
        "title": (
            f"Forecast backtest: {origins} rolling origins, 24 h ahead at 15 min, {weeks} weeks of history"
        ),
        "params": {
            "weeks": weeks,
            "origins": origins,
            "horizon_steps": HORIZON_STEPS,
            "step_minutes": STEP_MINUTES,
            "seed": config.seed,
            "timezone": config.timezone,
            "period_ends": [end.date().isoformat() for end in PERIOD_ENDS],
        },
        "columns": list(rows[0]),
        "rows": rows,
        "summary": {"gbm_mase": learned, "forecast_s_4_weeks_history": forecast_times},
        "notes": [
            "MASE = MAE / MAE of seasonal naive on the same origins and steps (seasonal naive = 1.0)",
            "forecast() with 4 weeks of 15-minute history, 96 steps, best of 3 (s): "
            + ", ".join(f"{name} {seconds}" for name, seconds in forecast_times.items()),
        ],
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
