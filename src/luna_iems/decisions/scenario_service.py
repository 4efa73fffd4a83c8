"""What-if playbooks: replay a stored period with variations (battery, PV, tariff, peak limit) and report
Why → What → How → What-if, each with numbers.

How a variant is replayed: the metered consumption and production of the period (PV times `pv_scale`)
and the stored spot prices turned into the variant's tariff: the site's stored tariff (`tariffs`, the
computation KPIs use too) unless the request gives tariff fields, which keep the older spot + markup
model. The baseline without a battery is what the meters measured (their import and export, as
`/kpis` counts them), so its cost is the KPIs' net cost. A variation without a battery or a peak
limit has grid flow consumption - production per quarter-hour. With either, the optimiser plans each
day (96 quarter-hours from `ts_from`) with perfect foresight of that day, and the battery ends every
day at the state of charge it started the period with (a cyclic day: no day profits from emptying the
battery at the expense of the next). The peak charge is a charge on the period's highest import, as
a monthly demand charge is: each day's plan gets the period's peak so far as a floor, so it pays to
shave only what would set a new peak. Perfect foresight makes this an upper bound of what a real
controller with forecasts achieves, and the response says so.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from luna_iems.db.base import to_epoch_us
from luna_iems.decisions import history as history_module
from luna_iems.decisions import optimize_service, optimizer, repository
from luna_iems.decisions.models import Scenario
from luna_iems.decisions.schemas import (
    BatteryIn,
    ScenarioKpis,
    ScenarioList,
    ScenarioRead,
    ScenarioSummary,
    Tariff,
    WhatIfRequest,
)
from luna_iems.errors import InvalidInputError, NotFoundError
from luna_iems.settings import Settings
from luna_iems.tariffs import pricing
from luna_iems.tariffs import service as tariff_service

FloatArray = history_module.FloatArray
STEP_H = 0.25
DAY_STEPS = 96
MAX_DAYS = 31
DEFAULT_C_RATE = 0.5  # a battery added by a variation without a power: capacity / 2 kW


@dataclass(frozen=True)
class PeriodData:
    start: datetime
    consumption_kw: FloatArray
    production_kw: FloatArray
    spot_eur_mwh: FloatArray
    notes: list[str]
    # What the meters measured (0 kW where nothing was stored): the baseline's grid flows.
    import_kw: FloatArray
    export_kw: FloatArray
    # The default tariff, then the site's stored versions (only the default: no stored tariff).
    tariffs: tuple[pricing.Tariff, ...]
    timezone: str

    @property
    def ts_us(self) -> npt.NDArray[np.int64]:
        step_us = 15 * 60 * 1_000_000
        return to_epoch_us(self.start) + step_us * np.arange(self.consumption_kw.size, dtype=np.int64)

    @property
    def end_us(self) -> int:
        return to_epoch_us(self.start) + 15 * 60 * 1_000_000 * int(self.consumption_kw.size)


@dataclass(frozen=True)
class Variant:
    name: str
    battery: BatteryIn | None
    pv_scale: float
    tariff: Tariff
    peak_limit_kw: float | None


@dataclass(frozen=True)
class Outcome:
    kpis: ScenarioKpis
    how: dict[str, Any]


def load_period(
    *, session: Session, settings: Settings, request: WhatIfRequest
) -> tuple[PeriodData, dict[str, Any]]:
    """The period's energy and prices; gaps in energy count as 0 kW, gaps in prices are carried forward."""
    history_module.check_span(request.ts_from, request.ts_to, max_days=MAX_DAYS, what="a what-if")
    scope = history_module.resolve_scope(session=session, meter_id=request.meter_id, site=request.site)
    ts_from = history_module.floor_to_step(request.ts_from, 15)
    ts_to = history_module.floor_to_step(request.ts_to, 15)
    energy = history_module.load_energy(session=session, scope=scope, ts_from=ts_from, ts_to=ts_to)
    spot = history_module.load_prices(
        session=session,
        market=request.market or settings.default_market,
        product=request.product or settings.default_product,
        ts_from=ts_from,
        ts_to=ts_to,
    )
    notes: list[str] = []
    covered = np.isfinite(energy.consumption_kw)
    if not covered.any():
        raise InvalidInputError(
            "no stored readings in the period: ingest readings or backfill the simulator first",
            details={"field": "ts_from", "scope": scope.description},
        )
    if not covered.all():
        notes.append(
            f"energy: {int((~covered).sum())} of {covered.size} quarter-hours without readings (0 kW)"
        )
    priced = np.isfinite(spot)
    if not priced.any():
        raise InvalidInputError(
            "no stored prices in the period: ingest prices (POST /ingest/market) first",
            details={"field": "market"},
        )
    if not priced.all():
        notes.append(f"prices: {int((~priced).sum())} of {priced.size} quarter-hours carried forward")
        spot = _carry_forward(spot)
    site = optimize_service.tariff_site(session=session, meter_id=request.meter_id, site=request.site)
    tariffs = tariff_service.tariffs_for(
        session=session,
        site=site,
        timezone=settings.timezone,
        fallback=tariff_service.supply_tariff(settings),
    )
    if len(tariffs) > 1:
        notes.append(f"tariff: the stored tariff of site {site!r} where a variant gives no tariff fields")
    data = PeriodData(
        start=ts_from,
        consumption_kw=np.nan_to_num(energy.consumption_kw),
        production_kw=np.nan_to_num(energy.production_kw),
        spot_eur_mwh=spot,
        notes=notes,
        import_kw=np.nan_to_num(energy.import_kw),
        export_kw=np.nan_to_num(energy.export_kw),
        tariffs=tuple(tariffs),
        timezone=settings.timezone,
    )
    return data, scope.description


