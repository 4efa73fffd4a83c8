"""The battery / flexible-load optimiser: hand-solved cases, optimality against independent
formulations (`reference_solvers`: DP over SOC, brute force over deferrable patterns, a second MILP),
the rules that need binaries, infeasibility diagnosis and input validation.

Every schedule returned by `solve` here goes through `check_schedule` (energy balance, bounds, SOC
dynamics, exclusivity, grid rules, deferrable runs, reported cost).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linprog

from luna_iems.decisions.optimizer import (
    Battery,
    DeferrableLoad,
    InfeasibleProblemError,
    Problem,
    Schedule,
    baseline_cost_eur,
    solve,
)
from tests.decisions import reference_solvers as ref
from tests.decisions.reference_inputs import flexible, reference_milp, site, storage

TOL = 1e-6


# --- factories ------------------------------------------------------------------------------------


def battery(**overrides: Any) -> Battery:
    values: dict[str, Any] = {
        "name": "home",
        "capacity_kwh": 10.0,
        "charge_max_kw": 5.0,
        "discharge_max_kw": 5.0,
    }
    return Battery(**(values | overrides))


def problem(n: int = 4, *, step_h: float = 1.0, **overrides: Any) -> Problem:
    values: dict[str, Any] = {
        "step_h": step_h,
        "load_kw": [1.0] * n,
        "pv_kw": [0.0] * n,
        "import_price_eur_kwh": [0.30] * n,
        "export_price_eur_kwh": [0.05] * n,
    }
    return Problem(**(values | overrides))


def daily_shapes(n: int, step_h: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Household-like load, PV bell and a price curve with a midday dip (kW, EUR/kWh)."""
    hour = (np.arange(n) * step_h) % 24
    load = 0.4 + 0.9 * np.exp(-(((hour - 19) / 2.5) ** 2)) + 0.3 * rng.random(n)
    pv = np.clip(6 * np.sin(np.pi * (hour - 6) / 14), 0, None) * (0.5 + 0.5 * rng.random(n))
    price = 0.28 + 0.08 * np.cos(2 * np.pi * (hour - 19) / 24) - 0.2 * pv / 6 + 0.02 * rng.standard_normal(n)
    return {"load_kw": load, "pv_kw": pv, "import_price_eur_kwh": price, "export_price_eur_kwh": 0.4 * price}


# --- property checks on every schedule ------------------------------------------------------------


def check_schedule(p: Problem, s: Schedule) -> None:
    """Physics, bounds and rules every schedule must satisfy (tolerance 1e-6)."""
    n = p.steps
    imp, exp, curt = (np.array(v) for v in (s.grid_import_kw, s.grid_export_kw, s.curtailment_kw))
    load, pv = np.array(p.load_kw), np.array(p.pv_kw)
    flexible = sum((np.array(v) for v in s.deferrable_kw.values()), np.zeros(n))
    charge = sum((np.array(b.charge_kw) for b in s.batteries), np.zeros(n))
    discharge = sum((np.array(b.discharge_kw) for b in s.batteries), np.zeros(n))
    balance = pv - curt + imp + discharge - charge - exp - load - flexible
    assert np.abs(balance).max() <= TOL, f"energy balance off by {np.abs(balance).max()}"
    assert imp.min() >= -TOL and exp.min() >= -TOL and curt.min() >= -TOL
    assert np.minimum(imp, exp).max() <= TOL, "simultaneous import and export"
    assert np.allclose(s.grid_kw, imp - exp, atol=TOL)
    assert (curt <= pv + TOL).all()
    if not p.curtailment_allowed:
        assert curt.max(initial=0) <= TOL
    if p.grid_import_max_kw is not None:
        assert imp.max() <= p.grid_import_max_kw + TOL
    if p.grid_export_max_kw is not None:
        assert exp.max() <= p.grid_export_max_kw + TOL
    assert s.peak_import_kw == pytest.approx(imp.max(), abs=TOL)
    pv_only_charge = np.zeros(n)
    for b, bs in zip(p.batteries, s.batteries, strict=True):
        check_battery(p, b, bs)
        if not b.grid_charging:
            pv_only_charge += np.array(bs.charge_kw)
        if not b.grid_discharge:
            assert (exp[np.array(bs.discharge_kw) > TOL] <= TOL).all(), f"{b.name} discharges while exporting"
    surplus = np.maximum(0.0, pv - curt - load - flexible)
    assert (pv_only_charge <= surplus + TOL).all(), "a PV-only battery charges from the grid"
    for d in p.deferrable_loads:
        check_deferrable(p, d, np.array(s.deferrable_kw[d.name]))
    assert s.total_cost_eur == pytest.approx(reported_cost(p, s), abs=1e-6)
    assert s.baseline_cost_eur == pytest.approx(baseline_cost_eur(p), abs=1e-9)
    assert s.savings_eur == pytest.approx(s.baseline_cost_eur - s.total_cost_eur, abs=1e-9)


def check_battery(p: Problem, b: Battery, bs: Any) -> None:
    ch, dis, soc = np.array(bs.charge_kw), np.array(bs.discharge_kw), np.array(bs.soc_kwh)
    assert ch.min() >= -TOL and dis.min() >= -TOL
    assert np.minimum(ch, dis).max() <= TOL, f"{b.name} charges and discharges at once"
    assert (ch <= b.charge_max_kw / b.charge_efficiency + TOL).all()
    assert (dis <= b.discharge_max_kw * b.discharge_efficiency + TOL).all()
    previous = np.concatenate([[b.capacity_kwh * b.soc_initial_pct / 100], soc[:-1]])
    expected = previous + (b.charge_efficiency * ch - dis / b.discharge_efficiency) * p.step_h
    assert np.allclose(soc, expected, atol=TOL)
    assert soc.min() >= b.capacity_kwh * b.soc_min_pct / 100 - TOL
    assert soc.max() <= b.capacity_kwh * b.soc_max_pct / 100 + TOL
    if b.soc_final_pct is not None:
        assert soc[-1] >= b.capacity_kwh * b.soc_final_pct / 100 - TOL
    assert np.allclose(bs.power_kw, dis - ch, atol=TOL)
    assert np.allclose(bs.soc_pct, soc / b.capacity_kwh * 100, atol=1e-6)


