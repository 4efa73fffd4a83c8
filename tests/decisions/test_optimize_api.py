"""`POST /optimize/schedule` with 30-minute steps, the final-SOC modes and the solver status, through
the API on both databases (the `stocked` fixture of `test_decisions_api`: five weeks of simulated
readings and prices)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.decisions.test_decisions_api import END, HOUSE, error, post, stocked  # noqa: F401

LOSSLESS = {
    "capacity_kwh": 4,
    "charge_max_kw": 4,
    "discharge_max_kw": 4,
    "charge_efficiency": 1,
    "discharge_efficiency": 1,
    "soc_min_pct": 0,
    "soc_initial_pct": 0,
}


def test_schedule_at_30_minute_steps_hand_solved(stocked: TestClient) -> None:  # noqa: F811
    """Half-hour steps, load 2 kW, prices cheap, cheap, dear, dear: each step's load is 2 kW x 0.5 h
    = 1 kWh, so the battery stores the dear hour's 2 kWh in the cheap hour. Cost = 4 kWh x 0.1 = 0.4 EUR;
    baseline 2 x 1 kWh x 0.1 + 2 x 1 kWh x 0.5 = 1.2 EUR."""
    body = {
        "start": "2026-06-08T00:00:00Z",
        "step_minutes": 30,
        "inputs": {"load_kw": [2, 2, 2, 2], "import_price_eur_kwh": [0.1, 0.1, 0.5, 0.5]},
        "batteries": [LOSSLESS],
    }
    plan = post(stocked, "/optimize/schedule", body)
    assert (plan["status"], plan["step_minutes"], plan["resolution"]) == ("optimal", 30, "30m")
    assert plan["mip_gap"] is not None and plan["mip_gap"] <= 1e-6
    assert plan["total_cost_eur"] == pytest.approx(0.4, abs=1e-6)
    assert plan["cost_bound_eur"] == pytest.approx(0.4, abs=1e-4)
    assert plan["baseline_cost_eur"] == pytest.approx(1.2, abs=1e-6)
    times = [datetime.fromisoformat(s["ts"]) for s in plan["steps"]]
    assert [b - a for a, b in itertools.pairwise(times)] == [timedelta(minutes=30)] * 3
    battery = [s["batteries"]["battery"] for s in plan["steps"]]
    assert [b["soc_pct"] for b in battery[1:]] == pytest.approx([50, 25, 0], abs=1e-3)
    assert [b["power_kw"] for b in battery[2:]] == pytest.approx([2, 2], abs=1e-6)


def test_step_minutes_contradicting_resolution_is_refused(stocked: TestClient) -> None:  # noqa: F811
    body = {
        "resolution": "1h",
        "step_minutes": 30,
        "inputs": {"load_kw": [1], "import_price_eur_kwh": [0.3]},
    }
    assert "step_minutes=30 contradicts resolution='1h'" in error(stocked, "/optimize/schedule", body)


def test_stored_inputs_at_30_minutes_are_energy_preserving_means(stocked: TestClient) -> None:  # noqa: F811
    """The same stored request at 15 and at 30 minutes: every 30-minute input (load and PV forecasts,
    tariff prices) is the mean of its two quarter-hours, so energy and cost of a flat step agree."""
    body = {"start": END, "horizon_h": 6, "stored": {"meter_id": HOUSE}}
    fine = post(stocked, "/optimize/schedule", body | {"step_minutes": 15})
    coarse = post(stocked, "/optimize/schedule", body | {"step_minutes": 30})
    assert (len(fine["steps"]), len(coarse["steps"])) == (24, 12)
    for name in ("load_kw", "pv_kw", "import_price_eur_kwh", "export_price_eur_kwh"):
        quarter = np.array([s[name] for s in fine["steps"]])
        half = np.array([s[name] for s in coarse["steps"]])
        assert half == pytest.approx(quarter.reshape(-1, 2).mean(axis=1), abs=2e-4), name
    assert any("averaged to 30 min" in n for n in coarse["notes"])


def test_soc_final_modes_through_the_api(stocked: TestClient) -> None:  # noqa: F811
    """A full lossless 4 kWh battery, no load, exporting costs 0.05 EUR/kWh: "at_least" 25 % keeps its
    energy (100 %, cost 0); "equal" 25 % must get rid of 3 kWh, i.e. export them (cost 0.15 EUR)."""
    battery = LOSSLESS | {"soc_initial_pct": 100, "soc_final_pct": 25}
    cheap = {"load_kw": [0, 0], "import_price_eur_kwh": [0.1, 0.1], "export_price_eur_kwh": [-0.05, -0.05]}
    body = {"start": "2026-06-08T00:00:00Z", "step_minutes": 60, "inputs": cheap}
    kept = post(stocked, "/optimize/schedule", body | {"batteries": [battery]})
    assert kept["steps"][-1]["batteries"]["battery"]["soc_pct"] == pytest.approx(100, abs=1e-3)
    exact = post(stocked, "/optimize/schedule", body | {"batteries": [battery | {"soc_final_mode": "equal"}]})
    assert exact["steps"][-1]["batteries"]["battery"]["soc_pct"] == pytest.approx(25, abs=1e-3)
    assert exact["status"] == "optimal"
    assert (kept["total_cost_eur"], exact["total_cost_eur"]) == pytest.approx((0.0, 0.15), abs=1e-6)
    bad = body | {"batteries": [battery | {"soc_final_mode": "exactly"}]}
    assert "soc_final_mode" in error(stocked, "/optimize/schedule", bad)
