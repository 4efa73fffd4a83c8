"""Energy KPIs of a meter or a site over a period, from the 15-minute rollups and market prices.

Definitions (what energy people expect):
- self-consumption rate = 1 - export / production; autarky (self-sufficiency) = 1 - import / consumption;
- peak load = highest 15-minute mean consumption (kW); load factor = mean load / peak load;
- cost = sum over quarter-hours of imported energy x market price (EUR/MWh -> EUR/kWh); export revenue
  likewise; an hourly price applies to its four quarter-hours.

A single meter uses its own per-sample import and export. A site is treated as one grid connection:
at each quarter-hour it imports what its meters consume beyond what they produce, and exports the rest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from luna_iems.db.base import to_epoch_us
from luna_iems.timeseries import repository
from luna_iems.timeseries import service as timeseries_service
from luna_iems.timeseries.schemas import Kpis

QUARTER_H = 0.25
_HOUR_US = 3_600_000_000


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
    rows = repository.list_prices(
        session=session, market=market, product=product, ts_from=ts_from, ts_to=ts_to
    )
    lookup = {to_epoch_us(r.ts): r.price_eur_mwh for r in rows}
    hourly = bool(lookup) and all(ts % _HOUR_US == 0 for ts in lookup)
    keys = [int(s) - int(s) % _HOUR_US if hourly else int(s) for s in slots_us]
    return np.array([lookup.get(k, np.nan) for k in keys], dtype=np.float64)


def compute_kpis(
    *,
    session: Session,
    meter_id: str | None,
    site: str | None,
    ts_from: datetime,
    ts_to: datetime,
    market: str,
    product: str,
) -> Kpis:
    """KPIs for `meter_id` or for every meter of `site` over [ts_from, ts_to)."""
    timeseries_service.check_range(ts_from, ts_to)
    meters, scope = timeseries_service.meters_in_scope(session=session, meter_id=meter_id, site=site)
    meter_ids = [m.meter_id for m in meters]
    timeseries_service.refresh_rollups(session=session, meter_ids=meter_ids)
    rows = repository.site_energy_15m(session=session, meter_ids=meter_ids, ts_from=ts_from, ts_to=ts_to)
    hours = (ts_to - ts_from).total_seconds() / 3600.0
    if rows:
        data = np.array(
            [[to_epoch_us(r[0]), *[float(v or 0.0) for v in r[1:6]]] for r in rows], dtype=np.float64
        )
        slots = data[:, 0].astype(np.int64)
        consumption, production = data[:, 2], data[:, 3]
        if meter_id is not None:
            imports, exports = data[:, 4], data[:, 5]
        else:
            net = consumption - production
            imports, exports = np.maximum(net, 0.0), np.maximum(-net, 0.0)
    else:
        slots = np.zeros(0, dtype=np.int64)
        consumption = production = imports = exports = np.zeros(0)
    prices = prices_per_slot(
        session, slots_us=slots, market=market, product=product, ts_from=ts_from, ts_to=ts_to
    )
    priced = np.isfinite(prices)
    total_c, total_p = float(consumption.sum()), float(production.sum())
    total_i, total_e = float(imports.sum()), float(exports.sum())
    peak_index = int(np.argmax(consumption)) if consumption.size else None
    peak = float(consumption[peak_index] / QUARTER_H) if peak_index is not None else None
    mean_load = total_c / (slots.size * QUARTER_H) if slots.size else None
    flows = total_i + total_e
    priced_flows = float(imports[priced].sum() + exports[priced].sum())
    cost = float((imports[priced] * prices[priced]).sum() / 1000.0) if priced.any() else None
    revenue = float((exports[priced] * prices[priced]).sum() / 1000.0) if priced.any() else None
    from luna_iems.db.base import from_epoch_us

    return Kpis(
        scope=scope,
        ts_from=ts_from,
        ts_to=ts_to,
        hours=round(hours, 6),
        coverage=round(min(1.0, slots.size * QUARTER_H / hours), 6) if hours else 0.0,
        consumption_kwh=round(total_c, 6),
        production_kwh=round(total_p, 6),
        import_kwh=round(total_i, 6),
        export_kwh=round(total_e, 6),
        self_consumption_rate=_ratio(total_e, total_p),
        autarky_rate=_ratio(total_i, total_c),
        peak_load_kw=None if peak is None else round(peak, 6),
        peak_load_at=from_epoch_us(int(slots[peak_index])) if peak_index is not None else None,
        peak_import_kw=round(float(imports.max() / QUARTER_H), 6) if imports.size else None,
        mean_load_kw=None if mean_load is None else round(mean_load, 6),
        load_factor=round(mean_load / peak, 6) if mean_load is not None and peak else None,
        market=market,
        product=product,
        priced_share=round(priced_flows / flows, 6) if flows > 0 else 0.0,
        import_cost_eur=None if cost is None else round(cost, 4),
        export_revenue_eur=None if revenue is None else round(revenue, 4),
        net_cost_eur=None if cost is None or revenue is None else round(cost - revenue, 4),
    )
