"""The optimiser's MILP: variables, bounds and constraint rows for `scipy.optimize.milp` (HiGHS).

Split from `optimizer.py`, which owns the problem and schedule types, the objectives, solving and the
results; the model itself (what each variable and row means) is documented in `optimizer`'s module
docstring. Everything here only builds arrays; nothing is solved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import numpy.typing as npt
from scipy import sparse

if TYPE_CHECKING:
    from luna_iems.decisions.optimizer import Battery, DeferrableLoad, Problem

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.intp]

EXCLUSION_THRESHOLD = 1e-7  # kW: a flow at or below this counts as zero when rounding the binaries


class Lp:
    """A sparse MILP under construction: variables in blocks, constraint rows as COO triplets."""

    def __init__(self) -> None:
        self.n_vars = 0
        self.n_rows = 0
        self._lb: list[FloatArray] = []
        self._ub: list[FloatArray] = []
        self._integer: list[FloatArray] = []
        self._rows: list[IntArray] = []
        self._cols: list[IntArray] = []
        self._vals: list[FloatArray] = []
        self._row_lb: list[FloatArray] = []
        self._row_ub: list[FloatArray] = []

    def var(
        self, size: int, *, lb: float | FloatArray, ub: float | FloatArray, binary: bool = False
    ) -> IntArray:
        """`size` new variables with bounds (scalars or one per variable); their indices."""
        self._lb.append(np.broadcast_to(np.asarray(lb, dtype=np.float64), (size,)).copy())
        self._ub.append(np.broadcast_to(np.asarray(ub, dtype=np.float64), (size,)).copy())
        self._integer.append(np.full(size, 1.0 if binary else 0.0))
        index = np.arange(self.n_vars, self.n_vars + size, dtype=np.intp)
        self.n_vars += size
        return index

    def entries(
        self, rows: IntArray, cols: IntArray, vals: FloatArray, *, lb: FloatArray, ub: FloatArray
    ) -> None:
        """Add len(lb) rows; `rows` are row numbers local to this block (0..len(lb)-1)."""
        self._rows.append(rows + self.n_rows)
        self._cols.append(cols)
        self._vals.append(vals)
        self._row_lb.append(lb)
        self._row_ub.append(ub)
        self.n_rows += lb.size

    def rows(
        self,
        terms: Sequence[tuple[IntArray, float | FloatArray]],
        *,
        lb: float | FloatArray,
        ub: float | FloatArray,
    ) -> None:
        """Row i = Σ over terms of coef[i] · x[idx[i]], for i in range(len(idx)); lb ≤ row ≤ ub."""
        m = terms[0][0].size
        local = np.arange(m, dtype=np.intp)
        rows = np.concatenate([local for _ in terms])
        cols = np.concatenate([idx for idx, _ in terms])
        vals = np.concatenate([np.broadcast_to(np.asarray(c, dtype=np.float64), (m,)) for _, c in terms])
        self.entries(rows, cols, vals, lb=_full(lb, m), ub=_full(ub, m))

    def sum_row(self, cols: IntArray, vals: FloatArray, *, lb: float, ub: float) -> None:
        """One row Σ vals · x[cols] within [lb, ub]."""
        self.entries(np.zeros(cols.size, dtype=np.intp), cols, vals, lb=_full(lb, 1), ub=_full(ub, 1))

    def arrays(self) -> tuple[FloatArray, FloatArray, FloatArray, sparse.csr_array, FloatArray, FloatArray]:
        """(lb, ub, integrality, A, row_lb, row_ub), ready for `scipy.optimize.milp`."""
        matrix = sparse.csr_array(
            (np.concatenate(self._vals), (np.concatenate(self._rows), np.concatenate(self._cols))),
            shape=(self.n_rows, self.n_vars),
        )
        cat = np.concatenate
        return cat(self._lb), cat(self._ub), cat(self._integer), matrix, cat(self._row_lb), cat(self._row_ub)


def _full(value: float | FloatArray, size: int) -> FloatArray:
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (size,)).copy()


@dataclass(frozen=True)
class BatteryVars:
    charge: IntArray  # AC side, kW
    discharge: IntArray  # AC side, kW
    soc: IntArray  # kWh at the end of each step
    charging: IntArray  # binary: 1 = may charge, 0 = may discharge


@dataclass(frozen=True)
class LoadVars:
    power: IntArray  # deferrable kW = coef · x[power]
    coef: float  # power_kw for on/off loads (x is the on binary), 1 for continuous loads
    start: IntArray | None  # start binaries when min_run_steps > 1


@dataclass(frozen=True)
class Model:
    lp: Lp
    imp: IntArray
    exp: IntArray
    curt: IntArray
    importing: IntArray  # binary: 1 = may import, 0 = may export
    steps: int
    batteries: tuple[BatteryVars, ...]
    loads: tuple[LoadVars, ...]
    peak: IntArray  # one variable ≥ every import (empty when unused)
    peak_export: IntArray  # one variable ≥ every export (diagnosis only)

    @property
    def exclusions(self) -> IntArray:
        """The exclusion binaries, step-major per block: `importing`, then each battery's `charging`."""
        return np.concatenate([self.importing, *(b.charging for b in self.batteries)]).astype(np.intp)

    def round_exclusions(self, x: FloatArray) -> FloatArray:
        """`x` with every exclusion binary set to the most permissive 0/1 value for its rows: charging
        = 1 iff the battery charges (then the charge row needs it; otherwise 0 voids the PV-only row and
        frees discharge), importing = 0 iff the site exports (otherwise 1 frees import and discharge)."""
        rounded = x.copy()
        rounded[self.importing] = np.where(x[self.exp] > EXCLUSION_THRESHOLD, 0.0, 1.0)
        for battery in self.batteries:
            rounded[battery.charging] = np.where(x[battery.charge] > EXCLUSION_THRESHOLD, 1.0, 0.0)
        return rounded


