"""Solving the optimiser's MILP with HiGHS: lazy exclusion binaries, limits and honest statuses.

Lazy binaries
-------------
The full model (`milp_model.build`) has, per step, one binary per battery that forbids charging and
discharging at once and one that forbids importing and exporting at once. Most of them never matter:
at positive prices an LP has no reason to burn energy through battery losses or to buy and sell in
the same step. `solve_lazy` therefore solves a *relaxation* of the full MILP in which these
exclusion binaries are kept (integer) only at selected steps; elsewhere they are dropped together
with the rows they enter (deferrable on/off and start binaries always stay integer):

1. Enforce them where a violation can pay (`initial_exclusions`): a negative import or export price
   for the battery binaries, an export price above the import price for the grid one, and where a
   grid rule is written with them (PV-only charging where PV exceeds the load; no-export batteries
   wherever the site may export). With on/off deferrable loads all are enforced from the start: HiGHS
   was measured faster on the full model there (its presolve and cuts use them).
2. Solve. Complete the solution by the only sensible rounding of every exclusion binary
   (`milp_model.Model.round_exclusions`: "charging" = 1 iff the battery charges, "importing" = 0 iff
   the site exports; for the rows the binaries enter, that rounding is the most permissive choice, so
   if it fails, every 0/1 choice fails).
3. If every row holds with the rounded binaries, stop. Otherwise enforce every exclusion binary of
   the steps with a violated row and go to 2. Each round enforces at least one more binary, so it
   ends; after `MAX_LAZY_ROUNDS` rounds all the rest are enforced at once (the full MILP), which
   bounds the cost of an unlucky sequence at a few cheap relaxations plus the full model.

Why the answer is exact: every solve in the loop is a relaxation of the full MILP (same objective, a
subset of its rows and variables: every feasible point of the full MILP, restricted to the kept
variables, satisfies the kept rows), so its optimum is a lower bound on the full MILP's optimum.
The accepted solution, completed by the rounding, satisfies every row of the full MILP with integral
binaries, i.e. it is feasible for it, and its objective does not change (the exclusion binaries have
no cost). A feasible point whose
objective equals a lower bound is optimal. The same holds for the HiGHS gap: the last relaxation's
dual bound is a valid bound for the full MILP, so its gap is the gap of the answer. Infeasibility of
a relaxation proves infeasibility of the full MILP. (In floating point "satisfies" means within
`ROW_TOLERANCE`, ten times HiGHS' own feasibility tolerance; a flow up to `EXCLUSION_THRESHOLD` kW
counts as zero when rounding.)

Limits and statuses
-------------------
A result must not depend on the wall clock unless the clock stopped the solver, and then it says so:
"optimal" (HiGHS proved optimality to `MIP_REL_GAP`), "node_limit" (stopped by the deterministic
branch-and-bound node limit: reproducible, gap reported), "time_limit" (stopped by the time limit:
not reproducible, gap reported). A limit status always carries the best bound.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

if TYPE_CHECKING:
    from luna_iems.decisions import milp_model
    from luna_iems.decisions.optimizer import Problem

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
IntArray: TypeAlias = npt.NDArray[np.intp]
# (lb, ub, integrality, A, row_lb, row_ub), as `milp_model.Lp.arrays` returns them
Arrays: TypeAlias = tuple[FloatArray, FloatArray, FloatArray, sparse.csr_array, FloatArray, FloatArray]
Status: TypeAlias = Literal["optimal", "time_limit", "node_limit", "infeasible"]

MIP_REL_GAP = 1e-6  # HiGHS' default 1e-4 leaves up to 0.01 % on the table; these models close fast
ROW_TOLERANCE = 1e-6  # kW / kWh: a row violated by less is solver noise (HiGHS' feasibility tol is 1e-7)
MAX_LAZY_ROUNDS = 3  # relaxed solves before every remaining exclusion binary is enforced
MIN_TIME_LIMIT_S = 0.05  # HiGHS needs a positive time limit; a spent budget still gets one short try


class SolverError(RuntimeError):
    """HiGHS stopped without a schedule (a limit before a first feasible schedule, or an error)."""


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Budget of one `solve`: a wall-clock deadline (`time.perf_counter()` seconds) shared by all
    solves, and a deterministic branch-and-bound node limit per HiGHS call (None: no node limit)."""

    deadline: float
    node_limit: int | None = None

    def remaining_s(self) -> float:
        return max(self.deadline - time.perf_counter(), MIN_TIME_LIMIT_S)


@dataclass(frozen=True)
class Outcome:
    """One (possibly lazy) solve: status, solution, objective value and HiGHS' best bound on it.

    `mip_gap` is (fun - bound) / |fun| as HiGHS reports it (None when unknown). `solves` counts HiGHS
    calls; `enforced` is the number of exclusion binaries that were integer in the last one.
    """

    status: Status
    x: FloatArray | None
    fun: float
    bound: float
    mip_gap: float | None
    solves: int = 1
    enforced: int = 0


