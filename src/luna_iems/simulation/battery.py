"""A simulated home battery for demo data: the self-consumption control most hybrid inverters run.

Each step, PV surplus (production - consumption) charges the battery and a deficit is covered from it,
within the power limit (storage side) and the state-of-charge window; the grid is never used to charge
and the battery never exports. Deterministic: the same readings give the same states.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BatterySpec:
    capacity_kwh: float = 10.0
    power_kw: float = 5.0  # storage side, both directions
    efficiency: float = 0.95  # each way
    soc_min_pct: float = 10.0
    soc_max_pct: float = 100.0
    soc_initial_pct: float = 50.0


def self_consumption(
    *,
    consumption_kw: FloatArray,
    production_kw: FloatArray,
    step_minutes: int,
    spec: BatterySpec = BatterySpec(),
) -> tuple[FloatArray, FloatArray]:
    """(state of charge at the end of each step in %, AC power in kW: + = discharge, - = charge).

    Missing readings (NaN) leave the battery idle for that step.
    """
    hours = step_minutes / 60.0
    net = np.nan_to_num(
        np.asarray(production_kw, dtype=np.float64) - np.asarray(consumption_kw, dtype=np.float64)
    )
    low, high = spec.capacity_kwh * spec.soc_min_pct / 100, spec.capacity_kwh * spec.soc_max_pct / 100
    energy = spec.capacity_kwh * spec.soc_initial_pct / 100
    soc = np.empty(net.size)
    power = np.empty(net.size)
    for i, surplus in enumerate(net):
        if surplus > 0:  # charge from PV surplus: stored = AC * efficiency
            stored = min(surplus * spec.efficiency, spec.power_kw, (high - energy) / hours)
            energy += stored * hours
            power[i] = -stored / spec.efficiency
        else:  # cover the deficit: AC out = drawn * efficiency
            drawn = min(-surplus / spec.efficiency, spec.power_kw, (energy - low) / hours)
            energy -= drawn * hours
            power[i] = drawn * spec.efficiency
        soc[i] = energy / spec.capacity_kwh * 100
    return soc, power
