"""Run EMHASS's optimiser on one case; executed by `benchmarks/emhass_reference.py` with the Python of
the separate venv `benchmarks/.venv-emhass` (EMHASS pins its own numpy/pandas/cvxpy).

Reads a JSON case on stdin, prints a JSON result on stdout. Standard library, numpy and pandas only,
plus emhass: this file must not import luna_iems.

Mapping (EMHASS units: W, Wh, SOC as fractions): battery powers are storage-side limits in both
(EMHASS: discharge_ac <= eff_dis * P_max, charge_ac <= P_max / eff_chg, as ours); the final SOC is
EMHASS's terminal target (an equality, soft with a large penalty), matched by our "equal" mode; no
curtailment (`compute_curtailment` false, ours `curtailment_allowed=False`); cost function "profit"
(import cost - export revenue, as ours); no deferrable loads, no stress costs, no battery-first or
no-discharge-to-grid rules, grid limits far above any flow; one solver thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pathlib
import statistics
import sys
import time
from typing import Any

import numpy as np
import pandas as pd


def _params(case: dict[str, Any], logger: logging.Logger) -> tuple[dict, dict, dict]:
    from emhass import utils

    root = pathlib.Path(utils.__file__).parent
    emhass_conf = {
        "defaults_path": root / "data" / "config_defaults.json",
        "associations_path": root / "data" / "associations.csv",
        "data_path": pathlib.Path(case["data_path"]),
        "root_path": root,
    }
    config = asyncio.run(utils.build_config(emhass_conf, logger, str(emhass_conf["defaults_path"])))
    batteries = case["batteries"]
    n_batt = len(batteries)

    def per(key: str, scale: float = 1.0) -> Any:
        values = [b[key] * scale for b in batteries]
        return values[0] if n_batt == 1 else values

    config.update(
        {
            "optimization_time_step": case["step_minutes"],
            "delta_forecast_daily": case["steps"] * case["step_minutes"] / 1440,
            "costfun": "profit",
            "number_of_deferrable_loads": 0,
            "nominal_power_of_deferrable_loads": [],
            "minimum_power_of_deferrable_loads": [],
            "operating_hours_of_each_deferrable_load": [],
            "start_timesteps_of_each_deferrable_load": [],
            "end_timesteps_of_each_deferrable_load": [],
            "treat_deferrable_load_as_semi_cont": [],
            "set_deferrable_load_single_constant": [],
            "set_deferrable_startup_penalty": [],
            "cost_forecast_per_deferrable_load": [],
            "is_electric_load": [],
            "deferrable_load_max_cost": [],
            "set_deferrable_max_startups": [],
            "def_minimum_on_time": [],
            "def_minimum_off_time": [],
            "set_use_battery": True,
            "number_of_batteries": n_batt,
            "battery_charge_power_max": per("charge_max_kw", 1000.0),
            "battery_discharge_power_max": per("discharge_max_kw", 1000.0),
            "battery_charge_efficiency": per("charge_efficiency"),
            "battery_discharge_efficiency": per("discharge_efficiency"),
            "battery_nominal_energy_capacity": per("capacity_kwh", 1000.0),
            "battery_minimum_state_of_charge": per("soc_min_pct", 0.01),
            "battery_maximum_state_of_charge": per("soc_max_pct", 0.01),
            "battery_target_state_of_charge": per("soc_final_pct", 0.01),
            "set_nocharge_from_grid": False,
            "set_nodischarge_to_grid": False,
            "set_battery_first_priority": False,
            "compute_curtailment": False,
            "maximum_power_from_grid": 1e6,
            "maximum_power_to_grid": 1e6,
            "lp_solver_mip_rel_gap": case["mip_rel_gap"],
            "lp_solver_timeout": case["time_limit_s"],
            "num_threads": 1,
        }
    )
    params = asyncio.run(utils.build_params(emhass_conf, {}, config, logger))
    return utils.get_yaml_parse(params, logger)


def main() -> None:
    case = json.load(sys.stdin)
    logger = logging.getLogger("emhass-bench")
    logger.addHandler(logging.NullHandler())
    logger.setLevel(logging.ERROR)
    import emhass
    from emhass.optimization import Optimization

    retrieve_hass_conf, optim_conf, plant_conf = _params(case, logger)
    n, step = case["steps"], case["step_minutes"]
    index = pd.date_range("2025-06-02", periods=n, freq=f"{step}min", tz="UTC")
    data = pd.DataFrame(
        {
            "unit_load_cost": case["import_price_eur_kwh"],
            "unit_prod_price": case["export_price_eur_kwh"],
        },
        index=index,
    )
    pv = pd.Series(np.asarray(case["pv_kw"]) * 1000.0, index=index)
    load = pd.Series(np.asarray(case["load_kw"]) * 1000.0, index=index)
    soc_init = [b["soc_initial_pct"] / 100 for b in case["batteries"]]
    soc_final = [b["soc_final_pct"] / 100 for b in case["batteries"]]
    emhass_conf = {"data_path": pathlib.Path(case["data_path"])}

    def one_run(opt: Any) -> tuple[float, dict[str, float], pd.DataFrame]:
        stages: dict[str, float] = {}
        started = time.perf_counter()
        result = opt.perform_dayahead_forecast_optim(
            data.copy(), pv, load, soc_init=soc_init, soc_final=soc_final, stage_times=stages
        )
        return time.perf_counter() - started, stages, result

    cold = Optimization(
        retrieve_hass_conf, optim_conf, plant_conf, "unit_load_cost", "unit_prod_price", "profit",
        emhass_conf, logger, num_timesteps=n,
    )  # fmt: skip
    cold_s, stages, result = one_run(cold)
    warm_runs = [one_run(cold)[:2] for _ in range(case["repeats"])]
    warm = [seconds for seconds, _ in warm_runs]
    warm_solve = [s["optim_solve.solve"] for _, s in warm_runs if "optim_solve.solve" in s]
    dt = step / 60
    grid_pos = result["P_grid_pos"].to_numpy() / 1000.0
    grid_neg = result["P_grid_neg"].to_numpy() / 1000.0  # <= 0: export
    cost = float(
        np.sum(grid_pos * data["unit_load_cost"].to_numpy() + grid_neg * data["unit_prod_price"].to_numpy())
        * dt
    )
    soc_columns = [c for c in result.columns if c.startswith("SOC_opt")]
    json.dump(
        {
            "emhass_version": emhass.__version__ if hasattr(emhass, "__version__") else "?",
            "solver": str(cold.lp_solver),
            "status": str(cold.optim_status),
            "cost_eur": cost,
            "final_soc": [float(result[c].iloc[-1]) for c in soc_columns],
            "cold_s": cold_s,
            "solve_only_s": stages.get("optim_solve.solve"),
            "build_s": stages.get("optim_solve.build"),
            "warm_median_s": statistics.median(warm) if warm else None,
            "warm_solve_only_median_s": statistics.median(warm_solve) if warm_solve else None,
            "max_simultaneous_import_export_kw": float(np.minimum(grid_pos, -grid_neg).max()),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
