"""How closely a simulated household follows the BDEW H25 profile.

For each month and day type, the mean daily shape of the simulated consumption (96 local quarter-hours,
missing readings left out) is compared with the H25 shape of that month and day type by Pearson's r.
Correlation ignores level, so the dynamisation factor (one factor per day) does not affect it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np

from luna_iems.energy.calendar import DAY_TYPES, local_calendar
from luna_iems.simulation import profiles
from luna_iems.simulation.config import MeterProfile
from luna_iems.simulation.meters import SimulatedReadings, simulate_meter

FIDELITY_TARGET_R: Final = 0.95


def h25_fidelity(
    readings: SimulatedReadings, *, timezone: str = "Europe/Berlin"
) -> dict[int, dict[str, float]]:
    """{month: {day type: r}} between the readings' mean daily shape and H25.

    Readings must be on quarter-hour or finer steps. A (month, day type) is left out unless every one of
    its 96 quarter-hours has at least one valid reading. Raises ValueError for coarser steps.
    """
    epoch_minutes = readings.ts.astype("datetime64[m]").astype(np.int64)
    if epoch_minutes.size > 1 and int(np.diff(epoch_minutes).max()) > 15:
        raise ValueError("h25_fidelity needs readings on quarter-hour or finer steps")
    calendar = local_calendar(epoch_minutes, timezone)
    valid = ~np.isnan(readings.consumption_kw)
    cells = 12 * 3 * profiles.QUARTER_HOURS_PER_DAY
    group = (
        (calendar.month - 1) * 3 + calendar.day_type
    ) * profiles.QUARTER_HOURS_PER_DAY + calendar.quarter_hour
    sums = np.bincount(group[valid], weights=readings.consumption_kw[valid], minlength=cells)
    counts = np.bincount(group[valid], minlength=cells)
    shape = (12, 3, profiles.QUARTER_HOURS_PER_DAY)
    sums, counts = sums.reshape(shape), counts.reshape(shape)
    reference = profiles.h25_kw_per_kwh()
    result: dict[int, dict[str, float]] = {}
    for month in range(12):
        for kind, day_type in enumerate(DAY_TYPES):
            if (counts[month, kind] == 0).any():
                continue
            mean_day = sums[month, kind] / counts[month, kind]
            r = float(np.corrcoef(mean_day, reference[month, kind])[0, 1])
            result.setdefault(month + 1, {})[day_type] = r
    return result


def household_h25_fidelity(
    *,
    profile: MeterProfile,
    year: int,
    seed: int,
    timezone: str = "Europe/Berlin",
    lat: float,
    lon: float,
    meter_id: str = "fidelity-household",
) -> dict[int, dict[str, float]]:
    """Simulate one household for a calendar year at 15 minutes and return its `h25_fidelity`."""
    zone = ZoneInfo(timezone)
    readings = simulate_meter(
        meter_id=meter_id,
        profile=profile,
        start=datetime(year, 1, 1, tzinfo=zone),
        end=datetime(year + 1, 1, 1, tzinfo=zone),
        step_minutes=15,
        seed=seed,
        timezone=timezone,
        lat=lat,
        lon=lon,
    )
    return h25_fidelity(readings, timezone=timezone)


def minimum_r(fidelity: dict[int, dict[str, float]]) -> float:
    """The smallest r of a fidelity table (NaN for an empty table)."""
    values = [r for by_type in fidelity.values() for r in by_type.values()]
    return min(values) if values else float("nan")
