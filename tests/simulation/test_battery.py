"""The demo's simulated home battery: PV surplus in, deficits out, within power and SOC limits."""

from __future__ import annotations

import numpy as np
import pytest

from luna_iems.simulation.battery import BatterySpec, self_consumption


def test_surplus_charges_and_deficit_discharges_within_limits() -> None:
    spec = BatterySpec(capacity_kwh=10, power_kw=5, efficiency=0.9, soc_min_pct=10, soc_initial_pct=50)
    production = np.array([8.0, 8.0, 8.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, np.nan])
    consumption = np.array([1.0, 1.0, 1.0, 2.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0])
    soc, power = self_consumption(
        consumption_kw=consumption, production_kw=production, step_minutes=60, spec=spec
    )
    # Surplus 7 kW: 6.3 kW could be stored, the 5 kW limit takes 5 (5.56 kW from the AC side).
    assert power[0] == pytest.approx(-5 / 0.9) and soc[0] == pytest.approx(100.0)
    assert power[1] == 0 and soc[1] == pytest.approx(100.0)  # full: PV goes to the grid
    assert power[3] == pytest.approx(2.0)  # covers the 2 kW deficit: 2 / 0.9 kWh drawn
    assert soc[3] == pytest.approx(100 - 2 / 0.9 / 10 * 100)
    assert power[4] == pytest.approx(5 * 0.9)  # limited to 5 kW from the cells
    assert soc.min() == pytest.approx(10.0) and power[-2] == 0  # stops at the SOC floor
    assert power[-1] == 0  # a missing reading: idle
    assert np.all(power >= -(5 / 0.9) - 1e-9) and np.all(power <= 5 * 0.9 + 1e-9)


def test_the_battery_never_charges_from_the_grid() -> None:
    hours = np.arange(96) / 4
    production = np.clip(6 * np.sin((hours - 6) / 12 * np.pi), 0, None)
    consumption = np.full(96, 1.5)
    soc, power = self_consumption(consumption_kw=consumption, production_kw=production, step_minutes=15)
    charging = power < 0
    assert charging.any() and np.all(-power[charging] <= (production - consumption)[charging] + 1e-9)
    stored_step = np.diff(np.r_[50.0, soc]) / 100 * 10  # kWh into the cells per step
    assert np.allclose(stored_step[charging], -power[charging] * 0.95 * 0.25)