def check_deferrable(p: Problem, d: DeferrableLoad, power: np.ndarray) -> None:
    outside = np.ones(p.steps, dtype=bool)
    outside[d.earliest_step : d.latest_step] = False
    assert np.abs(power[outside]).max(initial=0) <= TOL, f"{d.name} runs outside its window"
    assert power.sum() * p.step_h == pytest.approx(d.energy_kwh, abs=1e-6)
    assert power.min() >= -TOL and power.max() <= d.power_kw + TOL
    if d.on_off:
        on = power > d.power_kw / 2
        assert np.allclose(power, np.where(on, d.power_kw, 0.0), atol=TOL), f"{d.name} not on/off"
        runs = [len(list(g)) for value, g in itertools.groupby(on) if value]
        assert all(run >= d.min_run_steps for run in runs), f"{d.name} runs {runs} < {d.min_run_steps}"


def reported_cost(p: Problem, s: Schedule) -> float:
    imp, exp = np.array(s.grid_import_kw), np.array(s.grid_export_kw)
    energy = float(np.sum(imp * p.import_price_eur_kwh - exp * np.array(p.export_price_eur_kwh)) * p.step_h)
    wear = sum(
        b.degradation_eur_kwh
        * p.step_h
        * float(
            np.sum(
                np.array(bs.charge_kw) * b.charge_efficiency
                + np.array(bs.discharge_kw) / b.discharge_efficiency
            )
        )
        for b, bs in zip(p.batteries, s.batteries, strict=True)
    )
    return energy + p.peak_charge_eur_kw * max(float(imp.max()), p.peak_floor_kw) + wear


def solve_checked(p: Problem) -> Schedule:
    s = solve(p)
    assert s.status == "optimal"
    check_schedule(p, s)
    return s


# --- hand-solved cases ----------------------------------------------------------------------------


def test_lossless_arbitrage_hand_solved() -> None:
    """Load 1 kW, prices 0.1, 0.1, 0.5, 0.5: buy 2 kWh extra while cheap, cover the dear hours.
    Cost = 4 kWh x 0.1 = 0.40 EUR; baseline 1.20 EUR."""
    b = battery(
        capacity_kwh=2.0,
        charge_max_kw=2.0,
        discharge_max_kw=2.0,
        charge_efficiency=1.0,
        discharge_efficiency=1.0,
        soc_min_pct=0.0,
        soc_initial_pct=0.0,
    )
    p = problem(import_price_eur_kwh=[0.1, 0.1, 0.5, 0.5], export_price_eur_kwh=[0.0] * 4, batteries=(b,))
    s = solve_checked(p)
    assert s.total_cost_eur == pytest.approx(0.40, abs=1e-6)
    assert s.baseline_cost_eur == pytest.approx(1.20)
    assert s.savings_eur == pytest.approx(0.80, abs=1e-6)
    assert s.batteries[0].discharge_kw[2:] == pytest.approx((1.0, 1.0), abs=1e-6)
    assert sum(s.batteries[0].charge_kw[:2]) == pytest.approx(2.0, abs=1e-6)
    assert s.grid_import_kw[2:] == pytest.approx((0.0, 0.0), abs=1e-6)
    assert s.batteries[0].soc_pct[-1] == pytest.approx(0.0, abs=1e-6)


def test_lossy_arbitrage_hand_solved() -> None:
    """Same with η_c = η_d = 0.9: the cells fill to 2 kWh with 2/0.9 kWh AC and return 1.8 kWh AC.
    Cost = 2 x 0.1 (load) + 2/0.9 x 0.1 (charge) + 0.2 x 0.5 (rest of the dear load) = 0.5222 EUR."""
    b = battery(
        capacity_kwh=2.0,
        charge_max_kw=2.0,
        discharge_max_kw=2.0,
        charge_efficiency=0.9,
        discharge_efficiency=0.9,
        soc_min_pct=0.0,
        soc_initial_pct=0.0,
    )
    p = problem(import_price_eur_kwh=[0.1, 0.1, 0.5, 0.5], export_price_eur_kwh=[0.0] * 4, batteries=(b,))
    s = solve_checked(p)
    assert s.total_cost_eur == pytest.approx(0.2 + 2 / 0.9 * 0.1 + 0.2 * 0.5, abs=1e-6)
    assert sum(s.batteries[0].discharge_kw) == pytest.approx(1.8, abs=1e-6)
    assert sum(s.batteries[0].charge_kw) == pytest.approx(2 / 0.9, abs=1e-6)


def test_storage_side_power_limits() -> None:
    """charge_max_kw limits energy INTO the cells: AC charge reaches 2/0.8 = 2.5 kW, not 2 kW."""
    b = battery(charge_max_kw=2.0, charge_efficiency=0.8, soc_initial_pct=10.0, soc_min_pct=10.0)
    p = problem(
        n=2,
        load_kw=[1.0, 3.0],
        import_price_eur_kwh=[0.0, 1.0],
        export_price_eur_kwh=[0.0, 0.0],
        batteries=(b,),
    )
    s = solve_checked(p)
    assert s.batteries[0].charge_kw[0] == pytest.approx(2.5, abs=1e-6)
    assert s.batteries[0].soc_kwh[0] == pytest.approx(1.0 + 2.0, abs=1e-6)
    # the 2 kWh stored above the floor come back as 2 x 0.95 kWh AC
    assert s.batteries[0].discharge_kw[1] == pytest.approx(1.9, abs=1e-6)


def test_curtailment_at_negative_export_price_hand_solved() -> None:
    """PV 3 kW, load 1 kW, export price -0.1: curtail the 2 kW surplus (cost 0) instead of paying
    0.8 EUR to export it (the baseline)."""
    p = problem(pv_kw=[3.0] * 4, export_price_eur_kwh=[-0.1] * 4)
    s = solve_checked(p)
    assert s.curtailment_kw == pytest.approx((2.0,) * 4, abs=1e-6)
    assert s.total_cost_eur == pytest.approx(0.0, abs=1e-6)
    assert s.baseline_cost_eur == pytest.approx(0.8)


def test_no_curtailment_at_zero_export_price() -> None:
    """A tie (export for 0 EUR or curtail) is broken towards exporting."""
    s = solve_checked(problem(pv_kw=[3.0] * 4, export_price_eur_kwh=[0.0] * 4))
    assert s.curtailment_kw == pytest.approx((0.0,) * 4, abs=1e-9)
    assert s.grid_export_kw == pytest.approx((2.0,) * 4, abs=1e-9)


