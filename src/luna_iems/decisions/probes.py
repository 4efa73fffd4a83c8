"""Bounded probes for the infeasibility diagnosis: optimise one target on a relaxed problem, fast,
and return only numbers that are proven.

A probe minimises (or maximises) a target — the import peak, the final SOC, the energy a deferrable
load can take, ... — over the problem with one constraint group relaxed, using the same lazy exclusion
binaries as `solving`. HiGHS stops at `PROBE_NODE_LIMIT` branch-and-bound nodes (deterministic: the
same problem gives the same range on any machine) or, as a safety net for very large problems, after
`PROBE_TIME_LIMIT_S`. The node limit is small because the root node (cuts, heuristics) already costs
most of a hard probe: 8 on/off loads in 16 steps take ~1.5 s for 10 nodes and as much for 30, 3.7 s
for 200. What a probe returns is always true, whichever limit stopped it:

- `low`/`high` bracket the optimum: for a minimised target `low` is HiGHS' proven bound (at least the
  LP relaxation's value) and `high` the best schedule found; for a maximised target the reverse.
- When HiGHS proves optimality (gap ≤ 1e-6), `low` = `high` (up to that gap): the value is exact. The
  LP relaxation alone is exact whenever its solution is already integral — always, for example, with
  batteries only and no on/off deferrable loads, once the lazy binaries are clean; with on/off loads
  it is only a bound, and the range says so.
- None: the relaxed problem is proven infeasible.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from luna_iems.decisions import diagnosis, milp_model, solving

if TYPE_CHECKING:
    from luna_iems.decisions.optimizer import Problem

PROBE_NODE_LIMIT = 30
PROBE_TIME_LIMIT_S = 5.0


@dataclass(frozen=True)
class _Target:
    c: np.ndarray
    scale: float  # value = scale * objective (negative for maximised targets)


def _objective(problem: Problem, model: milp_model.Model, target: diagnosis.Target) -> _Target:
    c = np.zeros(model.lp.n_vars)
    if target.kind in ("max_final_soc", "min_final_soc"):
        index = [b.name for b in problem.batteries].index(target.name)
        percent = 100 / problem.batteries[index].capacity_kwh
        sign = -1.0 if target.kind == "max_final_soc" else 1.0
        c[model.batteries[index].soc[-1]] = sign
        return _Target(c, sign * percent)
    if target.kind == "max_deferrable_energy":
        index = [d.name for d in problem.deferrable_loads].index(target.name)
        c[model.loads[index].power] = -model.loads[index].coef * problem.step_h
        return _Target(c, -1.0)
    if target.kind == "min_peak_import":
        c[model.peak] = 1.0
    elif target.kind == "min_peak_export":
        c[model.peak_export] = 1.0
    elif target.kind == "min_curtailment":
        c[model.curt] = problem.step_h
    return _Target(c, 1.0)


def probe(problem: Problem, target: diagnosis.Target) -> diagnosis.Estimate | None:
    """The target's optimum on `problem` as a proven range (see the module docstring); None if
    `problem` is infeasible. Units: % for final SOC, kW for peaks, kWh for energies."""
    options = milp_model.Options(
        energy_at_most=frozenset({target.name}) if target.kind == "max_deferrable_energy" else frozenset(),
        peak=target.kind == "min_peak_import",
        peak_export=target.kind == "min_peak_export",
    )
    model = milp_model.build(problem, options)
    goal = _objective(problem, model, target)
    limits = solving.Limits(
        deadline=time.perf_counter() + min(problem.time_limit_s, PROBE_TIME_LIMIT_S),
        node_limit=PROBE_NODE_LIMIT,
    )
    enforced = solving.initial_exclusions(problem, model)
    outcome, _ = solving.solve_lazy(model, model.lp.arrays(), goal.c, enforced=enforced, limits=limits)
    if outcome.status == "infeasible":
        return None
    found = outcome.x is not None
    best = outcome.fun if found else math.inf  # of the minimised objective
    bound = outcome.bound if math.isfinite(outcome.bound) else -math.inf
    if outcome.status == "optimal":
        bound = best  # proven within the relative gap of 1e-6
    ends = (goal.scale * bound, goal.scale * best)
    return diagnosis.Estimate(low=min(ends), high=max(ends), exact=outcome.status == "optimal", found=found)