def _carry_forward(values: FloatArray) -> FloatArray:
    index = np.where(np.isfinite(values), np.arange(values.size), 0)
    np.maximum.accumulate(index, out=index)
    filled = values[index]
    first = np.flatnonzero(np.isfinite(values))[0]
    filled[:first] = values[first]
    return filled


def _uses_stored(tariff: Tariff, data: PeriodData) -> bool:
    """A variant without tariff fields is priced with the site's stored tariff, if it has one."""
    return not tariff.model_fields_set and len(data.tariffs) > 1


def _tariff_prices(tariff: Tariff, data: PeriodData, settings: Settings) -> tuple[FloatArray, FloatArray]:
    if _uses_stored(tariff, data):
        return pricing.step_prices(
            ts_us=data.ts_us, spot_eur_mwh=data.spot_eur_mwh, tariffs=data.tariffs, timezone=data.timezone
        )
    return optimize_service.tariff_prices(
        data.spot_eur_mwh,
        import_markup_eur_kwh=tariff.import_markup_eur_kwh,
        export_tariff_eur_kwh=tariff.export_tariff_eur_kwh,
        settings=settings,
    )


def _peak_cost(variant: Variant, data: PeriodData, imports: FloatArray) -> float:
    """The stored tariff's charge per month (as KPIs compute it), or the request's per period."""
    if _uses_stored(variant.tariff, data):
        charge, _ = pricing.peak_charge(
            ts_us=data.ts_us,
            import_kw=imports,
            ts_from_us=to_epoch_us(data.start),
            ts_to_us=data.end_us,
            tariffs=data.tariffs,
            timezone=data.timezone,
        )
        return charge
    return variant.tariff.peak_charge_eur_kw * (float(imports.max()) if imports.size else 0.0)


def _day_peak_rate(variant: Variant, data: PeriodData, day_start: int) -> tuple[float, int]:
    """EUR per kW of peak for the day's plan and the month it falls in: the stored tariff charges its
    monthly rate on the period's share of the month; the request's charge is per period."""
    if not _uses_stored(variant.tariff, data):
        return variant.tariff.peak_charge_eur_kw, 0
    at = int(data.ts_us[day_start])
    month = pricing.month_start_us(at, data.timezone)
    next_month = pricing.month_start_us(month + 32 * 86_400 * 1_000_000, data.timezone)
    share = (min(next_month, data.end_us) - max(month, to_epoch_us(data.start))) / (next_month - month)
    return pricing.peak_rate_eur_kw(at_us=at, tariffs=data.tariffs) * share, month


