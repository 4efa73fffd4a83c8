"""Stored energy data as regular arrays: what forecasts, rules, scenarios and detectors read.

Everything here reads the 15-minute rollups (kept by the timeseries domain) and the stored prices
through the timeseries repository, and returns NumPy arrays on a regular UTC grid with NaN where
nothing was stored. Hourly arrays are the mean of their quarter-hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from luna_iems.db.base import to_epoch_us
from luna_iems.errors import InvalidInputError
from luna_iems.timeseries import kpis as kpi_service
from luna_iems.timeseries import rollup_service
from luna_iems.timeseries import service as timeseries_service
from luna_iems.timeseries.models import Meter

FloatArray = npt.NDArray[np.float64]
STEP_MINUTES = (15, 60)


@dataclass(frozen=True)
class Scope:
    """The meters a decision is about, with the site's location and calendar (from its first meter)."""

    meter_ids: list[str]
    description: dict[str, Any]
    timezone: str
    lat: float | None
    lon: float | None
    single_meter: bool
    site: str | None = None


@dataclass(frozen=True)
class EnergySeries:
    """Mean power per step over [start + i·step, start + (i+1)·step); NaN where no reading was stored.

    For one meter, import/export are the meter's own grid flows; for a site they are its meters netted
    as one grid connection at the finest resolution they share (`timeseries.netting`).
    """

    start: datetime
    step_minutes: int
    consumption_kw: FloatArray
    production_kw: FloatArray
    import_kw: FloatArray
    export_kw: FloatArray

    def __len__(self) -> int:
        return int(self.consumption_kw.size)

    def timestamps(self) -> list[datetime]:
        step = timedelta(minutes=self.step_minutes)
        return [self.start + i * step for i in range(len(self))]


def resolve_scope(*, session: Session, meter_id: str | None, site: str | None) -> Scope:
    """One meter or a site's meters; raises like `timeseries.service.meters_in_scope`."""
    meters, description = timeseries_service.meters_in_scope(session=session, meter_id=meter_id, site=site)
    first: Meter = meters[0]
    located = next((m for m in meters if m.lat is not None and m.lon is not None), None)
    return Scope(
        meter_ids=[m.meter_id for m in meters],
        description=description,
        timezone=first.timezone,
        lat=None if located is None else located.lat,
        lon=None if located is None else located.lon,
        single_meter=meter_id is not None,
        site=site if meter_id is None else None,
    )


def check_step(step_minutes: int) -> None:
    if step_minutes not in STEP_MINUTES:
        raise InvalidInputError(
            f"resolution must be 15m or 1h (got {step_minutes} minutes)", details={"field": "resolution"}
        )


def check_span(ts_from: datetime, ts_to: datetime, *, max_days: int, what: str) -> None:
    """Raises InvalidInputError (422) unless `ts_from` < `ts_to` <= `ts_from` + `max_days`."""
    if ts_to <= ts_from:
        raise InvalidInputError("`to` must be after `from`", details={"field": "to"})
    if ts_to - ts_from > timedelta(days=max_days):
        raise InvalidInputError(
            f"{what} covers at most {max_days} days per request (got {(ts_to - ts_from).days})",
            details={"field": "to", "limit_days": max_days},
        )


def floor_to_step(instant: datetime, step_minutes: int) -> datetime:
    """The start of the step containing `instant` (UTC)."""
    instant = instant.astimezone(UTC)
    minutes = instant.hour * 60 + instant.minute
    floored = minutes - minutes % step_minutes
    return instant.replace(hour=floored // 60, minute=floored % 60, second=0, microsecond=0)


def _grid(ts_from: datetime, ts_to: datetime) -> npt.NDArray[np.int64]:
    step_us = 15 * 60 * 1_000_000
    return np.arange(to_epoch_us(ts_from), to_epoch_us(ts_to), step_us, dtype=np.int64)


def to_step(values: FloatArray, step_minutes: int) -> FloatArray:
    """Quarter-hour values as `step_minutes` values (the mean of the quarter-hours that have data)."""
    if step_minutes == 15:
        return values
    per = step_minutes // 15
    blocks = values[: values.size - values.size % per].reshape(-1, per)
    counts = np.isfinite(blocks).sum(axis=1)
    sums = np.nansum(blocks, axis=1)
    result: FloatArray = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return result


def load_energy(
    *, session: Session, scope: Scope, ts_from: datetime, ts_to: datetime, step_minutes: int = 15
) -> EnergySeries:
    """Energy of the scope over [ts_from, ts_to) (aligned to quarter-hours) as mean kW per step."""
    check_step(step_minutes)
    rollup_service.refresh_rollups(session=session, meter_ids=scope.meter_ids)
    slots = _grid(ts_from, ts_to)
    columns = np.full((4, slots.size), np.nan)
    quarters = kpi_service.energy_15m(
        session=session,
        meter_id=scope.meter_ids[0] if scope.single_meter else None,
        site=scope.site,
        ts_from=ts_from,
        ts_to=ts_to,
    )
    index = np.searchsorted(slots, quarters.slots_us)
    on_grid = (index < slots.size) & (quarters.covered_h > 0)
    on_grid[on_grid] &= slots[index[on_grid]] == quarters.slots_us[on_grid]
    # Mean power over the covered part of each quarter-hour; no reading: NaN, not 0 kW.
    for row, kwh in enumerate(
        (quarters.consumption_kwh, quarters.production_kwh, quarters.import_kwh, quarters.export_kwh)
    ):
        columns[row, index[on_grid]] = quarters.mean_kw(kwh)[on_grid]
    consumption, production, imports, exports = columns
    return EnergySeries(
        start=ts_from,
        step_minutes=step_minutes,
        consumption_kw=to_step(consumption, step_minutes),
        production_kw=to_step(production, step_minutes),
        import_kw=to_step(imports, step_minutes),
        export_kw=to_step(exports, step_minutes),
    )


def load_prices(
    *,
    session: Session,
    market: str,
    product: str,
    ts_from: datetime,
    ts_to: datetime,
    step_minutes: int = 15,
) -> FloatArray:
    """Stored prices (EUR/MWh) per step over [ts_from, ts_to); NaN where none is stored.

    An hourly product prices each of its quarter-hours (`timeseries.kpis.prices_per_slot`).
    """
    check_step(step_minutes)
    per_slot = kpi_service.prices_per_slot(
        session, slots_us=_grid(ts_from, ts_to), market=market, product=product, ts_from=ts_from, ts_to=ts_to
    )
    return to_step(np.asarray(per_slot, dtype=np.float64), step_minutes)
