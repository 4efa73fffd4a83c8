"""Lazy exclusion binaries, honest statuses, proven diagnosis numbers and the final-SOC modes.

The lazy scheme must give the full MILP's optimum: checked against `reference_solvers.milp_reference`
(a second MILP with every binary, written independently) on seeded random cases with negative prices
and export prices above import prices. Every number an infeasibility explanation states is checked
against an independent computation (the reference MILP with the relaxed group removed).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from luna_iems.decisions import probes
from luna_iems.decisions.optimizer import (
    Battery,
    DeferrableLoad,
    InfeasibleProblemError,
    Problem,
    solve,
)
from tests.decisions import reference_solvers as ref
from tests.decisions.reference_inputs import reference_milp, site, storage
from tests.decisions.test_optimizer import battery, check_schedule, problem


def random_lazy_problem(seed: int) -> Problem:
    """1-2 batteries, 12-24 half-hour steps, prices that make burning and buy-and-sell pay at some
    steps (negative import and export prices, export above import), random grid rules and limits."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(12, 25))
    imp = rng.integers(-10, 40, n) / 100
    exp = imp + rng.choice([-0.15, -0.05, 0.0, 0.03], n)
    batteries = [
        Battery(
            name=f"b{k}",
            capacity_kwh=float(rng.integers(3, 12)),
            charge_max_kw=float(rng.integers(10, 40)) / 10,
            discharge_max_kw=float(rng.integers(10, 40)) / 10,
            charge_efficiency=float(rng.choice([0.9, 0.95])),
            discharge_efficiency=float(rng.choice([0.9, 0.97])),
            soc_initial_pct=float(rng.choice([10.0, 50.0, 90.0])),
            soc_final_pct=float(rng.choice([20.0, 50.0])) if rng.random() < 0.5 else None,
            soc_final_mode="equal" if rng.random() < 0.3 else "at_least",
            grid_charging=bool(rng.random() < 0.7),
            grid_discharge=bool(rng.random() < 0.7),
        )
        for k in range(int(rng.integers(1, 3)))
    ]
    return Problem(
        step_h=0.5,
        load_kw=rng.integers(0, 40, n) / 10,
        pv_kw=np.where(rng.random(n) < 0.6, rng.integers(0, 60, n) / 10, 0.0),
        import_price_eur_kwh=imp,
        export_price_eur_kwh=exp,
        batteries=tuple(batteries),
        grid_import_max_kw=8.0 if rng.random() < 0.3 else None,
        grid_export_max_kw=float(rng.choice([2.0, 4.0])) if rng.random() < 0.4 else None,
        curtailment_allowed=bool(rng.random() < 0.8),
        peak_charge_eur_kw=float(rng.choice([0.0, 0.05])),
    )


@pytest.mark.parametrize("seed", range(24))
def test_lazy_binaries_reach_the_full_milp_optimum(seed: int) -> None:
    p = random_lazy_problem(seed)
    try:
        s = solve(p)
    except InfeasibleProblemError:
        with pytest.raises(RuntimeError):
            reference_milp(p)
        return
    assert s.status == "optimal"
    check_schedule(p, s)
    assert s.total_cost_eur == pytest.approx(reference_milp(p).cost_eur, abs=1e-5)


def test_positive_prices_need_no_exclusion_binary() -> None:
    """Prices > 0, export below import, no grid rules: burning or buying-and-selling never pays, so the
    first relaxation is already clean: one HiGHS call, no exclusion binary."""
    rng = np.random.default_rng(5)
    n = 96
    price = 0.2 + 0.1 * rng.random(n)
    p = Problem(
        step_h=0.25,
        load_kw=rng.random(n),
        pv_kw=3 * rng.random(n),
        import_price_eur_kwh=price,
        export_price_eur_kwh=price / 3,
        batteries=(battery(soc_final_pct=50.0),),
    )
    s = solve(p)
    assert (s.status, s.solves, s.exclusion_binaries) == ("optimal", 1, 0)
    check_schedule(p, s)
    assert s.total_cost_eur == pytest.approx(reference_milp(p).cost_eur, abs=1e-5)