def variants(request: WhatIfRequest) -> list[Variant]:
    """The baseline first, then each variation applied on top of it."""
    base = request.baseline
    result = [Variant("baseline", base.battery, 1.0, base.tariff, None)]
    for v in request.variations:
        battery = base.battery
        if v.battery_capacity_kwh is not None or v.battery_power_kw is not None:
            capacity = (
                v.battery_capacity_kwh
                if v.battery_capacity_kwh is not None
                else (battery.capacity_kwh if battery else 0)
            )
            if capacity <= 0:
                battery = None
            else:
                template = battery or BatteryIn(capacity_kwh=capacity, charge_max_kw=1, discharge_max_kw=1)
                power = v.battery_power_kw or (
                    template.charge_max_kw if battery else capacity * DEFAULT_C_RATE
                )
                battery = template.model_copy(
                    update={"capacity_kwh": capacity, "charge_max_kw": power, "discharge_max_kw": power}
                )
        result.append(
            Variant(
                name=v.name,
                battery=battery,
                pv_scale=v.pv_scale if v.pv_scale is not None else 1.0,
                tariff=v.tariff or base.tariff,
                peak_limit_kw=v.peak_limit_kw,
            )
        )
    return result


def simulate(variant: Variant, data: PeriodData, settings: Settings, co2_g_kwh: float) -> Outcome:
    """Replay the period under `variant` (see the module docstring); raises InvalidInputError when the
    variant cannot be operated (e.g. a peak limit the battery cannot hold), naming the day and why."""
    load = data.consumption_kw
    pv = data.production_kw * variant.pv_scale
    import_price, export_price = _tariff_prices(variant.tariff, data, settings)
    n = load.size
    if variant.battery is None and variant.peak_limit_kw is None and variant.pv_scale == 1.0:
        imports, exports = data.import_kw.copy(), data.export_kw.copy()  # as measured (and as KPIs count)
    else:
        imports, exports = np.maximum(load - pv, 0.0), np.maximum(pv - load, 0.0)
    curtailed, charged, discharged = np.zeros(n), 0.0, 0.0
    degradation, solve_s = 0.0, 0.0
    if variant.battery is not None or variant.peak_limit_kw is not None:
        soc = variant.battery.soc_initial_pct if variant.battery else 0.0
        peaks: dict[int, float] = {}  # the highest import so far per month: a plan pays only for more
        for day_start in range(0, n, DAY_STEPS):
            day = slice(day_start, min(day_start + DAY_STEPS, n))
            rate, month = _day_peak_rate(variant, data, day_start)
            schedule = _plan_day(
                variant,
                soc_pct=soc,
                load=load[day],
                pv=pv[day],
                import_price=import_price[day],
                export_price=export_price[day],
                day=data.start + timedelta(minutes=15 * day_start),
                peak_floor_kw=peaks.get(month, 0.0),
                peak_charge_eur_kw=rate,
                settings=settings,
            )
            imports[day], exports[day] = schedule.grid_import_kw, schedule.grid_export_kw
            peaks[month] = max(peaks.get(month, 0.0), schedule.peak_import_kw)
            curtailed[day] = schedule.curtailment_kw
            solve_s += schedule.solve_time_s
            for b in schedule.batteries:
                charged += float(np.sum(b.charge_kw)) * STEP_H
                discharged += float(np.sum(b.discharge_kw)) * STEP_H
                soc = b.soc_pct[-1]
        if variant.battery is not None:
            degradation = variant.battery.degradation_eur_kwh * (charged + discharged)
    peak = float(imports.max()) if n else 0.0
    energy_cost = float(np.sum(imports * import_price - exports * export_price) * STEP_H)
    peak_cost = _peak_cost(variant, data, imports)
    consumption, production = float(load.sum() * STEP_H), float(pv.sum() * STEP_H)
    import_kwh, export_kwh = float(imports.sum() * STEP_H), float(exports.sum() * STEP_H)
    kpis = ScenarioKpis(
        cost_eur=round(energy_cost + peak_cost + degradation, 2),
        import_kwh=round(import_kwh, 2),
        export_kwh=round(export_kwh, 2),
        consumption_kwh=round(consumption, 2),
        production_kwh=round(production, 2),
        self_consumption_rate=round(1 - export_kwh / production, 4) if production > 0 else None,
        autarky_rate=round(1 - import_kwh / consumption, 4) if consumption > 0 else None,
        peak_import_kw=round(peak, 3),
        co2_kg=round(import_kwh * co2_g_kwh / 1000.0, 1),
    )
    capacity = variant.battery.capacity_kwh if variant.battery else 0.0
    how = {
        "variation": variant.name,
        "battery_capacity_kwh": capacity,
        "battery_power_kw": variant.battery.discharge_max_kw if variant.battery else 0.0,
        "battery_charged_kwh": round(charged, 2),
        "battery_discharged_kwh": round(discharged, 2),
        "equivalent_full_cycles": round(discharged / capacity, 2) if capacity else 0.0,
        "curtailed_kwh": round(float(curtailed.sum() * STEP_H), 2),
        "pv_scale": variant.pv_scale,
        "peak_limit_kw": variant.peak_limit_kw,
        "energy_cost_eur": round(energy_cost, 2),
        "peak_charge_eur": round(peak_cost, 2),
        "degradation_eur": round(degradation, 2),
        "solve_time_s": round(solve_s, 3),
    }
    return Outcome(kpis, how)


