"""Load shapes: BDEW H25 and the commercial and industrial shapes, by month and BDEW day type.

* H25: the BDEW 2025 household profile, 96 quarter-hours * 12 months * 3 day types, plus its
  dynamisation polynomial over the day of the year (H25 is a dynamic profile).
* Commercial and industrial shapes: 96-point relative shapes defined below (mean 1).

The local calendar and the day types they follow live in `luna_iems.energy.calendar`.
"""

from __future__ import annotations

import csv
import functools
import io
from importlib import resources
from typing import Final

import numpy as np
import numpy.typing as npt

from luna_iems.energy.calendar import DAY_TYPES, DayType, day_types
from luna_iems.simulation.config import ShapeName

QUARTER_HOURS_PER_DAY: Final = 96
HOURS_PER_YEAR: Final = 8766.0  # 365.25 days: the normalisation of the shapes defined in code
H25_REFERENCE_YEAR: Final = 2025
H25_REFERENCE_TIMEZONE: Final = "Europe/Berlin"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_MONTHS_DE: Final = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)


# --- BDEW H25 -------------------------------------------------------------------------------------


@functools.cache
def _h25_table_kwh() -> FloatArray:
    """The package-data table as (month 0..11, day type WT/SA/FT, quarter-hour), kWh per 15 minutes."""
    text = resources.files("luna_iems.simulation").joinpath("data/bdew_h25.csv").read_text("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    months, kinds, body = rows[0], rows[1], rows[2 : 2 + QUARTER_HOURS_PER_DAY]
    table = np.full((12, 3, QUARTER_HOURS_PER_DAY), np.nan)
    for column in range(1, len(months)):
        month_index = _MONTHS_DE.index(months[column])
        kind_index = DAY_TYPES.index(kinds[column])
        table[month_index, kind_index] = [float(row[column]) for row in body]
    if np.isnan(table).any():
        raise ValueError("data/bdew_h25.csv does not cover 12 months * (WT, SA, FT) * 96 quarter-hours")
    table.setflags(write=False)
    return table


def h25_dynamisation(day_of_year: npt.ArrayLike) -> FloatArray:
    """BDEW dynamisation factor of a dynamic profile (H25) for day of year 1..366."""
    t = np.asarray(day_of_year, dtype=np.float64)
    result: FloatArray = -3.92e-10 * t**4 + 3.2e-7 * t**3 - 7.02e-5 * t**2 + 2.1e-3 * t + 1.24
    return result


@functools.cache
def h25_kw_per_kwh() -> FloatArray:
    """H25 as (month 0..11, day type, quarter-hour) in kW per kWh of annual consumption.

    Normalisation: the table * 4 (kWh per 15 min → kW), divided by the energy of the dynamised profile
    over the calendar year 2025 in Europe/Berlin. So `annual_kwh * value * h25_dynamisation(doy)`,
    summed over 2025 as quarter-hour energies, is exactly `annual_kwh`; other years differ only by
    their calendar (within about 1 %).
    """
    table = _h25_table_kwh()
    days = np.arange(
        np.datetime64(f"{H25_REFERENCE_YEAR}-01-01"), np.datetime64(f"{H25_REFERENCE_YEAR + 1}-01-01")
    )
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    day_of_year = np.arange(1, days.size + 1)
    daily_kwh = table[month, day_types(days)].sum(axis=1) * h25_dynamisation(day_of_year)
    result: FloatArray = table * 4.0 / float(daily_kwh.sum())
    result.setflags(write=False)
    return result


def h25_shape(month: int, day_type: DayType) -> FloatArray:
    """H25 for one month (1..12) and day type: 96 quarter-hour powers in kW per kWh/a (before
    dynamisation; see `h25_kw_per_kwh` for the normalisation). Returns a fresh writable copy.
    """
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12 (got {month})")
    if day_type not in DAY_TYPES:
        raise ValueError(f"day_type must be one of {DAY_TYPES} (got {day_type!r})")
    return np.array(h25_kw_per_kwh()[month - 1, DAY_TYPES.index(day_type)])


# --- shapes defined in code ------------------------------------------------------------------------


def _from_hourly(hourly: list[float]) -> FloatArray:
    """96 quarter-hour values from 24 hourly anchors (value at each hour's middle), interpolated
    periodically so ramps are smooth; normalised to mean 1."""
    anchors_h = np.arange(24) + 0.5
    quarter_mid_h = (np.arange(QUARTER_HOURS_PER_DAY) + 0.5) / 4
    values = np.interp(quarter_mid_h, anchors_h, np.asarray(hourly), period=24.0)
    result: FloatArray = values / values.mean()
    result.setflags(write=False)
    return result


# Office/retail: base load ~30 % at night (IT, cooling, standby), ramp from 06:00, plateau 08:00-18:00
# with a slight lunch dip, ramp down until 20:00. Weekends are the same curve * weekend_factor.
COMMERCIAL_SHAPE: Final = _from_hourly(
    [
        0.30,
        0.30,
        0.30,
        0.30,
        0.30,
        0.32,
        0.45,
        0.75,
        1.00,
        1.00,
        1.00,
        1.00,
        0.95,
        1.00,
        1.00,
        1.00,
        1.00,
        0.92,
        0.62,
        0.45,
        0.38,
        0.34,
        0.32,
        0.30,
    ]
)

# Two shifts 06:00-22:00: base load ~55 % overnight (compressed air, cooling, furnaces kept warm),
# short dips at the breaks (09, 12, 18) and at the 14:00 shift change. Load factor ~0.8.
INDUSTRIAL_TWO_SHIFT_SHAPE: Final = _from_hourly(
    [
        0.55,
        0.55,
        0.55,
        0.55,
        0.55,
        0.62,
        0.95,
        1.00,
        1.00,
        0.93,
        1.00,
        1.00,
        0.90,
        1.00,
        0.94,
        1.00,
        1.00,
        1.00,
        0.92,
        1.00,
        1.00,
        0.95,
        0.72,
        0.58,
    ]
)

# Three shifts around the clock: nearly flat (load factor ~0.9), dips at shift changes 06, 14, 22
# and slightly lower night shift.
INDUSTRIAL_THREE_SHIFT_SHAPE: Final = _from_hourly(
    [
        0.90,
        0.90,
        0.90,
        0.90,
        0.90,
        0.92,
        0.85,
        1.00,
        1.00,
        1.00,
        1.00,
        1.00,
        0.96,
        1.00,
        0.90,
        1.00,
        1.00,
        1.00,
        0.98,
        1.00,
        1.00,
        0.97,
        0.85,
        0.90,
    ]
)

_SHAPES_IN_CODE: Final[dict[str, FloatArray]] = {
    "commercial": COMMERCIAL_SHAPE,
    "industrial_two_shift": INDUSTRIAL_TWO_SHIFT_SHAPE,
    "industrial_three_shift": INDUSTRIAL_THREE_SHIFT_SHAPE,
}


@functools.cache
def shape_table(shape: ShapeName) -> FloatArray:
    """(month 0..11, day type, quarter-hour) table in kW per kWh/a for any shape name.

    H25 varies by month and day type; the shapes defined in code are the same for every month and day
    type (weekends and seasons come from the profile's factors) and integrate to 1 kWh over 8766 h.
    """
    if shape == "bdew_h25":
        return h25_kw_per_kwh()
    table = np.broadcast_to(_SHAPES_IN_CODE[shape] / HOURS_PER_YEAR, (12, 3, QUARTER_HOURS_PER_DAY))
    result: FloatArray = np.array(table)
    result.setflags(write=False)
    return result