@pytest.mark.parametrize(("min_run", "on_steps", "cost"), [(1, (1, 3), 0.3), (2, (0, 1), 0.4)])
def test_deferrable_hand_solved(min_run: int, on_steps: tuple[int, ...], cost: float) -> None:
    """1 kW for 2 kWh, prices 0.3, 0.1, 0.4, 0.2: the two cheapest steps (1, 3) cost 0.3; with a
    2-step minimum run the best adjacent pair is (0, 1) at 0.4. Baseline: steps 0, 1 (as early as
    possible) = 0.4."""
    d = DeferrableLoad(
        name="dishwasher", power_kw=1.0, energy_kwh=2.0, earliest_step=0, latest_step=4, min_run_steps=min_run
    )
    p = problem(load_kw=[0.0] * 4, import_price_eur_kwh=[0.3, 0.1, 0.4, 0.2], deferrable_loads=(d,))
    s = solve_checked(p)
    expected = tuple(1.0 if t in on_steps else 0.0 for t in range(4))
    assert s.deferrable_kw["dishwasher"] == pytest.approx(expected, abs=1e-6)
    assert s.total_cost_eur == pytest.approx(cost, abs=1e-6)
    assert s.baseline_cost_eur == pytest.approx(0.4)


def test_min_run_holds_at_the_end_of_the_horizon() -> None:
    """3 kWh at 1 kW, min run 2, prices 0.1, 0.1, 0.5, 0.5, 0.0: a 1-step run in the free last step
    (0.2 EUR in all) is not allowed, as no step after the horizon can complete it; the best single
    3-step run is steps 0-2 (0.7 EUR)."""
    d = DeferrableLoad(
        name="kiln", power_kw=1.0, energy_kwh=3.0, earliest_step=0, latest_step=5, min_run_steps=2
    )
    p = problem(5, load_kw=[0.0] * 5, import_price_eur_kwh=[0.1, 0.1, 0.5, 0.5, 0.0], deferrable_loads=(d,))
    s = solve_checked(p)
    assert s.deferrable_kw["kiln"] == pytest.approx((1.0, 1.0, 1.0, 0.0, 0.0), abs=1e-6)
    assert s.total_cost_eur == pytest.approx(0.7, abs=1e-6)


def test_continuous_deferrable_fills_cheapest_steps() -> None:
    d = DeferrableLoad(name="ev", power_kw=2.0, energy_kwh=3.0, earliest_step=1, latest_step=4, on_off=False)
    p = problem(load_kw=[0.0] * 4, import_price_eur_kwh=[0.0, 0.3, 0.1, 0.2], deferrable_loads=(d,))
    s = solve_checked(p)
    assert s.deferrable_kw["ev"] == pytest.approx((0.0, 0.0, 2.0, 1.0), abs=1e-6)
    assert s.baseline_cost_eur == pytest.approx(2 * 0.3 + 1 * 0.1)  # as early as possible: steps 1, 2


def test_peak_objective_hand_solved() -> None:
    """Load 1, 5, 1, 1 kW; a lossless 4 kWh battery at 2 kWh. Charging 1 kWh in step 0 and
    discharging 3 kWh in step 1 flattens the peak to 2 kW (from 5); recharging to the final 50 %
    keeps it at 2 kW. 8 kWh over 4 steps at most 2 kW: the only such schedule imports 2 kW always."""
    b = battery(
        capacity_kwh=4.0,
        charge_max_kw=4.0,
        discharge_max_kw=4.0,
        charge_efficiency=1.0,
        discharge_efficiency=1.0,
        soc_min_pct=0.0,
        soc_final_pct=50.0,
    )
    p = problem(
        load_kw=[1.0, 5.0, 1.0, 1.0],
        import_price_eur_kwh=[0.3, 0.3, 0.3, 0.2],
        batteries=(b,),
        objective="peak",
    )
    s = solve_checked(p)
    assert s.objective_value == pytest.approx(2.0, abs=1e-6)
    assert max(s.grid_import_kw) == pytest.approx(2.0, abs=1e-6)
    assert s.grid_import_kw == pytest.approx((2.0, 2.0, 2.0, 2.0), abs=1e-6)
    cost = solve_checked(replace(p, objective="cost"))
    assert max(cost.grid_import_kw) > 2.0 + 1e-3  # flat prices: the cost objective does not shave


def test_peak_charge_in_cost_objective() -> None:
    """With 1 EUR/kW on the peak, shaving 5 -> 2 kW pays; total includes 2 kW x 1 EUR."""
    b = battery(
        capacity_kwh=4.0,
        charge_max_kw=4.0,
        discharge_max_kw=4.0,
        charge_efficiency=1.0,
        discharge_efficiency=1.0,
        soc_min_pct=0.0,
    )
    p = problem(load_kw=[1.0, 5.0, 1.0, 1.0], batteries=(b,), peak_charge_eur_kw=1.0)
    s = solve_checked(p)
    assert s.peak_import_kw == pytest.approx(2.0, abs=1e-6)
    assert s.baseline_cost_eur == pytest.approx(8 * 0.3 + 5.0)


def test_peak_floor_leaves_peaks_below_the_period_peak_alone() -> None:
    """The month already peaked at 6 kW: a 5 kW peak today costs nothing extra, so the battery is not
    spent on it; the charge is reported on the 6 kW. At a 3 kW floor it shaves down to 3 kW."""
    b = battery(
        capacity_kwh=4.0,
        charge_max_kw=4.0,
        discharge_max_kw=4.0,
        charge_efficiency=1.0,
        discharge_efficiency=1.0,
        soc_min_pct=0.0,
        soc_initial_pct=100.0,
    )
    base = problem(load_kw=[1.0, 5.0, 1.0, 1.0], batteries=(b,), peak_charge_eur_kw=1.0)
    above = solve_checked(replace(base, peak_floor_kw=6.0))
    free = solve_checked(replace(base, peak_charge_eur_kw=0.0))
    assert above.total_cost_eur == pytest.approx(free.total_cost_eur + 6.0, abs=1e-6)
    assert above.baseline_cost_eur == pytest.approx(8 * 0.3 + 6.0)
    at_three = solve_checked(replace(base, peak_floor_kw=3.0))
    assert at_three.peak_import_kw == pytest.approx(3.0, abs=1e-6) or at_three.peak_import_kw < 3.0
    assert at_three.total_cost_eur == pytest.approx(
        float(np.sum(np.array(at_three.grid_import_kw) * 0.3)) + 3.0, abs=1e-6
    )
    with pytest.raises(ValueError, match="peak_floor_kw"):
        replace(base, peak_floor_kw=-1.0)


