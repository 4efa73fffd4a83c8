"""The optimiser's problem in the reference solvers' terms (shared by the tests and the benchmark).

Only attribute reads of the problem: the reference formulations themselves never call the optimiser.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from luna_iems.decisions.optimizer import Battery, DeferrableLoad, Problem
from tests.decisions import reference_solvers as ref


def site(p: Problem) -> ref.Site:
    return ref.Site(
        step_h=p.step_h,
        load_kw=np.array(p.load_kw),
        pv_kw=np.array(p.pv_kw),
        import_price=np.array(p.import_price_eur_kwh),
        export_price=np.array(p.export_price_eur_kwh),
        import_max_kw=math.inf if p.grid_import_max_kw is None else p.grid_import_max_kw,
        export_max_kw=math.inf if p.grid_export_max_kw is None else p.grid_export_max_kw,
        curtailment_allowed=p.curtailment_allowed,
        peak_charge_eur_kw=p.peak_charge_eur_kw,
    )


def storage(b: Battery) -> ref.Storage:
    cap = b.capacity_kwh
    return ref.Storage(
        capacity_kwh=cap,
        charge_max_kw=b.charge_max_kw,
        discharge_max_kw=b.discharge_max_kw,
        eta_c=b.charge_efficiency,
        eta_d=b.discharge_efficiency,
        soc_min_kwh=cap * b.soc_min_pct / 100,
        soc_max_kwh=cap * b.soc_max_pct / 100,
        soc_initial_kwh=cap * b.soc_initial_pct / 100,
        soc_final_kwh=None if b.soc_final_pct is None else cap * b.soc_final_pct / 100,
        soc_final_equal=b.soc_final_mode == "equal",
        grid_charging=b.grid_charging,
        grid_discharge=b.grid_discharge,
        degradation_eur_kwh=b.degradation_eur_kwh,
    )


def flexible(d: DeferrableLoad) -> ref.Flexible:
    return ref.Flexible(
        power_kw=d.power_kw,
        energy_kwh=d.energy_kwh,
        earliest=d.earliest_step,
        latest=d.latest_step,
        min_run=d.min_run_steps,
        on_off=d.on_off,
    )


def reference_milp(p: Problem, **kwargs: Any) -> ref.Result:
    return ref.milp_reference(
        site(p), [storage(b) for b in p.batteries], [flexible(d) for d in p.deferrable_loads], **kwargs
    )
