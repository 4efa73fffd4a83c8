"""Why an optimiser problem is infeasible, in words and numbers.

Two stages, cheapest first:

1. `bound_conflicts`: necessary conditions checked from the data alone (no solver). Each one is sound:
   if it fires, no schedule exists, and the message gives the numbers that prove it (energy a window
   can hold, energy a battery can take in, power short at one step).
2. `relaxation_conflicts`: when the solver reports infeasibility that the bounds do not explain, each
   constraint group (final SOC per battery, import limit, export limit, each deferrable load, the
   grid-charging rule per battery, the curtailment ban) is relaxed on its own and the problem is
   re-solved by a bounded probe (`probes`). A group whose relaxation alone makes the problem feasible
   is reported, with the best value the other constraints allow (highest final SOC, lowest import
   peak, ...): one number when the probe proved it, else a range [proven bound, best found] — never
   an unproven number. If no single group does, pairs are tried, then all groups together.

Every number is true: the bounds in stage 1 are computed from the data; in stage 2, for a target
that the relaxed problem minimises (peak, curtailment), no schedule goes below the range's low end
and one reaches its high end. Since the full problem is infeasible, the relaxed group's own limit
lies outside what the other constraints allow, which sharpens the range (e.g. the lowest import peak
is above the import limit).

`grid_discharge=False` is never relaxed: it only forbids discharging in export steps, and a battery can
always stay idle, so it cannot make a problem infeasible.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # the optimiser imports this module; the types are only needed by mypy
    from luna_iems.decisions.optimizer import Battery, DeferrableLoad, Problem

TOLERANCE = 1e-6  # kW / kWh: below this a shortfall is solver noise, not a conflict

TargetKind = Literal[
    "feasible",
    "max_final_soc",
    "min_final_soc",
    "min_peak_import",
    "min_peak_export",
    "max_deferrable_energy",
    "min_curtailment",
]


@dataclass(frozen=True, kw_only=True)
class Conflict:
    """One reason for infeasibility.

    `constraint` names the group (`final_soc[home]`, `deferrable_window[heat_pump]`,
    `grid_import_max_kw`, ...); `message` explains it for a person; `numbers` holds the figures in the
    message (kW, kWh, %, step indices) for programs.
    """

    constraint: str
    message: str
    numbers: dict[str, float] = field(default_factory=dict)


class InfeasibleProblemError(Exception):
    """No schedule satisfies every constraint; `.conflicts` says which constraints and by how much."""

    def __init__(self, conflicts: Sequence[Conflict]) -> None:
        self.conflicts: list[Conflict] = list(conflicts)
        super().__init__("infeasible problem: " + "; ".join(c.message for c in self.conflicts))


@dataclass(frozen=True)
class Target:
    """What a relaxation probe optimises: `kind` and, for per-asset kinds, the asset's name."""

    kind: TargetKind
    name: str = ""


@dataclass(frozen=True)
class Estimate:
    """What a probe proved about a target's optimum (%, kW or kWh): it lies in [low, high].

    `exact`: HiGHS proved optimality (low = high up to a relative 1e-6). `found`: a schedule of the
    relaxed problem was found (for a minimised target `high` is its value, for a maximised one `low`);
    False when the probe stopped at its limit first (then one end is infinite).
    """

    low: float
    high: float
    exact: bool
    found: bool = True


# probe(problem, target): what is proven about the target's optimum, None if `problem` is infeasible.
Probe = Callable[["Problem", Target], "Estimate | None"]


def _number(value: float, digits: int) -> str:
    rounded = round(value, digits) + 0.0  # no "-0.000"
    return f"{rounded:.{digits}f}"


def _range_text(low: float, high: float, unit: str, digits: int) -> str:
    """ "X unit" when the ends agree at the shown precision, else "between X and Y unit" (open ends in
    words)."""
    if math.isfinite(low) and math.isfinite(high) and _number(low, digits) == _number(high, digits):
        return f"{_number(high, digits)} {unit}"
    if not math.isfinite(high):
        return f"at least {_number(low, digits)} {unit} (no schedule found within the probe's limits)"
    if not math.isfinite(low):
        return f"at most {_number(high, digits)} {unit} (no schedule found within the probe's limits)"
    return f"between {_number(low, digits)} and {_number(high, digits)} {unit} (not proven optimal)"


def _range_numbers(name: str, low: float, high: float, exact: bool) -> dict[str, float]:
    """{name: value} when proven exactly, else {name_low, name_high} (finite ends only)."""
    if exact and math.isfinite(high):
        return {name: high}
    numbers = {}
    if math.isfinite(low):
        numbers[f"{name}_low"] = low
    if math.isfinite(high):
        numbers[f"{name}_high"] = high
    return numbers