def test_self_consumption_objective_stores_pv_for_the_evening() -> None:
    """PV surplus 3 kWh at noon, evening load 2 kWh: minimum import is 0 kWh (η = 1) even though
    exporting at 0.5 EUR/kWh and importing at 0.3 EUR/kWh would be cheaper."""
    b = battery(
        capacity_kwh=4.0,
        charge_efficiency=1.0,
        discharge_efficiency=1.0,
        soc_min_pct=0.0,
        soc_initial_pct=0.0,
    )
    p = problem(
        load_kw=[0.0, 0.0, 1.0, 1.0],
        pv_kw=[3.0, 0.0, 0.0, 0.0],
        export_price_eur_kwh=[0.5, 0.4, 0.4, 0.4],
        batteries=(b,),
        objective="self_consumption",
    )
    s = solve_checked(p)
    assert s.objective_value == pytest.approx(0.0, abs=1e-6)
    assert sum(s.grid_import_kw) == pytest.approx(0.0, abs=1e-6)
    # secondary objective: the 1 kWh left over is exported (0.5 EUR), not kept
    assert s.grid_export_kw[0] == pytest.approx(1.0, abs=1e-6)
    assert s.total_cost_eur == pytest.approx(-0.5, abs=1e-6)
    cheaper = solve_checked(replace(p, objective="cost"))
    assert cheaper.total_cost_eur < s.total_cost_eur - 0.1


def test_degradation_cost_stops_marginal_cycling() -> None:
    """A 0.1 EUR/kWh spread is not worth 0.06 EUR/kWh of wear on each side (0.12 per cycle)."""
    b = battery(charge_efficiency=1.0, discharge_efficiency=1.0, degradation_eur_kwh=0.06)
    p = problem(import_price_eur_kwh=[0.2, 0.2, 0.3, 0.3], batteries=(b,))
    s = solve_checked(p)
    assert max(s.batteries[0].charge_kw) == pytest.approx(0.0, abs=1e-9)
    assert max(s.batteries[0].discharge_kw) == pytest.approx(1.0, abs=1e-6)  # discharging the 50 % still pays


# --- optimality against independent formulations ---------------------------------------------------


def random_battery_problem(rng: np.random.Generator, *, lossless: bool, step_h: float = 1.0) -> Problem:
    """Powers and energies on a 0.1 kWh grid (with dt = 1 h) so that, lossless, the DP grid is exact."""
    n = int(rng.integers(6, 13))
    load = rng.integers(0, 30, n) / 10
    pv = np.where(rng.random(n) < 0.5, rng.integers(0, 50, n) / 10, 0.0)
    imp = rng.integers(-5, 40, n) / 100
    exp = imp - rng.integers(-3, 15, n) / 100  # sometimes above the import price
    b = Battery(
        name="b",
        capacity_kwh=float(rng.integers(3, 9)),
        charge_max_kw=float(rng.integers(5, 30)) / 10,
        discharge_max_kw=float(rng.integers(5, 30)) / 10,
        charge_efficiency=1.0 if lossless else 0.95,
        discharge_efficiency=1.0 if lossless else 0.9,
        soc_min_pct=10.0,
        soc_initial_pct=float(rng.choice([10.0, 50.0, 100.0])),
        soc_final_pct=float(rng.choice([50.0, 100.0])) if rng.random() < 0.4 else None,
        grid_charging=bool(rng.random() < 0.7),
        grid_discharge=bool(rng.random() < 0.7),
        degradation_eur_kwh=float(rng.choice([0.0, 0.02])),
    )
    return Problem(
        step_h=step_h,
        load_kw=load,
        pv_kw=pv,
        import_price_eur_kwh=imp,
        export_price_eur_kwh=exp,
        batteries=(b,),
        grid_import_max_kw=float(rng.choice([4.0, 6.0])) if rng.random() < 0.3 else None,
        grid_export_max_kw=float(rng.choice([1.0, 3.0])) if rng.random() < 0.3 else None,
        curtailment_allowed=bool(rng.random() < 0.8),
    )


def solve_or_none(p: Problem) -> Schedule | None:
    try:
        return solve_checked(p)
    except InfeasibleProblemError:
        return None


@pytest.mark.parametrize("seed", range(12))
def test_matches_dp_exactly_when_lossless(seed: int) -> None:
    """With η = 1 and data on a 0.1 kWh grid every LP vertex lies on the DP grid: equal optima."""
    p = random_battery_problem(np.random.default_rng(seed), lossless=True)
    s = solve_or_none(p)
    expected = ref.dp_battery(site(p), storage(p.batteries[0]), soc_step_kwh=0.1).cost_eur
    if s is None:
        assert math.isinf(expected), "solve says infeasible, the DP found a schedule"
        return
    assert s.total_cost_eur == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("seed", range(100, 108))
def test_close_to_dp_with_losses(seed: int) -> None:
    """η < 1, hourly and half-hourly steps: every DP schedule (0.01 kWh grid, which holds every power x
    step here) is feasible for the MILP, so the DP can only be worse, and by little: within
    2e-3 x max(1 EUR, |cost|) (largest gap measured: 9.6e-4 EUR)."""
    p = random_battery_problem(np.random.default_rng(seed), lossless=False, step_h=0.5 if seed % 2 else 1.0)
    s = solve_or_none(p)
    dp = ref.dp_battery(site(p), storage(p.batteries[0]), soc_step_kwh=0.01).cost_eur
    if s is None:
        assert math.isinf(dp)
        return
    assert s.total_cost_eur <= dp + 1e-6
    assert dp - s.total_cost_eur <= 2e-3 * max(1.0, abs(dp))


def random_deferrable_problem(rng: np.random.Generator) -> Problem:
    """Two on/off loads in random windows of an 8-12 step horizon, half of them with a minimum run."""
    n = int(rng.integers(8, 13))
    loads = []
    for name in ("washer", "dryer"):
        earliest = int(rng.integers(0, n - 5))
        latest = int(rng.integers(earliest + 4, min(n, earliest + 9) + 1))
        steps = int(rng.integers(1, min(5, latest - earliest)))
        min_run = int(rng.integers(2, steps + 1)) if steps > 1 and rng.random() < 0.6 else 1
        power = float(rng.integers(5, 25)) / 10
        loads.append(
            DeferrableLoad(
                name=name,
                power_kw=power,
                energy_kwh=power * steps,
                earliest_step=earliest,
                latest_step=latest,
                min_run_steps=min_run,
            )
        )
    return Problem(
        step_h=1.0,
        load_kw=rng.integers(0, 20, n) / 10,
        pv_kw=np.where(rng.random(n) < 0.5, rng.integers(0, 40, n) / 10, 0.0),
        import_price_eur_kwh=rng.integers(5, 40, n) / 100,
        export_price_eur_kwh=rng.integers(-10, 10, n) / 100,
        deferrable_loads=tuple(loads),
        peak_charge_eur_kw=float(rng.choice([0.0, 0.05])),
        grid_export_max_kw=1.0 if rng.random() < 0.3 else None,
    )


