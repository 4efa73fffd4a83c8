"""`POST /optimize/schedule`: build an optimiser problem from the request (explicit arrays, or forecasts
and stored prices), solve it, and explain infeasibility in words and numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from luna_iems.db.base import from_epoch_us, to_epoch_us
from luna_iems.decisions import forecast_service, forecasting, optimizer, rule_service
from luna_iems.decisions import history as history_module
from luna_iems.decisions.schemas import (
    BatteryIn,
    BatteryStep,
    DeferrableLoadIn,
    ExplicitInputs,
    OptimizeRequest,
    ScheduleRead,
    ScheduleStep,
    StoredInputs,
    resolution_minutes,
)
from luna_iems.errors import BackendUnavailableError, InvalidInputError
from luna_iems.settings import Settings
from luna_iems.tariffs import pricing
from luna_iems.tariffs import service as tariff_service
from luna_iems.timeseries import repository as timeseries_repository

FloatArray = history_module.FloatArray
# Branch-and-bound nodes per HiGHS call: a deterministic limit (the same request stops at the same
# plan on any machine, reported as status "node_limit"); OPTIMIZER_TIME_LIMIT_S stays the safety net.
NODE_LIMIT = 10_000
STORED_BASE_MINUTES = (15, 60)  # stored histories, prices and forecasts exist at these steps


@dataclass
class Inputs:
    """Per-step inputs of one optimisation, with where they came from."""

    start: datetime
    step_minutes: int
    load_kw: FloatArray
    pv_kw: FloatArray
    import_price_eur_kwh: FloatArray
    export_price_eur_kwh: FloatArray
    notes: list[str] = field(default_factory=list)
    # A stored tariff's capacity charge (EUR/kW, VAT included) and the month's measured peak so far:
    # the plan pays only for raising the month's peak. None: the request's values (default 0).
    peak_charge_eur_kw: float | None = None
    peak_floor_kw: float | None = None

    def __len__(self) -> int:
        return int(self.load_kw.size)


def next_step(now: datetime, step_minutes: int) -> datetime:
    return history_module.floor_to_step(now, step_minutes) + timedelta(minutes=step_minutes)


def explicit_inputs(body: ExplicitInputs, *, start: datetime, step_minutes: int) -> Inputs:
    """Arrays as given; raises InvalidInputError naming the array whose length differs or the horizon."""
    n = len(body.load_kw)
    if n * step_minutes > 72 * 60:
        raise InvalidInputError(
            f"inputs.load_kw: {n} steps of {step_minutes} min exceed the 72 h horizon limit",
            details={"field": "inputs.load_kw", "steps": n, "max_steps": 72 * 60 // step_minutes},
        )
    arrays = {
        "load_kw": body.load_kw,
        "pv_kw": body.pv_kw if body.pv_kw is not None else [0.0] * n,
        "import_price_eur_kwh": body.import_price_eur_kwh,
        "export_price_eur_kwh": body.export_price_eur_kwh
        if body.export_price_eur_kwh is not None
        else [0.0] * n,
    }
    for name, values in arrays.items():
        if len(values) != n:
            raise InvalidInputError(
                f"inputs.{name} has {len(values)} values, inputs.load_kw has {n}: give one value per step",
                details={"field": f"inputs.{name}", "expected": n, "got": len(values)},
            )
        if not all(math.isfinite(v) for v in values):
            raise InvalidInputError(
                f"inputs.{name} contains a value that is not a finite number",
                details={"field": f"inputs.{name}"},
            )
    return Inputs(
        start=start,
        step_minutes=step_minutes,
        load_kw=np.asarray(arrays["load_kw"], dtype=np.float64),
        pv_kw=np.asarray(arrays["pv_kw"], dtype=np.float64),
        import_price_eur_kwh=np.asarray(arrays["import_price_eur_kwh"], dtype=np.float64),
        export_price_eur_kwh=np.asarray(arrays["export_price_eur_kwh"], dtype=np.float64),
        notes=["inputs: explicit arrays"],
    )


def _forecast_values(
    history: forecast_service.History,
    *,
    target: forecasting.Target,
    start: datetime,
    steps: int,
    notes: list[str],
) -> FloatArray:
    if target == "pv" and not np.nan_to_num(history.series.values).any():
        notes.append("pv_kw: no PV production in the stored history, assumed 0")
        return np.zeros(steps)
    if not np.isfinite(history.series.values).any():
        raise InvalidInputError(
            f"stored: no {target} history before {start.isoformat()} to forecast from; "
            "ingest readings and prices first, or give explicit `inputs`",
            details={"field": "stored", "target": target},
        )
    try:
        result = forecasting.forecast(
            history.series,
            target=target,
            horizon_steps=steps,
            timezone=history.timezone,
            lat=history.lat,
            lon=history.lon,
        )
    except ValueError as exc:
        raise InvalidInputError(f"stored: {target} forecast: {exc}", details={"field": "stored"}) from exc
    notes.append(
        f"{target}: forecast by {result.model} from {int(np.isfinite(history.series.values).sum())} steps"
    )
    return result.values


def tariff_prices(
    spot_eur_mwh: FloatArray,
    *,
    import_markup_eur_kwh: float | None,
    export_tariff_eur_kwh: float | None,
    settings: Settings,
) -> tuple[FloatArray, FloatArray]:
    """(import, export) prices in EUR/kWh from spot prices: import = spot + markup, export = the fixed
    feed-in tariff or the spot price. None takes IMPORT_MARKUP_EUR_KWH / EXPORT_TARIFF_EUR_KWH."""
    markup = settings.import_markup_eur_kwh if import_markup_eur_kwh is None else import_markup_eur_kwh
    feed_in = settings.export_tariff_eur_kwh if export_tariff_eur_kwh is None else export_tariff_eur_kwh
    spot_kwh = np.asarray(spot_eur_mwh, dtype=np.float64) / 1000.0
    return spot_kwh + markup, spot_kwh if feed_in is None else np.full(spot_kwh.size, feed_in)


def stored_inputs(
    *,
    session: Session,
    settings: Settings,
    stored: StoredInputs,
    start: datetime,
    horizon_h: int,
    step_minutes: int,
) -> Inputs:
    """Load and PV forecasts, spot prices (stored where available, forecast for the rest) as a tariff.

    At 30-minute steps everything is computed at 15 minutes and averaged pairwise: mean kW is energy
    over the step, and the mean price is the price of a flat step's energy (energy-preserving)."""
    if step_minutes not in STORED_BASE_MINUTES:
        fine = stored_inputs(
            session=session,
            settings=settings,
            stored=stored,
            start=start,
            horizon_h=horizon_h,
            step_minutes=15,
        )
        return Inputs(
            start=start,
            step_minutes=step_minutes,
            load_kw=history_module.to_step(fine.load_kw, step_minutes),
            pv_kw=history_module.to_step(fine.pv_kw, step_minutes),
            import_price_eur_kwh=history_module.to_step(fine.import_price_eur_kwh, step_minutes),
            export_price_eur_kwh=history_module.to_step(fine.export_price_eur_kwh, step_minutes),
            notes=[*fine.notes, f"inputs: computed at 15 min, averaged to {step_minutes} min steps"],
            peak_charge_eur_kw=fine.peak_charge_eur_kw,
            peak_floor_kw=fine.peak_floor_kw,
        )
    steps = horizon_h * 60 // step_minutes
    notes: list[str] = ["inputs: forecasts and stored prices"]
    days = settings.forecast_history_days
    load_history, pv_history = forecast_service.energy_histories(
        session=session,
        meter_id=stored.meter_id,
        site=stored.site,
        ts_to=start,
        days=days,
        step_minutes=step_minutes,
    )
    load = _forecast_values(load_history, target="load", start=start, steps=steps, notes=notes)
    pv = _forecast_values(pv_history, target="pv", start=start, steps=steps, notes=notes)
    market, product = stored.market or settings.default_market, stored.product or settings.default_product
    spot = history_module.load_prices(
        session=session,
        market=market,
        product=product,
        ts_from=start,
        ts_to=start + timedelta(hours=horizon_h),
        step_minutes=step_minutes,
    )
    missing = ~np.isfinite(spot)
    if missing.any():
        price_history = forecast_service.load_history(
            session=session,
            settings=settings,
            target="price",
            meter_id=None,
            site=None,
            market=market,
            product=product,
            ts_to=start,
            days=days,
            step_minutes=step_minutes,
        )
        forecast = _forecast_values(price_history, target="price", start=start, steps=steps, notes=notes)
        spot = np.where(missing, forecast, spot)
        notes.append(f"price: {int(missing.sum())} of {steps} steps forecast, the rest stored")
    else:
        notes.append("price: all steps stored")
    site = None
    if stored.import_markup_eur_kwh is None and stored.export_tariff_eur_kwh is None:
        site = tariff_site(session=session, meter_id=stored.meter_id, site=stored.site)
    tariffs = tariff_service.tariffs_for(
        session=session,
        site=site,
        timezone=settings.timezone,
        fallback=tariff_service.supply_tariff(
            settings,
            import_markup_eur_kwh=stored.import_markup_eur_kwh,
            export_tariff_eur_kwh=stored.export_tariff_eur_kwh,
        ),
    )
    step_us = step_minutes * 60 * 1_000_000
    ts_us = to_epoch_us(start) + step_us * np.arange(steps, dtype=np.int64)
    import_price, export_price = pricing.step_prices(
        ts_us=ts_us, spot_eur_mwh=spot, tariffs=tariffs, timezone=settings.timezone
    )
    inputs = Inputs(
        start=start,
        step_minutes=step_minutes,
        load_kw=load,
        pv_kw=pv,
        import_price_eur_kwh=import_price,
        export_price_eur_kwh=export_price,
        notes=notes,
    )
    if len(tariffs) > 1:
        notes.append(f"prices: the stored tariff of site {site!r} (GET /tariffs/{site})")
        _add_peak_charge(session=session, settings=settings, stored=stored, tariffs=tariffs, inputs=inputs)
    return inputs


