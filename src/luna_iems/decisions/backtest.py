"""Rolling-origin backtest of the forecasting models (pure: arrays in, metrics out).

Origins: `origins` forecast origins spaced one day apart at the end of the history; the last one leaves
exactly `horizon_steps` steps of actuals after it. At each origin the model is fitted on the history
before the origin only (the series is cut there, so nothing after the origin can leak in) and forecasts
`horizon_steps` steps. Errors are pooled over all origins and horizon steps whose actual is not missing.

Incremental: the origins share one `FitCache`, so a model fitted on exactly the same data is fitted once.
The interval calibration of an origin is fitted on the history up to 7 days before it, which is the main
fit of the origin 7 days earlier; 28 origins need 35 gradient-boosting fits instead of 56. Every
forecast is still exactly the one `forecast()` gives on the cut history (tests/decisions/
test_forecast_real.py checks this), and the PV-with-site model is a least-absolute-deviations blend
that fits in milliseconds.

Metrics (units of the series: kW or EUR/MWh):
* MAE, RMSE: mean absolute error, root mean squared error.
* MASE: MAE of the model / MAE of seasonal naive on the same origins and steps (not the usual in-sample
  naive scaling), so seasonal naive scores exactly 1.0 and < 1 means better than the baseline.
  NaN when seasonal naive is exact (MAE 0).
* coverage: share of actuals inside the forecast's prediction interval (target: `interval`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from luna_iems.decisions.forecast_fit import FitCache
from luna_iems.decisions.forecasting import (
    FloatArray,
    Forecast,
    IntArray,
    Series,
    Target,
    forecast,
    minimum_history_steps,
)

BASELINE: Final = "seasonal_naive"


@dataclass(frozen=True)
class BacktestRow:
    """Accuracy of one model over the rolling origins (see the module docstring for the metrics).

    `coverage` is the share of actuals inside the prediction interval; `seconds` the mean wall time of
    one fit + forecast (interval calibration included) per origin.
    """

    model: str
    mae: float
    rmse: float
    mase: float
    origins: int
    coverage: float = float("nan")
    seconds: float = float("nan")


def origin_indices(history_steps: int, *, horizon_steps: int, step_minutes: int, origins: int) -> IntArray:
    """Indices (into the history) of the rolling origins, oldest first, one day apart."""
    day = 1440 // step_minutes
    result: IntArray = history_steps - horizon_steps - day * np.arange(origins - 1, -1, -1, dtype=np.int64)
    return result


def rolling_forecasts(
    history: Series,
    *,
    target: Target,
    horizon_steps: int,
    model: str,
    origins: int = 7,
    interval: float = 0.8,
    timezone: str = "Europe/Berlin",
    lat: float | None = None,
    lon: float | None = None,
    cache: FitCache | None = None,
) -> tuple[list[Forecast], float]:
    """The forecast at every rolling origin (oldest first), each from the history before it only, and
    the mean seconds per origin. `cache` (default: a new one) shares identical fits between origins.
    Raises ValueError as `backtest` does."""
    cache = FitCache() if cache is None else cache
    indices = _checked_origins(history, horizon_steps=horizon_steps, models=[model], origins=origins)
    forecasts: list[Forecast] = []
    started = time.perf_counter()
    for index in indices:
        cut = Series(start=history.start, step_minutes=history.step_minutes, values=history.values[:index])
        forecasts.append(
            forecast(
                cut,
                target=target,
                horizon_steps=horizon_steps,
                model=model,  # type: ignore[arg-type]  # checked by forecast()
                interval=interval,
                timezone=timezone,
                lat=lat,
                lon=lon,
                cache=cache,
            )
        )
    return forecasts, (time.perf_counter() - started) / origins


def backtest(
    history: Series,
    *,
    target: Target,
    horizon_steps: int,
    models: Sequence[str],
    origins: int = 7,
    interval: float = 0.8,
    timezone: str = "Europe/Berlin",
    lat: float | None = None,
    lon: float | None = None,
) -> list[BacktestRow]:
    """MAE, RMSE, MASE and interval coverage of each of `models` ("seasonal_naive", "gbm", "auto") over
    `origins` rolling origins one day apart at the end of `history`; one row per model, in order.

    Seasonal naive always runs (it is the MASE denominator). Raises ValueError for no models, fewer
    than one origin, or a history too short for the first origin (the message names the steps needed),
    and whatever `forecast` raises.
    """
    if not models:
        raise ValueError(f"models must name at least one model, e.g. [{BASELINE!r}, 'gbm']")
    _checked_origins(history, horizon_steps=horizon_steps, models=models, origins=origins)
    options = {
        "target": target,
        "horizon_steps": horizon_steps,
        "origins": origins,
        "interval": interval,
        "timezone": timezone,
        "lat": lat,
        "lon": lon,
    }
    indices = origin_indices(
        len(history), horizon_steps=horizon_steps, step_minutes=history.step_minutes, origins=origins
    )
    actual = np.stack([history.values[i : i + horizon_steps] for i in indices])
    cache = FitCache()  # "auto" and "gbm" share their fits too
    runs = {
        name: rolling_forecasts(history, model=name, cache=cache, **options)  # type: ignore[arg-type]
        for name in dict.fromkeys((BASELINE, *models))
    }
    baseline_mae = _mae(actual, np.stack([f.values for f in runs[BASELINE][0]]))
    return [_row(name, actual, *runs[name], baseline_mae) for name in models]


def _checked_origins(history: Series, *, horizon_steps: int, models: Sequence[str], origins: int) -> IntArray:
    if origins < 1:
        raise ValueError(f"origins must be >= 1 (got {origins})")
    step = history.step_minutes
    indices = origin_indices(len(history), horizon_steps=horizon_steps, step_minutes=step, origins=origins)
    before_first = max(minimum_history_steps(name, step) for name in models)
    needed = before_first + int(indices[-1] - indices[0]) + horizon_steps
    if int(indices[0]) < before_first:
        raise ValueError(
            f"history too short for the backtest: {origins} origins one day apart with a horizon of "
            f"{horizon_steps} steps and {before_first} steps of history before the first origin need "
            f"{needed} steps, got {len(history)}"
        )
    return indices


def _mae(actual: FloatArray, predicted: FloatArray) -> float:
    known = np.isfinite(actual)
    return float(np.mean(np.abs(actual[known] - predicted[known]))) if known.any() else float("nan")


def _row(
    name: str, actual: FloatArray, forecasts: list[Forecast], seconds: float, baseline: float
) -> BacktestRow:
    predicted = np.stack([f.values for f in forecasts])
    lower = np.stack([f.lower for f in forecasts])
    upper = np.stack([f.upper for f in forecasts])
    known = np.isfinite(actual)
    errors = actual[known] - predicted[known]
    mae = _mae(actual, predicted)
    inside = (actual[known] >= lower[known]) & (actual[known] <= upper[known])
    return BacktestRow(
        model=name,
        mae=mae,
        rmse=float(np.sqrt(np.mean(errors**2))) if errors.size else float("nan"),
        mase=mae / baseline if baseline > 0 else float("nan"),
        origins=len(forecasts),
        coverage=float(inside.mean()) if inside.size else float("nan"),
        seconds=seconds,
    )