def run_milp(
    arrays: Arrays,
    c: FloatArray,
    *,
    limits: Limits,
    integrality: FloatArray | None = None,
    fixed: FloatArray | None = None,
) -> Outcome:
    """One HiGHS call: min c·x over the model `arrays` (see `milp_model.Lp.arrays`).

    `integrality` overrides the model's; with `fixed`, every integer variable is fixed to its rounded
    value in `fixed` and only the LP is solved. Raises SolverError for anything but a solution,
    infeasibility or a limit.
    """
    lb, ub, model_integrality, matrix, row_lb, row_ub = arrays
    lb, ub = lb.copy(), ub.copy()
    integer = model_integrality if integrality is None else integrality
    if fixed is not None:
        mask = model_integrality > 0
        lb[mask] = ub[mask] = np.round(fixed[mask])
        integer = np.zeros_like(model_integrality)
    options: dict[str, float | int | bool] = {"time_limit": limits.remaining_s()}
    if not integer.any():
        # a pure LP (a clean first relaxation, a polish): HiGHS' presolve costs more than it saves at
        # these sizes (measured 6.6 -> 4.2 ms on 96 steps, 18 -> 12 ms on 288; same optimum)
        options["presolve"] = False
    else:
        options["mip_rel_gap"] = MIP_REL_GAP
        if limits.node_limit is not None:
            options["node_limit"] = limits.node_limit
    result = milp(
        c,
        integrality=integer,
        bounds=Bounds(lb, ub),
        constraints=LinearConstraint(matrix, row_lb, row_ub),
        options=options,
    )
    x = None if result.x is None else np.asarray(result.x, dtype=np.float64)
    fun = math.nan if x is None else float(result.fun)
    bound = _finite(getattr(result, "mip_dual_bound", None))
    gap = _finite(getattr(result, "mip_gap", None))
    if result.status == 0:
        return Outcome(
            "optimal", x, fun, fun if math.isnan(bound) else bound, 0.0 if math.isnan(gap) else gap
        )
    if result.status == 2:
        return Outcome("infeasible", None, math.nan, math.nan, None)
    message = str(result.message)
    # scipy maps HiGHS' "solution limit" (its node limit, model status 16) to status 4, the time limit
    # to status 1
    if result.status == 1 and "Time limit" in message:
        status: Status = "time_limit"
    elif "Solution limit" in message or "Iteration limit" in message:
        status = "node_limit"
    else:
        raise SolverError(f"HiGHS failed (status {result.status}): {message}")
    return Outcome(status, x, fun, bound, None if math.isnan(gap) else gap)


def _finite(value: object) -> float:
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return math.nan


def initial_exclusions(problem: Problem, model: milp_model.Model) -> BoolArray:
    """Exclusion binaries to enforce from the start (mask over `model.exclusions`): all of them when
    the problem has on/off deferrable loads (see below), else those at steps where the prices make a
    violation pay. Battery binaries: a negative import price (burning energy
    in losses earns money) or a negative export price (losses dump a surplus that costs money to
    export). Grid binary: an export price above the import price (buying and selling at once pays)."""
    if any(d.on_off for d in problem.deferrable_loads):
        # Measured: with on/off loads the branch-and-bound over them dominates, and HiGHS closes it
        # faster on the full model (its presolve and cuts use the exclusion binaries) than on the
        # relaxation (24 hourly steps, two batteries, two loads: 1.5 s full vs 4.6 s relaxed).
        return np.ones(model.exclusions.size, dtype=bool)
    imp = np.asarray(problem.import_price_eur_kwh)
    exp = np.asarray(problem.export_price_eur_kwh)
    surplus = np.asarray(problem.pv_kw) > np.asarray(problem.load_kw)
    burn = (imp < 0) | (exp < 0)
    # The grid rules are written with these binaries. A PV-only battery could charge from the grid
    # where PV exceeds the load (elsewhere its charge bound is 0). A no-export battery could discharge
    # while the site exports: where PV exceeds the load, or anywhere another battery may export.
    no_export = any(not b.grid_discharge for b in problem.batteries)
    exporter = any(b.grid_discharge for b in problem.batteries)
    parts = [(exp > imp) | (no_export & (surplus | exporter))]
    parts += [burn | (surplus & (not b.grid_charging)) for b in problem.batteries]
    return np.concatenate(parts)


