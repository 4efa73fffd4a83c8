"""Simulated smart-meter readings: consumption, PV production, voltage and quality per time step.

Determinism and backfilling: every random number is a pure function of (seed, meter id, stream name,
instant). Stream keys come from `numpy.random.SeedSequence([seed, crc32(meter_id), crc32(stream)])`
(never Python's `hash()`, which is salted per process); the numbers themselves come from a counter-based
generator (SplitMix64 of key and epoch minute). So a value does not depend on the requested window:
backfilling [a, b) and then [b, c) gives exactly the values of [a, c), noise and outages included. The
one process with memory, the PV clear-sky index (AR(1)), restarts at every solar midnight (when PV is
zero) and is always computed for whole solar days, so it is window-independent too.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
import pvlib

from luna_iems.energy.calendar import WT, local_calendar
from luna_iems.energy.solar import clear_sky_at_midpoints
from luna_iems.simulation import profiles
from luna_iems.simulation.config import MeterProfile, PvSpec, check_step_minutes

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
VOLTAGE_BAND_V: Final = (207.0, 253.0)  # EN 50160: 230 V ± 10 %
CLEAR_SKY_INDEX_BAND: Final = (0.05, 1.0)
QUALITY_OK: Final = "ok"
QUALITY_MISSING: Final = "missing"
# Germany: 365 days - 104 weekend days - about 11 weekday holidays (incl. 24 and 31 December as SA).
WORKING_DAYS_PER_YEAR: Final = 250.0


_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)
_MIX_1: Final = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2: Final = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True)
class SimulatedReadings:
    """Readings of one meter; the value at `ts[i]` is the mean power over [ts[i], ts[i] + step).

    `ts` is datetime64[us] in UTC. Missing readings (quality 'missing') have NaN values.
    """

    meter_id: str
    ts: npt.NDArray[np.datetime64]
    consumption_kw: FloatArray
    production_kw: FloatArray
    voltage: FloatArray
    quality: npt.NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.ts.size)


# --- counter-based random numbers ------------------------------------------------------------------


def stream_key(seed: int, name: str, stream: str) -> np.uint64:
    """64-bit key of one random stream, from the seed and stable CRC32 hashes of the names."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0 (got {seed})")
    sequence = np.random.SeedSequence([seed, zlib.crc32(name.encode()), zlib.crc32(stream.encode())])
    return np.uint64(sequence.generate_state(1, dtype=np.uint64)[0])


