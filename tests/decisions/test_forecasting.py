"""Forecasting (pure module): shapes, baselines, PV physics, leakage, missing data, errors, accuracy.

All series come from the project's own simulator (config/sim.yml: seed, site, profiles), six weeks of
15-minute data ending on a Monday in June 2025, so Ascension Day (29 May) lies in the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from luna_iems.decisions.backtest import BacktestRow, backtest, rolling_forecasts
from luna_iems.decisions.forecasting import Forecast, Series, forecast, point_forecast
from luna_iems.energy.solar import clear_sky_at_midpoints
from luna_iems.simulation.config import SimConfig, load_sim_config
from luna_iems.simulation.meters import simulate_meter, time_grid
from luna_iems.simulation.prices import simulate_prices

END = datetime(2025, 6, 16, tzinfo=UTC)
WEEKS = 6
DAY = 96  # steps per day at 15 minutes
WEEK = 7 * DAY


@dataclass(frozen=True)
class Site:
    config: SimConfig
    household: Series
    commercial: Series
    pv: Series
    price: Series

    @property
    def lat(self) -> float:
        return self.config.site.lat

    @property
    def lon(self) -> float:
        return self.config.site.lon


def _meter(config: SimConfig, profile: str, start: datetime, end: datetime) -> tuple[np.ndarray, np.ndarray]:
    readings = simulate_meter(
        meter_id=f"test-forecast-{profile}",
        profile=config.profile(profile),
        start=start,
        end=end,
        step_minutes=15,
        seed=config.seed,
        timezone=config.timezone,
        lat=config.site.lat,
        lon=config.site.lon,
    )
    return readings.consumption_kw, readings.production_kw


@pytest.fixture(scope="module")
def site() -> Site:
    config = load_sim_config()
    start = END - timedelta(weeks=WEEKS)
    household, _ = _meter(config, "household", start, END)
    commercial, _ = _meter(config, "commercial", start, END)
    _, pv = _meter(config, "household_pv", start, END)
    prices = simulate_prices(
        spec=config.prices,
        start=start,
        end=END,
        step_minutes=15,
        seed=config.seed,
        timezone=config.timezone,
        lat=config.site.lat,
        lon=config.site.lon,
    )

    def series(values: np.ndarray) -> Series:
        return Series(start=start, step_minutes=15, values=values)

    return Site(config, series(household), series(commercial), series(pv), series(prices.price_eur_mwh))


def _tail(series: Series, steps: int) -> Series:
    """The last `steps` steps of a series (start moved accordingly)."""
    start = series.start + timedelta(minutes=series.step_minutes * (len(series) - steps))
    return Series(start=start, step_minutes=series.step_minutes, values=series.values[-steps:])


def _head(series: Series, steps: int) -> Series:
    return Series(start=series.start, step_minutes=series.step_minutes, values=series.values[:steps])


def _no_gaps(series: Series) -> Series:
    """The simulator drops ~0.2 % of readings; baseline identities are checked on complete data."""
    values = series.values.copy()
    missing = np.isnan(values)
    values[missing] = np.interp(np.flatnonzero(missing), np.flatnonzero(~missing), values[~missing])
    return Series(start=series.start, step_minutes=series.step_minutes, values=values)


def _check_shape(result: Forecast, history: Series, horizon: int) -> None:
    assert result.start == history.end
    assert result.step_minutes == history.step_minutes
    assert result.history_steps == len(history)
    for array in (result.values, result.lower, result.upper):
        assert array.shape == (horizon,)
        assert np.isfinite(array).all()
    assert np.all(result.lower <= result.values)
    assert np.all(result.values <= result.upper)
    stamps = result.timestamps()
    assert stamps[0] == history.end
    assert stamps[-1] - stamps[0] == timedelta(minutes=history.step_minutes * (horizon - 1))


# --- shapes, timestamps, model choice ---------------------------------------------------------------


def test_forecast_shape_timestamps_and_interval(site: Site) -> None:
    history = _tail(site.household, 4 * WEEK)
    result = forecast(history, target="load", horizon_steps=3 * DAY, timezone=site.config.timezone)

    _check_shape(result, history, 3 * DAY)
    assert result.model == "gbm"  # four weeks is enough history for the learned model
    assert result.interval == 0.8
    assert result.start == END
    assert np.all(result.lower >= 0.0)
    assert np.all(result.upper > result.lower)
    # a household's forecast has a daily shape, not a flat line
    assert result.values.max() > 2.0 * result.values.min()


def test_auto_switches_to_the_learned_model_at_fourteen_days(site: Site) -> None:
    short = forecast(_tail(site.household, 14 * DAY - 1), target="load", horizon_steps=DAY)
    enough = forecast(_tail(site.household, 14 * DAY), target="load", horizon_steps=DAY)
    assert short.model == "seasonal_naive"
    assert enough.model == "gbm"


@pytest.mark.parametrize("target", ["price", "pv"])
def test_hourly_series(site: Site, target: str) -> None:
    source = site.price if target == "price" else site.pv
    hourly_values = source.values.reshape(-1, 4).mean(axis=1)
    history = Series(start=source.start, step_minutes=60, values=hourly_values)
    result = forecast(history, target=target, horizon_steps=72, lat=site.lat, lon=site.lon)  # type: ignore[arg-type]
    _check_shape(result, history, 72)
    assert result.model == "gbm"
    if target == "pv":
        grid = time_grid(history.end, history.end + timedelta(hours=72), 60)
        night = clear_sky_at_midpoints(grid, 60, site.lat, site.lon).zenith >= 90.0
        assert night.sum() >= 15  # three short June nights
        assert np.all(result.values[night] == 0.0)
        assert np.all(result.values >= 0.0)


def test_wider_interval_for_higher_level(site: Site) -> None:
    history = _tail(site.commercial, 3 * WEEK)
    narrow = forecast(history, target="load", horizon_steps=DAY, interval=0.5)
    wide = forecast(history, target="load", horizon_steps=DAY, interval=0.95)
    np.testing.assert_array_equal(narrow.values, wide.values)
    assert np.all(wide.upper - wide.lower >= narrow.upper - narrow.lower)
    assert np.mean(wide.upper - wide.lower) > 1.5 * np.mean(narrow.upper - narrow.lower)


# --- seasonal naive ---------------------------------------------------------------------------------


def test_seasonal_naive_load_is_the_week_before(site: Site) -> None:
    history = _no_gaps(_tail(site.household, 2 * WEEK))
    result = forecast(history, target="load", horizon_steps=3 * DAY, model="seasonal_naive")
    np.testing.assert_array_equal(result.values, history.values[-WEEK : -WEEK + 3 * DAY])
    assert result.model == "seasonal_naive"


def test_seasonal_naive_load_falls_back_to_the_day_before(site: Site) -> None:
    history = _no_gaps(_tail(site.household, 3 * DAY))
    result = forecast(history, target="load", horizon_steps=2 * DAY, model="seasonal_naive")
    np.testing.assert_array_equal(result.values, np.tile(history.values[-DAY:], 2))


@pytest.mark.parametrize("target", ["pv", "price"])
def test_seasonal_naive_pv_and_price_repeat_the_last_day(site: Site, target: str) -> None:
    source = site.pv if target == "pv" else site.price
    history = _no_gaps(_tail(source, 2 * WEEK))
    result = forecast(history, target=target, horizon_steps=3 * DAY, model="seasonal_naive")  # type: ignore[arg-type]
    np.testing.assert_array_equal(result.values, np.tile(history.values[-DAY:], 3))


# --- PV physics -------------------------------------------------------------------------------------


def test_pv_is_zero_at_night_and_never_negative(site: Site) -> None:
    history = _tail(site.pv, 4 * WEEK)
    result = forecast(history, target="pv", horizon_steps=3 * DAY, lat=site.lat, lon=site.lon)
    _check_shape(result, history, 3 * DAY)
    grid = time_grid(history.end, history.end + timedelta(days=3), 15)
    night = clear_sky_at_midpoints(grid, 15, site.lat, site.lon).zenith >= 90.0
    assert 0.2 < night.mean() < 0.5  # June in Berlin: short nights, but nights
    for array in (result.values, result.lower, result.upper):
        assert np.all(array >= 0.0)
        assert np.all(array[night] == 0.0)
    assert result.values[~night].max() > 1.0  # an 8 kWp array produces kilowatts by day


def test_pv_without_site_uses_the_dark_steps_of_the_last_week(site: Site) -> None:
    history = _tail(site.pv, 4 * WEEK)
    result = forecast(history, target="pv", horizon_steps=DAY)
    assert np.all(result.values >= 0.0)
    last_week = np.nan_to_num(history.values[-WEEK:]).reshape(7, DAY)
    dark = np.all(last_week <= 0.0, axis=0)
    assert dark.sum() > 20
    for array in (result.values, result.lower, result.upper):
        assert np.all(array[dark] == 0.0)
    assert result.upper[~dark].max() > 1.0


# --- leakage, determinism ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["seasonal_naive", "gbm"])
def test_no_future_leakage_in_rolling_origins(site: Site, model: str) -> None:
    history = _tail(site.household, 3 * WEEK)
    changed = history.values.copy()
    last_origin = len(history) - DAY
    changed[last_origin:] *= 10.0  # only the actuals after the last origin differ
    altered = Series(start=history.start, step_minutes=15, values=changed)

    options = {"target": "load", "horizon_steps": DAY, "model": model, "origins": 3}
    original, _ = rolling_forecasts(history, **options)  # type: ignore[arg-type]
    perturbed, _ = rolling_forecasts(altered, **options)  # type: ignore[arg-type]
    for before, after in zip(original, perturbed, strict=True):
        assert before.start == after.start
        np.testing.assert_array_equal(before.values, after.values)
        np.testing.assert_array_equal(before.upper, after.upper)
    # and each rolling forecast is exactly the forecast of the cut history
    direct = forecast(_head(history, last_origin), target="load", horizon_steps=DAY, model=model)  # type: ignore[arg-type]
    np.testing.assert_array_equal(original[-1].values, direct.values)


def test_learned_model_is_deterministic(site: Site) -> None:
    history = _tail(site.price, 3 * WEEK)
    first, _ = point_forecast(history, target="price", horizon_steps=DAY, model="gbm")
    second, _ = point_forecast(history, target="price", horizon_steps=DAY, model="gbm")
    np.testing.assert_array_equal(first, second)


# --- missing values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["seasonal_naive", "gbm"])
def test_missing_values_do_not_break_forecasts(site: Site, model: str) -> None:
    values = _tail(site.commercial, 3 * WEEK).values.copy()
    rng = np.random.default_rng(7)
    values[rng.random(values.size) < 0.05] = np.nan  # scattered outages
    values[-2 * DAY : -2 * DAY + 24] = np.nan  # a six-hour gap
    values[-3:] = np.nan  # the newest readings have not arrived
    history = Series(start=END - timedelta(weeks=3), step_minutes=15, values=values)
    result = forecast(history, target="load", horizon_steps=DAY, model=model)  # type: ignore[arg-type]
    _check_shape(result, history, DAY)


def test_seasonal_naive_fills_gaps_from_earlier_weeks(site: Site) -> None:
    values = _no_gaps(_tail(site.household, 3 * WEEK)).values.copy()
    source = len(values) - WEEK  # the step the first forecast step copies
    short_gap = source + 10  # one missing step: interpolated between its neighbours
    values[short_gap] = np.nan
    long_gap = slice(source + 40, source + 60)  # five hours: too long to interpolate
    values[long_gap] = np.nan
    history = Series(start=END - timedelta(weeks=3), step_minutes=15, values=values)
    result = forecast(history, target="load", horizon_steps=DAY, model="seasonal_naive")

    assert result.values[10] == pytest.approx((values[short_gap - 1] + values[short_gap + 1]) / 2)
    np.testing.assert_array_equal(result.values[40:60], values[source + 40 - WEEK : source + 60 - WEEK])


# --- errors -----------------------------------------------------------------------------------------


def test_too_short_history_names_the_minimum(site: Site) -> None:
    with pytest.raises(ValueError, match=r"at least 96 steps.*got 50 steps"):
        forecast(_tail(site.household, 50), target="load", horizon_steps=4)
    with pytest.raises(ValueError, match=r"'gbm'.*at least 1344 steps.*got 960"):
        forecast(_tail(site.household, 10 * DAY), target="load", horizon_steps=4, model="gbm")
    with pytest.raises(ValueError, match=r"at least 24 steps.*got 10 steps"):
        forecast(Series(start=END, step_minutes=60, values=np.ones(10)), target="load", horizon_steps=4)


def test_sparse_history_falls_back_or_names_the_minimum(site: Site) -> None:
    values = _tail(site.household, 3 * WEEK).values.copy()
    values[: -6 * DAY] = np.nan  # three weeks long, but only six days of values
    history = Series(start=END - timedelta(weeks=3), step_minutes=15, values=values)
    assert forecast(history, target="load", horizon_steps=DAY).model == "seasonal_naive"
    with pytest.raises(ValueError, match=r"too sparse.*at least 672 values.*got 576"):
        forecast(history, target="load", horizon_steps=DAY, model="gbm")


def test_mostly_missing_history_names_the_minimum() -> None:
    values = np.full(5 * DAY, np.nan)
    values[:40] = 1.0
    with pytest.raises(ValueError, match=r"96 steps.*not missing.*got 40 of 480"):
        forecast(Series(start=END, step_minutes=15, values=values), target="load", horizon_steps=4)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"horizon_steps": 289}, r"horizon_steps must be 1\.\.288"),
        ({"horizon_steps": 0}, r"horizon_steps must be 1\.\.288"),
        ({"model": "prophet"}, r"model must be one of"),
        ({"target": "wind"}, r"target must be one of"),
        ({"interval": 1.0}, r"interval must be in \(0, 1\)"),
        ({"timezone": "Mars/Olympus"}, r"unknown IANA time zone"),
        ({"lat": 52.5}, r"both lat and lon"),
    ],
)
def test_invalid_arguments(site: Site, arguments: dict[str, object], message: str) -> None:
    options: dict[str, object] = {"target": "load", "horizon_steps": DAY} | arguments
    with pytest.raises(ValueError, match=message):
        forecast(_tail(site.household, 2 * WEEK), **options)  # type: ignore[arg-type]


def test_invalid_series() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Series(start=datetime(2025, 1, 1), step_minutes=15, values=np.ones(96))
    with pytest.raises(ValueError, match=r"step_minutes must be one of \(15, 60\)"):
        Series(start=END, step_minutes=30, values=np.ones(96))
    with pytest.raises(ValueError, match="1-D"):
        Series(start=END, step_minutes=15, values=np.ones((2, 96)))
    with pytest.raises(ValueError, match="finite or NaN"):
        Series(start=END, step_minutes=15, values=np.array([1.0, np.inf]))


def test_start_is_normalised_to_utc() -> None:
    berlin = datetime(2025, 6, 16, 2, tzinfo=ZoneInfo("Europe/Berlin"))
    series = Series(start=berlin, step_minutes=60, values=np.ones(48))
    assert series.start == END
    assert series.start.tzinfo is UTC
    assert series.end == END + timedelta(hours=48)


def test_forecast_across_a_daylight_saving_switch() -> None:
    """The learned model follows local time across the October switch; seasonal naive (a fixed lag
    of 672 steps) is an hour off. History ends at Sunday 26 October 2025, 00:00 CEST; on Monday the
    commercial load's morning ramp (hourly shape 0.45 at 06:00, 0.75 at 07:00, 1.0 at 08:00 local)
    comes an hour later in UTC than the week before."""
    config = load_sim_config()
    end = datetime(2025, 10, 25, 22, tzinfo=UTC)
    consumption, _ = _meter(config, "commercial", end - timedelta(weeks=4), end + timedelta(days=2))
    history = Series(start=end - timedelta(weeks=4), step_minutes=15, values=consumption[: -2 * DAY])
    actual = consumption[-2 * DAY :]
    learned = forecast(history, target="load", horizon_steps=2 * DAY)
    naive = forecast(history, target="load", horizon_steps=2 * DAY, model="seasonal_naive")
    assert learned.model == "gbm"

    monday_6_local = slice(100 + 24, 100 + 28)  # Monday 00:00 CET is 25 h (100 steps) after the origin
    truth = actual[monday_6_local].mean()
    assert abs(learned.values[monday_6_local].mean() - truth) < 0.15 * truth
    assert naive.values[monday_6_local].mean() > 1.3 * truth  # last week's 07:00 local


def test_backtest_too_short_names_the_steps_needed(site: Site) -> None:
    with pytest.raises(ValueError, match=r"need 2688 steps, got 2016"):
        backtest(
            _tail(site.household, 3 * WEEK), target="load", horizon_steps=DAY, models=["gbm"], origins=14
        )


# --- accuracy and calibration (rolling origins) -----------------------------------------------------


def _rows(rows: list[BacktestRow]) -> dict[str, BacktestRow]:
    return {row.model: row for row in rows}


@pytest.mark.parametrize("meter", ["household", "commercial"])
def test_learned_model_beats_seasonal_naive_on_load(site: Site, meter: str) -> None:
    history = site.household if meter == "household" else site.commercial
    rows = _rows(
        backtest(history, target="load", horizon_steps=DAY, models=["seasonal_naive", "gbm"], origins=5)
    )
    assert rows["seasonal_naive"].mase == 1.0  # the baseline by construction
    assert rows["gbm"].origins == 5
    assert rows["gbm"].mase < 0.95
    assert rows["gbm"].rmse >= rows["gbm"].mae > 0.0
    # roughly calibrated 80 % interval
    assert 0.65 <= rows["gbm"].coverage <= 0.95


@pytest.mark.parametrize("target", ["pv", "price"])
def test_learned_model_on_pv_and_price(site: Site, target: str) -> None:
    """Reported, not a target: in the simulator each day's cloudiness (PV) and sunshine (the price's
    solar dip) are drawn independently, so over a week of origins chance decides whether yesterday
    (seasonal naive) or the learned average is closer; the benchmark pools 14 origins in two seasons.
    The bounds catch a broken model (a sign or scaling error gives MASE >> 1), not a weak one."""
    history = site.pv if target == "pv" else site.price
    rows = _rows(
        backtest(
            history,
            target=target,  # type: ignore[arg-type]
            horizon_steps=DAY,
            models=["gbm", "seasonal_naive"],
            origins=7,
            lat=site.lat,
            lon=site.lon,
        )
    )
    print(f"{target}: MASE gbm {rows['gbm'].mase:.3f}, coverage {rows['gbm'].coverage:.2f}")
    assert rows["seasonal_naive"].mase == 1.0
    assert 0.3 < rows["gbm"].mase < 1.5
    assert 0.6 <= rows["gbm"].coverage <= 0.97