def solve_lazy(
    model: milp_model.Model,
    arrays: Arrays,
    c: FloatArray,
    *,
    enforced: BoolArray,
    limits: Limits,
) -> tuple[Outcome, BoolArray]:
    """The optimum of min c·x over the full MILP, by the lazy scheme in the module docstring.

    `enforced` (mask over `model.exclusions`) is where to start; the returned mask is where it ended
    (pass it on to a later stage of the same model). The returned solution has every exclusion binary
    rounded (integral); its continuous values are those HiGHS returned.
    """
    matrix, row_lb, row_ub = arrays[3:]
    exclusions = model.exclusions
    csc = matrix.tocsc()
    # per exclusion binary, the rows it enters (each big-M or rule row holds exactly one of them)
    rows_of = csc[:, exclusions]
    watched = np.unique(rows_of.tocoo().row).astype(np.intp)
    enforced = enforced.copy()
    solves = 0
    while True:
        outcome = _solve_reduced(arrays, c, exclusions, rows_of, enforced=enforced, limits=limits)
        solves += 1
        if outcome.x is None:
            return replace(outcome, solves=solves, enforced=int(enforced.sum())), enforced
        x = model.round_exclusions(outcome.x)
        violated = _violated_exclusions(
            matrix, x, row_lb=row_lb, row_ub=row_ub, watched=watched, exclusions=exclusions
        )
        violated &= ~enforced
        if not violated.any():
            return replace(outcome, x=x, solves=solves, enforced=int(enforced.sum())), enforced
        if solves >= MAX_LAZY_ROUNDS:
            enforced[:] = True  # the next solve is the full MILP: the loop ends there at the latest
        else:
            # every exclusion binary of a violated step: its neighbours in the same step tend to follow
            steps = np.unique(np.flatnonzero(violated) % model.steps)
            blocks = exclusions.size // model.steps
            enforced[(steps[None, :] + model.steps * np.arange(blocks)[:, None]).ravel()] = True


def _solve_reduced(
    arrays: Arrays,
    c: FloatArray,
    exclusions: IntArray,
    rows_of: sparse.csc_array,
    *,
    enforced: BoolArray,
    limits: Limits,
) -> Outcome:
    """One relaxation: the model without the relaxed exclusion binaries and without the rows they
    enter (a relaxation too, and a smaller one: a relaxed binary in [0, 1] only adds the cut
    charge/c_max + discharge/d_max <= 1, which the check after the solve makes redundant). The
    solution is mapped back to the full model's columns, the dropped binaries at 0 (rounded later)."""
    lb, ub, integrality, matrix, row_lb, row_ub = arrays
    keep_cols = np.ones(c.size, dtype=bool)
    keep_cols[exclusions[~enforced]] = False
    keep_rows = np.ones(matrix.shape[0], dtype=bool)
    keep_rows[rows_of[:, ~enforced].tocoo().row] = False
    if keep_cols.all():
        return run_milp(arrays, c, limits=limits)
    reduced: Arrays = (
        lb[keep_cols],
        ub[keep_cols],
        integrality[keep_cols],
        sparse.csr_array(matrix[keep_rows][:, keep_cols]),
        row_lb[keep_rows],
        row_ub[keep_rows],
    )
    outcome = run_milp(reduced, c[keep_cols], limits=limits)
    if outcome.x is None:
        return outcome
    x = np.zeros(c.size)
    x[keep_cols] = outcome.x
    return replace(outcome, x=x)


def _violated_exclusions(
    matrix: sparse.csr_array,
    x: FloatArray,
    *,
    row_lb: FloatArray,
    row_ub: FloatArray,
    watched: IntArray,
    exclusions: IntArray,
) -> BoolArray:
    """Mask over `exclusions`: the binaries that appear in a watched row violated by `x` (beyond
    ROW_TOLERANCE, relative to the row's bound when that is larger than 1)."""
    sub = matrix[watched]
    values = sub @ x
    lo, hi = row_lb[watched], row_ub[watched]
    scale = 1.0 + np.maximum(
        np.abs(np.where(np.isfinite(lo), lo, 0.0)), np.abs(np.where(np.isfinite(hi), hi, 0.0))
    )
    bad = (values < lo - ROW_TOLERANCE * scale) | (values > hi + ROW_TOLERANCE * scale)
    if not bad.any():
        return np.zeros(exclusions.size, dtype=bool)
    columns = np.unique(sub[np.flatnonzero(bad)].tocoo().col)
    return np.isin(exclusions, columns)


def needs_polish(model: milp_model.Model, arrays_integrality: FloatArray, x: FloatArray) -> bool:
    """True when the accepted solution is not already clean to the last digit: an integer variable off
    its integer by more than 1e-9, or a battery (grid) that both charges and discharges (imports and
    exports) by tiny amounts within the tolerances. Then the LP with all binaries fixed re-solves it."""
    integer = arrays_integrality > 0
    if np.abs(x[integer] - np.round(x[integer])).max(initial=0.0) > 1e-9:
        return True
    if np.minimum(x[model.imp], x[model.exp]).max(initial=0.0) > 0.0:
        return True
    return any(np.minimum(x[b.charge], x[b.discharge]).max(initial=0.0) > 0.0 for b in model.batteries)