def tariff_site(*, session: Session, meter_id: str | None, site: str | None) -> str | None:
    """The site whose tariff prices a scope: the site itself, or the site of the one meter."""
    if site is not None or meter_id is None:
        return site
    meter = timeseries_repository.get_meter(session=session, meter_id=meter_id)
    return None if meter is None else meter.site


def _add_peak_charge(
    *,
    session: Session,
    settings: Settings,
    stored: StoredInputs,
    tariffs: list[pricing.Tariff],
    inputs: Inputs,
) -> None:
    """The stored tariff's capacity charge goes into the objective (the MILP's peak variable), with the
    month's measured peak import so far as the floor: raising it costs the full monthly rate."""
    start_us = to_epoch_us(inputs.start)
    rate = pricing.peak_rate_eur_kw(at_us=start_us, tariffs=tariffs)
    if rate <= 0:
        return
    month_start = pricing.month_start_us(start_us, settings.timezone)
    floor = 0.0
    if month_start < start_us:
        scope = history_module.resolve_scope(session=session, meter_id=stored.meter_id, site=stored.site)
        energy = history_module.load_energy(
            session=session, scope=scope, ts_from=from_epoch_us(month_start), ts_to=inputs.start
        )
        if np.isfinite(energy.import_kw).any():
            floor = float(np.nanmax(energy.import_kw))
    inputs.peak_charge_eur_kw, inputs.peak_floor_kw = rate, floor
    inputs.notes.append(
        f"peak charge: {rate:g} EUR/kW above this month's peak import so far ({floor:.3f} kW)"
    )


