"""EMHASS as a same-run baseline for the optimiser benchmark (`benchmarks/optimizer.py`).

EMHASS (PyPI `emhass`, pinned below) pins numpy/pandas/cvxpy versions of its own, so it lives in a
separate venv, `benchmarks/.venv-emhass` (gitignored), created on first use with this Python's
`venv` and pip. Each case runs `benchmarks/emhass_driver.py` in that venv as a subprocess: EMHASS's
`Optimization.perform_dayahead_forecast_optim` on the same load, PV, prices, battery parameters,
horizon and step as our `Problem` (the mapping is in the driver's docstring). Only the optimisation
call is timed, inside the subprocess: the first call (`cold_s`: CVXPY builds and compiles the
problem, HiGHS solves) and the median of repeated calls on the same object (`warm_median_s`: EMHASS
caches the compiled problem and only updates parameters, as its server does between runs).

Same solver on both sides: EMHASS 0.18 models with CVXPY and solves with HiGHS (highspy), we call
HiGHS through scipy. Same relative MIP gap (1e-6) and one thread on both sides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from luna_iems.decisions import optimizer

EMHASS_VERSION = "0.18.7"
HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-emhass"
PYTHON = VENV / "bin" / "python"


def ensure_venv() -> str | None:
    """Create the EMHASS venv if it is missing; None when ready, else why it is not."""
    if PYTHON.exists():
        return None
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True)
        subprocess.run(
            [str(PYTHON), "-m", "pip", "install", "-q", f"emhass=={EMHASS_VERSION}"],
            check=True,
            capture_output=True,
            timeout=1800,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        return f"could not install emhass=={EMHASS_VERSION}: {exc} {detail.decode(errors='replace')[-500:]}"
    return None


def case_json(problem: optimizer.Problem, *, repeats: int, time_limit_s: float = 60.0) -> dict[str, Any]:
    """The driver's input for `problem` (batteries only; every battery needs a final SOC)."""
    assert not problem.deferrable_loads, "the EMHASS comparison runs batteries only"
    return {
        "steps": problem.steps,
        "step_minutes": round(problem.step_h * 60),
        "load_kw": list(problem.load_kw),
        "pv_kw": list(problem.pv_kw),
        "import_price_eur_kwh": list(problem.import_price_eur_kwh),
        "export_price_eur_kwh": list(problem.export_price_eur_kwh),
        "batteries": [
            {
                "capacity_kwh": b.capacity_kwh,
                "charge_max_kw": b.charge_max_kw,
                "discharge_max_kw": b.discharge_max_kw,
                "charge_efficiency": b.charge_efficiency,
                "discharge_efficiency": b.discharge_efficiency,
                "soc_min_pct": b.soc_min_pct,
                "soc_max_pct": b.soc_max_pct,
                "soc_initial_pct": b.soc_initial_pct,
                "soc_final_pct": b.soc_final_pct,
            }
            for b in problem.batteries
        ],
        "mip_rel_gap": 1e-6,
        "time_limit_s": time_limit_s,
        "repeats": repeats,
    }


def run(problem: optimizer.Problem, *, repeats: int) -> dict[str, Any]:
    """EMHASS's result on `problem`: status, cost (EUR, our definition), times; {"error": ...} if it
    cannot run."""
    reason = ensure_venv()
    if reason is not None:
        return {"error": reason}
    with tempfile.TemporaryDirectory() as data_path:
        body = case_json(problem, repeats=repeats) | {"data_path": data_path}
        env = os.environ | {"OMP_NUM_THREADS": "1"}
        done = subprocess.run(
            [str(PYTHON), str(HERE / "emhass_driver.py")],
            input=json.dumps(body),
            capture_output=True,
            text=True,
            env=env,
            timeout=1800,
            check=False,
        )
    # highspy prints its banner on stdout: the result is the last JSON line
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"driver failed ({done.returncode}): {done.stderr[-800:]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result