@dataclass(frozen=True)
class Options:
    """Model variants for the diagnosis probes."""

    energy_at_most: frozenset[str] = frozenset()  # these loads may deliver less than energy_kwh
    peak: bool = False
    peak_export: bool = False


def build(problem: Problem, options: Options = Options()) -> Model:
    lp = Lp()
    n = problem.steps
    pv, load = np.asarray(problem.pv_kw), np.asarray(problem.load_kw)
    loads = tuple(
        _add_load(lp, problem, d, d.name in options.energy_at_most) for d in problem.deferrable_loads
    )
    batteries = tuple(_add_battery(lp, problem, b) for b in problem.batteries)
    flexible_max = sum((_window(d, n) * d.power_kw for d in problem.deferrable_loads), np.zeros(n))
    charge_max = sum(b.charge_ac_max_kw for b in problem.batteries)
    discharge_max = sum(b.discharge_ac_max_kw for b in problem.batteries)
    # Tight big-M: the most import (or export) any schedule can need; curtailing PV to import more pays
    # at negative import prices, hence + pv in the import bound.
    imp_ub = load + flexible_max + charge_max + pv
    exp_ub = pv + discharge_max
    if problem.grid_import_max_kw is not None:
        imp_ub = np.minimum(imp_ub, problem.grid_import_max_kw)
    if problem.grid_export_max_kw is not None:
        exp_ub = np.minimum(exp_ub, problem.grid_export_max_kw)
    imp = lp.var(n, lb=0.0, ub=imp_ub)
    exp = lp.var(n, lb=0.0, ub=exp_ub)
    curt = lp.var(n, lb=0.0, ub=pv if problem.curtailment_allowed else 0.0)
    importing = lp.var(n, lb=0.0, ub=1.0, binary=True)
    lp.rows([(imp, 1.0), (importing, -imp_ub)], lb=-np.inf, ub=0.0)
    lp.rows([(exp, 1.0), (importing, exp_ub)], lb=-np.inf, ub=exp_ub)
    # The billing period's peak so far is a floor for the charged peak (not for the diagnosis probe).
    floor = 0.0 if options.peak else problem.peak_floor_kw
    peak = lp.var(1 if options.peak or _needs_peak(problem) else 0, lb=floor, ub=np.inf)
    if peak.size:
        lp.rows([(imp, 1.0), (np.repeat(peak, n), -1.0)], lb=-np.inf, ub=0.0)
    peak_export = lp.var(1 if options.peak_export else 0, lb=0.0, ub=np.inf)
    if peak_export.size:
        lp.rows([(exp, 1.0), (np.repeat(peak_export, n), -1.0)], lb=-np.inf, ub=0.0)
    model = Model(lp, imp, exp, curt, importing, n, batteries, loads, peak, peak_export)
    _add_balance(problem, model)
    _add_grid_rules(problem, model, flexible_max)
    return model