# --- stage 1: bounds ------------------------------------------------------------------------------


def bound_conflicts(problem: Problem) -> list[Conflict]:
    """Conflicts provable from the data alone; an empty list proves nothing."""
    conflicts: list[Conflict] = []
    for load in problem.deferrable_loads:
        conflicts += _deferrable_conflicts(load, problem.step_h)
    for battery in problem.batteries:
        conflicts += _final_soc_conflicts(problem, battery)
    conflicts += _import_limit_conflicts(problem)
    conflicts += _export_limit_conflicts(problem)
    return conflicts


def _deferrable_conflicts(load: DeferrableLoad, step_h: float) -> list[Conflict]:
    window = load.latest_step - load.earliest_step
    most_kwh = window * load.power_kw * step_h
    name = load.name
    if load.energy_kwh > most_kwh + TOLERANCE:
        message = (
            f"deferrable '{name}' needs {load.energy_kwh:g} kWh but its window allows at most "
            f"{most_kwh:g} kWh ({window} steps × {load.power_kw:g} kW × {step_h:g} h)"  # noqa: RUF001
        )
        numbers = {"energy_kwh": load.energy_kwh, "max_energy_kwh": most_kwh, "window_steps": window}
        return [Conflict(constraint=f"deferrable_window[{name}]", message=message, numbers=numbers)]
    if not load.on_off or load.energy_kwh <= TOLERANCE or load.min_run_steps <= 1:
        return []
    steps = round(load.energy_kwh / (load.power_kw * step_h))
    if steps >= load.min_run_steps:
        return []
    message = (
        f"deferrable '{name}' needs {steps} steps at {load.power_kw:g} kW ({load.energy_kwh:g} kWh) "
        f"but runs at least {load.min_run_steps} steps once switched on"
    )
    numbers = {"steps_needed": steps, "min_run_steps": load.min_run_steps, "energy_kwh": load.energy_kwh}
    return [Conflict(constraint=f"deferrable_min_run[{name}]", message=message, numbers=numbers)]


def _final_soc_conflicts(problem: Problem, battery: Battery) -> list[Conflict]:
    final_kwh = battery.soc_final_kwh
    if final_kwh is None:
        return []
    needed = final_kwh - battery.soc_initial_kwh
    n = problem.steps
    per_step = [battery.charge_max_kw * problem.step_h] * n  # storage side, kWh per step
    source = ""
    if not battery.grid_charging:
        # PV surplus over the inflexible load is an upper bound: deferrable loads only lower it.
        surplus = [max(0.0, pv - load) for pv, load in zip(problem.pv_kw, problem.load_kw, strict=True)]
        per_step = [
            min(cap, battery.charge_efficiency * s * problem.step_h)
            for cap, s in zip(per_step, surplus, strict=True)
        ]
        source = " from PV surplus (grid charging is off)"
    most = sum(per_step)
    if needed <= most + TOLERANCE:
        return _final_soc_equal_conflicts(problem, battery)
    message = (
        f"battery '{battery.name}': final SOC {battery.soc_final_pct:g} % unreachable: at most "
        f"{most:.2f} kWh can be charged{source} in {n} steps, {needed:.2f} kWh needed"
    )
    numbers = {
        "soc_final_pct": float(battery.soc_final_pct or 0.0),
        "max_charge_kwh": most,
        "needed_kwh": needed,
    }
    return [Conflict(constraint=f"final_soc[{battery.name}]", message=message, numbers=numbers)]


def _final_soc_equal_conflicts(problem: Problem, battery: Battery) -> list[Conflict]:
    """ "equal": the cells must shed soc_initial - soc_final kWh, at most discharge_max_kw x step_h a
    step (storage side)."""
    final_kwh = battery.soc_final_kwh
    if battery.soc_final_mode != "equal" or final_kwh is None:
        return []
    excess = battery.soc_initial_kwh - final_kwh
    most = battery.discharge_max_kw * problem.step_h * problem.steps
    if excess <= most + TOLERANCE:
        return []
    message = (
        f"battery '{battery.name}': final SOC exactly {battery.soc_final_pct:g} % unreachable: at most "
        f"{most:.2f} kWh can be discharged in {problem.steps} steps, {excess:.2f} kWh must go"
    )
    numbers = {
        "soc_final_pct": float(battery.soc_final_pct or 0.0),
        "max_discharge_kwh": most,
        "excess_kwh": excess,
    }
    return [Conflict(constraint=f"final_soc[{battery.name}]", message=message, numbers=numbers)]


