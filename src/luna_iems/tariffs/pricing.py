"""Effective tariff prices per step: one pure computation (NumPy, no I/O) that KPIs, the optimiser and
what-if all call, so that the same site and period cost the same everywhere.

The rule (docs/tariffs.md):
- import EUR/kWh = (energy price + grid fee) x (1 + VAT/100), where the energy price is a fixed price,
  the price of the time-of-use zone the step starts in (weekday and hour in the site's local time),
  or spot/1000 x factor + markup (spot in EUR/MWh, may be negative);
- export EUR/kWh = a fixed feed-in price, or spot/1000 x factor + markup; no VAT (a feed-in payment is
  what the operator pays, whatever its tax status);
- peak charge EUR = for each part of the period in one site-calendar month and one tariff version:
  rate EUR/kW/month x (1 + VAT/100) x the highest step-mean import kW in that part x the part's share
  of the month (a full month pays the full rate; a week pays its share).

A version applies from its `valid_from_us` (the site's local midnight) to the next version's; steps
before the first stored version use the caller's fallback tariff (today's behaviour).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS_US = -(2**62)  # the fallback tariff's start: before any timestamp
_US = 1_000_000
_HOUR_US = 3600 * _US

ImportKind = Literal["fixed", "tou", "dynamic"]
FeedInKind = Literal["fixed", "spot"]


@dataclass(frozen=True)
class Zone:
    """A time-of-use zone: `days` (0 = Monday) x local hours [from_hour, to_hour) at one price."""

    name: str
    days: tuple[int, ...]
    from_hour: int
    to_hour: int
    price_eur_kwh: float


class CoverageError(ValueError):
    """Time-of-use zones that leave hours of the week uncovered or cover some twice."""

    def __init__(self, gaps: list[str], overlaps: list[str]) -> None:
        parts = []
        if gaps:
            parts.append("hours not covered by any zone: " + ", ".join(gaps))
        if overlaps:
            parts.append("hours covered by more than one zone: " + ", ".join(overlaps))
        super().__init__("; ".join(parts))
        self.gaps = gaps
        self.overlaps = overlaps


def _ranges(hours: list[int]) -> list[tuple[int, int]]:
    """Consecutive hours as [start, end) ranges."""
    result: list[tuple[int, int]] = []
    for h in hours:
        if result and result[-1][1] == h:
            result[-1] = (result[-1][0], h + 1)
        else:
            result.append((h, h + 1))
    return result


def tou_grid(zones: Sequence[Zone]) -> F64:
    """The week as a 7 x 24 price grid (Monday first, local hours); raises CoverageError naming every
    uncovered hour range and every hour range two zones claim."""
    grid = np.full((7, 24), np.nan)
    owners: list[list[list[str]]] = [[[] for _ in range(24)] for _ in range(7)]
    for zone in zones:
        for day in zone.days:
            for hour in range(zone.from_hour, zone.to_hour):
                owners[day][hour].append(zone.name)
                grid[day, hour] = zone.price_eur_kwh
    gaps, overlaps = [], []
    for day in range(7):
        missing = [h for h in range(24) if not owners[day][h]]
        gaps += [f"{WEEKDAYS[day]} {a:02d}:00-{b:02d}:00" for a, b in _ranges(missing)]
        doubled = [h for h in range(24) if len(owners[day][h]) > 1]
        for a, b in _ranges(doubled):
            overlaps.append(f"{WEEKDAYS[day]} {a:02d}:00-{b:02d}:00 ({', '.join(owners[day][a])})")
    if gaps or overlaps:
        raise CoverageError(gaps, overlaps)
    return grid


@dataclass(frozen=True)
class Tariff:
    """One tariff version in the form the computation needs (all prices EUR/kWh, VAT in %)."""

    valid_from_us: int
    import_kind: ImportKind
    import_eur_kwh: float = 0.0  # fixed
    tou_eur_kwh: F64 | None = field(default=None, compare=False)  # 7 x 24, from `tou_grid`
    spot_factor: float = 1.0  # dynamic: spot/1000 x factor + markup
    markup_eur_kwh: float = 0.0
    grid_fee_eur_kwh: float = 0.0
    vat_pct: float = 0.0
    feed_in_kind: FeedInKind = "spot"
    feed_in_eur_kwh: float = 0.0  # fixed
    feed_in_spot_factor: float = 1.0  # spot: spot/1000 x factor + markup
    feed_in_markup_eur_kwh: float = 0.0
    peak_charge_eur_kw_month: float = 0.0

    @property
    def needs_spot(self) -> bool:
        return self.import_kind == "dynamic" or self.feed_in_kind == "spot"


def spot_tariff(*, import_markup_eur_kwh: float, feed_in_eur_kwh: float | None) -> Tariff:
    """Today's tariff without a stored one: import = spot + markup, export = fixed feed-in or spot."""
    return Tariff(
        valid_from_us=ALWAYS_US,
        import_kind="dynamic",
        markup_eur_kwh=import_markup_eur_kwh,
        feed_in_kind="spot" if feed_in_eur_kwh is None else "fixed",
        feed_in_eur_kwh=feed_in_eur_kwh or 0.0,
    )


