"""The process caps its own numeric thread pools (issue 9, item 12): not only the Makefile does."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from luna_iems import COMPUTE_THREAD_VARIABLES

PROBE = """
import json
import luna_iems.main  # what `luna serve` and the uvicorn factory import first
import luna_iems.decisions.forecasting
import numpy, sklearn.ensemble
from threadpoolctl import threadpool_info
print(json.dumps([{"api": p["user_api"], "threads": p["num_threads"]} for p in threadpool_info()]))
"""


def _pools(env: dict[str, str]) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    pools: list[dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return pools


def test_a_process_without_thread_variables_runs_single_threaded() -> None:
    env = {k: v for k, v in os.environ.items() if k not in COMPUTE_THREAD_VARIABLES}
    pools = _pools(env)
    assert {p["api"] for p in pools} >= {"blas", "openmp"}, pools  # NumPy's BLAS and scikit-learn's OpenMP
    assert all(p["threads"] == 1 for p in pools), pools


def test_an_operators_own_value_wins() -> None:
    env = {k: v for k, v in os.environ.items() if k not in COMPUTE_THREAD_VARIABLES}
    env |= {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
    pools = _pools(env)
    assert any(p["api"] == "openmp" and p["threads"] == 2 for p in pools), pools