@pytest.mark.parametrize("seed", range(10))
def test_matches_brute_force_over_deferrable_patterns(seed: int) -> None:
    p = random_deferrable_problem(np.random.default_rng(seed))
    s = solve_checked(p)
    expected = ref.brute_force_deferrable(site(p), [flexible(d) for d in p.deferrable_loads])
    assert s.total_cost_eur == pytest.approx(expected.cost_eur, abs=1e-5)


def random_multi_asset_problem(seed: int, n: int = 24) -> Problem:
    """Two batteries (seed bit 0: 'home' PV-only charging; bit 1: 'garage' no export) and two on/off
    loads with minimum runs, grid limits, sometimes a peak charge and negative prices."""
    rng = np.random.default_rng(seed)
    shapes = daily_shapes(n, 1.0, rng)
    shapes["import_price_eur_kwh"] = shapes["import_price_eur_kwh"] - 0.25 * (rng.random(n) < 0.15)
    shapes["export_price_eur_kwh"] = np.minimum(
        shapes["export_price_eur_kwh"], shapes["import_price_eur_kwh"]
    )
    batteries = (
        battery(
            name="home",
            capacity_kwh=8.0,
            charge_max_kw=3.0,
            discharge_max_kw=3.0,
            soc_final_pct=50.0,
            grid_charging=seed % 2 == 0,
            degradation_eur_kwh=0.01,
        ),
        battery(
            name="garage",
            capacity_kwh=5.0,
            charge_max_kw=2.0,
            discharge_max_kw=2.5,
            charge_efficiency=0.92,
            discharge_efficiency=0.96,
            soc_initial_pct=80.0,
            grid_discharge=seed // 2 % 2 == 0,
        ),
    )
    loads = (
        DeferrableLoad(
            name="heat_pump", power_kw=2.0, energy_kwh=8.0, earliest_step=0, latest_step=n, min_run_steps=3
        ),
        DeferrableLoad(
            name="ev", power_kw=3.7, energy_kwh=7.4, earliest_step=n // 2, latest_step=n, min_run_steps=2
        ),
    )
    return Problem(
        step_h=1.0,
        batteries=batteries,
        deferrable_loads=loads,
        grid_import_max_kw=9.0,
        grid_export_max_kw=4.0,
        peak_charge_eur_kw=float(rng.choice([0.0, 0.1])),
        **shapes,
    )


@pytest.mark.parametrize("seed", range(4))
def test_matches_second_milp_two_batteries_two_loads(seed: int) -> None:
    p = random_multi_asset_problem(seed)
    s = solve_checked(p)
    expected = reference_milp(p)
    assert s.total_cost_eur == pytest.approx(expected.cost_eur, abs=1e-4)


@pytest.mark.parametrize("objective", ["peak", "self_consumption"])
def test_lexicographic_objectives_match_second_milp(objective: str) -> None:
    p = replace(random_multi_asset_problem(7), objective=objective)
    s = solve_checked(p)
    if objective == "peak":
        best = reference_milp(p, minimise="peak").peak_import_kw
        assert s.objective_value == pytest.approx(best, abs=1e-5)
        cheapest = reference_milp(p, peak_cap_kw=best + 1e-6).cost_eur
    else:
        best = reference_milp(p, minimise="import").import_kwh
        assert s.objective_value == pytest.approx(best, abs=1e-5)
        cheapest = reference_milp(p, import_cap_kwh=best + 1e-6).cost_eur
    assert s.total_cost_eur == pytest.approx(cheapest, abs=1e-4)


# --- why binaries: negative prices ----------------------------------------------------------------


def test_relaxed_lp_burns_energy_at_negative_prices_but_solve_does_not() -> None:
    """One hour, full battery (η 0.9/0.9), load 1 kW, import price -0.2, export price -0.1.

    The LP without binaries is paid to import: it charges and discharges at once (burning 19 % of the
    charge in losses) and imports and exports at once. `solve` may only import the load (the battery
    is full) and curtail nothing (there is no PV): cost -0.2 EUR."""
    b = battery(
        capacity_kwh=5.0,
        charge_max_kw=5.0,
        discharge_max_kw=5.0,
        charge_efficiency=0.9,
        discharge_efficiency=0.9,
        soc_initial_pct=100.0,
    )
    p = problem(n=1, import_price_eur_kwh=[-0.2], export_price_eur_kwh=[-0.1], batteries=(b,))
    # relaxed LP, variables [import, export, charge_ac, discharge_ac, soc]; bounds as in the model
    c = [-0.2, 0.1, 0.0, 0.0, 0.0]
    a_eq = [[1, -1, -1, 1, 0], [0, 0, -0.9, 1 / 0.9, 1]]  # balance; soc = 5 + 0.9 ch - dis / 0.9
    b_eq = [1.0, 5.0]
    bounds = [(0, 20), (0, 5 * 0.9), (0, 5 / 0.9), (0, 5 * 0.9), (0.5, 5.0)]
    lp = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    imp, exp, ch, dis, _ = lp.x
    assert min(ch, dis) > 1.0, "the relaxed LP charges and discharges at once"
    assert min(imp, exp) > 1.0, "the relaxed LP imports and exports at once"
    assert lp.fun < -0.5
    s = solve_checked(p)
    assert s.batteries[0].charge_kw == (0.0,)
    assert s.batteries[0].discharge_kw == (0.0,)
    assert s.grid_export_kw == (0.0,)
    assert s.total_cost_eur == pytest.approx(-0.2, abs=1e-6)


def test_negative_import_price_curtails_pv_to_import() -> None:
    """Paid 0.1 EUR/kWh to consume: curtail the 2 kW of PV and import the whole load."""
    s = solve_checked(problem(n=2, load_kw=[1.0, 1.0], pv_kw=[2.0, 2.0], import_price_eur_kwh=[-0.1, -0.1]))
    assert s.curtailment_kw == pytest.approx((2.0, 2.0), abs=1e-6)
    assert s.total_cost_eur == pytest.approx(-0.2, abs=1e-6)


# --- grid rules -----------------------------------------------------------------------------------


