"""Forecast accuracy on a real household (OPSD `DE_KN_residential4`, Konstanz) and backtest speed.

Data: benchmarks/data/opsd-household/ (CC BY 4.0, see its README): cumulative kWh counters, hourly. The
energy between two readings is the mean power (kW) over [earlier reading, later reading); load = grid
import + PV - grid export, clipped at 0 (a few hours come out slightly negative; the count is reported).

Protocol: day-ahead forecasts, origins at 00:00 UTC one day apart, 24 hourly steps each. A window is 28
origins; its series starts 28 days before the first origin (FORECAST_HISTORY_DAYS, as `luna forecast
backtest` does), so the history grows from 28 to 55 days. Tune split (where the model's design and
settings were chosen): three windows from 2015-11-09 (the data start on 2015-10-11). Report split
(looked at only to report): four windows starting 2016-02-01, 03-10, 04-17, 05-25.

MASE: MAE of the origin's forecast / mean |y(t) - y(t-24 h)| over that origin's history (in-sample
seasonal naive, season 24 h); averaged over the origins of a window, then over windows. Models, all in
the same run: seasonal naive 24 h (the last day repeated) and 168 h (the same hour a week earlier;
`seasonal_naive` for load), the learned model before this change (the forecasting module of commit
BEFORE_COMMIT, read with `git show`) and after it (`gbm`), and statsforecast's MSTL (seasons 24 h, plus
168 h for load) when statsforecast is installed (`pip install -e .[benchmark]`). `rel_sn24` = pooled
MAE / pooled MAE of seasonal naive 24 h on the same origins and steps.

Speed: `backtest()` (seasonal naive + gbm, with intervals) over 28 origins, as a ratio to one `forecast()`
call with the last origin's history, both measured in this run; hourly, and at 15 minutes with each
hour's mean power repeated over its four quarter hours (the CLI's default resolution).

Run: `python -m benchmarks.forecast_real` (~8-10 min on 2 cores); `--quick`: one report window, no tune
split; `--tune`: the tune split only (no report window: for iterating on a model's design); `--pv`: PV
only (accuracy and speed), about a third of the time.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads: threaded code crawls on 2 shared cores

import numpy as np  # noqa: E402  (after the thread limits)

DATA = Path(__file__).resolve().parent / "data" / "opsd-household" / "residential4_hourly_2015-10_2016-06.csv"
PREFIX = "DE_KN_residential4_"
LAT, LON, TIMEZONE = 47.66, 9.18, "Europe/Berlin"  # Konstanz
BEFORE_COMMIT = "0794b8f6cec7fa6efff9f8db97de280d7e22da94"  # forecasting.py before issue 10, item 9
HISTORY_DAYS, ORIGINS, HORIZON = 28, 28, 24
TUNE = ("2015-11-09", "2015-12-07", "2016-01-04")
REPORT = ("2016-02-01", "2016-03-10", "2016-04-17", "2016-05-25")
QUICK_REPORT = ("2016-03-10",)


@dataclass(frozen=True)
class Household:
    load: Any  # forecasting.Series, kW
    pv: Any
    clipped_hours: int


def load_household(path: Path = DATA) -> Household:
    """Hourly load and PV (kW) from OPSD cumulative counters; the series start at the first 00:00 UTC."""
    from luna_iems.decisions.forecasting import Series

    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))

    def counter(name: str) -> np.ndarray:
        return np.array([float(row[PREFIX + name]) if row[PREFIX + name] else np.nan for row in rows])

    stamps = [datetime.fromisoformat(row["utc_timestamp"].replace("Z", "+00:00")) for row in rows]
    steps = np.diff([int(stamp.timestamp()) for stamp in stamps])
    if not np.all(steps == 3600):
        raise ValueError(f"{path}: readings must be exactly one hour apart")
    pv = np.diff(counter("pv"))
    raw_load = np.diff(counter("grid_import")) + pv - np.diff(counter("grid_export"))
    clipped = int(np.sum(raw_load < 0))
    load = np.where(raw_load < 0, 0.0, raw_load)  # NaN stays NaN
    skip = (24 - stamps[0].hour) % 24
    start = stamps[0] + timedelta(hours=skip)
    return Household(
        Series(start=start, step_minutes=60, values=load[skip:]),
        Series(start=start, step_minutes=60, values=pv[skip:]),
        clipped,
    )


def window_series(series: Any, first_origin: datetime) -> Any:
    """The series from HISTORY_DAYS before the first origin to the end of the last origin's horizon."""
    from luna_iems.decisions.forecasting import Series

    begin = int((first_origin - series.start) / timedelta(hours=1)) - 24 * HISTORY_DAYS
    end = begin + 24 * (HISTORY_DAYS + ORIGINS - 1) + HORIZON
    if begin < 0 or end > len(series):
        raise ValueError(f"window from {first_origin.date()} is outside the data")
    return Series(
        start=series.start + timedelta(hours=begin), step_minutes=60, values=series.values[begin:end]
    )