def _plan_day(
    variant: Variant,
    *,
    soc_pct: float,
    load: FloatArray,
    pv: FloatArray,
    import_price: FloatArray,
    export_price: FloatArray,
    day: datetime,
    peak_floor_kw: float,
    peak_charge_eur_kw: float,
    settings: Settings,
) -> optimizer.Schedule:
    batteries: tuple[optimizer.Battery, ...] = ()
    if variant.battery is not None:
        start_pct = variant.battery.soc_initial_pct
        spec = variant.battery.model_copy(update={"soc_initial_pct": soc_pct, "soc_final_pct": start_pct})
        batteries = (optimize_service.battery(spec),)
    problem = optimizer.Problem(
        step_h=STEP_H,
        load_kw=load,
        pv_kw=pv,
        import_price_eur_kwh=import_price,
        export_price_eur_kwh=export_price,
        batteries=batteries,
        grid_import_max_kw=variant.peak_limit_kw,
        curtailment_allowed=True,
        objective="cost",
        peak_charge_eur_kw=peak_charge_eur_kw,
        peak_floor_kw=peak_floor_kw,
        time_limit_s=settings.optimizer_time_limit_s,
    )
    try:
        return optimize_service.solve(problem)
    except InvalidInputError as exc:
        raise InvalidInputError(
            f"variation {variant.name!r} cannot be operated on the day from {day.isoformat()}: {exc.message}",
            details={"field": "variations", "variation": variant.name, **(exc.details or {})},
        ) from exc


def _why(baseline: Outcome, data: PeriodData, settings: Settings, variant: Variant) -> dict[str, Any]:
    import_price, _ = _tariff_prices(variant.tariff, data, settings)
    net = data.consumption_kw - data.production_kw
    imports = np.maximum(net, 0.0)
    expensive = import_price >= np.quantile(import_price, 0.75)
    total_import = float(imports.sum())
    expensive_share = float(imports[expensive].sum() / total_import) if total_import > 0 else 0.0
    mean_paid = float((imports * import_price).sum() / total_import) if total_import > 0 else None
    k = baseline.kpis
    findings = [
        f"The period cost {k.cost_eur:.2f} EUR: {baseline.how['energy_cost_eur']:.2f} EUR energy, "
        f"{baseline.how['peak_charge_eur']:.2f} EUR peak charge on {k.peak_import_kw:.1f} kW.",
        f"{expensive_share:.0%} of the imported energy fell in the most expensive quarter of the hours.",
    ]
    if k.self_consumption_rate is not None:
        findings.append(
            f"{1 - k.self_consumption_rate:.0%} of the PV production ({k.export_kwh:.0f} kWh) was exported."
        )
    return {
        "baseline": k.model_dump(),
        "drivers": {
            "import_share_in_most_expensive_quartile": round(expensive_share, 4),
            "mean_import_price_eur_kwh": None if mean_paid is None else round(mean_paid, 4),
            "mean_spot_eur_mwh": round(float(data.spot_eur_mwh.mean()), 2),
            "exported_share_of_pv": None
            if k.self_consumption_rate is None
            else round(1 - k.self_consumption_rate, 4),
        },
        "findings": findings,
        "notes": [
            *data.notes,
            "replayed with perfect foresight per day: an upper bound of what a forecast-driven "
            "controller saves",
        ],
    }


