"""Battery and flexible-load optimiser: a pure function from a `Problem` to a `Schedule`.

No database, no HTTP, no clock: the caller passes forecasts and prices, `solve` returns the schedule.

Units and signs (DESIGN.md, "Domain conventions"): power in kW as the mean over a step, energy in kWh,
prices in EUR/kWh, `step_h` in hours. Grid power + = import, - = export; battery power + = discharge,
- = charge. Battery charge/discharge powers in results are on the AC (grid) side.

The model is a mixed-integer linear programme solved by HiGHS (`scipy.optimize.milp`). Per step t:

- energy balance: pv - curtailment + import + Σ discharge_ac - Σ charge_ac - export - load
  - Σ deferrable = 0;
- battery: charge_ac ≤ charge_max_kw / η_c and discharge_ac ≤ discharge_max_kw · η_d (the limits are on
  the storage side), soc[t] = soc[t-1] + (η_c · charge_ac - discharge_ac / η_d) · step_h within
  [soc_min, soc_max], final SOC ≥ soc_final (or = soc_final, `soc_final_mode="equal"`) as a
  constraint; a binary per battery and step forbids charging and discharging at once, and a binary per
  step forbids importing and exporting at once (without them an LP "burns" energy when prices are
  negative). These exclusion binaries are added lazily, only where they change the answer, and the
  result is still the exact MILP optimum (`solving` states the argument);
- `grid_charging=False`: whenever the battery is in charge mode, the charge of all such batteries is
  at most the PV surplus pv - curtailment - load - Σ deferrable (so it never comes from the grid nor
  from another battery);
- `grid_discharge=False`: the battery may discharge only in steps without export, so none of its energy
  reaches the grid, neither directly nor by covering the load while the PV it frees is exported (the
  weaker rule export ≤ pv - curtailment would allow that);
- deferrable loads: zero outside [earliest_step, latest_step), total energy exactly `energy_kwh`;
  on/off loads run at exactly `power_kw` or 0, and once started they run ≥ `min_run_steps` steps
  (start binaries, standard minimum-up-time rows). A load may run several times in its window.

Objectives: "cost" minimises energy cost + peak charge + degradation; "self_consumption" first
minimises grid import energy, then the cost with the import energy held at its optimum; "peak" first
minimises the highest import, then the cost (both lexicographic: two solves). When HiGHS leaves an
integer variable off its integer within its tolerance, or a tiny simultaneous flow, the binaries are
fixed and the LP re-solved ("polish"); a clean solution is returned as it is.

The variables and rows are built in `milp_model.py`, solved in `solving.py`; infeasibility is
explained by `diagnosis.py` with bounded probes from `probes.py`; this module owns the types, the
objectives and the results.

Raises `ValueError` for invalid input (naming the field and value), `InfeasibleProblemError` (with
`.conflicts`) when no schedule exists, `SolverError` when HiGHS fails or finds no schedule in time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from luna_iems.decisions import diagnosis, milp_model, probes, solving
from luna_iems.decisions.diagnosis import Conflict, InfeasibleProblemError
from luna_iems.decisions.solving import SolverError

__all__ = [
    "Battery",
    "BatterySchedule",
    "Conflict",
    "DeferrableLoad",
    "InfeasibleProblemError",
    "Problem",
    "Schedule",
    "SolverError",
    "baseline_cost_eur",
    "solve",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.intp]
Objective: TypeAlias = Literal["cost", "self_consumption", "peak"]
SocFinalMode: TypeAlias = Literal["at_least", "equal"]
Status: TypeAlias = Literal["optimal", "time_limit", "node_limit"]

STEP_HOURS = (0.25, 0.5, 1.0)
MAX_HORIZON_H = 72.0
CURTAILMENT_TIE_BREAK_EUR_KWH = 1e-6  # at a zero export price, export rather than curtail
LEXICOGRAPHIC_SLACK = 1e-9  # stage 2 may exceed the primary optimum by this (relative, at least 1)
ZERO = 1e-9  # |value| below this is printed as 0 (HiGHS' feasibility tolerance is 1e-7)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True, kw_only=True)
class Battery:
    """A stationary battery. Powers in kW on the storage side, energy in kWh, SOC in % of capacity.

    `soc_final_pct` is a constraint, not a penalty: with `soc_final_mode="at_least"` (the default) the
    final SOC is ≥ it, with "equal" exactly it; None leaves it free.
    `grid_charging=False`: charge only from PV surplus. `grid_discharge=False`: never export its energy.
    `degradation_eur_kwh` is charged per kWh of storage-side throughput (charge + discharge).
    Raises ValueError naming the field for a non-positive capacity, a negative power, an efficiency
    outside (0, 1], SOC limits outside 0..100 or out of order, an initial SOC outside the limits.
    """

    name: str
    capacity_kwh: float
    charge_max_kw: float
    discharge_max_kw: float
    charge_efficiency: float = 0.95
    discharge_efficiency: float = 0.95
    soc_min_pct: float = 10.0
    soc_max_pct: float = 100.0
    soc_initial_pct: float = 50.0
    soc_final_pct: float | None = None
    soc_final_mode: SocFinalMode = "at_least"
    grid_charging: bool = True
    grid_discharge: bool = True
    degradation_eur_kwh: float = 0.0

    def __post_init__(self) -> None:
        who = f"Battery {self.name!r}"
        _check(bool(self.name), "Battery.name must not be empty")
        _check(
            math.isfinite(self.capacity_kwh) and self.capacity_kwh > 0,
            f"{who}: capacity_kwh={self.capacity_kwh} must be finite and > 0",
        )
        for name in ("charge_max_kw", "discharge_max_kw", "degradation_eur_kwh"):
            value = getattr(self, name)
            _check(math.isfinite(value) and value >= 0, f"{who}: {name}={value} must be finite and >= 0")
        for name in ("charge_efficiency", "discharge_efficiency"):
            value = getattr(self, name)
            _check(0 < value <= 1, f"{who}: {name}={value} is outside (0, 1]")
        _check(
            0 <= self.soc_min_pct <= self.soc_max_pct <= 100,
            f"{who}: need 0 <= soc_min_pct <= soc_max_pct <= 100, got soc_min_pct={self.soc_min_pct}, "
            f"soc_max_pct={self.soc_max_pct}",
        )
        _check(
            self.soc_min_pct <= self.soc_initial_pct <= self.soc_max_pct,
            f"{who}: soc_initial_pct={self.soc_initial_pct} is outside "
            f"[soc_min_pct={self.soc_min_pct}, soc_max_pct={self.soc_max_pct}]",
        )
        if self.soc_final_pct is not None:
            _check(
                0 <= self.soc_final_pct <= self.soc_max_pct,
                f"{who}: soc_final_pct={self.soc_final_pct} is outside [0, soc_max_pct={self.soc_max_pct}]",
            )
        _check(
            self.soc_final_mode in ("at_least", "equal"),
            f"{who}: soc_final_mode={self.soc_final_mode!r} is not 'at_least' or 'equal'",
        )
        if self.soc_final_mode == "equal" and self.soc_final_pct is not None:
            _check(
                self.soc_final_pct >= self.soc_min_pct,
                f"{who}: soc_final_pct={self.soc_final_pct} with soc_final_mode='equal' is below "
                f"soc_min_pct={self.soc_min_pct}",
            )

    @property
    def soc_min_kwh(self) -> float:
        return self.capacity_kwh * self.soc_min_pct / 100

    @property
    def soc_max_kwh(self) -> float:
        return self.capacity_kwh * self.soc_max_pct / 100

    @property
    def soc_initial_kwh(self) -> float:
        return self.capacity_kwh * self.soc_initial_pct / 100

    @property
    def soc_final_kwh(self) -> float | None:
        """Final energy (kWh): the least one ("at_least") or the exact one ("equal"), never below the
        SOC floor; None when the final SOC is free."""
        if self.soc_final_pct is None:
            return None
        return max(self.soc_min_kwh, self.capacity_kwh * self.soc_final_pct / 100)

    @property
    def charge_ac_max_kw(self) -> float:
        """AC-side charge limit: the storage-side limit divided by the charge efficiency."""
        return self.charge_max_kw / self.charge_efficiency

    @property
    def discharge_ac_max_kw(self) -> float:
        """AC-side discharge limit: the storage-side limit times the discharge efficiency."""
        return self.discharge_max_kw * self.discharge_efficiency


@dataclass(frozen=True, kw_only=True)
class DeferrableLoad:
    """A flexible consumer that must receive `energy_kwh` inside steps [earliest_step, latest_step).

    `on_off=True`: draws exactly `power_kw` or 0 in each step, and `energy_kwh` must be a whole number
    of steps at full power (checked by `Problem`, within 1e-6 kWh; no rounding); once on, it stays on
    at least `min_run_steps` steps. `on_off=False`: any power in 0..power_kw (then `min_run_steps`
    must be 1). Raises ValueError naming the field.
    """

    name: str
    power_kw: float
    energy_kwh: float
    earliest_step: int
    latest_step: int
    min_run_steps: int = 1
    on_off: bool = True

    def __post_init__(self) -> None:
        who = f"DeferrableLoad {self.name!r}"
        _check(bool(self.name), "DeferrableLoad.name must not be empty")
        _check(
            self.power_kw > 0 and math.isfinite(self.power_kw), f"{who}: power_kw={self.power_kw} must be > 0"
        )
        _check(
            self.energy_kwh >= 0 and math.isfinite(self.energy_kwh),
            f"{who}: energy_kwh={self.energy_kwh} must be >= 0",
        )
        _check(self.earliest_step >= 0, f"{who}: earliest_step={self.earliest_step} must be >= 0")
        _check(
            self.latest_step > self.earliest_step,
            f"{who}: latest_step={self.latest_step} must be > earliest_step={self.earliest_step} "
            f"(latest_step is exclusive)",
        )
        _check(self.min_run_steps >= 1, f"{who}: min_run_steps={self.min_run_steps} must be >= 1")
        _check(
            self.on_off or self.min_run_steps == 1,
            f"{who}: min_run_steps={self.min_run_steps} needs on_off=True (a continuous load has no "
            f"on state to hold)",
        )


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One optimisation: forecasts and prices per step (kW, EUR/kWh) and the flexible assets.

    Series may be sequences or NumPy arrays; they are stored as tuples of floats. Export prices may be
    negative (exporting costs money). `peak_charge_eur_kw` is charged on the highest import over the
    horizon (objectives "cost" and "peak"). `peak_floor_kw` is the highest import already reached in
    the billing period (e.g. this month so far): the charge applies to max(floor, peak), so nothing is
    spent shaving below it. `time_limit_s` bounds the wall-clock time of the whole solve; `node_limit`
    bounds the branch-and-bound nodes of each HiGHS call (deterministic: the same problem stops at the
    same point on any machine). Raises ValueError naming the field and the bad value.
    """

    step_h: float
    load_kw: Sequence[float] | FloatArray
    pv_kw: Sequence[float] | FloatArray
    import_price_eur_kwh: Sequence[float] | FloatArray
    export_price_eur_kwh: Sequence[float] | FloatArray
    batteries: tuple[Battery, ...] = ()
    deferrable_loads: tuple[DeferrableLoad, ...] = ()
    grid_import_max_kw: float | None = None
    grid_export_max_kw: float | None = None
    curtailment_allowed: bool = True
    objective: Objective = "cost"
    peak_charge_eur_kw: float = 0.0
    peak_floor_kw: float = 0.0
    time_limit_s: float = 10.0
    node_limit: int | None = None

    def __post_init__(self) -> None:
        _check(self.step_h in STEP_HOURS, f"Problem.step_h={self.step_h} is not one of {STEP_HOURS}")
        for name in ("load_kw", "pv_kw", "import_price_eur_kwh", "export_price_eur_kwh"):
            object.__setattr__(self, name, _series(name, getattr(self, name)))
        object.__setattr__(self, "batteries", tuple(self.batteries))
        object.__setattr__(self, "deferrable_loads", tuple(self.deferrable_loads))
        n = len(self.load_kw)
        _check(n >= 1, "Problem.load_kw is empty: the horizon needs at least one step")
        for name in ("pv_kw", "import_price_eur_kwh", "export_price_eur_kwh"):
            length = len(getattr(self, name))
            _check(length == n, f"Problem.{name} has {length} values but load_kw has {n}: one per step")
        _check(
            n * self.step_h <= MAX_HORIZON_H,
            f"Problem: horizon {n} steps x {self.step_h} h = {n * self.step_h} h exceeds {MAX_HORIZON_H:g} h",
        )
        _check(min(self.load_kw) >= 0, f"Problem.load_kw has a negative value {min(self.load_kw)}")
        _check(min(self.pv_kw) >= 0, f"Problem.pv_kw has a negative value {min(self.pv_kw)}")
        for name in ("grid_import_max_kw", "grid_export_max_kw"):
            value = getattr(self, name)
            _check(value is None or (0 <= value < math.inf), f"Problem.{name}={value} must be None or >= 0")
        _check(
            self.peak_charge_eur_kw >= 0, f"Problem.peak_charge_eur_kw={self.peak_charge_eur_kw} must be >= 0"
        )
        _check(0 <= self.peak_floor_kw < math.inf, f"Problem.peak_floor_kw={self.peak_floor_kw} must be >= 0")
        _check(self.time_limit_s > 0, f"Problem.time_limit_s={self.time_limit_s} must be > 0")
        _check(
            self.node_limit is None or self.node_limit >= 1,
            f"Problem.node_limit={self.node_limit} must be None or >= 1",
        )
        _check(
            self.objective in ("cost", "self_consumption", "peak"),
            f"Problem.objective={self.objective!r} is not 'cost', 'self_consumption' or 'peak'",
        )
        self._check_assets(n)

    def _check_assets(self, n: int) -> None:
        for kind, names in (
            ("batteries", [b.name for b in self.batteries]),
            ("deferrable_loads", [d.name for d in self.deferrable_loads]),
        ):
            duplicates = sorted({x for x in names if names.count(x) > 1})
            _check(not duplicates, f"Problem.{kind}: duplicate name(s) {duplicates}")
        for load in self.deferrable_loads:
            who = f"Problem.deferrable_loads {load.name!r}"
            _check(
                load.latest_step <= n,
                f"{who}: latest_step={load.latest_step} is outside the horizon of {n} steps",
            )
            if load.on_off:
                steps = load.energy_kwh / (load.power_kw * self.step_h)
                _check(
                    abs(steps - round(steps)) * load.power_kw * self.step_h <= 1e-6,
                    f"{who}: energy_kwh={load.energy_kwh} is not a whole number of steps at "
                    f"power_kw={load.power_kw} x step_h={self.step_h} h ({steps:.4g} steps); on/off "
                    f"loads need a multiple of {load.power_kw * self.step_h:g} kWh",
                )

    @property
    def steps(self) -> int:
        """Number of steps in the horizon."""
        return len(self.load_kw)