def _forced_deferrable_kw(problem: Problem) -> list[float]:
    """Least deferrable power (kW) at each step: what a load must draw there even if it runs at full
    power in every other step of its window (non-zero only for windows that are (almost) full)."""
    forced = [0.0] * problem.steps
    for load in problem.deferrable_loads:
        window = load.latest_step - load.earliest_step
        least = load.energy_kwh / problem.step_h - load.power_kw * (window - 1)
        if least > TOLERANCE:
            for t in range(load.earliest_step, load.latest_step):
                forced[t] += min(least, load.power_kw)
    return forced


def _import_limit_conflicts(problem: Problem) -> list[Conflict]:
    limit = problem.grid_import_max_kw
    if limit is None:
        return []
    forced = _forced_deferrable_kw(problem)
    discharge = sum(b.discharge_ac_max_kw for b in problem.batteries)
    shortfalls = [
        problem.load_kw[t] + forced[t] - problem.pv_kw[t] - discharge - limit for t in range(problem.steps)
    ]
    short_steps = [t for t, s in enumerate(shortfalls) if s > TOLERANCE]
    if not short_steps:
        return []
    t = max(short_steps, key=lambda s: shortfalls[s])
    demand = problem.load_kw[t] + forced[t]
    message = (
        f"grid import limit {limit:g} kW < load {demand:g} kW at step {t}: PV ({problem.pv_kw[t]:g} kW) "
        f"and battery discharge (at most {discharge:g} kW) leave {shortfalls[t]:.3g} kW uncovered"
    )
    if forced[t] > 0:
        message += f" (load includes {forced[t]:g} kW of deferrable load whose window is full)"
    if len(short_steps) > 1:
        message += f"; {len(short_steps)} steps are short"
    numbers = {
        "grid_import_max_kw": limit,
        "step": t,
        "load_kw": demand,
        "pv_kw": problem.pv_kw[t],
        "battery_discharge_max_kw": discharge,
        "shortfall_kw": shortfalls[t],
        "steps_short": len(short_steps),
    }
    return [Conflict(constraint="grid_import_max_kw", message=message, numbers=numbers)]


def _export_limit_conflicts(problem: Problem) -> list[Conflict]:
    limit = problem.grid_export_max_kw
    if limit is None or problem.curtailment_allowed:
        return []
    charge = sum(b.charge_ac_max_kw for b in problem.batteries)
    excess: list[float] = []
    absorb: list[float] = []
    for t in range(problem.steps):
        flexible = sum(d.power_kw for d in problem.deferrable_loads if d.earliest_step <= t < d.latest_step)
        absorb.append(charge + flexible)
        excess.append(problem.pv_kw[t] - problem.load_kw[t] - limit - absorb[t])
    bad = [t for t, e in enumerate(excess) if e > TOLERANCE]
    if not bad:
        return []
    t = max(bad, key=lambda s: excess[s])
    surplus = problem.pv_kw[t] - problem.load_kw[t]
    message = (
        f"grid export limit {limit:g} kW at step {t}: PV {problem.pv_kw[t]:g} kW - load "
        f"{problem.load_kw[t]:g} kW leaves {surplus:g} kW to export, curtailment is not allowed and "
        f"batteries/deferrable loads can absorb at most {absorb[t]:g} kW ({excess[t]:.3g} kW too much)"
    )
    if len(bad) > 1:
        message += f"; {len(bad)} steps have too much"
    numbers = {
        "grid_export_max_kw": limit,
        "step": t,
        "surplus_kw": surplus,
        "absorb_max_kw": absorb[t],
        "excess_kw": excess[t],
        "steps_over": len(bad),
    }
    return [Conflict(constraint="grid_export_max_kw", message=message, numbers=numbers)]


# --- stage 2: relaxations -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Relaxation:
    constraint: str
    apply: Callable[[Problem], Problem]  # the problem the single-group probe solves
    target: Target  # what that probe optimises, for the numbers in the message
    explain: Callable[[Estimate], tuple[str, dict[str, float]] | None]  # None: no conflict shown
    remove: Callable[[Problem], Problem] | None = None  # the problem without the group; None: `apply`

    def without(self, problem: Problem) -> Problem:
        """`problem` with this group removed (composable, for pairs of groups)."""
        return (self.remove or self.apply)(problem)