def _needs_peak(problem: Problem) -> bool:
    return problem.objective == "peak" or problem.peak_charge_eur_kw > 0


def _window(load: DeferrableLoad, n: int) -> FloatArray:
    mask = np.zeros(n)
    mask[load.earliest_step : load.latest_step] = 1.0
    return mask


def _add_battery(lp: Lp, problem: Problem, battery: Battery) -> BatteryVars:
    n, dt = problem.steps, problem.step_h
    c_max, d_max = battery.charge_ac_max_kw, battery.discharge_ac_max_kw
    charge_ub = np.full(n, c_max)
    if not battery.grid_charging:
        # in charge mode it takes at most the PV surplus over the load, otherwise nothing: a valid
        # bound that keeps the relaxation of the lazy binaries (`solving`) close to the MILP
        surplus = np.asarray(problem.pv_kw) - np.asarray(problem.load_kw)
        charge_ub = np.clip(surplus, 0.0, c_max)
    charge = lp.var(n, lb=0.0, ub=charge_ub)
    discharge = lp.var(n, lb=0.0, ub=d_max)
    soc_lb = np.full(n, battery.soc_min_kwh)
    soc_ub = np.full(n, battery.soc_max_kwh)
    if battery.soc_final_kwh is not None:
        soc_lb[-1] = battery.soc_final_kwh
        if battery.soc_final_mode == "equal":
            soc_ub[-1] = battery.soc_final_kwh
    soc = lp.var(n, lb=soc_lb, ub=soc_ub)
    charging = lp.var(n, lb=0.0, ub=1.0, binary=True)
    lp.rows([(charge, 1.0), (charging, -c_max)], lb=-np.inf, ub=0.0)
    lp.rows([(discharge, 1.0), (charging, d_max)], lb=-np.inf, ub=d_max)
    # soc[t] - soc[t-1] - η_c·dt·charge[t] + dt/η_d·discharge[t] = 0, with soc[-1] the initial energy
    local = np.arange(n, dtype=np.intp)
    rows = np.concatenate([local, local, local, local[1:]])
    cols = np.concatenate([soc, charge, discharge, soc[:-1]])
    vals = np.concatenate(
        [
            np.ones(n),
            np.full(n, -battery.charge_efficiency * dt),
            np.full(n, dt / battery.discharge_efficiency),
            -np.ones(n - 1),
        ]
    )
    rhs = np.zeros(n)
    rhs[0] = battery.soc_initial_kwh
    lp.entries(rows, cols, vals, lb=rhs, ub=rhs.copy())
    return BatteryVars(charge, discharge, soc, charging)


def _add_load(lp: Lp, problem: Problem, load: DeferrableLoad, energy_at_most: bool) -> LoadVars:
    n, dt = problem.steps, problem.step_h
    window = _window(load, n)
    if not load.on_off:
        power = lp.var(n, lb=0.0, ub=window * load.power_kw)
        coef = 1.0
    else:
        power = lp.var(n, lb=0.0, ub=window, binary=True)
        coef = load.power_kw
    lower = 0.0 if energy_at_most else load.energy_kwh
    lp.sum_row(power, np.full(n, coef * dt), lb=lower, ub=load.energy_kwh)
    start = None
    if load.on_off and load.min_run_steps > 1:
        start = _add_min_run(lp, power, window, load.min_run_steps)
    return LoadVars(power, coef, start)