def test_grid_charging_false_charges_only_from_pv_surplus() -> None:
    """Cheap night (0.05) and dear evening (0.50, 2 kWh of load): with grid charging the battery
    takes 1 kWh at night on top of the 2 x 0.5 kWh PV surplus; without it only the surplus."""
    n = 6
    kwargs: dict[str, Any] = {
        "load_kw": [1.0] * n,
        "pv_kw": [0.0, 0.0, 1.5, 1.5, 0.0, 0.0],
        "import_price_eur_kwh": [0.05, 0.05, 0.2, 0.2, 0.5, 0.5],
        "export_price_eur_kwh": [0.0] * n,
    }
    b = battery(
        capacity_kwh=6.0,
        charge_efficiency=1.0,
        discharge_efficiency=1.0,
        soc_min_pct=0.0,
        soc_initial_pct=0.0,
    )
    free = solve_checked(problem(n, batteries=(b,), **kwargs))
    assert free.batteries[0].soc_kwh[1] == pytest.approx(1.0, abs=1e-6)  # 1 kWh from the grid at night
    assert free.total_cost_eur == pytest.approx(3 * 0.05, abs=1e-6)
    pv_only = solve_checked(problem(n, batteries=(replace(b, grid_charging=False),), **kwargs))
    assert pv_only.batteries[0].charge_kw == pytest.approx((0.0, 0.0, 0.5, 0.5, 0.0, 0.0), abs=1e-6)
    assert pv_only.total_cost_eur == pytest.approx(2 * 0.05 + 1 * 0.5, abs=1e-6)


def test_grid_charging_false_counts_deferrable_load_against_surplus() -> None:
    """PV 3 kW, load 1 kW, a 2 kW load forced into the same step: no surplus left to charge."""
    d = DeferrableLoad(name="pump", power_kw=2.0, energy_kwh=2.0, earliest_step=0, latest_step=1)
    b = battery(grid_charging=False, soc_initial_pct=10.0, soc_min_pct=10.0)
    p = problem(n=2, pv_kw=[3.0, 0.0], import_price_eur_kwh=[0.0, 0.5], batteries=(b,), deferrable_loads=(d,))
    s = solve_checked(p)
    assert s.batteries[0].charge_kw == pytest.approx((0.0, 0.0), abs=1e-9)


def test_grid_discharge_false_never_exports_battery_energy() -> None:
    """Export price 0.6 > import price 0.3 in step 1: an unrestricted battery sells everything; a
    no-export battery covers only the load in steps without export, never while PV is exported."""
    n = 3
    kwargs: dict[str, Any] = {
        "load_kw": [1.0, 1.0, 1.0],
        "pv_kw": [0.0, 2.0, 0.0],
        "import_price_eur_kwh": [0.3, 0.3, 0.3],
        "export_price_eur_kwh": [0.0, 0.6, 0.0],
    }
    b = battery(capacity_kwh=6.0, soc_initial_pct=100.0)
    free = solve_checked(problem(n, batteries=(b,), **kwargs))
    assert free.grid_export_kw[1] > 2.0
    kept = solve_checked(problem(n, batteries=(replace(b, grid_discharge=False),), **kwargs))
    assert kept.grid_export_kw == pytest.approx((0.0, 1.0, 0.0), abs=1e-6)  # the PV surplus only
    assert kept.batteries[0].discharge_kw[1] == pytest.approx(0.0, abs=1e-9)
    assert kept.batteries[0].discharge_kw[0] == pytest.approx(1.0, abs=1e-6)


def test_export_limit_curtails_surplus() -> None:
    s = solve_checked(problem(pv_kw=[10.0] * 4, grid_export_max_kw=3.0))
    assert s.grid_export_kw == pytest.approx((3.0,) * 4, abs=1e-6)
    assert s.curtailment_kw == pytest.approx((6.0,) * 4, abs=1e-6)
    # the baseline curtails too (the limit forces it): same cost
    assert s.baseline_cost_eur == pytest.approx(s.total_cost_eur, abs=1e-6)


def test_export_limit_without_curtailment_uses_the_battery() -> None:
    b = battery(capacity_kwh=20.0, charge_max_kw=7.0, soc_initial_pct=10.0)
    s = solve_checked(
        problem(
            pv_kw=[10.0] * 2 + [0.0] * 2, grid_export_max_kw=3.0, curtailment_allowed=False, batteries=(b,)
        )
    )
    assert s.batteries[0].charge_kw[:2] == pytest.approx((6.0, 6.0), abs=1e-6)


def test_two_batteries_share_the_work() -> None:
    """Each battery alone is too small for the 4 kW evening: both discharge."""
    b1 = battery(name="a", capacity_kwh=4.0, charge_max_kw=2.0, discharge_max_kw=2.0, soc_initial_pct=100.0)
    b2 = battery(name="b", capacity_kwh=4.0, charge_max_kw=2.0, discharge_max_kw=2.0, soc_initial_pct=100.0)
    p = problem(load_kw=[4.0] * 4, import_price_eur_kwh=[0.1, 0.1, 0.6, 0.6], batteries=(b1, b2))
    s = solve_checked(p)
    assert all(max(bs.discharge_kw[2:]) > 1.0 for bs in s.batteries)
    assert [bs.name for bs in s.batteries] == ["a", "b"]


def test_two_deferrable_loads_with_min_run() -> None:
    rng = np.random.default_rng(3)
    n = 24
    loads = (
        DeferrableLoad(
            name="washer", power_kw=2.0, energy_kwh=6.0, earliest_step=6, latest_step=22, min_run_steps=3
        ),
        DeferrableLoad(
            name="boiler", power_kw=3.0, energy_kwh=12.0, earliest_step=0, latest_step=n, min_run_steps=2
        ),
    )
    p = Problem(step_h=1.0, deferrable_loads=loads, **daily_shapes(n, 1.0, rng))
    s = solve_checked(p)
    assert s.total_cost_eur == pytest.approx(reference_milp(p).cost_eur, abs=1e-5)
    assert s.savings_eur > 0


def test_72_hours_at_15_minutes_solves() -> None:
    rng = np.random.default_rng(72)
    n = 288
    p = Problem(step_h=0.25, batteries=(battery(soc_final_pct=50.0),), **daily_shapes(n, 0.25, rng))
    s = solve_checked(p)
    assert len(s.grid_kw) == n and len(s.batteries[0].soc_kwh) == n
    assert s.savings_eur > 0
    assert s.mip_gap is not None and s.mip_gap <= 1e-4


# --- infeasibility --------------------------------------------------------------------------------


def conflicts_of(p: Problem) -> list[Any]:
    with pytest.raises(InfeasibleProblemError) as caught:
        solve(p)
    assert caught.value.conflicts
    return caught.value.conflicts