def _splitmix(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    z = values + _GOLDEN  # uint64 array arithmetic wraps around silently, as intended
    z = (z ^ (z >> np.uint64(30))) * _MIX_1
    z = (z ^ (z >> np.uint64(27))) * _MIX_2
    result: npt.NDArray[np.uint64] = z ^ (z >> np.uint64(31))
    return result


def uniform(key: np.uint64, counter: IntArray) -> FloatArray:
    """U(0, 1) (open interval) as a pure function of (key, counter)."""
    mixed = _splitmix(np.asarray(counter, dtype=np.int64).astype(np.uint64) * _GOLDEN ^ key)
    result: FloatArray = ((mixed >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    return result


def normal(key: np.uint64, counter: IntArray) -> FloatArray:
    """N(0, 1) as a pure function of (key, counter) (Box-Muller on two counter-derived uniforms)."""
    counter = np.asarray(counter, dtype=np.int64)
    u1 = uniform(key, 2 * counter)
    u2 = uniform(key, 2 * counter + 1)
    result: FloatArray = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    return result


def daily_ar1(
    *, key: np.uint64, epoch_minutes: IntArray, step_minutes: int, day_offset_minutes: int, phi: float
) -> FloatArray:
    """Stationary AR(1) with N(0, 1) marginals that restarts at every day boundary.

    Days start at UTC midnight - `day_offset_minutes` (rounded to the step). The whole day of every
    instant is generated, so a value does not depend on the requested window. The loop runs over the
    steps of one day, vectorised across days.
    """
    offset = step_minutes * round(day_offset_minutes / step_minutes)
    shifted = epoch_minutes + offset
    day = shifted // 1440
    position = (shifted - day * 1440) // step_minutes
    days, inverse = np.unique(day, return_inverse=True)
    steps_per_day = 1440 // step_minutes
    cells = (days[:, None] * 1440 - offset) + np.arange(steps_per_day) * step_minutes
    shocks = normal(key, cells.ravel()).reshape(cells.shape)
    series = np.empty_like(shocks)
    series[:, 0] = shocks[:, 0]
    innovation = float(np.sqrt(1.0 - phi * phi))
    for step in range(1, steps_per_day):
        series[:, step] = phi * series[:, step - 1] + innovation * shocks[:, step]
    result: FloatArray = series[inverse.ravel(), position]
    return result


# --- time grid --------------------------------------------------------------------------------------


def time_grid(start: datetime, end: datetime, step_minutes: int) -> IntArray:
    """Epoch minutes of the steps in [start, end), aligned to multiples of the step since the epoch."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware datetimes")
    step = timedelta(minutes=step_minutes)
    first, remainder = divmod(start - EPOCH, step)
    if remainder:
        first += 1
    stop, remainder = divmod(end - EPOCH, step)
    if remainder:
        stop += 1
    return np.arange(first, max(first, stop), dtype=np.int64) * step_minutes


def to_datetime64(epoch_minutes: IntArray) -> npt.NDArray[np.datetime64]:
    """Epoch minutes → datetime64[us] (UTC)."""
    return epoch_minutes.astype("datetime64[m]").astype("datetime64[us]")


def fine_grid(epoch_minutes: IntArray, step_minutes: int) -> tuple[IntArray, int]:
    """Sub-steps on which shapes are evaluated: quarter-hours for steps longer than 15 minutes (then
    averaged back), the steps themselves otherwise. Returns (epoch minutes, sub-step minutes)."""
    if step_minutes > 15:
        per_step = step_minutes // 15
        grid = (epoch_minutes[:, None] + np.arange(per_step) * 15).ravel()
        return grid, 15
    return epoch_minutes, step_minutes


def block_mean(values: FloatArray, step_minutes: int, fine_step_minutes: int) -> FloatArray:
    """Mean over the sub-steps of each step (identity when they coincide)."""
    per_step = step_minutes // fine_step_minutes
    if per_step == 1:
        return values
    result: FloatArray = values.reshape(-1, per_step).mean(axis=1)
    return result


# --- sun and PV -------------------------------------------------------------------------------------


def clear_sky_index(
    *, pv: PvSpec, key: np.uint64, epoch_minutes: IntArray, step_minutes: int, lon: float
) -> FloatArray:
    """Cloudiness: AR(1) clear-sky index around the seasonal mean of `pv.cloudiness` (lower in winter),
    clipped to [0.05, 1], restarting at solar midnight (UTC midnight - lon·4 min)."""
    cloudiness = pv.cloudiness
    days = (epoch_minutes // 1440).astype("datetime64[D]")
    day_of_year = (days - days.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64) + 1
    # mean * (1 - amplitude * cos(...)): lowest in mid-January, highest in mid-July
    mean = cloudiness.mean * (2.0 - seasonal_factor(day_of_year, cloudiness.seasonal_amplitude))
    phi = cloudiness.persistence ** (step_minutes / 15.0)
    series = daily_ar1(
        key=key,
        epoch_minutes=epoch_minutes,
        step_minutes=step_minutes,
        day_offset_minutes=round(lon * 4.0),
        phi=phi,
    )
    result: FloatArray = np.clip(mean + cloudiness.std * series, *CLEAR_SKY_INDEX_BAND)
    return result


def pv_power_kw(
    *, pv: PvSpec, key: np.uint64, epoch_minutes: IntArray, step_minutes: int, lat: float, lon: float
) -> FloatArray:
    """PV AC power (kW) of a regular grid: clear-sky plane-of-array irradiance (isotropic sky
    transposition) * clear-sky index * kWp / 1000 W/m² * performance ratio; 0 with the sun below the
    horizon."""
    if epoch_minutes.size == 0:
        return np.zeros(0)
    sky = clear_sky_at_midpoints(epoch_minutes, step_minutes, lat, lon)
    poa = pvlib.irradiance.get_total_irradiance(
        pv.tilt,
        pv.azimuth,
        sky.apparent_zenith,
        sky.azimuth,
        sky.dni,
        sky.ghi,
        sky.dhi,
        model="isotropic",
    )
    poa_global = np.nan_to_num(np.asarray(poa["poa_global"], dtype=np.float64))
    index = clear_sky_index(pv=pv, key=key, epoch_minutes=epoch_minutes, step_minutes=step_minutes, lon=lon)
    power = pv.pv_kwp * poa_global / 1000.0 * index * pv.performance_ratio
    power[sky.zenith >= 90.0] = 0.0
    result: FloatArray = np.clip(power, 0.0, None)
    return result


# --- consumption ------------------------------------------------------------------------------------


def seasonal_factor(day_of_year: IntArray, amplitude: float) -> FloatArray:
    """1 + amplitude·cos(2π(doy - 15)/365.25): highest in mid-January, lowest in mid-July."""
    result: FloatArray = 1.0 + amplitude * np.cos(2.0 * np.pi * (day_of_year - 15) / 365.25)
    return result


def expected_consumption_kw(
    *, profile: MeterProfile, epoch_minutes: IntArray, timezone: str, scale: float = 1.0
) -> FloatArray:
    """Noise-free consumption (kW) at instants on quarter-hour or finer steps (local-time shapes)."""
    calendar = local_calendar(epoch_minutes, timezone)
    table = profiles.shape_table(profile.shape)
    power = table[calendar.month - 1, calendar.day_type, calendar.quarter_hour] * (profile.annual_kwh * scale)
    if profile.shape == "bdew_h25":
        power = power * profiles.h25_dynamisation(calendar.day_of_year)
    # Saturdays, Sundays and holidays * weekend_factor, renormalised over a typical German year (about
    # 250 working days) so that the annual energy stays annual_kwh.
    weekend = profile.weekend_factor
    mean_day_factor = (WORKING_DAYS_PER_YEAR + (365.25 - WORKING_DAYS_PER_YEAR) * weekend) / 365.25
    day_factor = np.where(calendar.day_type == WT, 1.0, weekend) / mean_day_factor
    result: FloatArray = (
        power * day_factor * seasonal_factor(calendar.day_of_year, profile.seasonal_amplitude)
    )
    return result


def simulate_meter(
    *,
    meter_id: str,
    profile: MeterProfile,
    start: datetime,
    end: datetime,
    step_minutes: int = 15,
    seed: int,
    timezone: str = "Europe/Berlin",
    lat: float,
    lon: float,
    scale: float = 1.0,
    noise: float | None = None,
) -> SimulatedReadings:
    """Readings of one simulated meter for the steps in [start, end) (timezone-aware datetimes).

    consumption_kw = profile shape (local time) * annual_kwh * scale * day-type, seasonal (and, for H25,
    dynamisation) factors * max(0, 1 + noise·N(0, 1)); production_kw = PV power * scale (0 without PV
    and at night); voltage ~ N(mean, std) clipped to 207-253 V. With probability `outage_rate` per step a
    reading is missing: quality 'missing' and NaN values. `noise` overrides `profile.noise`.
    Deterministic in (seed, meter_id, instant): see the module docstring. Raises ValueError for naive
    datetimes, a negative seed or a step that does not tile an hour (1, 3, 5, 15, 30, 60).
    """
    check_step_minutes(step_minutes)
    if scale <= 0:
        raise ValueError(f"scale must be > 0 (got {scale})")
    epoch_minutes = time_grid(start, end, step_minutes)
    fine, fine_step = fine_grid(epoch_minutes, step_minutes)
    consumption = block_mean(
        expected_consumption_kw(profile=profile, epoch_minutes=fine, timezone=timezone, scale=scale),
        step_minutes,
        fine_step,
    )
    relative_noise = profile.noise if noise is None else noise
    if relative_noise > 0:
        factor = 1.0 + relative_noise * normal(stream_key(seed, meter_id, "consumption"), epoch_minutes)
        consumption = consumption * np.clip(factor, 0.0, None)
    production = np.zeros(epoch_minutes.size)
    if profile.pv is not None:
        fine_pv = pv_power_kw(
            pv=profile.pv,
            key=stream_key(seed, meter_id, "cloudiness"),
            epoch_minutes=fine,
            step_minutes=fine_step,
            lat=lat,
            lon=lon,
        )
        production = block_mean(fine_pv, step_minutes, fine_step) * scale
    voltage_noise = normal(stream_key(seed, meter_id, "voltage"), epoch_minutes)
    voltage = np.clip(profile.voltage.mean + profile.voltage.std * voltage_noise, *VOLTAGE_BAND_V)
    missing = uniform(stream_key(seed, meter_id, "outage"), epoch_minutes) < profile.outage_rate
    for values in (consumption, production, voltage):
        values[missing] = np.nan
    return SimulatedReadings(
        meter_id=meter_id,
        ts=to_datetime64(epoch_minutes),
        consumption_kw=consumption,
        production_kw=production,
        voltage=voltage,
        quality=np.where(missing, QUALITY_MISSING, QUALITY_OK),
    )
