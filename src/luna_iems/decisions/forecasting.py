"""Forecasts of load, PV production and day-ahead prices: a pure module (arrays in, arrays out).

Input is a regular `Series` (15- or 60-minute steps, UTC start; the value at `ts[i]` is the mean over
`[ts[i], ts[i] + step)`, NaN = missing); output is a `Forecast` of `horizon_steps` steps starting right
after the history, with a prediction interval. Units are whatever the history carries: kW for load and
PV, EUR/MWh for prices. Load and PV forecasts are never negative; prices may be.

Models
------
* ``seasonal_naive`` (the baseline): the value one season earlier, the last season repeated when the
  horizon is longer than the season. The season is one week for load (weekday/weekend patterns; one
  day when the history is shorter than a week) and one day for PV and prices. The lag is a fixed
  number of steps (the textbook baseline), so in the week after a daylight-saving switch it is an hour
  off in local time; the learned model's calendar and lags are in local time and are not.
* ``gbm`` (the learned model): scikit-learn's HistGradientBoostingRegressor (squared error for prices,
  absolute error for load), one model per call, fitted on the whole history. Features:
  - load and price: the calendar in the site's local time zone (step of the day, day of week, BDEW day
    type: working day / Saturday / Sunday or nationwide German public holiday, and a holiday flag, so
    a holiday is forecast like a Sunday even when the history holds no holiday); the value one day and
    one week before the target step (at the same local clock time) and the mean of the 24 hours
    ending one day before it; for prices with a site (lat/lon), the clear-sky GHI of the step (the
    midday solar dip).
  - load also: the median of the same local step over the last 7 days and over the days of the same
    day type among the last 21, and absolute-error loss (the point forecast aims at the median: a
    real household's load is spiky).
  - PV with a site: not boosting but `pv_forecast.blend_forecast`, a non-negative blend fitted by least
    absolute deviations of clear-sky-index predictors (28-day clear-sky envelope, 7-day mean index,
    yesterday's index hourly and daily, a constant index) times pvlib's Ineichen clear-sky GHI: exactly
    0 at night, never negative. The name "gbm" stays
    (the API's name of "the learned model"). Without a site: production itself from the step of the
    day and the previous day's mean, clipped at 0 and set to 0 at steps of the day that were 0 on
    every day of the last week (night).
  All lags are at least one day old, so the horizon is predicted day by day: the first day from the
  history only, each later day from the model's own predictions of the day before (never from values
  after the origin). ``auto`` uses ``gbm`` from `MIN_LEARNED_DAYS` (14) days of history on (one week
  for the weekly lag plus one week of rows that have it) of which at least 7 days' worth of values are
  present, ``seasonal_naive`` otherwise.

Why gradient boosting: a forecast with 4 weeks of 15-minute history (two fits: the model and the
interval calibration) takes 0.1-0.2 s on one core, plus ~0.5 s once to import scikit-learn; it
handles missing lag values natively, needs no seasonal period (statsmodels' seasonal SARIMAX with
period 96 took 206 s here) and learns interactions such as "Saturday afternoon" from the calendar.
On real recorded data (a Konstanz household, hourly, day-ahead): benchmarks/forecast_real.py and
docs/decisions.md; on simulated data: benchmarks/forecast_backtest.py.

Accuracy is measured by `luna_iems.decisions.backtest`: MASE = MAE of the model / MAE of seasonal
naive on the same rolling origins and steps (so seasonal naive scores exactly 1.0).

Prediction interval
-------------------
Empirical quantiles of out-of-sample residuals (split conformal): for ``gbm`` a second model is fitted
on the history without its last `calibration days` (a quarter of the history, 1 to 7 days) and forecasts
them day by day exactly as above; for ``seasonal_naive`` the residuals are those of the rule itself over
the last (up to) four weeks. The ``(1 - interval) / 2`` and ``(1 + interval) / 2`` quantiles of
``actual - predicted`` are added to the point forecast; for PV with a site, residuals are measured per
unit of clear-sky GHI, so the interval scales with the sun and is 0 at night. The interval is widened
if needed so that it always contains the point forecast, and clipped at 0 for load and PV. It is not
conditional on the time of day otherwise (a weakness for strongly heteroscedastic loads).

Missing values: interior gaps up to one hour are interpolated linearly; longer gaps stay missing (rows
with a missing target are not trained on; missing lags are handled by the model; seasonal naive takes
the value from an earlier season, else the mean of that step of the day).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from luna_iems.decisions import pv_forecast
from luna_iems.decisions.forecast_fit import FitCache
from luna_iems.energy.calendar import german_public_holidays, local_calendar, utc_offsets_minutes
from luna_iems.energy.solar import clear_sky_at_midpoints

Target = Literal["load", "pv", "price"]
ModelName = Literal["seasonal_naive", "gbm"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

TARGETS: Final[tuple[str, ...]] = get_args(Target)
MODELS: Final[tuple[str, ...]] = get_args(ModelName)
STEPS_MINUTES: Final = (15, 60)
MAX_HORIZON_MINUTES: Final = 72 * 60
MIN_HISTORY_DAYS: Final = 1  # any model: seasonal naive needs one full day
MIN_LEARNED_DAYS: Final = 14  # gbm (and the switch point of "auto")
MIN_LEARNED_PRESENT_DAYS: Final = 7  # gbm: at least this many days' worth of values not missing
SHORT_GAP_MINUTES: Final = 60  # interior gaps up to this long are interpolated linearly
MIN_CLEAR_SKY_GHI: Final = 20.0  # W/m²: below it the clear-sky index is too noisy to train on
MAX_CALIBRATION_DAYS: Final = 7
NAIVE_RESIDUAL_DAYS: Final = 28

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Series:
    """A regular series: the value at `start + i·step` is the mean over `[that instant, + step)`.

    `start` is timezone-aware (normalised to UTC); `step_minutes` is 15 or 60; `values` is a 1-D float
    array (kW or EUR/MWh) with NaN for missing steps. Raises ValueError otherwise.
    """

    start: datetime
    step_minutes: int
    values: FloatArray = field(repr=False)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("Series.start must be a timezone-aware datetime (UTC)")
        if self.step_minutes not in STEPS_MINUTES:
            raise ValueError(f"Series.step_minutes must be one of {STEPS_MINUTES} (got {self.step_minutes})")
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(f"Series.values must be 1-D (got shape {values.shape})")
        if np.isinf(values).any():
            raise ValueError(
                f"Series.values must be finite or NaN (infinite at {np.flatnonzero(np.isinf(values))[:5]})"
            )
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        return int(self.values.size)

    @property
    def end(self) -> datetime:
        """The instant right after the last step (where a forecast starts)."""
        return self.start + timedelta(minutes=self.step_minutes * len(self))


@dataclass(frozen=True)
class Forecast:
    """`values[i]` is the forecast mean over `[start + i·step, + step)`; `lower`/`upper` bound the
    central `interval` prediction interval (e.g. 0.8: 10 % and 90 % quantiles). `model` is the model
    actually used (never "auto"); `history_steps` the number of history steps it saw."""

    start: datetime
    step_minutes: int
    values: FloatArray = field(repr=False)
    lower: FloatArray = field(repr=False)
    upper: FloatArray = field(repr=False)
    interval: float
    model: str
    history_steps: int

    def timestamps(self) -> list[datetime]:
        """UTC start of every forecast step."""
        step = timedelta(minutes=self.step_minutes)
        return [self.start + i * step for i in range(self.values.size)]


@dataclass(frozen=True)
class _Problem:
    """Everything a model needs, on the grid history + horizon (`n` + `horizon` steps)."""

    target: str
    step_minutes: int
    n: int
    horizon: int
    values: FloatArray  # history (n), short gaps interpolated
    calendar: FloatArray  # (n + horizon, 4): step of day, weekday, day type, holiday
    offsets: IntArray  # (n + horizon): UTC offset of the site's local time, in steps
    sun: FloatArray | None  # (n + horizon, 3) at step midpoints: clear-sky GHI (W/m²), sun elevation and
    # azimuth (degrees); None without a site or for load

    @property
    def steps_per_day(self) -> int:
        return 1440 // self.step_minutes

    @property
    def ghi(self) -> FloatArray | None:
        return None if self.sun is None else self.sun[:, 0]

    @property
    def clear_sky_pv(self) -> bool:
        return self.target == "pv" and self.ghi is not None

    def scale(self) -> FloatArray:
        """Residual unit per step (n + horizon): kW per unit of clear-sky index for PV with a site."""
        if self.clear_sky_pv:
            assert self.ghi is not None
            return self.ghi / 1000.0
        return np.ones(self.n + self.horizon)

    def truncated(self, n: int) -> _Problem:
        """The same problem with the origin moved back to step `n` and the horizon up to the old origin."""
        old = self.n
        sun = None if self.sun is None else self.sun[:old]
        return _Problem(
            self.target,
            self.step_minutes,
            n,
            old - n,
            self.values[:n],
            self.calendar[:old],
            self.offsets[:old],
            sun,
        )


# --- public API -------------------------------------------------------------------------------------


def forecast(
    history: Series,
    *,
    target: Target,
    horizon_steps: int,
    model: ModelName | Literal["auto"] = "auto",
    interval: float = 0.8,
    timezone: str = "Europe/Berlin",
    lat: float | None = None,
    lon: float | None = None,
    cache: FitCache | None = None,
) -> Forecast:
    """Forecast `horizon_steps` steps right after `history` (see the module docstring for the models).

    Units follow the history (kW for load and PV, EUR/MWh for prices); load and PV are >= 0. `timezone`
    is the site's IANA zone for the calendar features; `lat`/`lon` (degrees) enable the clear-sky model
    for PV and the solar feature for prices; `cache` lets repeated calls (a backtest) share identical
    fits without changing any result. Raises ValueError for an unknown target or model, a horizon
    outside 1 step .. 72 h, an interval outside (0, 1), an unknown time zone, only one of lat/lon, or a
    history shorter than the model's minimum (the message names the minimum and what was given).
    """
    if not 0.0 < interval < 1.0:
        raise ValueError(f"interval must be in (0, 1), e.g. 0.8 (got {interval})")
    problem = _prepare(
        history, target=target, horizon_steps=horizon_steps, timezone=timezone, lat=lat, lon=lon
    )
    used = _resolve_model(problem, model)
    point = _predict(problem, used, cache)
    lower, upper = _interval(problem, used, point, interval, cache)
    return Forecast(
        start=history.end,
        step_minutes=history.step_minutes,
        values=point,
        lower=lower,
        upper=upper,
        interval=interval,
        model=used,
        history_steps=len(history),
    )


def point_forecast(
    history: Series,
    *,
    target: Target,
    horizon_steps: int,
    model: ModelName | Literal["auto"] = "auto",
    timezone: str = "Europe/Berlin",
    lat: float | None = None,
    lon: float | None = None,
    cache: FitCache | None = None,
) -> tuple[FloatArray, str]:
    """The point forecast of `forecast` without its interval (no calibration fit: about twice as fast).

    Returns (values, model used). Same units, arguments and errors as `forecast`.
    """
    problem = _prepare(
        history, target=target, horizon_steps=horizon_steps, timezone=timezone, lat=lat, lon=lon
    )
    used = _resolve_model(problem, model)
    return _predict(problem, used, cache), used


def minimum_history_steps(model: str, step_minutes: int) -> int:
    """Fewest history steps `model` accepts ("auto" and seasonal naive: one day; gbm: 14 days)."""
    days = MIN_LEARNED_DAYS if model == "gbm" else MIN_HISTORY_DAYS
    return days * 1440 // step_minutes


# --- preparation and validation ---------------------------------------------------------------------


def _prepare(
    history: Series, *, target: str, horizon_steps: int, timezone: str, lat: float | None, lon: float | None
) -> _Problem:
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS} (got {target!r})")
    step = history.step_minutes
    max_steps = MAX_HORIZON_MINUTES // step
    if not 1 <= horizon_steps <= max_steps:
        raise ValueError(f"horizon_steps must be 1..{max_steps} (72 h at {step} min), got {horizon_steps}")
    if (lat is None) != (lon is None):
        raise ValueError("give both lat and lon (degrees) or neither")
    if lat is not None and lon is not None and not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError(f"lat must be in -90..90 and lon in -180..180 degrees (got {lat}, {lon})")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {timezone!r}") from exc
    _check_history(history)
    n = len(history)
    epoch = _epoch_minutes(history.start, n + horizon_steps, step)
    sun = None
    if lat is not None and lon is not None and target in ("pv", "price"):
        sky = clear_sky_at_midpoints(epoch, step, lat, lon)
        sun = np.column_stack((sky.ghi, 90.0 - sky.zenith, sky.azimuth))
    return _Problem(
        target=target,
        step_minutes=step,
        n=n,
        horizon=horizon_steps,
        values=_interpolate_short_gaps(history.values, SHORT_GAP_MINUTES // step),
        calendar=_calendar(epoch, timezone),
        offsets=utc_offsets_minutes(epoch, timezone) // step,
        sun=sun,
    )


def _check_history(history: Series) -> None:
    needed = minimum_history_steps("seasonal_naive", history.step_minutes)
    what = f"{needed} steps ({MIN_HISTORY_DAYS} day at {history.step_minutes} min)"
    if len(history) < needed:
        raise ValueError(f"history too short: forecasting needs at least {what}, got {len(history)} steps")
    present = int(np.isfinite(history.values).sum())
    if present < needed:
        raise ValueError(
            f"history has too few values: forecasting needs at least {what} that are not missing, "
            f"got {present} of {len(history)} (the others are NaN)"
        )


def _resolve_model(problem: _Problem, model: str) -> str:
    if model not in (*MODELS, "auto"):
        raise ValueError(f"model must be one of {(*MODELS, 'auto')} (got {model!r})")
    if model == "seasonal_naive":
        return model  # its minimum is checked for every model in _check_history
    needed = minimum_history_steps("gbm", problem.step_minutes)
    present = int(np.isfinite(problem.values).sum())
    needed_present = MIN_LEARNED_PRESENT_DAYS * problem.steps_per_day
    if model == "auto":
        return "gbm" if problem.n >= needed and present >= needed_present else "seasonal_naive"
    if problem.n < needed:
        raise ValueError(
            f"history too short for model 'gbm': it needs at least {needed} steps "
            f"({MIN_LEARNED_DAYS} days at {problem.step_minutes} min), got {problem.n}; "
            "use model='auto' or 'seasonal_naive'"
        )
    if present < needed_present:
        raise ValueError(
            f"history too sparse for model 'gbm': it needs at least {needed_present} values that are "
            f"not missing ({MIN_LEARNED_PRESENT_DAYS} days at {problem.step_minutes} min), got {present}; "
            "use model='auto' or 'seasonal_naive'"
        )
    return model


def _epoch_minutes(start: datetime, count: int, step_minutes: int) -> IntArray:
    first = (start - _EPOCH) // timedelta(minutes=1)
    return first + np.arange(count, dtype=np.int64) * step_minutes


def _calendar(epoch_minutes: IntArray, timezone: str) -> FloatArray:
    """Local step of day, weekday (0 = Monday), BDEW day type and German public-holiday flag."""
    local = local_calendar(epoch_minutes, timezone)
    step = int(epoch_minutes[1] - epoch_minutes[0]) if epoch_minutes.size > 1 else 15
    years = np.unique(local.date.astype("datetime64[Y]").astype(np.int64) + 1970)
    holiday = np.isin(local.date, german_public_holidays([int(y) for y in years]))
    columns = (local.minute_of_day // step, local.weekday, local.day_type, holiday)
    return np.column_stack(columns).astype(np.float64)


def _interpolate_short_gaps(values: FloatArray, max_steps: int) -> FloatArray:
    """Linear interpolation over interior NaN runs of at most `max_steps` steps; others stay NaN."""
    out = values.copy()
    missing = np.isnan(out)
    if not missing.any() or max_steps < 1:
        return out
    edges = np.diff(np.concatenate(([0], missing.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    for first, stop in zip(starts, stops, strict=True):
        if first == 0 or stop == out.size or stop - first > max_steps:
            continue  # leading/trailing or long gap: no two neighbours, or too long to draw a line
        left, right = out[first - 1], out[stop]
        fraction = np.arange(1, stop - first + 1) / (stop - first + 1)
        out[first:stop] = left + (right - left) * fraction
    return out


# --- models -----------------------------------------------------------------------------------------


def _predict(problem: _Problem, model: str, cache: FitCache | None) -> FloatArray:
    if model == "seasonal_naive":
        season = _season_steps(problem)
        return _seasonal_naive(problem.values, season, problem.steps_per_day, problem.horizon)
    return _gbm_forecast(problem, cache)


def _season_steps(problem: _Problem) -> int:
    day = problem.steps_per_day
    if problem.target == "load" and problem.n >= 7 * day:
        return 7 * day
    return day


def _seasonal_naive(values: FloatArray, season: int, steps_per_day: int, horizon: int) -> FloatArray:
    """The last season repeated; missing source values come from earlier seasons, else step-of-day means."""
    n = values.size
    source = values[n - season :].copy()
    back = 2
    while np.isnan(source).any() and back * season <= n:
        earlier = values[n - back * season : n - (back - 1) * season]
        source = np.where(np.isnan(source), earlier, source)
        back += 1
    if np.isnan(source).any():
        position = (np.arange(n) - (n - season)) % steps_per_day  # aligned with `source`
        sums = np.bincount(position, weights=np.nan_to_num(values), minlength=steps_per_day)
        counts = np.bincount(position, weights=np.isfinite(values), minlength=steps_per_day)
        with np.errstate(invalid="ignore", divide="ignore"):
            slot_mean = np.where(counts > 0, sums / counts, np.nanmean(values))
        gaps = np.isnan(source)
        source[gaps] = slot_mean[np.arange(season)[gaps] % steps_per_day]
    reps = math.ceil(horizon / season)
    result: FloatArray = np.tile(source, reps)[:horizon]
    return result


def _features(problem: _Problem, series: FloatArray, rows: IntArray) -> FloatArray:
    """Feature matrix of `rows` (indices into history + horizon; see the module docstring).

    Load and price: step of day, weekday, day type, holiday, value 1 day and 1 week before (same local
    time), mean of the 24 h ending 1 day before [, load: 7-day and same-day-type medians] [, clear-sky
    GHI for prices with a site]. PV without a site: step of day and the previous day's mean (with a
    site, PV is `pv_forecast`'s). `series` covers history + horizon (NaN where unknown); every lag is
    at least a day old, so rows of horizon day k only read history or the predictions of days < k.
    """
    day_mean = _previous_day_mean(series, rows, problem.steps_per_day)[:, None]
    if problem.target == "pv":
        # No weekday: the sun ignores it, and with a few weeks of data the model would learn that
        # "Tuesdays were sunny". No same-step lags: noisy; the step of day carries the daily shape.
        return np.column_stack((problem.calendar[rows, :1], day_mean))
    day = problem.steps_per_day
    lag_day, lag_week = (_local_lag(problem, series, rows, lag) for lag in (day, 7 * day))
    columns = [problem.calendar[rows], lag_day, lag_week, day_mean]
    if problem.target == "load":
        columns += _load_profiles(problem, series, rows)
    if problem.sun is not None:
        columns.append(problem.sun[rows, :1])
    return np.column_stack(columns)


def _load_profiles(problem: _Problem, series: FloatArray, rows: IntArray) -> list[FloatArray]:
    """Median of the same local step over the last 7 days, and over the days of the same BDEW day type
    (working day / Saturday / Sunday-or-holiday) among the last 21: robust "typical day" levels that a
    spiky household load (heat pump, EV charging) needs, where single lags are mostly noise."""
    day = problem.steps_per_day
    lagged = np.column_stack([_local_lag(problem, series, rows, k * day)[:, 0] for k in range(1, 22)])
    earlier = np.clip(rows[:, None] - day * np.arange(1, 22)[None, :], 0, None)
    same_type = problem.calendar[earlier, 2] == problem.calendar[rows, 2][:, None]
    return [
        _nan_median(lagged[:, :7])[:, None],
        _nan_median(np.where(same_type, lagged, np.nan))[:, None],
    ]


def _nan_median(values: FloatArray) -> FloatArray:
    """Row-wise median of the finite values, NaN for an all-missing row (numpy's warns there)."""
    ordered = np.sort(values, axis=1)  # NaN sort last
    count = np.isfinite(values).sum(axis=1)
    take = np.arange(values.shape[0])
    low, high = np.clip((count - 1) // 2, 0, None), np.clip(count // 2, 0, None)
    result: FloatArray = (ordered[take, low] + ordered[take, high]) / 2.0
    result[count == 0] = np.nan
    return result


def _previous_day_mean(series: FloatArray, rows: IntArray, day: int) -> FloatArray:
    """Mean of the known values in the 24 h ending one day before each row, (row - 2·day, row - day]."""
    known = np.isfinite(series)
    sums = np.concatenate(([0.0], np.cumsum(np.where(known, series, 0.0))))
    counts = np.concatenate(([0], np.cumsum(known)))
    end = rows - day + 1  # window (rows - 2·day, rows - day]
    begin = np.clip(end - day, 0, None)
    valid = end >= 1
    window_count = np.where(valid, counts[np.clip(end, 0, None)] - counts[begin], 0)
    window_sum = np.where(valid, sums[np.clip(end, 0, None)] - sums[begin], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        # at least 3 h of values (PV ratios exist by day only: ~6 h in a Berlin December)
        result: FloatArray = np.where(window_count >= day // 8, window_sum / window_count, np.nan)
    return result


def _local_lag(problem: _Problem, series: FloatArray, rows: IntArray, lag: int) -> FloatArray:
    """`series` at the same local clock time `lag` steps (whole days) before each row, NaN before the
    start or where not known yet.

    Across a daylight-saving switch that is `lag` ± 1 hour of steps: a fixed lag would put last
    week's 08:00 ramp at this week's 07:00.
    """
    earlier = np.clip(rows - lag, 0, None)
    index = rows - lag + (problem.offsets[rows] - problem.offsets[earlier])
    inside = (index >= 0) & (index < series.size)
    result: FloatArray = np.where(inside, series[np.clip(index, 0, series.size - 1)], np.nan)[:, None]
    return result


def _gbm_forecast(problem: _Problem, cache: FitCache | None = None) -> FloatArray:
    """Fit on the history, then predict the horizon one day at a time (recursive on the daily lags)."""
    if problem.clear_sky_pv:
        assert problem.ghi is not None
        return pv_forecast.blend_forecast(problem.values, problem.ghi, problem.steps_per_day)
    series = np.concatenate((problem.values, np.full(problem.horizon, np.nan)))
    rows = np.flatnonzero(np.isfinite(series[: problem.n]))
    features = _features(problem, series, rows)
    regressor = (FitCache() if cache is None else cache).fitted(problem.target, features, series[rows])
    for first in range(problem.n, problem.n + problem.horizon, problem.steps_per_day):
        block = np.arange(first, min(first + problem.steps_per_day, problem.n + problem.horizon))
        series[block] = regressor.predict(_features(problem, series, block))
    return _from_model_space(problem, series[problem.n :])


def _from_model_space(problem: _Problem, predicted: FloatArray) -> FloatArray:
    if problem.target == "price":
        return predicted
    predicted = np.clip(predicted, 0.0, None)
    if problem.target == "pv":
        predicted[_night_steps(problem)] = 0.0
    return predicted


def _night_steps(problem: _Problem) -> npt.NDArray[np.bool_]:
    """Horizon steps whose step of the day was 0 (or missing) on every day of the last week."""
    day = problem.steps_per_day
    days = min(7, problem.n // day)
    recent = problem.values[problem.n - days * day :].reshape(days, day)
    dark = np.all(np.nan_to_num(recent) <= 0.0, axis=0)  # index = position within a day from the cut
    result: npt.NDArray[np.bool_] = dark[np.arange(problem.horizon) % day]
    return result


# --- prediction interval ----------------------------------------------------------------------------


def _interval(
    problem: _Problem, model: str, point: FloatArray, interval: float, cache: FitCache | None
) -> tuple[FloatArray, FloatArray]:
    """Lower and upper bounds: point + residual quantiles * scale, containing the point, >= 0 unless
    a price, and 0 at night for PV."""
    low_q, high_q = _residual_quantiles(_calibration_residuals(problem, model, cache), interval)
    scale = problem.scale()[problem.n :]
    lower = np.minimum(point + low_q * scale, point)
    upper = np.maximum(point + high_q * scale, point)
    if problem.target == "price":
        return lower, upper
    lower, upper = np.clip(lower, 0.0, None), np.clip(upper, 0.0, None)
    if problem.target == "pv" and problem.sun is None:
        dark = _night_steps(problem)
        lower[dark] = upper[dark] = 0.0
    return lower, upper


def _calibration_residuals(problem: _Problem, model: str, cache: FitCache | None) -> FloatArray:
    """Out-of-sample residuals (actual - predicted) divided by `problem.scale()` (see module docstring)."""
    scale = problem.scale()[: problem.n]
    if model == "seasonal_naive":
        season = _season_steps(problem)
        first = max(season, problem.n - NAIVE_RESIDUAL_DAYS * problem.steps_per_day)
        actual = problem.values[first:]
        predicted = problem.values[first - season : problem.n - season]
        usable = scale[first:]
    else:
        days = min(MAX_CALIBRATION_DAYS, max(1, problem.n // problem.steps_per_day // 4))
        cut = problem.n - days * problem.steps_per_day
        actual = problem.values[cut:]
        predicted = _gbm_forecast(problem.truncated(cut), cache)
        usable = scale[cut:]
    keep = np.isfinite(actual) & np.isfinite(predicted)
    if problem.clear_sky_pv:
        keep &= usable * 1000.0 >= MIN_CLEAR_SKY_GHI  # night and dawn say nothing about the spread
    elif problem.target == "pv":
        keep &= (actual != 0.0) | (predicted != 0.0)  # nor do exact zeros at night (no site: no sun)
    result: FloatArray = (actual[keep] - predicted[keep]) / usable[keep]
    return result


def _residual_quantiles(residuals: FloatArray, interval: float) -> tuple[float, float]:
    """The central `interval` quantiles; (0, 0) when no residual could be measured."""
    if residuals.size == 0:
        return 0.0, 0.0
    low, high = np.quantile(residuals, [(1.0 - interval) / 2.0, (1.0 + interval) / 2.0])
    return float(low), float(high)