def relaxation_conflicts(problem: Problem, *, probe: Probe) -> list[Conflict]:
    """Constraint groups whose relaxation makes `problem` feasible, found by re-solving.

    Single groups first (with the best value the other constraints allow), then pairs, then all groups;
    a `Conflict(constraint="unexplained", ...)` if even that does not help.
    """
    relaxations = _relaxations(problem)
    conflicts: list[Conflict] = []
    for relaxation in relaxations:
        value = probe(relaxation.apply(problem), relaxation.target)
        explained = None if value is None or not value.found else relaxation.explain(value)
        if explained is not None:
            message, numbers = explained
            conflicts.append(Conflict(constraint=relaxation.constraint, message=message, numbers=numbers))
    if conflicts:
        return conflicts
    for first, second in itertools.combinations(relaxations, 2):
        if _feasible(probe(second.without(first.without(problem)), Target("feasible"))):
            pair = f"{first.constraint} and {second.constraint}"
            message = f"relaxing {pair} together makes the problem feasible; neither alone does"
            conflicts.append(Conflict(constraint=f"{first.constraint}+{second.constraint}", message=message))
    if conflicts:
        return conflicts
    names = [r.constraint for r in relaxations]
    relaxed = problem
    for relaxation in relaxations:
        relaxed = relaxation.without(relaxed)
    if relaxations and _feasible(probe(relaxed, Target("feasible"))):
        message = f"only relaxing all of {', '.join(names)} together makes the problem feasible"
        return [Conflict(constraint="+".join(names), message=message)]
    message = f"infeasible, and relaxing the constraint groups {names or '(none)'} does not help"
    return [Conflict(constraint="unexplained", message=message)]


def _feasible(estimate: Estimate | None) -> bool:
    """Proven feasible: the probe found a schedule (None is proven infeasible; not found is unknown,
    and an unknown is not reported as a cause)."""
    return estimate is not None and estimate.found


def _relaxations(problem: Problem) -> list[_Relaxation]:
    found = [_final_soc_relaxation(b) for b in problem.batteries if b.soc_final_pct is not None]
    found += [
        _final_soc_equal_relaxation(b)
        for b in problem.batteries
        if b.soc_final_pct is not None and b.soc_final_mode == "equal"
    ]
    if problem.grid_import_max_kw is not None:
        found.append(_import_relaxation(problem.grid_import_max_kw))
    if problem.grid_export_max_kw is not None:
        found.append(_export_relaxation(problem.grid_export_max_kw))
    found += [_deferrable_relaxation(d) for d in problem.deferrable_loads if d.energy_kwh > TOLERANCE]
    found += [_grid_charging_relaxation(b) for b in problem.batteries if not b.grid_charging]
    if not problem.curtailment_allowed:
        found.append(_curtailment_relaxation())
    return found


def _without_final_soc(problem: Problem, name: str) -> Problem:
    batteries = tuple(replace(b, soc_final_pct=None) if b.name == name else b for b in problem.batteries)
    return replace(problem, batteries=batteries)


def _with_grid_charging(problem: Problem, name: str) -> Problem:
    batteries = tuple(replace(b, grid_charging=True) if b.name == name else b for b in problem.batteries)
    return replace(problem, batteries=batteries)


def _without_deferrable(problem: Problem, name: str) -> Problem:
    return replace(problem, deferrable_loads=tuple(d for d in problem.deferrable_loads if d.name != name))


def _final_soc_relaxation(battery: Battery) -> _Relaxation:
    """Without the final SOC the other constraints allow final SOCs up to a highest value (and, for
    "equal", down to a lowest one); the target lies outside. For "at_least", the highest is below it,
    so the range's high end is capped at the target."""
    required = float(battery.soc_final_pct or 0.0)
    equal = battery.soc_final_mode == "equal"

    def explain(best: Estimate) -> tuple[str, dict[str, float]] | None:
        if best.low >= required - 1e-4:
            return None
        high = min(best.high, required) if not equal else best.high
        text = _range_text(best.low, high, "%", 2)
        message = (
            f"battery '{battery.name}': final SOC {required:g} % unreachable together with the other "
            f"constraints: the highest reachable final SOC is {text}"
        )
        numbers = {"soc_final_pct": required} | _range_numbers(
            "max_final_soc_pct", best.low, high, best.exact
        )
        return message, numbers

    target = Target("max_final_soc", battery.name)
    return _Relaxation(
        constraint=f"final_soc[{battery.name}]",
        apply=lambda p: _without_final_soc(p, battery.name),
        target=target,
        explain=explain,
    )