def battery(spec: BatteryIn) -> optimizer.Battery:
    return optimizer.Battery(**spec.model_dump(exclude={"battery_id"}))


def with_reported_soc(
    *, session: Session, batteries: list[BatteryIn], start: datetime, notes: list[str]
) -> list[BatteryIn]:
    """Batteries with a `battery_id` start from its newest reported state of charge before `start`
    (at most `rule_service.SOC_MAX_AGE` old), clamped into [soc_min, soc_max]; the notes say which."""
    result = []
    for spec in batteries:
        if spec.battery_id is None:
            result.append(spec)
            continue
        states = timeseries_repository.list_battery_states(
            session=session,
            battery_id=spec.battery_id,
            site=None,
            ts_from=start - rule_service.SOC_MAX_AGE,
            ts_to=start,
            limit=10_000,
        )
        if not states:
            notes.append(f"{spec.name}: no state of {spec.battery_id!r} in the hour before the start; "
                         f"soc_initial_pct {spec.soc_initial_pct:g} % used")  # fmt: skip
            result.append(spec)
            continue
        reported = min(max(states[-1].soc_pct, spec.soc_min_pct), spec.soc_max_pct)
        notes.append(f"{spec.name}: starts at {reported:g} % reported at {states[-1].ts.isoformat()}")
        result.append(spec.model_copy(update={"soc_initial_pct": reported}))
    return result