def test_infeasible_final_soc_by_bounds() -> None:
    """24 steps x 0.25 h x 1 kW = 6 kWh into the cells at most; 20 % -> 90 % of 10 kWh needs 7."""
    b = battery(charge_max_kw=1.0, soc_initial_pct=20.0, soc_final_pct=90.0)
    (conflict,) = conflicts_of(problem(24, step_h=0.25, batteries=(b,)))
    assert conflict.constraint == "final_soc[home]"
    assert conflict.message == (
        "battery 'home': final SOC 90 % unreachable: at most 6.00 kWh can be charged in 24 steps, "
        "7.00 kWh needed"
    )
    assert conflict.numbers["max_charge_kwh"] == pytest.approx(6.0)
    assert conflict.numbers["needed_kwh"] == pytest.approx(7.0)


def test_infeasible_final_soc_without_grid_charging_by_bounds() -> None:
    b = battery(soc_initial_pct=20.0, soc_final_pct=60.0, grid_charging=False)
    (conflict,) = conflicts_of(problem(4, pv_kw=[0.0, 2.0, 2.0, 0.0], batteries=(b,)))
    assert "from PV surplus (grid charging is off)" in conflict.message
    assert conflict.numbers["max_charge_kwh"] == pytest.approx(2 * 1.0 * 0.95)
    assert conflict.numbers["needed_kwh"] == pytest.approx(4.0)


def test_infeasible_deferrable_window_by_bounds() -> None:
    d = DeferrableLoad(name="heat_pump", power_kw=2.0, energy_kwh=6.0, earliest_step=4, latest_step=12)
    (conflict,) = conflicts_of(problem(16, step_h=0.25, deferrable_loads=(d,)))
    assert conflict.constraint == "deferrable_window[heat_pump]"
    assert conflict.message == (
        "deferrable 'heat_pump' needs 6 kWh but its window allows at most 4 kWh (8 steps × 2 kW × 0.25 h)"  # noqa: RUF001
    )
    assert conflict.numbers == {"energy_kwh": 6.0, "max_energy_kwh": 4.0, "window_steps": 8}


def test_infeasible_min_run_longer_than_the_need() -> None:
    d = DeferrableLoad(
        name="pump", power_kw=1.0, energy_kwh=2.0, earliest_step=0, latest_step=8, min_run_steps=3
    )
    (conflict,) = conflicts_of(problem(8, deferrable_loads=(d,)))
    assert conflict.constraint == "deferrable_min_run[pump]"
    assert "needs 2 steps at 1 kW (2 kWh) but runs at least 3 steps" in conflict.message


def test_infeasible_import_limit_at_one_step_by_bounds() -> None:
    load = [1.0] * 16
    load[14] = 7.2
    (conflict,) = conflicts_of(problem(16, load_kw=load, grid_import_max_kw=5.0))
    assert conflict.constraint == "grid_import_max_kw"
    assert conflict.message.startswith("grid import limit 5 kW < load 7.2 kW at step 14")
    assert "leave 2.2 kW uncovered" in conflict.message
    assert conflict.numbers["step"] == 14
    assert conflict.numbers["shortfall_kw"] == pytest.approx(2.2)


def test_infeasible_export_limit_without_curtailment_by_bounds() -> None:
    b = battery(charge_max_kw=1.9)  # 2 kW on the AC side
    p = problem(
        4, pv_kw=[0.0, 8.0, 0.0, 0.0], grid_export_max_kw=3.0, curtailment_allowed=False, batteries=(b,)
    )
    (conflict,) = conflicts_of(p)
    assert conflict.constraint == "grid_export_max_kw"
    assert conflict.numbers["excess_kw"] == pytest.approx(7.0 - 3.0 - 2.0)
    assert "curtailment is not allowed" in conflict.message


def test_infeasible_import_limit_over_several_steps_found_by_relaxation() -> None:
    """Every step passes the bound check (2 kW limit + 3 kW discharge >= 4 kW), but the battery holds
    only 4 kWh usable for the 6 kWh above the limit: relaxing the limit shows the lowest reachable
    peak (4 kWh spread over 3 steps: 4 - 4/3 = 2.667 kW)."""
    b = battery(
        capacity_kwh=5.0,
        discharge_max_kw=3.0,
        discharge_efficiency=1.0,
        soc_min_pct=20.0,
        soc_initial_pct=100.0,
    )
    p = problem(3, load_kw=[4.0, 4.0, 4.0], grid_import_max_kw=2.0, batteries=(b,))
    (conflict,) = conflicts_of(p)
    assert conflict.constraint == "grid_import_max_kw"
    assert "lowest import peak any schedule reaches is 2.667 kW" in conflict.message
    assert conflict.numbers["min_peak_import_kw"] == pytest.approx(4.0 - 4.0 / 3, abs=1e-6)


def test_infeasible_final_soc_with_import_limit_found_by_relaxation() -> None:
    """Bounds allow 4 kWh in 4 steps, but the 1 kW import limit minus the 0.5 kW load leaves
    0.5 kW x 0.95 per step: both the final SOC and the import limit are reported, with numbers."""
    b = battery(capacity_kwh=10.0, charge_max_kw=1.0, soc_initial_pct=20.0, soc_final_pct=60.0)
    p = problem(8, load_kw=[0.5] * 8, grid_import_max_kw=1.0, batteries=(b,))
    conflicts = {c.constraint: c for c in conflicts_of(p)}
    assert set(conflicts) == {"final_soc[home]", "grid_import_max_kw"}
    best_pct = (2.0 + 8 * 0.5 * 0.95) / 10 * 100
    assert conflicts["final_soc[home]"].numbers["max_final_soc_pct"] == pytest.approx(best_pct, abs=1e-4)
    assert f"highest reachable final SOC is {best_pct:.2f} %" in conflicts["final_soc[home]"].message
    needed_peak = 0.5 + 4.0 / 0.95 / 8
    assert conflicts["grid_import_max_kw"].numbers["min_peak_import_kw"] == pytest.approx(
        needed_peak, abs=1e-5
    )


def test_infeasible_deferrable_with_import_limit_found_by_relaxation() -> None:
    d = DeferrableLoad(name="ev", power_kw=3.0, energy_kwh=6.0, earliest_step=0, latest_step=4)
    p = problem(4, load_kw=[1.0, 2.5, 2.5, 2.5], grid_import_max_kw=4.0, deferrable_loads=(d,))
    conflicts = {c.constraint: c for c in conflicts_of(p)}
    assert conflicts["deferrable[ev]"].numbers["max_energy_kwh"] == pytest.approx(3.0)
    assert "the most that can be delivered in its window is 3.000 kWh" in conflicts["deferrable[ev]"].message
    assert conflicts["grid_import_max_kw"].numbers["min_peak_import_kw"] == pytest.approx(5.5)


