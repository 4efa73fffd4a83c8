"""The simulator over HTTP and the CLI: backfill, live mode, demo seed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from luna_iems.admin.schemas import Role
from luna_iems.main import create_app
from tests.conftest import ADMIN_TOKEN, auth, make_settings

WEEK = {"from": "2026-06-01T00:00:00+02:00", "to": "2026-06-08T00:00:00+02:00"}


def test_backfill_is_deterministic_and_idempotent(client: TestClient) -> None:
    body = WEEK | {"meter_ids": ["sim-household-002"]}
    first = client.post("/sim/meter/generate", json=body, headers=auth(ADMIN_TOKEN))
    assert first.status_code == 200, first.text
    assert first.json()["rows_written"] == 7 * 96 and first.json()["series"] == ["sim-household-002"]
    query = {
        "meter_id": "sim-household-002",
        "from": WEEK["from"],
        "to": WEEK["to"],
        "bucket": "1d",
        "agg": "sum",
    }
    days = client.get("/timeseries/readings", params=query, headers=auth(ADMIN_TOKEN)).json()["points"]
    assert len(days) == 7 and all(d["production_kwh"] > 0 for d in days)  # household_pv has 8 kWp

    again = client.post("/sim/meter/generate", json=body, headers=auth(ADMIN_TOKEN))
    assert again.json()["rows_written"] == 7 * 96
    replay = client.get("/timeseries/readings", params=query, headers=auth(ADMIN_TOKEN)).json()["points"]
    assert replay == days, "same seed, same data; the replay updated rows instead of adding"
    counts = client.get("/status/summary", headers=auth(ADMIN_TOKEN)).json()["database"]["row_counts"]
    assert counts["smart_meter_readings"] == 7 * 96


def test_backfill_scale_and_prices(client: TestClient) -> None:
    base = WEEK | {"meter_ids": ["sim-commercial-001"]}
    client.post("/sim/meter/generate", json=base, headers=auth(ADMIN_TOKEN))
    kpi = {"meter_id": "sim-commercial-001", "from": WEEK["from"], "to": WEEK["to"]}
    single = client.get("/kpis", params=kpi, headers=auth(ADMIN_TOKEN)).json()["consumption_kwh"]
    client.post("/sim/meter/generate", json=base | {"scale": 2.0, "noise": 0.0}, headers=auth(ADMIN_TOKEN))
    double = client.get("/kpis", params=kpi, headers=auth(ADMIN_TOKEN)).json()["consumption_kwh"]
    assert 1.8 < double / single < 2.2

    prices = client.post("/sim/market/generate", json=WEEK | {"step_minutes": 60}, headers=auth(ADMIN_TOKEN))
    assert prices.status_code == 200 and prices.json()["rows_written"] == 7 * 24
    stored = client.get(
        "/timeseries/prices", params={"from": WEEK["from"], "to": WEEK["to"]}, headers=auth(ADMIN_TOKEN)
    ).json()["points"]
    assert len(stored) == 7 * 24
    costs = client.get("/kpis", params=kpi, headers=auth(ADMIN_TOKEN)).json()
    assert costs["priced_share"] == 1.0 and costs["import_cost_eur"] is not None


def test_backfill_errors_name_the_problem(
    sqlite_client: TestClient, make_key: Callable[[TestClient, Role], str]
) -> None:
    unknown = sqlite_client.post(
        "/sim/meter/generate", json=WEEK | {"meter_ids": ["nope"]}, headers=auth(ADMIN_TOKEN)
    )
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]["message"]
    backwards = {"from": WEEK["to"], "to": WEEK["from"]}
    assert (
        sqlite_client.post("/sim/meter/generate", json=backwards, headers=auth(ADMIN_TOKEN)).status_code
        == 422
    )
    too_long = {"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    assert (
        sqlite_client.post("/sim/market/generate", json=too_long, headers=auth(ADMIN_TOKEN)).status_code
        == 422
    )
    viewer = make_key(sqlite_client, Role.VIEWER)
    assert sqlite_client.post("/sim/meter/generate", json=WEEK, headers=auth(viewer)).status_code == 403


def test_live_mode_writes_readings_until_stopped(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"))
    with TestClient(create_app(settings)) as client:
        started = client.post("/sim/start", json={"interval_s": 1}, headers=auth(ADMIN_TOKEN))
        assert started.status_code == 200 and started.json()["running"] is True
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            status = client.get("/sim/status", headers=auth(ADMIN_TOKEN)).json()
            if status["ticks"] >= 2:
                break
            time.sleep(0.2)
        assert status["ticks"] >= 2 and status["rows_written"] >= 8 and status["last_error"] is None
        assert status["prices_until"] is not None
        stopped = client.post("/sim/stop", headers=auth(ADMIN_TOKEN)).json()
        assert stopped["running"] is False
        ticks = client.get("/sim/status", headers=auth(ADMIN_TOKEN)).json()["ticks"]
        time.sleep(1.5)
        assert client.get("/sim/status", headers=auth(ADMIN_TOKEN)).json()["ticks"] == ticks
        latest = client.get(
            "/timeseries/readings/latest",
            params={"meter_id": "sim-industrial-001"},
            headers=auth(ADMIN_TOKEN),
        )
        assert latest.status_code == 200 and latest.json()["consumption_kw"] > 0
        assert (
            client.post("/sim/start", json={"interval_s": 10}, headers=auth(ADMIN_TOKEN)).status_code == 422
        )


def test_demo_seed_runs_once_on_a_fresh_instance(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"), seed_demo_data=True)
    for expected_meters in (4, 4):  # the second start finds data and leaves it alone
        with TestClient(create_app(settings)) as client:
            counts = client.get("/status/summary", headers=auth(ADMIN_TOKEN)).json()["database"]["row_counts"]
            assert counts["meters"] == expected_meters
            assert counts["smart_meter_readings"] == 4 * 28 * 96
            assert counts["rules"] == 5 and counts["battery_states"] == 28 * 96
            assert counts["ingest_batches"] >= 5