def _series(name: str, values: Sequence[float] | FloatArray) -> tuple[float, ...]:
    array = np.asarray(values, dtype=np.float64)
    _check(array.ndim == 1, f"Problem.{name} must be one-dimensional, got shape {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array))
    _check(bad.size == 0, f"Problem.{name} has a non-finite value at step {bad[0] if bad.size else -1}")
    return tuple(array.tolist())


@dataclass(frozen=True, kw_only=True)
class BatterySchedule:
    """One battery's plan per step: AC-side charge and discharge (kW, ≥ 0), power_kw = discharge -
    charge (+ = discharge), and the state of charge at the END of each step (kWh and %)."""

    name: str
    charge_kw: tuple[float, ...]
    discharge_kw: tuple[float, ...]
    power_kw: tuple[float, ...]
    soc_kwh: tuple[float, ...]
    soc_pct: tuple[float, ...]


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """The optimised plan. Powers in kW per step; grid_kw = import - export (+ = import).

    status: "optimal" (proven within a relative gap of 1e-6), or "node_limit" / "time_limit": feasible,
    stopped by that limit, not proven optimal; `mip_gap` and `cost_bound_eur` then say how far from
    optimal it can be at most. cost_bound_eur = total_cost_eur minus the absolute gap HiGHS proved:
    no schedule costs less (for the lexicographic objectives: none at the primary optimum found).
    `solves` counts HiGHS calls, `exclusion_binaries` the charge/discharge and import/export binaries
    enforced in the last one (the rest were not needed, see `solving`). total_cost_eur = Σ (import x
    import price - export x export price) x step_h + peak charge x peak import + degradation x storage
    throughput. baseline_cost_eur: see `baseline_cost_eur`. objective_value is the primary objective:
    EUR for "cost", kWh imported for "self_consumption", kW peak import for "peak".
    """

    status: Status
    objective: str
    grid_import_kw: tuple[float, ...]
    grid_export_kw: tuple[float, ...]
    grid_kw: tuple[float, ...]
    curtailment_kw: tuple[float, ...]
    batteries: tuple[BatterySchedule, ...]
    deferrable_kw: dict[str, tuple[float, ...]]
    total_cost_eur: float
    baseline_cost_eur: float
    savings_eur: float
    peak_import_kw: float
    objective_value: float
    solve_time_s: float
    mip_gap: float | None
    cost_bound_eur: float | None = None
    solves: int = 1
    exclusion_binaries: int = 0


# --- objectives and solving -----------------------------------------------------------------------


def _cost_vector(problem: Problem, model: milp_model.Model) -> FloatArray:
    """EUR per unit of each variable: energy cost, peak charge, degradation, curtailment tie-break."""
    dt = problem.step_h
    c = np.zeros(model.lp.n_vars)
    c[model.imp] = np.asarray(problem.import_price_eur_kwh) * dt
    c[model.exp] = -np.asarray(problem.export_price_eur_kwh) * dt
    c[model.curt] = CURTAILMENT_TIE_BREAK_EUR_KWH * dt
    if model.peak.size:
        c[model.peak] = problem.peak_charge_eur_kw
    for battery, variables in zip(problem.batteries, model.batteries, strict=True):
        # degradation is per kWh of storage-side throughput: η_c·charge_ac in, discharge_ac/η_d out
        c[variables.charge] = battery.degradation_eur_kwh * battery.charge_efficiency * dt
        c[variables.discharge] = battery.degradation_eur_kwh / battery.discharge_efficiency * dt
    return c


def _primary_vector(problem: Problem, model: milp_model.Model) -> FloatArray | None:
    """The first-stage objective of the lexicographic objectives; None for "cost"."""
    c = np.zeros(model.lp.n_vars)
    if problem.objective == "self_consumption":
        c[model.imp] = problem.step_h  # kWh imported
        return c
    if problem.objective == "peak":
        c[model.peak] = 1.0  # kW
        return c
    return None


def _optimise(
    problem: Problem, model: milp_model.Model, limits: solving.Limits
) -> tuple[solving.Outcome, solving.Arrays]:
    """The (lexicographic) optimum by lazy exclusion binaries (see `solving`), and the arrays of the
    model it was found in (with the lexicographic cap row)."""
    arrays = model.lp.arrays()
    primary = _primary_vector(problem, model)
    cost = _cost_vector(problem, model)
    enforced = solving.initial_exclusions(problem, model)
    if primary is None:
        return solving.solve_lazy(model, arrays, cost, enforced=enforced, limits=limits)[0], arrays
    first, enforced = solving.solve_lazy(model, arrays, primary, enforced=enforced, limits=limits)
    if first.x is None:
        return first, arrays
    # Stage 2: the cheapest schedule whose primary value is within a hair of the first stage's.
    cols = np.flatnonzero(primary)
    cap = first.fun + LEXICOGRAPHIC_SLACK * max(1.0, abs(first.fun))
    model.lp.sum_row(cols.astype(np.intp), primary[cols], lb=-np.inf, ub=cap)
    arrays = model.lp.arrays()
    second, _ = solving.solve_lazy(model, arrays, cost, enforced=enforced, limits=limits)
    solves = first.solves + second.solves
    if second.x is None:
        # A limit in stage 2 before any schedule (or a numerical refusal of the cap): the first stage's
        # schedule is valid and optimal for the primary objective, only the cost tie-break is missing.
        status = second.status if second.status != "infeasible" else first.status
        return replace(first, status=status, solves=solves), arrays
    status = first.status if first.status != "optimal" else second.status
    return replace(second, status=status, solves=solves), arrays


def _polish(
    problem: Problem, model: milp_model.Model, arrays: solving.Arrays, outcome: solving.Outcome
) -> FloatArray:
    """The accepted solution, re-solved as an LP with every binary fixed only when it is not already
    clean (`solving.needs_polish`); the solution itself if the LP fails (it cannot in exact
    arithmetic: the solution is feasible for it)."""
    assert outcome.x is not None
    if not solving.needs_polish(model, arrays[2], outcome.x):
        return outcome.x
    limits = solving.Limits(deadline=time.perf_counter() + problem.time_limit_s)
    polished = solving.run_milp(arrays, _cost_vector(problem, model), limits=limits, fixed=outcome.x)
    return outcome.x if polished.x is None or polished.status != "optimal" else polished.x


# --- results --------------------------------------------------------------------------------------


def _clean(values: FloatArray) -> tuple[float, ...]:
    return tuple(np.where(np.abs(values) < ZERO, 0.0, values).tolist())


def _energy_cost(problem: Problem, imp: FloatArray, exp: FloatArray) -> float:
    import_price = np.asarray(problem.import_price_eur_kwh)
    export_price = np.asarray(problem.export_price_eur_kwh)
    energy = float(np.sum(imp * import_price - exp * export_price) * problem.step_h)
    return energy + problem.peak_charge_eur_kw * max(float(imp.max(initial=0.0)), problem.peak_floor_kw)


def baseline_cost_eur(problem: Problem) -> float:
    """Cost (EUR) of `problem` without flexibility: no battery; each deferrable load runs as early as
    possible at full power (from earliest_step, a continuous load's last step partial); PV covers the
    load first and the surplus is exported; PV is curtailed only where the export limit forces it.

    Grid limits the baseline cannot meet without flexibility are not enforced: an import above
    `grid_import_max_kw`, or (with curtailment banned) an export above `grid_export_max_kw`, is priced
    as it is. Includes the peak charge on the baseline's highest import.
    """
    n, dt = problem.steps, problem.step_h
    demand = np.asarray(problem.load_kw, dtype=np.float64).copy()
    for load in problem.deferrable_loads:
        remaining = load.energy_kwh
        for t in range(load.earliest_step, load.latest_step):
            if remaining <= 1e-12:
                break
            power = min(load.power_kw, remaining / dt)
            demand[t] += power
            remaining -= power * dt
    net = demand - np.asarray(problem.pv_kw)
    imp = np.clip(net, 0.0, None)
    exp = np.clip(-net, 0.0, None)
    if problem.grid_export_max_kw is not None and problem.curtailment_allowed:
        exp = np.minimum(exp, problem.grid_export_max_kw)
    assert imp.size == n
    return _energy_cost(problem, imp, exp)


def _battery_schedule(
    problem: Problem, battery: Battery, variables: milp_model.BatteryVars, x: FloatArray
) -> BatterySchedule:
    charge, discharge, soc = x[variables.charge], x[variables.discharge], x[variables.soc]
    return BatterySchedule(
        name=battery.name,
        charge_kw=_clean(charge),
        discharge_kw=_clean(discharge),
        power_kw=_clean(discharge - charge),
        soc_kwh=_clean(soc),
        soc_pct=_clean(soc / battery.capacity_kwh * 100),
    )


def _degradation_eur(problem: Problem, model: milp_model.Model, x: FloatArray) -> float:
    total = 0.0
    for battery, variables in zip(problem.batteries, model.batteries, strict=True):
        throughput_kwh = float(
            np.sum(
                x[variables.charge] * battery.charge_efficiency
                + x[variables.discharge] / battery.discharge_efficiency
            )
            * problem.step_h
        )
        total += battery.degradation_eur_kwh * throughput_kwh
    return total


def _schedule(
    problem: Problem, model: milp_model.Model, outcome: solving.Outcome, x: FloatArray, started: float
) -> Schedule:
    imp, exp = x[model.imp], x[model.exp]
    total = _energy_cost(problem, imp, exp) + _degradation_eur(problem, model, x)
    baseline = baseline_cost_eur(problem)
    peak = float(imp.max(initial=0.0))
    primary = {"cost": total, "self_consumption": float(imp.sum() * problem.step_h), "peak": peak}
    assert outcome.status != "infeasible"
    gap_abs = max(0.0, outcome.fun - outcome.bound) if math.isfinite(outcome.bound) else math.nan
    return Schedule(
        status=outcome.status,
        objective=problem.objective,
        grid_import_kw=_clean(imp),
        grid_export_kw=_clean(exp),
        grid_kw=_clean(imp - exp),
        curtailment_kw=_clean(x[model.curt]),
        batteries=tuple(
            _battery_schedule(problem, b, v, x)
            for b, v in zip(problem.batteries, model.batteries, strict=True)
        ),
        deferrable_kw={
            d.name: _clean(v.coef * x[v.power])
            for d, v in zip(problem.deferrable_loads, model.loads, strict=True)
        },
        total_cost_eur=total,
        baseline_cost_eur=baseline,
        savings_eur=baseline - total,
        peak_import_kw=peak,
        objective_value=primary[problem.objective],
        solve_time_s=time.perf_counter() - started,
        mip_gap=outcome.mip_gap,
        cost_bound_eur=None if math.isnan(gap_abs) else total - gap_abs,
        solves=outcome.solves,
        exclusion_binaries=outcome.enforced,
    )


# --- entry point ----------------------------------------------------------------------------------


def solve(problem: Problem) -> Schedule:
    """The optimal schedule for `problem` (see the module docstring for the model and objectives).

    Deterministic: the same problem gives the same schedule unless `problem.time_limit_s` stops HiGHS,
    and then `status` is "time_limit" (with `node_limit`, "node_limit"), never "optimal".
    Raises InfeasibleProblemError when no schedule exists: `.conflicts` names the constraint(s) with
    numbers, from bound checks or, failing those, from bounded re-solves with constraint groups
    relaxed (`probes`). Raises SolverError when HiGHS finds no schedule within the limits (the
    lexicographic objectives share one time budget) or fails.
    """
    started = time.perf_counter()
    conflicts = diagnosis.bound_conflicts(problem)
    if conflicts:
        raise InfeasibleProblemError(conflicts)
    model = milp_model.build(problem)
    limits = solving.Limits(deadline=started + problem.time_limit_s, node_limit=problem.node_limit)
    outcome, arrays = _optimise(problem, model, limits)
    if outcome.status == "infeasible":
        raise InfeasibleProblemError(diagnosis.relaxation_conflicts(problem, probe=probes.probe))
    if outcome.x is None:
        which = "time_limit_s" if outcome.status == "time_limit" else "node_limit"
        raise SolverError(
            f"no feasible schedule found within {which} (time_limit_s={problem.time_limit_s}, "
            f"node_limit={problem.node_limit}); raise it or shorten the horizon ({problem.steps} steps)"
        )
    return _schedule(problem, model, outcome, _polish(problem, model, arrays, outcome), started)