def _step_index(instant: datetime | None, *, inputs: Inputs, default: int, name: str, what: str) -> int:
    if instant is None:
        return default
    offset = (instant.astimezone(UTC) - inputs.start).total_seconds() / 60 / inputs.step_minutes
    index = math.ceil(offset - 1e-9) if what == "window_start" else math.floor(offset + 1e-9)
    if not 0 <= index <= len(inputs):
        end = inputs.start + timedelta(minutes=inputs.step_minutes * len(inputs))
        raise InvalidInputError(
            f"deferrable_loads[{name}].{what} {instant.isoformat()} is outside the horizon "
            f"{inputs.start.isoformat()} .. {end.isoformat()}",
            details={"field": f"deferrable_loads.{what}", "load": name},
        )
    return index


def deferrable(spec: DeferrableLoadIn, inputs: Inputs) -> optimizer.DeferrableLoad:
    """The load with its window as step indices (start rounded up, end rounded down to whole steps)."""
    earliest = _step_index(spec.window_start, inputs=inputs, default=0, name=spec.name, what="window_start")
    latest = _step_index(
        spec.window_end, inputs=inputs, default=len(inputs), name=spec.name, what="window_end"
    )
    return optimizer.DeferrableLoad(
        name=spec.name,
        power_kw=spec.power_kw,
        energy_kwh=spec.energy_kwh,
        earliest_step=earliest,
        latest_step=latest,
        min_run_steps=max(1, math.ceil(spec.min_run_minutes / inputs.step_minutes)),
        on_off=spec.on_off,
    )


def build_problem(
    request: OptimizeRequest,
    inputs: Inputs,
    settings: Settings,
    batteries: Sequence[BatteryIn] | None = None,
) -> optimizer.Problem:
    """The optimiser's problem; `batteries` replaces the request's (e.g. started at a reported SOC)."""
    try:
        return optimizer.Problem(
            step_h=inputs.step_minutes / 60,
            load_kw=tuple(float(v) for v in inputs.load_kw),
            pv_kw=tuple(float(v) for v in inputs.pv_kw),
            import_price_eur_kwh=tuple(float(v) for v in inputs.import_price_eur_kwh),
            export_price_eur_kwh=tuple(float(v) for v in inputs.export_price_eur_kwh),
            batteries=tuple(battery(b) for b in (request.batteries if batteries is None else batteries)),
            deferrable_loads=tuple(deferrable(d, inputs) for d in request.deferrable_loads),
            grid_import_max_kw=request.grid_import_max_kw,
            grid_export_max_kw=request.grid_export_max_kw,
            curtailment_allowed=request.curtailment_allowed,
            objective=request.objective,
            peak_charge_eur_kw=_requested_or(request, "peak_charge_eur_kw", inputs.peak_charge_eur_kw),
            peak_floor_kw=_requested_or(request, "peak_floor_kw", inputs.peak_floor_kw),
            time_limit_s=settings.optimizer_time_limit_s,
            node_limit=NODE_LIMIT,
        )
    except ValueError as exc:
        raise InvalidInputError(str(exc), details={"field": "problem"}) from exc