def test_infeasible_grid_charging_rule_found_by_relaxation() -> None:
    """The PV surplus (3 kW in step 0) is enough by the bound, but the pump must run exactly then."""
    d = DeferrableLoad(name="pump", power_kw=2.0, energy_kwh=2.0, earliest_step=0, latest_step=1)
    b = battery(charge_max_kw=3.0, soc_initial_pct=20.0, soc_final_pct=45.0, grid_charging=False)
    p = problem(2, load_kw=[0.0, 0.0], pv_kw=[3.0, 0.0], batteries=(b,), deferrable_loads=(d,))
    conflicts = {c.constraint: c for c in conflicts_of(p)}
    assert "grid_charging[home]" in conflicts
    assert "final_soc[home]" in conflicts
    assert conflicts["final_soc[home]"].numbers["max_final_soc_pct"] == pytest.approx(
        20 + 0.95 * 10, abs=1e-4
    )


def test_two_independent_causes_are_reported_as_pairs() -> None:
    """Step 0: the PV-only battery cannot reach its final SOC (the pump takes the PV). Steps 1-3: the
    import limit needs 6 kWh from 'shed', which holds 4. No single relaxation helps. Pairs that do: the
    import limit with any step-0 group, and the final SOC with the pump or grid charging (then 'home'
    charges ~2.85 kWh in step 0 and may spend it in steps 1-3). Pump + grid charging does not: 'home'
    must keep 4.5 kWh, leaving at most 0.35 kWh for steps 1-3."""
    pump = DeferrableLoad(name="pump", power_kw=2.0, energy_kwh=2.0, earliest_step=0, latest_step=1)
    home = battery(charge_max_kw=3.0, soc_initial_pct=20.0, soc_final_pct=45.0, grid_charging=False)
    shed = battery(
        name="shed",
        capacity_kwh=5.0,
        discharge_max_kw=3.0,
        discharge_efficiency=1.0,
        soc_min_pct=20.0,
        soc_initial_pct=100.0,
    )
    p = problem(
        4,
        load_kw=[0.0, 4.0, 4.0, 4.0],
        pv_kw=[3.0, 0.0, 0.0, 0.0],
        grid_import_max_kw=2.0,
        batteries=(home, shed),
        deferrable_loads=(pump,),
    )
    conflicts = conflicts_of(p)
    assert {c.constraint for c in conflicts} == {
        "final_soc[home]+grid_import_max_kw",
        "final_soc[home]+deferrable[pump]",
        "final_soc[home]+grid_charging[home]",
        "grid_import_max_kw+deferrable[pump]",
        "grid_import_max_kw+grid_charging[home]",
    }
    assert all("neither alone does" in c.message for c in conflicts)


def test_infeasible_error_message_lists_the_conflicts() -> None:
    d = DeferrableLoad(name="heat_pump", power_kw=2.0, energy_kwh=6.0, earliest_step=0, latest_step=2)
    with pytest.raises(InfeasibleProblemError, match=r"deferrable 'heat_pump' needs 6 kWh"):
        solve(problem(4, deferrable_loads=(d,)))


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: problem(pv_kw=[0.0] * 3), r"pv_kw has 3 values but load_kw has 4"),
        (lambda: problem(step_h=0.2), r"step_h=0.2 is not one of"),
        (lambda: problem(n=73), r"horizon 73 steps x 1.0 h = 73.0 h exceeds 72 h"),
        (lambda: problem(load_kw=[1.0, -1.0, 1.0, 1.0]), r"load_kw has a negative value -1.0"),
        (
            lambda: problem(import_price_eur_kwh=[0.1, math.nan, 0.1, 0.1]),
            r"import_price_eur_kwh has a non-finite value at step 1",
        ),
        (lambda: problem(grid_import_max_kw=-1.0), r"grid_import_max_kw=-1.0"),
        (lambda: problem(objective="money"), r"objective='money'"),
        (lambda: battery(capacity_kwh=-5.0), r"Battery 'home': capacity_kwh=-5.0 must be finite and > 0"),
        (lambda: battery(soc_min_pct=80.0, soc_max_pct=60.0), r"soc_min_pct=80.0, soc_max_pct=60.0"),
        (lambda: battery(charge_efficiency=1.2), r"charge_efficiency=1.2 is outside \(0, 1\]"),
        (lambda: battery(discharge_efficiency=0.0), r"discharge_efficiency=0.0 is outside \(0, 1\]"),
        (lambda: battery(soc_initial_pct=5.0), r"soc_initial_pct=5.0 is outside"),
        (lambda: battery(soc_final_pct=110.0), r"soc_final_pct=110.0"),
        (lambda: battery(charge_max_kw=-1.0), r"charge_max_kw=-1.0"),
        (
            lambda: DeferrableLoad(name="x", power_kw=1.0, energy_kwh=1.0, earliest_step=3, latest_step=3),
            r"latest_step=3 must be > earliest_step=3",
        ),
        (
            lambda: DeferrableLoad(name="x", power_kw=0.0, energy_kwh=1.0, earliest_step=0, latest_step=3),
            r"power_kw=0.0",
        ),
        (
            lambda: DeferrableLoad(
                name="x",
                power_kw=1.0,
                energy_kwh=1.0,
                earliest_step=0,
                latest_step=3,
                on_off=False,
                min_run_steps=2,
            ),
            r"min_run_steps=2 needs on_off=True",
        ),
        (
            lambda: problem(
                deferrable_loads=(
                    DeferrableLoad(name="x", power_kw=1.0, energy_kwh=1.0, earliest_step=0, latest_step=9),
                )
            ),
            r"'x': latest_step=9 is outside the horizon of 4 steps",
        ),
        (
            lambda: problem(
                deferrable_loads=(
                    DeferrableLoad(name="x", power_kw=2.0, energy_kwh=3.0, earliest_step=0, latest_step=4),
                )
            ),
            r"'x': energy_kwh=3.0 is not a whole number of steps",
        ),
        (lambda: problem(batteries=(battery(), battery())), r"batteries: duplicate name\(s\) \['home'\]"),
    ],
)
def test_validation_names_the_field(make: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_problem_accepts_numpy_arrays_and_stores_tuples() -> None:
    p = problem(load_kw=np.array([1.0, 2.0, 3.0, 4.0]))
    assert p.load_kw == (1.0, 2.0, 3.0, 4.0)
    assert isinstance(p.load_kw, tuple)
