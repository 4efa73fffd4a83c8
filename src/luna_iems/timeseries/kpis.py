"""Energy KPIs of a meter or a site over a period, from the 15-minute rollups and market prices.

Definitions (what energy people expect):
- self-consumption rate = 1 - export / production; autarky (self-sufficiency) = 1 - import / consumption;
- peak load = highest 15-minute mean consumption (kW); load factor = mean load / peak load;
- cost = sum over quarter-hours of imported energy x import price EUR/kWh; export revenue likewise; the
  prices come from the site's tariff (`tariffs.pricing`, the same computation and the same default
  the optimiser and what-if use): a stored version where one applies, else the default tariff of the
  settings (spot + IMPORT_MARKUP_EUR_KWH; feed-in EXPORT_TARIFF_EUR_KWH or spot); an hourly spot price
  applies to its four quarter-hours;
- peak charge = the tariff's capacity charge on the highest 15-minute mean import per site-calendar
  month, pro rata of the month the period covers (`tariffs.pricing.peak_charge`); in `net_cost_eur`.

Durations are the readings' own: a quarter-hour's mean power is its energy over the time readings cover
in it (an hourly reading covers all four of its quarter-hours; see `rollups`), the mean load is the
energy over the covered time, and coverage is the covered share of the period (per meter, averaged).

A single meter uses its own per-reading import and export. A site is treated as one grid connection:
its meters are netted at the finest resolution all of them have (`netting`), recorded as `netting_s`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from luna_iems.db.base import from_epoch_us, to_epoch_us
from luna_iems.tariffs import pricing
from luna_iems.tariffs import service as tariff_service
from luna_iems.timeseries import repository, rollup_repository, rollup_service
from luna_iems.timeseries import service as timeseries_service
from luna_iems.timeseries.schemas import Kpis

_HOUR_US = 3_600_000_000
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class QuarterHours:
    """Energy per UTC quarter-hour that has readings, for one meter or a site (netted)."""

    slots_us: npt.NDArray[np.int64]
    covered_h: F64  # hours covered per meter (the meters' covered time / meters with readings)
    covered_s_total: float  # seconds covered, added up over the meters
    consumption_kwh: F64
    production_kwh: F64
    import_kwh: F64
    export_kwh: F64
    netting_s: float | None  # a site: the coarsest grid its meters were netted on

    def mean_kw(self, kwh: F64) -> F64:
        """Mean power per quarter-hour (NaN where nothing is covered)."""
        result: F64 = np.where(
            self.covered_h > 0, kwh / np.where(self.covered_h > 0, self.covered_h, 1.0), np.nan
        )
        return result


def energy_15m(
    *, session: Session, meter_id: str | None, site: str | None, ts_from: datetime, ts_to: datetime
) -> QuarterHours:
    """The quarter-hours of one meter (its rollups) or of a site (its site rollups) in [from, to)."""
    netting: float | None = None
    if meter_id is not None:
        rows = rollup_repository.site_energy_15m(
            session=session, meter_ids=[meter_id], ts_from=ts_from, ts_to=ts_to
        )
    else:
        rows = rollup_repository.site_rollups_15m(
            session=session, site=site or "", ts_from=ts_from, ts_to=ts_to
        )
        netting = max((float(r[7]) for r in rows), default=None)
    data = np.array([[float(v or 0.0) for v in r[1:7]] for r in rows], dtype=np.float64).reshape(-1, 6)
    covered_s, consumption, production, imports, exports, meters = data.T
    return QuarterHours(
        slots_us=np.array([int(r[0]) for r in rows], dtype=np.int64),
        covered_h=covered_s / np.maximum(meters, 1.0) / 3600.0,
        covered_s_total=float(covered_s.sum()),
        consumption_kwh=consumption,
        production_kwh=production,
        import_kwh=imports,
        export_kwh=exports,
        netting_s=netting,
    )


def _ratio(part: float, whole: float) -> float | None:
    return None if whole <= 0 else round(1.0 - part / whole, 6)


def prices_per_slot(
    session: Session,
    *,
    slots_us: np.ndarray[Any, Any],
    market: str,
    product: str,
    ts_from: datetime,
    ts_to: datetime,
) -> np.ndarray[Any, Any]:
    """Price per quarter-hour slot (NaN where none).

    A quarter-hour product prices its own slot only. An hourly product (every stored price on a full
    hour) prices the four quarter-hours of its hour; a missing quarter-hour is never borrowed.
    """
    price_ts, values = repository.price_arrays(
        session=session, market=market, product=product, ts_from=ts_from, ts_to=ts_to
    )
    slots = np.asarray(slots_us, dtype=np.int64)
    if price_ts.size == 0:
        return np.full(slots.size, np.nan)
    hourly = bool((price_ts % _HOUR_US == 0).all())
    keys = slots - slots % _HOUR_US if hourly else slots
    index = np.minimum(np.searchsorted(price_ts, keys), price_ts.size - 1)
    return np.where(price_ts[index] == keys, values[index], np.nan)


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def compute_kpis(
    *,
    session: Session,
    meter_id: str | None,
    site: str | None,
    ts_from: datetime,
    ts_to: datetime,
    market: str,
    product: str,
    timezone: str,
    default_tariff: pricing.Tariff,
) -> Kpis:
    """KPIs for `meter_id` or for every meter of `site` over [ts_from, ts_to); `timezone` is the site
    calendar a stored tariff's versions, time-of-use zones and months are read in; `default_tariff`
    prices the steps before a stored version (`tariffs.service.supply_tariff`). One meter is priced
    with its site's tariff."""
    timeseries_service.check_range(ts_from, ts_to)
    meters, scope = timeseries_service.meters_in_scope(session=session, meter_id=meter_id, site=site)
    rollup_service.refresh_rollups(session=session, meter_ids=[m.meter_id for m in meters])
    q = energy_15m(session=session, meter_id=meter_id, site=site, ts_from=ts_from, ts_to=ts_to)
    hours = (ts_to - ts_from).total_seconds() / 3600.0
    covered_hours = q.covered_s_total / len(meters) / 3600.0
    prices = prices_per_slot(
        session, slots_us=q.slots_us, market=market, product=product, ts_from=ts_from, ts_to=ts_to
    )
    site_of = site if meter_id is None else meters[0].site
    tariffs = tariff_service.tariffs_for(
        session=session, site=site_of, timezone=timezone, fallback=default_tariff
    )
    import_price, export_price = pricing.step_prices(
        ts_us=q.slots_us,
        spot_eur_mwh=np.asarray(prices, dtype=np.float64),
        tariffs=tariffs,
        timezone=timezone,
    )
    priced_in, priced_out = np.isfinite(import_price), np.isfinite(export_price)
    total_c, total_p = float(q.consumption_kwh.sum()), float(q.production_kwh.sum())
    total_i, total_e = float(q.import_kwh.sum()), float(q.export_kwh.sum())
    load_kw, import_kw = q.mean_kw(q.consumption_kwh), q.mean_kw(q.import_kwh)
    has_peak = bool(np.isfinite(load_kw).any())
    peak_index = int(np.nanargmax(load_kw)) if has_peak else None
    peak = float(load_kw[peak_index]) if peak_index is not None else None
    mean_load = total_c / covered_hours if covered_hours > 0 else None
    flows = total_i + total_e
    priced_flows = float(q.import_kwh[priced_in].sum() + q.export_kwh[priced_out].sum())
    cost = float((q.import_kwh[priced_in] * import_price[priced_in]).sum()) if priced_in.any() else None
    revenue = float((q.export_kwh[priced_out] * export_price[priced_out]).sum()) if priced_out.any() else None
    peak_charge, _ = pricing.peak_charge(
        ts_us=q.slots_us,
        import_kw=import_kw,
        ts_from_us=to_epoch_us(ts_from),
        ts_to_us=to_epoch_us(ts_to),
        tariffs=tariffs,
        timezone=timezone,
    )
    return Kpis(
        scope=scope,
        ts_from=ts_from,
        ts_to=ts_to,
        hours=round(hours, 6),
        coverage=round(min(1.0, covered_hours / hours), 6) if hours else 0.0,
        netting_s=q.netting_s,
        consumption_kwh=round(total_c, 6),
        production_kwh=round(total_p, 6),
        import_kwh=round(total_i, 6),
        export_kwh=round(total_e, 6),
        self_consumption_rate=_ratio(total_e, total_p),
        autarky_rate=_ratio(total_i, total_c),
        peak_load_kw=_round(peak),
        peak_load_at=from_epoch_us(int(q.slots_us[peak_index])) if peak_index is not None else None,
        peak_import_kw=_round(float(np.nanmax(import_kw))) if has_peak else None,
        mean_load_kw=_round(mean_load),
        load_factor=round(mean_load / peak, 6) if mean_load is not None and peak else None,
        market=market,
        product=product,
        priced_share=round(priced_flows / flows, 6) if flows > 0 else 0.0,
        import_cost_eur=_round(cost, 4),
        export_revenue_eur=_round(revenue, 4),
        peak_charge_eur=round(peak_charge, 4),
        net_cost_eur=None if cost is None or revenue is None else round(cost + peak_charge - revenue, 4),
        tariff="site" if len(tariffs) > 1 and to_epoch_us(ts_to) > tariffs[1].valid_from_us else "default",
    )
