"""Independent formulations of the optimiser's problem, to check `luna_iems.decisions.optimizer`.

Nothing here imports the optimiser: the inputs are this module's own plain dataclasses, and each solver
is written from the problem statement (DESIGN.md, "Domain conventions"), not from the optimiser's code.

- `dp_battery`: dynamic programming over a grid of stored energies for ONE battery. Exact for the
  discretised problem; equal to the continuous optimum when every breakpoint of the problem (powers x
  step, SOC limits, initial and final SOC) lies on the grid and the efficiencies are 1, otherwise an
  upper bound that tightens as the grid gets finer. No peak charge.
- `brute_force_deferrable`: enumerates every on/off pattern of on/off deferrable loads (each run at
  least min_run steps), no battery; handles the peak charge (needs import prices > 0, see below).
- `milp_reference`: a second MILP with different variables (storage-side energies per step, SOC as a
  cumulative sum, balance in kWh, start/stop binaries with disaggregated minimum-up rows, one shared
  "PV-only charging" binary per step), built row by row. Any number of batteries and loads.

Per step, given the net AC demand before curtailment (load + deferrable + charge - pv - discharge), the
grid exchange is chosen by `_best_curtailment`: the cost is piecewise linear in the curtailed power
with one kink, so the optimum is at an end of the feasible interval or at the kink.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Site:
    """Grid connection and forecasts. kW per step, EUR/kWh, hours."""

    step_h: float
    load_kw: FloatArray
    pv_kw: FloatArray
    import_price: FloatArray
    export_price: FloatArray
    import_max_kw: float = math.inf
    export_max_kw: float = math.inf
    curtailment_allowed: bool = True
    peak_charge_eur_kw: float = 0.0

    @property
    def n(self) -> int:
        return len(self.load_kw)


@dataclass(frozen=True)
class Storage:
    """A battery: powers are storage-side limits (kW), energies in kWh."""

    capacity_kwh: float
    charge_max_kw: float
    discharge_max_kw: float
    eta_c: float
    eta_d: float
    soc_min_kwh: float
    soc_max_kwh: float
    soc_initial_kwh: float
    soc_final_kwh: float | None = None
    soc_final_equal: bool = False  # the final energy is exactly soc_final_kwh, not at least
    grid_charging: bool = True
    grid_discharge: bool = True
    degradation_eur_kwh: float = 0.0


@dataclass(frozen=True)
class Flexible:
    """A deferrable load: window [earliest, latest) in steps."""

    power_kw: float
    energy_kwh: float
    earliest: int
    latest: int
    min_run: int = 1
    on_off: bool = True


@dataclass(frozen=True)
class Result:
    cost_eur: float  # energy cost + peak charge + degradation
    import_kwh: float
    peak_import_kw: float
    extra: dict[str, float] = field(default_factory=dict)


# --- per-step grid choice -------------------------------------------------------------------------


def _best_curtailment(
    site: Site,
    t: int | npt.NDArray[np.intp],
    net: FloatArray,
    *,
    charge_ac: FloatArray,
    discharge_ac: FloatArray,
    demand_kw: float | FloatArray,
    pv_only_charging: bool,
    no_export_discharge: bool,
) -> tuple[FloatArray, FloatArray]:
    """(cost EUR, import kW) of the cheapest grid exchange per element of `net` (inf if none).

    net: AC demand before curtailment (kW) at step(s) `t` (an index, or an index array that broadcasts
    against `net`). Curtailment c in [lo, hi] turns it into the grid exchange g = net + c (import if
    > 0). Rules: g within the grid limits; PV-only charging: charge <= pv - c - demand; no-export
    discharge: a discharging battery needs g >= 0.
    """
    pv = site.pv_kw[t]
    lo = np.maximum(0.0, -site.export_max_kw - net)
    hi = np.minimum(pv if site.curtailment_allowed else 0.0, site.import_max_kw - net)
    if pv_only_charging:
        hi = np.where(charge_ac > 1e-12, np.minimum(hi, pv - demand_kw - charge_ac), hi)
    if no_export_discharge:
        lo = np.where(discharge_ac > 1e-12, np.maximum(lo, -net), lo)
    feasible = lo <= hi + 1e-9
    hi = np.maximum(hi, lo)
    best_cost = np.full(net.shape, np.inf)
    best_import = np.zeros(net.shape)
    for c in (lo, hi, np.clip(-net, lo, hi)):
        g = net + c
        cost = site.step_h * (
            site.import_price[t] * np.maximum(g, 0) - site.export_price[t] * np.maximum(-g, 0)
        )
        better = cost < best_cost - 1e-15
        best_cost = np.where(better, cost, best_cost)
        best_import = np.where(better, np.maximum(g, 0), best_import)
    return np.where(feasible, best_cost, np.inf), best_import


# --- dynamic programming, one battery -------------------------------------------------------------


def dp_battery(
    site: Site, storage: Storage, *, soc_step_kwh: float, extra_load_kw: FloatArray | None = None
) -> Result:
    """Least cost for one battery by DP over stored energies soc_min, soc_min + step, ..., soc_max.

    The initial (and final) energy must lie on the grid. `extra_load_kw` adds a fixed deferrable
    profile to the load (it counts as load for the PV-only charging rule). No peak charge.
    """
    assert site.peak_charge_eur_kw == 0, "the DP has no state for the peak"
    levels = np.arange(storage.soc_min_kwh, storage.soc_max_kwh + soc_step_kwh / 2, soc_step_kwh)
    start = int(np.argmin(np.abs(levels - storage.soc_initial_kwh)))
    assert abs(levels[start] - storage.soc_initial_kwh) < 1e-9, "initial SOC must be on the grid"
    demand = site.load_kw + (0 if extra_load_kw is None else extra_load_kw)
    delta = levels[None, :] - levels[:, None]  # [from, to], storage side kWh
    allowed = (delta <= storage.charge_max_kw * site.step_h + 1e-9) & (
        -delta <= storage.discharge_max_kw * site.step_h + 1e-9
    )
    charge_ac = np.where(delta > 0, delta / (storage.eta_c * site.step_h), 0.0)
    discharge_ac = np.where(delta < 0, -delta * storage.eta_d / site.step_h, 0.0)
    wear = storage.degradation_eur_kwh * np.abs(delta)
    value = np.full(levels.size, np.inf)
    value[start] = 0.0
    for t in range(site.n):
        net = demand[t] - site.pv_kw[t] + charge_ac - discharge_ac
        step_cost, _ = _best_curtailment(
            site,
            t,
            net,
            charge_ac=charge_ac,
            discharge_ac=discharge_ac,
            demand_kw=float(demand[t]),
            pv_only_charging=not storage.grid_charging,
            no_export_discharge=not storage.grid_discharge,
        )
        total = value[:, None] + np.where(allowed, step_cost + wear, np.inf)
        value = total.min(axis=0)
    if storage.soc_final_kwh is not None:
        reached = np.abs(levels - storage.soc_final_kwh) <= 1e-9
        if not storage.soc_final_equal:
            reached |= levels >= storage.soc_final_kwh
        value = np.where(reached, value, np.inf)
    best = int(np.argmin(value))
    return Result(cost_eur=float(value[best]), import_kwh=math.nan, peak_import_kw=math.nan)


# --- brute force over deferrable patterns ---------------------------------------------------------


def on_patterns(load: Flexible, n: int, step_h: float) -> list[FloatArray]:
    """Every 0/1 pattern of an on/off load: k on-steps in its window, each run >= min_run steps."""
    k = round(load.energy_kwh / (load.power_kw * step_h))
    patterns = []
    for on_steps in itertools.combinations(range(load.earliest, load.latest), k):
        pattern = np.zeros(n)
        pattern[list(on_steps)] = 1.0
        runs = [len(list(group)) for value, group in itertools.groupby(pattern) if value == 1.0]
        if all(run >= load.min_run for run in runs):
            patterns.append(pattern)
    return patterns


def brute_force_deferrable(site: Site, loads: list[Flexible]) -> Result:
    """Least cost over every combination of on/off patterns, no battery, peak charge included.

    With the peak charge, import prices must be > 0: the per-step choice then never imports more than
    needed, so the step-wise optimum and the peak do not interact.
    """
    assert site.peak_charge_eur_kw == 0 or min(site.import_price) > 0
    per_load = [on_patterns(load, site.n, site.step_h) for load in loads]
    steps = np.arange(site.n)
    no_battery = np.zeros(site.n)
    best = Result(cost_eur=math.inf, import_kwh=math.nan, peak_import_kw=math.nan)
    for combo in itertools.product(*per_load):
        flexible = sum((p * load.power_kw for p, load in zip(combo, loads, strict=True)), np.zeros(site.n))
        demand = site.load_kw + flexible
        step_cost, step_import = _best_curtailment(
            site,
            steps,
            demand - site.pv_kw,
            charge_ac=no_battery,
            discharge_ac=no_battery,
            demand_kw=demand,
            pv_only_charging=False,
            no_export_discharge=False,
        )
        peak = float(step_import.max())
        cost = float(step_cost.sum()) + site.peak_charge_eur_kw * peak
        if cost < best.cost_eur:
            best = Result(
                cost_eur=cost, import_kwh=float(step_import.sum()) * site.step_h, peak_import_kw=peak
            )
    return best


# --- a second MILP, written differently -----------------------------------------------------------


class _Rows:
    """Constraint rows added one by one into a LIL matrix."""

    def __init__(self, n_vars: int) -> None:
        self.n_vars = n_vars
        self.coefs: list[dict[int, float]] = []
        self.lower: list[float] = []
        self.upper: list[float] = []

    def add(self, coefs: dict[int, float], lower: float, upper: float) -> None:
        self.coefs.append(coefs)
        self.lower.append(lower)
        self.upper.append(upper)

    def constraint(self) -> LinearConstraint:
        matrix = sparse.lil_array((len(self.coefs), self.n_vars))
        for i, coefs in enumerate(self.coefs):
            for j, value in coefs.items():
                matrix[i, j] = matrix[i, j] + value
        return LinearConstraint(matrix.tocsr(), self.lower, self.upper)


class _Vars:
    """Named variable blocks with bounds and integrality."""

    def __init__(self) -> None:
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.integer: list[int] = []

    def block(
        self, n: int, lb: float | FloatArray, ub: float | FloatArray, integer: bool = False
    ) -> list[int]:
        first = len(self.lb)
        self.lb += list(np.broadcast_to(lb, (n,)))
        self.ub += list(np.broadcast_to(ub, (n,)))
        self.integer += [1 if integer else 0] * n
        return list(range(first, first + n))


def milp_reference(
    site: Site,
    storages: list[Storage],
    loads: list[Flexible],
    *,
    minimise: Literal["cost", "import", "peak", "export_peak", "final_soc"] = "cost",
    maximise_final_soc_of: int | None = None,
    import_cap_kwh: float | None = None,
    peak_cap_kw: float | None = None,
    time_limit_s: float = 60.0,
) -> Result:
    """Optimum of the same problem from a differently written MILP (see the module docstring).

    `minimise`: "cost" (EUR, incl. peak charge and degradation), "import" (kWh), "peak" (kW) or
    "export_peak" (kW); `maximise_final_soc_of` (a storage index) maximises that storage's final energy
    instead (reported in `extra["final_kwh"]`);
    `import_cap_kwh` / `peak_cap_kw` add caps, for lexicographic checks. Raises RuntimeError when
    HiGHS finds no solution.
    """
    v = _Vars()
    rv = _reference_vars(v, site, storages, loads)
    rows = _Rows(len(v.lb))
    _reference_rows(rows, site, storages, loads, rv)
    dt = site.step_h
    cost = _reference_cost(site, storages, rv, len(v.lb))
    if import_cap_kwh is not None:
        rows.add({j: dt for j in rv.g_in}, -math.inf, import_cap_kwh)
    if peak_cap_kw is not None:
        rows.add({rv.peak: 1.0}, -math.inf, peak_cap_kw)
    objective = np.zeros(len(v.lb))
    export_peak = None
    if maximise_final_soc_of is not None:
        k = maximise_final_soc_of
        objective[rv.e_in[k]] = -1.0
        objective[rv.e_out[k]] = 1.0
    elif minimise == "cost":
        objective = cost
    elif minimise == "import":
        objective[rv.g_in] = dt
    elif minimise == "export_peak":
        v.lb.append(0.0)
        v.ub.append(math.inf)
        v.integer.append(0)
        export_peak = len(v.lb) - 1
        objective = np.zeros(len(v.lb))
        rows.n_vars = len(v.lb)
        for j in rv.g_out:
            rows.add({j: 1.0, export_peak: -1.0}, -math.inf, 0.0)
        objective[export_peak] = 1.0
    else:
        objective[rv.peak] = 1.0
    result = milp(
        objective,
        integrality=np.array(v.integer),
        bounds=Bounds(v.lb, v.ub),
        constraints=rows.constraint(),
        options={"mip_rel_gap": 1e-7, "time_limit": time_limit_s},
    )
    if result.x is None:
        raise RuntimeError(f"reference MILP: {result.message}")
    x = result.x
    extra = {"status": float(result.status)}
    if maximise_final_soc_of is not None:
        k = maximise_final_soc_of
        extra["final_kwh"] = storages[k].soc_initial_kwh + float(x[rv.e_in[k]].sum() - x[rv.e_out[k]].sum())
    if export_peak is not None:
        extra["export_peak_kw"] = float(x[export_peak])
    return Result(
        cost_eur=float(cost @ x[: cost.size]),
        import_kwh=float(x[rv.g_in].sum() * dt),
        peak_import_kw=float(x[rv.peak]),
        extra=extra,
    )


def _reference_vars(v: _Vars, site: Site, storages: list[Storage], loads: list[Flexible]) -> _RefVars:
    n, dt = site.n, site.step_h
    steps = np.arange(n)
    flex_power = sum(
        (np.where((steps >= f.earliest) & (steps < f.latest), f.power_kw, 0.0) for f in loads), np.zeros(n)
    )
    charge_ac_max = sum(s.charge_max_kw / s.eta_c for s in storages)
    m_import = np.minimum(site.load_kw + flex_power + charge_ac_max + site.pv_kw, site.import_max_kw)
    m_export = np.minimum(
        site.pv_kw + sum(s.discharge_max_kw * s.eta_d for s in storages), site.export_max_kw
    )
    return _RefVars(
        g_in=v.block(n, 0.0, m_import),
        g_out=v.block(n, 0.0, m_export),
        curt=v.block(n, 0.0, site.pv_kw if site.curtailment_allowed else 0.0),
        exporting=v.block(n, 0.0, 1.0, integer=True),
        peak=v.block(1, 0.0, math.inf)[0],
        e_in=[v.block(n, 0.0, s.charge_max_kw * dt) for s in storages],
        e_out=[v.block(n, 0.0, s.discharge_max_kw * dt) for s in storages],
        mode=[v.block(n, 0.0, 1.0, integer=True) for _ in storages],
        pv_mode=v.block(n, 0.0, 1.0, integer=True),
        flex=[_flexible_vars(v, f, n) for f in loads],
        m_import=m_import,
        m_export=m_export,
    )


def _reference_cost(site: Site, storages: list[Storage], rv: _RefVars, n_vars: int) -> FloatArray:
    """EUR per unit of each variable: energy, peak charge, degradation on storage-side kWh."""
    cost = np.zeros(n_vars)
    cost[rv.g_in] = site.import_price * site.step_h
    cost[rv.g_out] = -site.export_price * site.step_h
    cost[rv.peak] = site.peak_charge_eur_kw
    for s, ins, outs in zip(storages, rv.e_in, rv.e_out, strict=True):
        cost[ins + outs] = s.degradation_eur_kwh
    return cost


@dataclass(frozen=True)
class _FlexVars:
    power: list[int]  # kW (continuous) or on binary (on/off, times power_kw)
    start: list[int]
    stop: list[int]


def _flexible_vars(v: _Vars, f: Flexible, n: int) -> _FlexVars:
    window = np.where((np.arange(n) >= f.earliest) & (np.arange(n) < f.latest), 1.0, 0.0)
    if not f.on_off:
        return _FlexVars(v.block(n, 0.0, window * f.power_kw), [], [])
    on = v.block(n, 0.0, window, integer=True)
    if f.min_run == 1:
        return _FlexVars(on, [], [])
    return _FlexVars(on, v.block(n, 0.0, 1.0, integer=True), v.block(n, 0.0, 1.0, integer=True))


@dataclass(frozen=True)
class _RefVars:
    g_in: list[int]  # import kW
    g_out: list[int]  # export kW
    curt: list[int]
    exporting: list[int]  # binary: 1 = export side
    peak: int
    e_in: list[list[int]]  # storage-side kWh into the cells per step, per battery
    e_out: list[list[int]]  # storage-side kWh out of the cells
    mode: list[list[int]]  # binary: 1 = charging
    pv_mode: list[int]  # binary shared by PV-only batteries: 1 = they may charge (from surplus)
    flex: list[_FlexVars]
    m_import: FloatArray  # tight big-M per step
    m_export: FloatArray


def _reference_rows(
    rows: _Rows, site: Site, storages: list[Storage], loads: list[Flexible], rv: _RefVars
) -> None:
    n, dt = site.n, site.step_h
    g_in, g_out, curt, exporting, peak = rv.g_in, rv.g_out, rv.curt, rv.exporting, rv.peak
    e_in, e_out, mode, pv_mode, flex = rv.e_in, rv.e_out, rv.mode, rv.pv_mode, rv.flex
    for t in range(n):
        big_in, big_out = float(rv.m_import[t]), float(rv.m_export[t])
        big_pv = float(site.load_kw[t]) + sum(f.power_kw for f in loads)
        # balance in kWh: grid and curtailment, battery AC energies, deferrable energy
        balance = {g_in[t]: dt, g_out[t]: -dt, curt[t]: -dt}
        for s, ins, outs in zip(storages, e_in, e_out, strict=True):
            balance[outs[t]] = s.eta_d
            balance[ins[t]] = -1.0 / s.eta_c
        for f, fv in zip(loads, flex, strict=True):
            balance[fv.power[t]] = balance.get(fv.power[t], 0.0) - (f.power_kw if f.on_off else 1.0) * dt
        rhs = float(site.load_kw[t] - site.pv_kw[t]) * dt
        rows.add(balance, rhs, rhs)
        rows.add({g_in[t]: 1.0, exporting[t]: big_in}, -math.inf, big_in)  # import only when not exporting
        rows.add({g_out[t]: 1.0, exporting[t]: -big_out}, -math.inf, 0.0)
        rows.add({g_in[t]: 1.0, peak: -1.0}, -math.inf, 0.0)
        for s, ins, outs, m in zip(storages, e_in, e_out, mode, strict=True):
            rows.add({ins[t]: 1.0, m[t]: -s.charge_max_kw * dt}, -math.inf, 0.0)
            rows.add({outs[t]: 1.0, m[t]: s.discharge_max_kw * dt}, -math.inf, s.discharge_max_kw * dt)
            if not s.grid_discharge:
                rows.add(
                    {outs[t]: 1.0, exporting[t]: s.discharge_max_kw * dt}, -math.inf, s.discharge_max_kw * dt
                )
            if not s.grid_charging:
                rows.add({ins[t]: 1.0, pv_mode[t]: -s.charge_max_kw * dt}, -math.inf, 0.0)
        pv_only = [(s, ins) for s, ins in zip(storages, e_in, strict=True) if not s.grid_charging]
        if pv_only:
            # in PV mode: AC charge of the PV-only batteries <= pv - curtailment - load - deferrable
            surplus = {curt[t]: 1.0, pv_mode[t]: big_pv}
            for s, ins in pv_only:
                surplus[ins[t]] = 1.0 / (s.eta_c * dt)
            for f, fv in zip(loads, flex, strict=True):
                surplus[fv.power[t]] = f.power_kw if f.on_off else 1.0
            rows.add(surplus, -math.inf, float(site.pv_kw[t] - site.load_kw[t]) + big_pv)
    for s, ins, outs in zip(storages, e_in, e_out, strict=True):
        for t in range(n):  # SOC at the end of step t as a cumulative sum
            cumulative = {ins[k]: 1.0 for k in range(t + 1)} | {outs[k]: -1.0 for k in range(t + 1)}
            low = (
                s.soc_min_kwh if t < n - 1 or s.soc_final_kwh is None else max(s.soc_min_kwh, s.soc_final_kwh)
            )
            exact = t == n - 1 and s.soc_final_equal and s.soc_final_kwh is not None
            high = low if exact else s.soc_max_kwh
            rows.add(cumulative, low - s.soc_initial_kwh, high - s.soc_initial_kwh)
    for f, fv in zip(loads, flex, strict=True):
        _flexible_rows(rows, f, fv, n, dt)


def _flexible_rows(rows: _Rows, f: Flexible, fv: _FlexVars, n: int, dt: float) -> None:
    scale = f.power_kw if f.on_off else 1.0
    rows.add({j: scale * dt for j in fv.power}, f.energy_kwh, f.energy_kwh)
    if not fv.start:
        return
    on, start, stop = fv.power, fv.start, fv.stop
    for t in range(n):
        transition = {on[t]: 1.0, start[t]: -1.0, stop[t]: 1.0}
        if t > 0:
            transition[on[t - 1]] = -1.0
        rows.add(transition, 0.0, 0.0)  # on[t] - on[t-1] = start[t] - stop[t]
        rows.add({start[t]: 1.0, stop[t]: 1.0}, -math.inf, 1.0)
        for tau in range(t, t + f.min_run):  # disaggregated minimum up time: start[t] <= on[tau]
            if tau >= n:
                rows.add({start[t]: 1.0}, 0.0, 0.0)
            else:
                rows.add({start[t]: 1.0, on[tau]: -1.0}, -math.inf, 0.0)
