"""Sun position and clear-sky irradiance at given instants (pvlib): what PV could produce under a clear sky.

Shared by the simulator (PV production) and the forecasts (a clear-sky regressor), so it depends on no
domain.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pvlib

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Linke turbidity by month, typical of Central Europe (dry winters ~3, hazy summers ~4.5). pvlib's
# bundled worldwide table needs h5py, which is not a dependency of this project.
_LINKE_TURBIDITY_BY_MONTH: Final = (3.0, 3.2, 3.6, 4.0, 4.2, 4.4, 4.5, 4.4, 3.9, 3.5, 3.2, 3.0)


@dataclass(frozen=True)
class ClearSky:
    """Sun position and Ineichen clear-sky irradiance (W/m²) at given instants."""

    zenith: FloatArray
    apparent_zenith: FloatArray
    azimuth: FloatArray
    ghi: FloatArray
    dni: FloatArray
    dhi: FloatArray


@functools.lru_cache(maxsize=16)
def clear_sky_grid(*, first_epoch_s: int, count: int, step_s: int, lat: float, lon: float) -> ClearSky:
    """Clear sky at `count` instants `first_epoch_s + i·step_s` (cached: meters of one site share it).

    Sun position: NREL SPA (pvlib.spa, NumPy). Irradiance: pvlib's Ineichen-Perez model with Kasten-Young
    air mass, site altitude from pvlib's bundled table and a monthly Linke turbidity climatology.
    Zero when the sun is below the horizon (true zenith ≥ 90°). Arrays are read-only.
    """
    seconds = first_epoch_s + np.arange(count, dtype=np.int64) * step_s
    days = (seconds // 86_400).astype("datetime64[D]")
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    day_of_year = (days - days.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.float64) + 1
    altitude = float(pvlib.location.lookup_altitude(lat, lon))
    pressure = float(pvlib.atmosphere.alt2pres(altitude))
    delta_t = np.asarray(pvlib.spa.calculate_deltat(year, month), dtype=np.float64)
    position = np.asarray(
        pvlib.spa.solar_position(
            seconds.astype(np.float64), lat, lon, altitude, pressure / 100.0, 12.0, delta_t, 0.5667
        ),
        dtype=np.float64,
    )
    apparent_zenith, zenith, azimuth = position[0], position[1], position[4]
    ghi, dni, dhi = np.zeros(count), np.zeros(count), np.zeros(count)
    day = zenith < 90.0
    if day.any():
        relative_airmass = pvlib.atmosphere.get_relative_airmass(apparent_zenith[day])
        airmass = pvlib.atmosphere.get_absolute_airmass(relative_airmass, pressure)
        month_middle = np.arange(12) * (365.25 / 12) + 15.2
        linke = np.interp(day_of_year[day], month_middle, _LINKE_TURBIDITY_BY_MONTH, period=365.25)
        irradiance = pvlib.clearsky.ineichen(
            apparent_zenith[day],
            airmass,
            linke,
            altitude=altitude,
            dni_extra=pvlib.irradiance.get_extra_radiation(day_of_year[day]),
        )
        ghi[day] = np.nan_to_num(np.asarray(irradiance["ghi"], dtype=np.float64))
        dni[day] = np.nan_to_num(np.asarray(irradiance["dni"], dtype=np.float64))
        dhi[day] = np.nan_to_num(np.asarray(irradiance["dhi"], dtype=np.float64))
    arrays = (zenith, apparent_zenith, azimuth, ghi, dni, dhi)
    for array in arrays:
        array.setflags(write=False)
    return ClearSky(*arrays)


def clear_sky_at_midpoints(epoch_minutes: IntArray, step_minutes: int, lat: float, lon: float) -> ClearSky:
    """Clear sky at the middle of each step of a regular grid (the step's mean, to first order)."""
    count = int(epoch_minutes.size)
    first = int(epoch_minutes[0]) if count else 0
    return clear_sky_grid(
        first_epoch_s=first * 60 + step_minutes * 30,
        count=count,
        step_s=step_minutes * 60,
        lat=round(lat, 6),
        lon=round(lon, 6),
    )
