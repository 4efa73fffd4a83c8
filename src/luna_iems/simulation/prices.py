"""Simulated day-ahead market prices (EUR/MWh), 15-minute products or hourly means of them.

The curve is built per quarter-hour in local time (see `PriceSpec` for the formula): morning and
evening peaks, a midday dip proportional to the clear-sky irradiance of the day times a random
sunshine level of the day (deep enough on sunny summer middays for negative prices, too shallow in
winter), weekday/weekend and seasonal levels (winter higher), AR(1) intraday noise and rare spikes.
Random numbers are pure functions of (seed, market/product, instant), as for meters: any window
gives the same values, and an hourly price is exactly the mean of its four quarter-hour prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np
import numpy.typing as npt

from luna_iems.energy.calendar import WT, local_calendar
from luna_iems.energy.solar import clear_sky_at_midpoints
from luna_iems.simulation.config import PriceSpec
from luna_iems.simulation.meters import (
    FloatArray,
    IntArray,
    block_mean,
    daily_ar1,
    fine_grid,
    seasonal_factor,
    stream_key,
    time_grid,
    to_datetime64,
    uniform,
)

PRICE_LIMITS_EUR_MWH: Final = (-500.0, 4000.0)  # SDAC harmonised minimum and maximum clearing prices
SUNSHINE_BAND: Final = (0.15, 1.0)  # the day's sunshine level scaling the solar dip
NOISE_PERSISTENCE: Final = 0.9  # lag-1 autocorrelation of the intraday noise per quarter-hour
MORNING_PEAK_WIDTH_H: Final = 1.5
EVENING_PEAK_WIDTH_H: Final = 2.0
PRICE_STEPS_MINUTES: Final = (15, 30, 60)


@dataclass(frozen=True)
class SimulatedPrices:
    """Prices of one market and product; the value at `ts[i]` (datetime64[us], UTC) holds for
    [ts[i], ts[i] + step)."""

    market: str
    product: str
    ts: npt.NDArray[np.datetime64]
    price_eur_mwh: FloatArray

    def __len__(self) -> int:
        return int(self.ts.size)


def _peak(hour: FloatArray, centre_h: float, width_h: float) -> FloatArray:
    distance = (hour - centre_h + 12.0) % 24.0 - 12.0  # circular, so a late peak wraps past midnight
    result: FloatArray = np.exp(-0.5 * (distance / width_h) ** 2)
    return result


def quarter_hour_prices(
    *, spec: PriceSpec, epoch_minutes: IntArray, seed: int, timezone: str, lat: float, lon: float
) -> FloatArray:
    """Prices (EUR/MWh) of the quarter-hours starting at `epoch_minutes` (multiples of 15)."""
    if epoch_minutes.size == 0:
        return np.zeros(0)
    calendar = local_calendar(epoch_minutes, timezone)
    hour: FloatArray = (calendar.minute_of_day.astype(np.float64) + 7.5) / 60.0  # middle of the quarter-hour
    morning = spec.morning_peak_eur_mwh * _peak(hour, spec.morning_peak_hour, MORNING_PEAK_WIDTH_H)
    evening = spec.evening_peak_eur_mwh * _peak(hour, spec.evening_peak_hour, EVENING_PEAK_WIDTH_H)
    shape = spec.base_eur_mwh + morning + evening
    level = seasonal_factor(calendar.day_of_year, spec.seasonal_amplitude) * np.where(
        calendar.day_type == WT, 1.0, spec.weekend_factor
    )
    name = f"{spec.market}/{spec.product}"
    low, high = SUNSHINE_BAND
    local_day = calendar.date.astype(np.int64)
    sunshine = low + (high - low) * uniform(stream_key(seed, name, "sunshine"), local_day)
    sky = clear_sky_at_midpoints(epoch_minutes, 15, lat, lon)
    dip = spec.solar_dip_eur_mwh * sky.ghi / 1000.0 * sunshine
    noise = spec.noise_std_eur_mwh * daily_ar1(
        key=stream_key(seed, name, "noise"),
        epoch_minutes=epoch_minutes,
        step_minutes=15,
        day_offset_minutes=round(lon * 4.0),
        phi=NOISE_PERSISTENCE,
    )
    spike_key = stream_key(seed, name, "spike")
    spike_height = spec.spike_eur_mwh * (0.5 + uniform(stream_key(seed, name, "spike-height"), epoch_minutes))
    spikes = np.where(uniform(spike_key, epoch_minutes) < spec.spike_probability, spike_height, 0.0)
    result: FloatArray = np.clip(level * shape - dip + noise + spikes, *PRICE_LIMITS_EUR_MWH)
    return result


def simulate_prices(
    *,
    spec: PriceSpec,
    start: datetime,
    end: datetime,
    step_minutes: int = 15,
    seed: int,
    timezone: str = "Europe/Berlin",
    lat: float,
    lon: float,
) -> SimulatedPrices:
    """Day-ahead prices for the steps in [start, end) (timezone-aware datetimes).

    `step_minutes` 15 gives quarter-hour products; 30 or 60 give the mean of the quarter-hours of each
    step (an hourly price is the mean of its four quarter-hours). `lat`/`lon` place the sun for the
    solar dip (the site, or a point representative of the bidding zone). Raises ValueError for naive
    datetimes, a negative seed or another step.
    """
    if step_minutes not in PRICE_STEPS_MINUTES:
        raise ValueError(f"step_minutes must be one of {PRICE_STEPS_MINUTES} (got {step_minutes})")
    epoch_minutes = time_grid(start, end, step_minutes)
    fine, fine_step = fine_grid(epoch_minutes, step_minutes)
    quarter_hours = quarter_hour_prices(
        spec=spec, epoch_minutes=fine, seed=seed, timezone=timezone, lat=lat, lon=lon
    )
    return SimulatedPrices(
        market=spec.market,
        product=spec.product,
        ts=to_datetime64(epoch_minutes),
        price_eur_mwh=block_mean(quarter_hours, step_minutes, fine_step),
    )