def _requested_or(request: OptimizeRequest, name: str, from_tariff: float | None) -> float:
    """The request's value when it gives one, else the stored tariff's, else the request's default."""
    value: float = getattr(request, name)
    return value if name in request.model_fields_set or from_tariff is None else from_tariff


def solve(problem: optimizer.Problem) -> optimizer.Schedule:
    """Solve, or raise InvalidInputError (422) listing every conflict the diagnosis found."""
    try:
        return optimizer.solve(problem)
    except optimizer.SolverError as exc:
        raise BackendUnavailableError("optimizer", f"HiGHS found no schedule: {exc}") from exc
    except optimizer.InfeasibleProblemError as exc:
        conflicts = [
            {"constraint": c.constraint, "message": c.message, "numbers": dict(c.numbers)}
            for c in exc.conflicts
        ]
        summary = "; ".join(c.message for c in exc.conflicts) or str(exc)
        raise InvalidInputError(
            f"the schedule is infeasible: {summary}", details={"conflicts": conflicts}
        ) from exc


def step_minutes(request: OptimizeRequest) -> int:
    """The request's step: `step_minutes`, else its `resolution` (15 min by default)."""
    return request.step_minutes or resolution_minutes(request.resolution)


def optimize(
    *, session: Session, settings: Settings, request: OptimizeRequest, now: datetime | None = None
) -> ScheduleRead:
    """Schedule batteries, deferrable loads, grid and curtailment; see `optimizer` for the model."""
    step = step_minutes(request)
    start = (
        history_module.floor_to_step(request.start, step)
        if request.start
        else next_step(now or datetime.now(UTC), step)
    )
    batteries = request.batteries
    if request.inputs is not None:
        inputs = explicit_inputs(request.inputs, start=start, step_minutes=step)
    else:
        # The schema guarantees both.
        assert request.stored is not None
        assert request.horizon_h is not None
        inputs = stored_inputs(
            session=session,
            settings=settings,
            stored=request.stored,
            start=start,
            horizon_h=request.horizon_h,
            step_minutes=step,
        )
        batteries = with_reported_soc(
            session=session, batteries=request.batteries, start=start, notes=inputs.notes
        )
    schedule = solve(build_problem(request, inputs, settings, batteries))
    return schedule_read(request, inputs, schedule)


def schedule_read(request: OptimizeRequest, inputs: Inputs, schedule: optimizer.Schedule) -> ScheduleRead:
    step = timedelta(minutes=inputs.step_minutes)
    steps = [
        ScheduleStep(
            ts=inputs.start + i * step,
            load_kw=round(float(inputs.load_kw[i]), 4),
            pv_kw=round(float(inputs.pv_kw[i]), 4),
            import_price_eur_kwh=round(float(inputs.import_price_eur_kwh[i]), 6),
            export_price_eur_kwh=round(float(inputs.export_price_eur_kwh[i]), 6),
            grid_kw=round(schedule.grid_kw[i], 4),
            curtailment_kw=round(schedule.curtailment_kw[i], 4),
            batteries={
                b.name: BatteryStep(power_kw=round(b.power_kw[i], 4), soc_pct=round(b.soc_pct[i], 3))
                for b in schedule.batteries
            },
            deferrable_kw={name: round(values[i], 4) for name, values in schedule.deferrable_kw.items()},
        )
        for i in range(len(inputs))
    ]
    labels = {15: "15m", 30: "30m", 60: "1h"}
    return ScheduleRead(
        status=schedule.status,
        mip_gap=schedule.mip_gap,
        cost_bound_eur=None if schedule.cost_bound_eur is None else round(schedule.cost_bound_eur, 4),
        objective=request.objective,
        inputs="explicit" if request.inputs is not None else "stored",
        resolution=labels[inputs.step_minutes],
        step_minutes=inputs.step_minutes,
        solve_time_s=round(schedule.solve_time_s, 4),
        total_cost_eur=round(schedule.total_cost_eur, 4),
        baseline_cost_eur=round(schedule.baseline_cost_eur, 4),
        savings_eur=round(schedule.savings_eur, 4),
        peak_import_kw=round(schedule.peak_import_kw, 4),
        notes=inputs.notes,
        steps=steps,
    )