def test_negative_prices_enforce_binaries_only_where_needed() -> None:
    """Burning pays only at the two negative-price steps: binaries there (battery and grid blocks of
    those steps at most), none elsewhere, and the schedule never charges and discharges at once."""
    n = 8
    imp = [0.3, 0.3, -0.2, -0.2, 0.3, 0.3, 0.3, 0.3]
    p = problem(
        n,
        import_price_eur_kwh=imp,
        export_price_eur_kwh=[min(0.05, v) for v in imp],
        batteries=(battery(charge_efficiency=0.9, discharge_efficiency=0.9, soc_initial_pct=100.0),),
    )
    s = solve(p)
    check_schedule(p, s)
    assert 0 < s.exclusion_binaries <= 4
    assert s.total_cost_eur == pytest.approx(reference_milp(p).cost_eur, abs=1e-6)


def knapsack_problem(**overrides: Any) -> Problem:
    """Six on/off loads of odd powers and a peak charge: HiGHS needs more than one node."""
    rng = np.random.default_rng(1)
    n = 12
    loads = tuple(
        DeferrableLoad(
            name=f"l{i}",
            power_kw=float(power),
            energy_kwh=float(power) * int(k),
            earliest_step=0,
            latest_step=n,
            min_run_steps=int(m),
        )
        for i, (power, k, m) in enumerate(
            zip(rng.integers(11, 97, 6) / 10, rng.integers(2, 5, 6), rng.integers(1, 3, 6), strict=True)
        )
    )
    values: dict[str, Any] = {
        "step_h": 1.0,
        "load_kw": rng.random(n),
        "pv_kw": np.zeros(n),
        "import_price_eur_kwh": 0.1 + rng.random(n) / 3,
        "export_price_eur_kwh": np.zeros(n),
        "deferrable_loads": loads,
        "peak_charge_eur_kw": 0.37,
    }
    return Problem(**(values | overrides))


def test_node_limit_is_reported_with_its_gap_not_as_optimal() -> None:
    """A node limit is deterministic: the same problem stops at the same plan, status "node_limit",
    with a gap and a cost bound that the proven optimum respects."""
    limited = solve(knapsack_problem(node_limit=1))
    again = solve(knapsack_problem(node_limit=1))
    assert limited.status == "node_limit"
    assert (again.status, again.total_cost_eur) == (limited.status, limited.total_cost_eur)
    assert limited.mip_gap is not None and limited.mip_gap > 0
    full = solve(knapsack_problem())
    assert full.status == "optimal"
    assert limited.cost_bound_eur is not None
    assert limited.cost_bound_eur - 1e-6 <= full.total_cost_eur <= limited.total_cost_eur + 1e-6
    check_schedule(knapsack_problem(), limited)


def test_node_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="node_limit=0"):
        problem(node_limit=0)


# --- final SOC modes ------------------------------------------------------------------------------