def _add_min_run(lp: Lp, on: IntArray, window: FloatArray, min_run: int) -> IntArray:
    """Start binaries and minimum-up-time rows: a start at t keeps the load on through t + min_run - 1.

    start[t] ≥ on[t] - on[t-1]; start[t] ≤ on[t]; start[t] ≤ 1 - on[t-1] (the last two tighten the LP
    relaxation); Σ_{τ = t-min_run+1..t} start[τ] ≤ on[t]. Starts later than min_run steps before the
    window's end are fixed to 0: those rows would stop the run at a window end inside the horizon
    (where `on` is 0), but not at the horizon's end, which has no step after it.
    """
    n = on.size
    last_start = int(np.flatnonzero(window)[-1]) - min_run + 1
    start_ub = window.copy()
    start_ub[max(last_start + 1, 0) :] = 0.0
    start = lp.var(n, lb=0.0, ub=start_ub, binary=True)
    previous_on = np.concatenate([on[:1], on[:-1]])
    first = np.zeros(n)
    first[0] = 1.0  # at t = 0 there is no previous step: the "previous_on" term gets coefficient 0
    lp.rows([(start, 1.0), (on, -1.0), (previous_on, 1.0 - first)], lb=0.0, ub=np.inf)
    lp.rows([(start, 1.0), (on, -1.0)], lb=-np.inf, ub=0.0)
    lp.rows([(start, 1.0), (previous_on, 1.0 - first)], lb=-np.inf, ub=1.0)
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    for lag in range(min_run):
        t = np.arange(lag, n, dtype=np.intp)
        rows.append(t)
        cols.append(start[t - lag])
    vals = np.ones(sum(r.size for r in rows))
    local = np.arange(n, dtype=np.intp)
    lp.entries(
        np.concatenate([*rows, local]),
        np.concatenate([*cols, on]),
        np.concatenate([vals, -np.ones(n)]),
        lb=np.full(n, -np.inf),
        ub=np.zeros(n),
    )
    return start


def _add_balance(problem: Problem, model: Model) -> None:
    """imp - exp - curt + Σ discharge - Σ charge - Σ deferrable = load - pv, per step."""
    terms: list[tuple[IntArray, float | FloatArray]] = [
        (model.imp, 1.0),
        (model.exp, -1.0),
        (model.curt, -1.0),
    ]
    for battery in model.batteries:
        terms += [(battery.discharge, 1.0), (battery.charge, -1.0)]
    terms += [(load.power, -load.coef) for load in model.loads]
    rhs = np.asarray(problem.load_kw) - np.asarray(problem.pv_kw)
    model.lp.rows(terms, lb=rhs, ub=rhs.copy())


def _add_grid_rules(problem: Problem, model: Model, flexible_max: FloatArray) -> None:
    """`grid_charging=False` and `grid_discharge=False` (see the module docstring)."""
    pv, load = np.asarray(problem.pv_kw), np.asarray(problem.load_kw)
    pv_only = [(b, v) for b, v in zip(problem.batteries, model.batteries, strict=True) if not b.grid_charging]
    if pv_only:
        # For each such battery b: Σ_pv_only charge + curt + Σ deferrable ≤ pv - load + M·(1 - charging_b),
        # M the largest the left side minus (pv - load) can be, so the row is void in discharge mode.
        big_m = load + flexible_max + sum(b.charge_ac_max_kw for b, _ in pv_only)
        base: list[tuple[IntArray, float | FloatArray]] = [(v.charge, 1.0) for _, v in pv_only]
        base += [(model.curt, 1.0)] + [(d.power, d.coef) for d in model.loads]
        for _, variables in pv_only:
            model.lp.rows([*base, (variables.charging, big_m)], lb=-np.inf, ub=pv - load + big_m)
    for battery, variables in zip(problem.batteries, model.batteries, strict=True):
        if not battery.grid_discharge:
            # discharge only while importing is allowed, i.e. in steps without export
            cap = battery.discharge_ac_max_kw
            model.lp.rows([(variables.discharge, 1.0), (model.importing, -cap)], lb=-np.inf, ub=0.0)
