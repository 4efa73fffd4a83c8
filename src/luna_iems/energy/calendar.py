"""The local calendar energy profiles follow: UTC instants to local time fields and BDEW day types.

* Local calendar: UTC epoch minutes → local quarter-hour, date, month, day of year and BDEW day type,
  vectorised (time-zone offsets come from `zoneinfo`, looked up once per day, hourly on DST days).
* Day types (BDEW): FT = Sunday or German public holiday (nationwide, `holidays` package), SA = Saturday,
  and, as the BDEW rules say, 24 and 31 December when they are not Sundays; WT otherwise.

Shared by the simulator (load shapes), the forecasts and the anomaly detection, so it depends on no
domain (an import-linter contract holds `decisions` and `timeseries` off `simulation`).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import numpy.typing as npt

DayType = Literal["WT", "SA", "FT"]
DAY_TYPES: Final[tuple[DayType, ...]] = ("WT", "SA", "FT")  # index = the integer code used in arrays
WT: Final = 0
SA: Final = 1
FT: Final = 2

IntArray = npt.NDArray[np.int64]


def utc_offsets_minutes(epoch_minutes: IntArray, timezone: str) -> IntArray:
    """UTC offset (minutes) of `timezone` at each instant (minutes since 1970-01-01T00:00Z).

    Offsets are looked up once per UTC day and, on days whose offset changes, once per hour: time-zone
    transitions fall on full hours (true for Europe and nearly everywhere).
    """
    if epoch_minutes.size == 0:
        return np.zeros(0, dtype=np.int64)
    zone = ZoneInfo(timezone)
    hours = epoch_minutes // 60
    first_day = int(hours.min()) // 24
    last_day = int(hours.max()) // 24

    def offset(epoch_hour: int) -> int:
        utcoffset = datetime.fromtimestamp(epoch_hour * 3600, tz=UTC).astimezone(zone).utcoffset()
        return int(utcoffset.total_seconds()) // 60 if utcoffset is not None else 0

    day_offsets = [offset(day * 24) for day in range(first_day, last_day + 2)]
    hourly = np.repeat(np.asarray(day_offsets[:-1], dtype=np.int64), 24)
    for index, (today, tomorrow) in enumerate(itertools.pairwise(day_offsets)):
        if today != tomorrow:  # a transition day: look every hour up
            day = first_day + index
            hourly[index * 24 : index * 24 + 24] = [offset(day * 24 + hour) for hour in range(24)]
    result: IntArray = hourly[hours - first_day * 24]
    return result


@dataclass(frozen=True)
class LocalCalendar:
    """Local-time fields of UTC instants (all arrays of the same length)."""

    date: npt.NDArray[np.datetime64]  # local calendar day, datetime64[D]
    minute_of_day: IntArray  # 0..1439 local
    quarter_hour: IntArray  # 0..95 local
    month: IntArray  # 1..12
    day_of_year: IntArray  # 1..366
    weekday: IntArray  # 0 = Monday
    day_type: IntArray  # WT, SA, FT


def local_calendar(epoch_minutes: IntArray, timezone: str) -> LocalCalendar:
    """Local calendar of UTC instants given in minutes since the epoch."""
    local = epoch_minutes + utc_offsets_minutes(epoch_minutes, timezone)
    day_number = local // 1440
    minute_of_day = local - day_number * 1440
    date = day_number.astype("datetime64[D]")
    month = date.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day_of_year = (date - date.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64) + 1
    weekday = (day_number + 3) % 7  # 1970-01-01 was a Thursday
    return LocalCalendar(
        date=date,
        minute_of_day=minute_of_day,
        quarter_hour=minute_of_day // 15,
        month=month,
        day_of_year=day_of_year,
        weekday=weekday,
        day_type=day_types(date),
    )


@functools.cache
def _german_holidays(year: int) -> npt.NDArray[np.datetime64]:
    days = sorted(holidays.country_holidays("DE", years=year))
    return np.asarray(days, dtype="datetime64[D]")


def german_public_holidays(years: list[int]) -> npt.NDArray[np.datetime64]:
    """Nationwide German public holidays of `years` (datetime64[D])."""
    if not years:
        return np.zeros(0, dtype="datetime64[D]")
    return np.concatenate([_german_holidays(year) for year in years])


def day_types(dates: npt.NDArray[np.datetime64]) -> IntArray:
    """BDEW day type of local dates: FT Sunday/holiday, SA Saturday or 24/31 December, WT otherwise."""
    day_number = dates.astype("datetime64[D]").astype(np.int64)
    weekday = (day_number + 3) % 7
    result = np.full(dates.shape, WT, dtype=np.int64)
    if dates.size == 0:
        return result
    years = np.unique(dates.astype("datetime64[Y]").astype(np.int64) + 1970)
    holiday = np.isin(dates.astype("datetime64[D]"), german_public_holidays([int(y) for y in years]))
    month_day = dates.astype("datetime64[D]") - dates.astype("datetime64[M]").astype("datetime64[D]")
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    christmas_or_new_years_eve = (month == 12) & np.isin(month_day.astype(np.int64) + 1, (24, 31))
    result[(weekday == 5) | christmas_or_new_years_eve] = SA
    result[(weekday == 6) | holiday] = FT
    return result


def day_type_of(date: np.datetime64) -> DayType:
    """BDEW day type of one local date."""
    return DAY_TYPES[int(day_types(np.asarray([date], dtype="datetime64[D]"))[0])]