def test_soc_final_equal_ends_exactly_at_the_target() -> None:
    """A full lossless battery, dear first hours, cheap last ones: "at_least" 50 % may end anywhere
    above; "equal" ends at exactly 50 %, and its cost matches the DP with an exact final level."""
    b = battery(soc_initial_pct=100.0, soc_final_pct=50.0, charge_efficiency=1.0, discharge_efficiency=1.0)
    p = problem(4, import_price_eur_kwh=[0.3, 0.3, 0.05, 0.05], batteries=(b,))
    at_least = solve(p)
    equal = solve(replace(p, batteries=(replace(b, soc_final_mode="equal"),)))
    assert at_least.batteries[0].soc_pct[-1] >= 50.0 - 1e-6
    assert equal.batteries[0].soc_pct[-1] == pytest.approx(50.0, abs=1e-6)
    check_schedule(p, equal)
    expected = ref.dp_battery(site(p), storage(replace(b, soc_final_mode="equal")), soc_step_kwh=0.5).cost_eur
    assert equal.total_cost_eur == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_soc_final_equal_matches_dp(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    n = 10
    b = battery(
        capacity_kwh=4.0,
        charge_max_kw=2.0,
        discharge_max_kw=2.0,
        charge_efficiency=1.0,
        discharge_efficiency=1.0,
        soc_min_pct=0.0,
        soc_initial_pct=float(rng.choice([0.0, 50.0, 100.0])),
        soc_final_pct=float(rng.choice([25.0, 50.0, 75.0])),
        soc_final_mode="equal",
    )
    p = Problem(
        step_h=1.0,
        load_kw=rng.integers(0, 30, n) / 10,
        pv_kw=np.where(rng.random(n) < 0.5, rng.integers(0, 40, n) / 10, 0.0),
        import_price_eur_kwh=rng.integers(-5, 40, n) / 100,
        export_price_eur_kwh=rng.integers(-5, 20, n) / 100,
        batteries=(b,),
    )
    s = solve(p)
    assert s.batteries[0].soc_kwh[-1] == pytest.approx(b.soc_final_kwh, abs=1e-6)
    assert s.total_cost_eur == pytest.approx(
        ref.dp_battery(site(p), storage(b), soc_step_kwh=0.1).cost_eur, abs=1e-5
    )


def test_soc_final_equal_below_soc_min_is_refused() -> None:
    with pytest.raises(ValueError, match="soc_final_mode='equal' is below soc_min_pct"):
        battery(soc_final_pct=5.0, soc_final_mode="equal")


def test_soc_final_equal_too_low_to_discharge_is_explained_by_bounds() -> None:
    """From 100 % of 10 kWh to exactly 10 % in 4 steps of 1 kW (storage side): 4 kWh can go, 9 must."""
    b = battery(discharge_max_kw=1.0, soc_initial_pct=100.0, soc_final_pct=10.0, soc_final_mode="equal")
    with pytest.raises(InfeasibleProblemError) as caught:
        solve(problem(4, batteries=(b,)))
    (conflict,) = caught.value.conflicts
    assert conflict.numbers == {"soc_final_pct": 10.0, "max_discharge_kwh": 4.0, "excess_kwh": 9.0}


def test_soc_final_equal_unreachable_downwards_names_the_lowest_final_soc() -> None:
    """A full 10 kWh battery must end at exactly 20 %, but with no export it can only cover the
    0.5 kW load: 0.5 / 0.95 kWh leave the cells per hour, so the lowest final SOC is
    (10 - 4 x 0.5 / 0.95) / 10 = 78.9 %."""
    b = battery(soc_initial_pct=100.0, soc_final_pct=20.0, soc_final_mode="equal")
    p = problem(4, load_kw=[0.5] * 4, grid_export_max_kw=0.0, batteries=(b,))
    with pytest.raises(InfeasibleProblemError) as caught:
        solve(p)
    conflict = {c.constraint: c for c in caught.value.conflicts}["final_soc[home]"]
    lowest_pct = (10.0 - 4 * 0.5 / 0.95) / 10 * 100
    assert conflict.numbers["min_final_soc_pct"] == pytest.approx(lowest_pct, abs=1e-4)
    assert f"lowest reachable final SOC is {lowest_pct:.2f} %" in conflict.message


# --- diagnosis: every number against an independent computation ----------------------------------


def conflicts_by_name(p: Problem) -> dict[str, Any]:
    with pytest.raises(InfeasibleProblemError) as caught:
        solve(p)
    return {c.constraint: c for c in caught.value.conflicts}


@pytest.mark.parametrize("seed", range(6))
def test_import_peak_and_final_soc_numbers_match_the_reference(seed: int) -> None:
    """Battery-only problems made infeasible by a tight import limit with a final SOC: the lowest peak
    and the highest final SOC stated must equal the reference MILP's optimum of the relaxed problem."""
    rng = np.random.default_rng(300 + seed)
    n = 16
    b = battery(
        capacity_kwh=float(rng.integers(3, 8)),
        charge_max_kw=2.0,
        discharge_max_kw=3.0,
        soc_initial_pct=30.0,
        soc_final_pct=80.0,
    )
    load = 0.5 + rng.random(n) * 2
    p = problem(
        n,
        step_h=0.5,
        load_kw=load,
        pv_kw=np.where(rng.random(n) < 0.3, 2.0, 0.0),
        grid_import_max_kw=float(np.round(0.3 * load.max(), 2)),
        batteries=(b,),
    )
    conflicts = conflicts_by_name(p)
    if "grid_import_max_kw" in conflicts:
        numbers = conflicts["grid_import_max_kw"].numbers
        best = reference_milp(replace(p, grid_import_max_kw=None), minimise="peak").peak_import_kw
        assert numbers["min_peak_import_kw"] == pytest.approx(best, abs=1e-5)
        assert f"reaches is {best:.3f} kW" in conflicts["grid_import_max_kw"].message
    if "final_soc[home]" in conflicts:
        free = replace(p, batteries=(replace(b, soc_final_pct=None),))
        best_kwh = reference_milp(free, maximise_final_soc_of=0).extra["final_kwh"]
        stated = conflicts["final_soc[home]"].numbers["max_final_soc_pct"]
        assert stated == pytest.approx(best_kwh / b.capacity_kwh * 100, abs=1e-4)
    assert conflicts, "the case must be infeasible"


def eight_loads_problem(**overrides: Any) -> Problem:
    """Eight on/off loads of odd powers in a 16-step window: minimising the import peak needs
    branching (its LP bound is 9.17 kW, the optimum higher)."""
    rng = np.random.default_rng(0)
    n = 16
    loads = tuple(
        DeferrableLoad(
            name=f"l{i}",
            power_kw=float(power),
            energy_kwh=float(power) * int(k),
            earliest_step=0,
            latest_step=n,
            min_run_steps=int(m),
        )
        for i, (power, k, m) in enumerate(
            zip(rng.integers(11, 97, 8) / 10, rng.integers(2, 6, 8), rng.integers(1, 4, 8), strict=True)
        )
    )
    values: dict[str, Any] = {
        "step_h": 1.0,
        "load_kw": rng.random(n) * 3,
        "pv_kw": np.zeros(n),
        "import_price_eur_kwh": np.full(n, 0.3),
        "export_price_eur_kwh": np.zeros(n),
        "deferrable_loads": loads,
    }
    return Problem(**(values | overrides))


@pytest.fixture(scope="module")
def eight_loads_lowest_peak() -> float:
    """The true lowest import peak of `eight_loads_problem` (reference MILP, to optimality; ~10 s)."""
    return reference_milp(eight_loads_problem(), minimise="peak").peak_import_kw


def test_a_stopped_probe_states_a_range_that_holds(
    monkeypatch: pytest.MonkeyPatch, eight_loads_lowest_peak: float
) -> None:
    """With the probes cut at one branch-and-bound node, the lowest import peak is not proven: the
    explanation states a range, never a single unproven number, and the true optimum (the reference
    MILP run to optimality) lies inside it."""
    monkeypatch.setattr(probes, "PROBE_NODE_LIMIT", 1)
    p = eight_loads_problem(grid_import_max_kw=8.0)
    conflict = conflicts_by_name(p)["grid_import_max_kw"]
    truth = eight_loads_lowest_peak
    numbers = conflict.numbers
    assert "min_peak_import_kw" not in numbers, "a 1-node probe cannot prove this optimum"
    assert numbers["min_peak_import_kw_low"] - 1e-6 <= truth <= numbers["min_peak_import_kw_high"] + 1e-6
    assert numbers["min_peak_import_kw_low"] >= 8.0  # the limit itself is out of reach: infeasible
    assert "between" in conflict.message and "not proven optimal" in conflict.message


def test_the_probe_with_its_normal_limits_states_only_true_numbers(
    monkeypatch: pytest.MonkeyPatch, eight_loads_lowest_peak: float
) -> None:
    """The same case with the probes' normal limits (30 nodes): this instance is hard (the reference
    needs ~10 s), so the probe does not prove the optimum; what it states holds: a range around it,
    the same on every run (the node limit, not the clock, stops it: the clock's safety net is moved
    out of the way so that a slow test machine cannot make this test flaky)."""
    monkeypatch.setattr(probes, "PROBE_TIME_LIMIT_S", 120.0)
    p = eight_loads_problem(grid_import_max_kw=8.0)
    conflict = conflicts_by_name(p)["grid_import_max_kw"]
    truth = eight_loads_lowest_peak
    low, high = conflict.numbers["min_peak_import_kw_low"], conflict.numbers["min_peak_import_kw_high"]
    assert low - 1e-6 <= truth <= high + 1e-6
    again = conflicts_by_name(p)["grid_import_max_kw"]
    assert again.numbers == conflict.numbers


def test_a_time_limited_solve_is_reported_as_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """HiGHS stopped by the clock (scipy status 1, "Time limit reached") with a schedule: the schedule
    comes back with status "time_limit" and the gap HiGHS reported, never as "optimal". The clock is
    replaced by HiGHS' own answer to a 1-node limit, so the test does not depend on timing."""
    from luna_iems.decisions import solving

    real_milp = solving.milp

    def stopped_by_the_clock(*args: Any, **kwargs: Any) -> Any:
        kwargs["options"] = dict(kwargs["options"], node_limit=1)
        result = real_milp(*args, **kwargs)
        if result.status == 4 and result.x is not None:
            result.status, result.message = 1, "Time limit reached. (HiGHS Status 13: Time limit reached)"
        return result

    monkeypatch.setattr(solving, "milp", stopped_by_the_clock)
    limited = solve(knapsack_problem())
    assert limited.status == "time_limit"
    assert limited.mip_gap is not None and limited.mip_gap > 0
    assert limited.cost_bound_eur is not None and limited.cost_bound_eur < limited.total_cost_eur