def in_sample_scale(history: np.ndarray) -> float:
    """Mean |y(t) - y(t - 24 h)| over the history (the MASE denominator)."""
    change = np.abs(history[24:] - history[:-24])
    return float(np.mean(change[np.isfinite(change)]))


def _before_module() -> Any | None:
    """forecasting.py as of BEFORE_COMMIT (None when git or the commit is not available)."""
    root = Path(__file__).resolve().parents[1]
    try:
        source = subprocess.run(
            ["git", "show", f"{BEFORE_COMMIT}:src/luna_iems/decisions/forecasting.py"],
            cwd=root,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "forecasting_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("forecasting_before", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["forecasting_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _mstl(history: np.ndarray, target: str) -> np.ndarray | None:
    try:
        from statsforecast.models import MSTL
    except ImportError:
        return None
    values = history.copy()
    missing = np.isnan(values)
    values[missing] = np.interp(np.flatnonzero(missing), np.flatnonzero(~missing), values[~missing])
    model = MSTL(season_length=[24, 168] if target == "load" else [24])
    return np.clip(np.asarray(model.forecast(y=values, h=HORIZON)["mean"], dtype=np.float64), 0.0, None)


def window_predictions(series: Any, target: str, before: Any | None) -> dict[str, list[np.ndarray]]:
    """Every model's forecasts at the 28 origins of one window (oldest first), plus actuals and scales."""
    from luna_iems.decisions.backtest import origin_indices, rolling_forecasts

    options = {"target": target, "horizon_steps": HORIZON, "timezone": TIMEZONE, "lat": LAT, "lon": LON}
    after, _ = rolling_forecasts(series, model="gbm", origins=ORIGINS, **options)
    indices = origin_indices(len(series), horizon_steps=HORIZON, step_minutes=60, origins=ORIGINS)
    out: dict[str, list[np.ndarray]] = {"actual": [], "scale": [], "after": [f.values for f in after]}
    for name in ("sn24", "sn168", "before", "mstl"):
        out[name] = []
    for index in indices:
        history = series.values[:index]
        out["actual"].append(series.values[index : index + HORIZON])
        out["scale"].append(np.array([in_sample_scale(history)]))
        out["sn24"].append(np.nan_to_num(history[-24:]))
        out["sn168"].append(np.nan_to_num(history[-168:-144]))
        if before is not None:
            cut = before.Series(start=series.start, step_minutes=60, values=history)
            out["before"].append(before.point_forecast(cut, model="gbm", **options)[0])
        mstl = _mstl(history, target)
        if mstl is not None:
            out["mstl"].append(mstl)
    return {name: values for name, values in out.items() if values}


def _scores(windows: list[dict[str, list[np.ndarray]]]) -> dict[str, dict[str, Any]]:
    models = [m for m in ("sn24", "sn168", "before", "after", "mstl") if m in windows[0]]
    result: dict[str, dict[str, Any]] = {}
    sn24_mae = _pooled_mae(windows, "sn24")
    for model in models:
        per_window = []
        for window in windows:
            mases = []
            for actual, predicted, scale in zip(
                window["actual"], window[model], window["scale"], strict=True
            ):
                known = np.isfinite(actual)
                if known.any():
                    mases.append(float(np.mean(np.abs(actual[known] - predicted[known]))) / float(scale[0]))
            per_window.append(round(float(np.mean(mases)), 3))
        result[model] = {
            "mase": round(float(np.mean(per_window)), 3),
            "per_window": per_window,
            "rel_sn24": round(_pooled_mae(windows, model) / sn24_mae, 3),
        }
    return result


def _pooled_mae(windows: list[dict[str, list[np.ndarray]]], model: str) -> float:
    actual = np.concatenate([a for w in windows for a in w["actual"]])
    predicted = np.concatenate([p for w in windows for p in w[model]])
    known = np.isfinite(actual)
    return float(np.mean(np.abs(actual[known] - predicted[known])))


def backtest_speed(series: Any, target: str, step_minutes: int) -> dict[str, Any]:
    """Seconds of a 28-origin `backtest()` and of one `forecast()` on the last origin's history."""
    from luna_iems.decisions.backtest import backtest
    from luna_iems.decisions.forecasting import Series, forecast

    per_hour = 60 // step_minutes
    values = np.repeat(series.values, per_hour)
    series = Series(start=series.start, step_minutes=step_minutes, values=values)
    horizon = HORIZON * per_hour
    options = {"target": target, "horizon_steps": horizon, "timezone": TIMEZONE, "lat": LAT, "lon": LON}
    last = Series(start=series.start, step_minutes=step_minutes, values=values[:-horizon])
    forecast(last, model="gbm", **options)  # warm-up: imports, clear-sky cache
    started = time.perf_counter()
    forecast(last, model="gbm", **options)
    one = time.perf_counter() - started
    started = time.perf_counter()
    backtest(series, models=["seasonal_naive", "gbm"], origins=ORIGINS, **options)
    total = time.perf_counter() - started
    return {
        "target": target,
        "step_minutes": step_minutes,
        "one_forecast_s": round(one, 3),
        "backtest_28_s": round(total, 2),
        "ratio": round(total / one, 1),
    }


def run(
    *, quick: bool = False, postgres: bool = False, pv_only: bool = False, tune_only: bool = False
) -> dict[str, Any]:
    """`postgres` changes nothing (pure computation). Quick: one report window, no tune split.
    `pv_only`: the PV rows and the PV speed only. `tune_only`: the tune split only (no report rows)."""
    household = load_household()
    before = _before_module()
    splits: dict[str, tuple[str, ...]] = {"tune": TUNE, "report": REPORT}
    if quick:
        splits = {"report": QUICK_REPORT}
    elif tune_only:
        splits = {"tune": TUNE}
    rows: list[dict[str, Any]] = []
    for target in ("pv",) if pv_only else ("pv", "load"):
        series = household.pv if target == "pv" else household.load
        for split, firsts in splits.items():
            windows = [
                window_predictions(window_series(series, _day(first)), target, before) for first in firsts
            ]
            for model, score in _scores(windows).items():
                rows.append({"target": target, "split": split, "model": model, **score})
    speed_series = window_series(household.load, _day(REPORT[1]))
    speed = [] if pv_only else [backtest_speed(speed_series, "load", step) for step in (60, 15)]
    speed.append(backtest_speed(window_series(household.pv, _day(REPORT[1])), "pv", 60))
    return {
        "title": "Forecasts on a real household (OPSD DE_KN_residential4): day-ahead MASE, backtest speed",
        "params": {
            "origins_per_window": ORIGINS,
            "history_days_before_first_origin": HISTORY_DAYS,
            "horizon_h": HORIZON,
            "origin": "00:00 UTC",
            "tune_windows": list(splits.get("tune", ())),
            "report_windows": list(splits.get("report", ())),
            "before_commit": BEFORE_COMMIT if before is not None else "unavailable",
            "load_hours_clipped_at_0": household.clipped_hours,
        },
        "columns": ["target", "split", "model", "mase", "per_window", "rel_sn24"],
        "rows": rows,
        "summary": {"speed": speed},
        "notes": [
            "MASE: per-origin MAE / in-sample seasonal-naive (24 h) MAE of that origin's history",
            "sn24 = same hour the day before; sn168 = same hour a week before; before = gbm of "
            + BEFORE_COMMIT[:10],
            "speed: "
            + "; ".join(
                f"{s['target']} {s['step_minutes']} min: {s['backtest_28_s']} s "
                f"= {s['ratio']}x one forecast ({s['one_forecast_s']} s)"
                for s in speed
            ),
        ],
    }


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


if __name__ == "__main__":
    import json

    flags = set(sys.argv[1:])
    print(
        json.dumps(
            run(quick="--quick" in flags, pv_only="--pv" in flags, tune_only="--tune" in flags), indent=2
        )
    )