def _final_soc_equal_relaxation(battery: Battery) -> _Relaxation:
    """ "equal" final SOC above what can be reached: as `_final_soc_relaxation`; below the lowest
    reachable final SOC (the battery cannot get rid of its energy): the lowest, as a range."""
    required = float(battery.soc_final_pct or 0.0)

    def explain(lowest: Estimate) -> tuple[str, dict[str, float]] | None:
        if lowest.high <= required + 1e-4:
            return None
        low = max(lowest.low, required)
        message = (
            f"battery '{battery.name}': final SOC exactly {required:g} % unreachable together with the "
            f"other constraints: the lowest reachable final SOC is {_range_text(low, lowest.high, '%', 2)}"
        )
        numbers = {"soc_final_pct": required} | _range_numbers(
            "min_final_soc_pct", low, lowest.high, lowest.exact
        )
        return message, numbers

    return _Relaxation(
        constraint=f"final_soc[{battery.name}]",
        apply=lambda p: _without_final_soc(p, battery.name),
        target=Target("min_final_soc", battery.name),
        explain=explain,
    )


def _import_relaxation(limit: float) -> _Relaxation:
    def explain(best: Estimate) -> tuple[str, dict[str, float]] | None:
        if best.high <= limit + 1e-4:
            return None
        # the full problem is infeasible, so no schedule of the others stays within the limit
        low = max(best.low, limit)
        message = (
            f"grid import limit {limit:g} kW cannot be met together with the other constraints: the "
            f"lowest import peak any schedule reaches is {_range_text(low, best.high, 'kW', 3)}"
        )
        numbers = {"grid_import_max_kw": limit} | _range_numbers(
            "min_peak_import_kw", low, best.high, best.exact
        )
        return message, numbers

    return _Relaxation(
        constraint="grid_import_max_kw",
        apply=lambda p: replace(p, grid_import_max_kw=None),
        target=Target("min_peak_import"),
        explain=explain,
    )


def _export_relaxation(limit: float) -> _Relaxation:
    def explain(best: Estimate) -> tuple[str, dict[str, float]] | None:
        if best.high <= limit + 1e-4:
            return None
        low = max(best.low, limit)
        message = (
            f"grid export limit {limit:g} kW cannot be met together with the other constraints: the "
            f"lowest export peak any schedule reaches is {_range_text(low, best.high, 'kW', 3)}"
        )
        numbers = {"grid_export_max_kw": limit} | _range_numbers(
            "min_peak_export_kw", low, best.high, best.exact
        )
        return message, numbers

    return _Relaxation(
        constraint="grid_export_max_kw",
        apply=lambda p: replace(p, grid_export_max_kw=None),
        target=Target("min_peak_export"),
        explain=explain,
    )


def _deferrable_relaxation(load: DeferrableLoad) -> _Relaxation:
    def explain(best: Estimate) -> tuple[str, dict[str, float]] | None:
        if best.low >= load.energy_kwh - 1e-4:
            return None
        low, high = max(best.low, 0.0), max(min(best.high, load.energy_kwh), 0.0)
        text = _range_text(low, high, "kWh", 3)
        message = (
            f"deferrable '{load.name}' needs {load.energy_kwh:g} kWh but together with the other "
            f"constraints the most that can be delivered in its window is {text}"
        )
        return message, {"energy_kwh": load.energy_kwh} | _range_numbers(
            "max_energy_kwh", low, high, best.exact
        )

    # The single probe keeps the load and lets it deliver less (energy <= energy_kwh) to measure how
    # much fits; combined with another group, the load is dropped.
    return _Relaxation(
        constraint=f"deferrable[{load.name}]",
        apply=lambda p: p,
        target=Target("max_deferrable_energy", load.name),
        explain=explain,
        remove=lambda p: _without_deferrable(p, load.name),
    )


def _grid_charging_relaxation(battery: Battery) -> _Relaxation:
    def explain(_: Estimate) -> tuple[str, dict[str, float]]:
        message = (
            f"battery '{battery.name}' may only charge from PV surplus (grid_charging=False), which is "
            f"not enough to meet the other constraints; allowing grid charging makes the problem feasible"
        )
        return message, {}

    return _Relaxation(
        constraint=f"grid_charging[{battery.name}]",
        apply=lambda p: _with_grid_charging(p, battery.name),
        target=Target("feasible"),
        explain=explain,
    )


def _curtailment_relaxation() -> _Relaxation:
    def explain(best: Estimate) -> tuple[str, dict[str, float]] | None:
        if best.high <= 1e-4:
            return None
        low = max(best.low, 0.0)
        message = (
            f"curtailment is not allowed, but to meet the other constraints the least PV that must be "
            f"curtailed is {_range_text(low, best.high, 'kWh', 3)}"
        )
        return message, _range_numbers("min_curtailment_kwh", low, best.high, best.exact)

    return _Relaxation(
        constraint="curtailment_allowed",
        apply=lambda p: replace(p, curtailment_allowed=True),
        target=Target("min_curtailment"),
        explain=explain,
    )