def _delta(base: ScenarioKpis, other: ScenarioKpis) -> dict[str, Any]:
    def pp(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round((b - a) * 100, 2)

    cost = round(other.cost_eur - base.cost_eur, 2)
    return {
        "cost_eur": cost,
        "cost_pct": round(cost / base.cost_eur * 100, 2) if base.cost_eur else None,
        "import_kwh": round(other.import_kwh - base.import_kwh, 2),
        "autarky_pp": pp(base.autarky_rate, other.autarky_rate),
        "self_consumption_pp": pp(base.self_consumption_rate, other.self_consumption_rate),
        "peak_import_kw": round(other.peak_import_kw - base.peak_import_kw, 3),
        "co2_kg": round(other.co2_kg - base.co2_kg, 1),
    }


def run_whatif(*, session: Session, settings: Settings, request: WhatIfRequest) -> ScenarioRead:
    """Replay the baseline and every variation, store the scenario and return the playbook."""
    data, scope = load_period(session=session, settings=settings, request=request)
    co2 = settings.co2_intensity_g_kwh if request.co2_intensity_g_kwh is None else request.co2_intensity_g_kwh
    runs = variants(request)
    outcomes = [simulate(v, data, settings, co2) for v in runs]
    baseline = outcomes[0]
    what = [
        {
            "variation": v.name,
            "changes": request.variations[i].model_dump(exclude_none=True),
            "kpis": o.kpis.model_dump(),
        }
        for i, (v, o) in enumerate(zip(runs[1:], outcomes[1:], strict=True))
    ]
    what_if = [
        {"variation": v.name, **_delta(baseline.kpis, o.kpis)}
        for v, o in zip(runs[1:], outcomes[1:], strict=True)
    ]
    best = min(what_if, key=lambda d: d["cost_eur"])
    for row in what_if:
        row["cheapest"] = row is best
    result = {
        "scope": scope,
        "ts_from": data.start.isoformat(),
        "ts_to": history_module.floor_to_step(request.ts_to, 15).isoformat(),
        "why": _why(baseline, data, settings, runs[0]),
        "what": what,
        "how": [o.how for o in outcomes],
        "what_if": what_if,
    }
    scenario = Scenario(name=request.name, request=request.model_dump(mode="json"), result=result)
    repository.add_scenario(session=session, scenario=scenario)
    session.commit()
    return scenario_read(scenario)


def scenario_read(scenario: Scenario) -> ScenarioRead:
    r = scenario.result
    return ScenarioRead(
        scenario_id=scenario.scenario_id,
        name=scenario.name,
        created_at=scenario.created_at,
        scope=r["scope"],
        ts_from=datetime.fromisoformat(r["ts_from"]),
        ts_to=datetime.fromisoformat(r["ts_to"]),
        why=r["why"],
        what=r["what"],
        how=r["how"],
        what_if=r["what_if"],
    )


def get_scenario(*, session: Session, scenario_id: uuid.UUID) -> ScenarioRead:
    scenario = repository.get_scenario(session=session, scenario_id=scenario_id)
    if scenario is None:
        raise NotFoundError(f"scenario {scenario_id} not found", details={"scenario_id": str(scenario_id)})
    return scenario_read(scenario)


def list_scenarios(*, session: Session, limit: int, offset: int) -> ScenarioList:
    rows, total = repository.list_scenarios(session=session, limit=limit, offset=offset)
    items = [ScenarioSummary(scenario_id=s.scenario_id, name=s.name, created_at=s.created_at) for s in rows]
    return ScenarioList(items=items, total=total)