def local_midnight_us(day: date, timezone: str) -> int:
    """The UTC instant (epoch microseconds) of `day` 00:00 in `timezone`."""
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone))
    return int(local.astimezone(UTC).timestamp()) * _US


def _local_calendar(ts_us: I64, timezone: str) -> tuple[I64, I64]:
    """Local weekday (0 = Monday) and hour of each timestamp."""
    tz = ZoneInfo(timezone)
    # The UTC offset changes a few times a year: convert once per UTC hour, then add the minutes.
    hours_us = ts_us - ts_us % _HOUR_US
    keys, inverse = np.unique(hours_us, return_inverse=True)
    locals_ = [datetime.fromtimestamp(int(k) // _US, tz) for k in keys.tolist()]
    # Local minutes since Monday 00:00 of the hour start, plus the step's minutes into the UTC hour
    # (an offset like +05:30 moves a step at :30 into the next local hour).
    week_minutes = np.array([(d.weekday() * 24 + d.hour) * 60 + d.minute for d in locals_], dtype=np.int64)
    minutes = (week_minutes[inverse.ravel()] + (ts_us % _HOUR_US) // (60 * _US)) % (7 * 24 * 60)
    hour_of_week = minutes // 60
    return hour_of_week // 24, hour_of_week % 24


def _version_index(ts_us: I64, tariffs: Sequence[Tariff]) -> I64:
    starts = np.array([t.valid_from_us for t in tariffs], dtype=np.int64)
    index: I64 = np.searchsorted(starts, ts_us, side="right") - 1
    return index


def _check(tariffs: Sequence[Tariff]) -> None:
    if not tariffs or tariffs[0].valid_from_us != ALWAYS_US:
        raise ValueError("the first tariff must be the fallback (valid_from_us = ALWAYS_US)")
    starts = [t.valid_from_us for t in tariffs]
    if starts != sorted(set(starts)):
        raise ValueError("tariff versions must be sorted by valid_from_us without duplicates")


def step_prices(
    *, ts_us: I64, spot_eur_mwh: F64 | None, tariffs: Sequence[Tariff], timezone: str
) -> tuple[F64, F64]:
    """(import, export) EUR/kWh per step starting at `ts_us` (epoch microseconds, UTC).

    `tariffs` is the fallback first, then the stored versions by `valid_from_us`. `spot_eur_mwh` (one
    value per step, NaN where none) is read only where a version is dynamic or pays spot feed-in;
    a step that needs a missing spot price gets NaN.
    """
    _check(tariffs)
    ts = np.asarray(ts_us, dtype=np.int64)
    spot_kwh = np.full(ts.size, np.nan) if spot_eur_mwh is None else np.asarray(spot_eur_mwh) / 1000.0
    if spot_kwh.shape != ts.shape:
        raise ValueError(f"spot_eur_mwh has {spot_kwh.size} values for {ts.size} steps")
    imports, exports = np.full(ts.size, np.nan), np.full(ts.size, np.nan)
    version = _version_index(ts, tariffs)
    calendar: tuple[I64, I64] | None = None
    for v, tariff in enumerate(tariffs):
        at = version == v
        if not at.any():
            continue
        if tariff.import_kind == "fixed":
            energy: F64 = np.full(int(at.sum()), tariff.import_eur_kwh)
        elif tariff.import_kind == "tou":
            assert tariff.tou_eur_kwh is not None
            calendar = calendar or _local_calendar(ts, timezone)
            energy = tariff.tou_eur_kwh[calendar[0][at], calendar[1][at]]
        else:
            energy = spot_kwh[at] * tariff.spot_factor + tariff.markup_eur_kwh
        imports[at] = (energy + tariff.grid_fee_eur_kwh) * (1.0 + tariff.vat_pct / 100.0)
        if tariff.feed_in_kind == "fixed":
            exports[at] = tariff.feed_in_eur_kwh
        else:
            exports[at] = spot_kwh[at] * tariff.feed_in_spot_factor + tariff.feed_in_markup_eur_kwh
    return imports, exports


def _month_starts_us(ts_from_us: int, ts_to_us: int, timezone: str) -> list[int]:
    """Local month starts from the month containing `ts_from_us` to the first one after `ts_to_us`."""
    tz = ZoneInfo(timezone)
    first = datetime.fromtimestamp(ts_from_us // _US, tz)
    year, month = first.year, first.month
    result = []
    while True:
        start = local_midnight_us(date(year, month, 1), timezone)
        result.append(start)
        if start >= ts_to_us:
            return result
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def month_start_us(ts_us: int, timezone: str) -> int:
    """The UTC instant of the site-calendar month start containing `ts_us`."""
    local = datetime.fromtimestamp(ts_us // _US, ZoneInfo(timezone))
    return local_midnight_us(date(local.year, local.month, 1), timezone)


@dataclass(frozen=True)
class PeakPart:
    """One part of a period in one local month and one tariff version, and what its peak costs."""

    ts_from_us: int
    ts_to_us: int
    peak_import_kw: float
    month_share: float
    charge_eur: float


def peak_charge(
    *,
    ts_us: I64,
    import_kw: F64,
    ts_from_us: int,
    ts_to_us: int,
    tariffs: Sequence[Tariff],
    timezone: str,
) -> tuple[float, list[PeakPart]]:
    """The peak (capacity) charge EUR of [ts_from_us, ts_to_us) and its parts (see the module rule).

    `import_kw` is the mean grid import per step starting at `ts_us` (15-minute means for a demand
    charge on the highest quarter-hour); NaN steps (no data) never set a peak.
    """
    _check(tariffs)
    ts = np.asarray(ts_us, dtype=np.int64)
    values = np.asarray(import_kw, dtype=np.float64)
    months = _month_starts_us(ts_from_us, ts_to_us, timezone)
    cuts = {ts_from_us, ts_to_us}
    cuts.update(m for m in months if ts_from_us < m < ts_to_us)
    cuts.update(t.valid_from_us for t in tariffs if ts_from_us < t.valid_from_us < ts_to_us)
    bounds = sorted(cuts)
    total, parts = 0.0, []
    for a, b in itertools.pairwise(bounds):
        tariff = tariffs[int(_version_index(np.array([a], dtype=np.int64), tariffs)[0])]
        rate = tariff.peak_charge_eur_kw_month * (1.0 + tariff.vat_pct / 100.0)
        if rate == 0:
            continue
        m = int(np.searchsorted(np.array(months), a, side="right")) - 1
        month_us = months[m + 1] - months[m]
        at = (ts >= a) & (ts < b) & np.isfinite(values)
        peak = max(0.0, float(values[at].max())) if at.any() else 0.0
        share = (b - a) / month_us
        charge = rate * peak * share
        total += charge
        parts.append(PeakPart(a, b, peak, share, charge))
    return total, parts


def peak_rate_eur_kw(*, at_us: int, tariffs: Sequence[Tariff]) -> float:
    """The peak charge EUR per kW and month (VAT included) of the version in force at `at_us`."""
    _check(tariffs)
    tariff = tariffs[int(_version_index(np.array([at_us], dtype=np.int64), tariffs)[0])]
    return tariff.peak_charge_eur_kw_month * (1.0 + tariff.vat_pct / 100.0)
