"""The issue's round trip in one test, on the demo site, against a real mosquitto:
forecast → plan → activate → setpoints on MQTT → battery state back on luna/batteries/<id> → deviation
shown in GET /dispatch. The app runs its own dispatcher thread and MQTT subscriber."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from luna_iems.decisions.history import floor_to_step
from luna_iems.integrations.dispatch import service as dispatch_service
from luna_iems.main import create_app
from luna_iems.simulation import service as sim_service
from tests.conftest import ADMIN_TOKEN, auth, make_settings
from tests.integrations.dispatch.mqtt_probe import subscriber
from tests.support.mosquitto import Broker, publish

BATTERY = sim_service.DEMO_BATTERY_ID


def _wait(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_forecast_plan_activate_setpoints_state_back_deviation(
    tmp_path: Path, database_url: str, broker: Broker
) -> None:
    settings = make_settings(
        tmp_path, database_url=database_url, mqtt_url=broker.url, dispatch_enabled=True, dispatch_site="sim",
        mqtt_topics="luna/batteries/#",
    )  # fmt: skip
    headers = auth(ADMIN_TOKEN)
    with TestClient(create_app(settings)) as client, subscriber(broker.port, "luna/setpoints/#") as probe:
        assert sim_service.seed_demo(client.app.state.container.timeseries_deps, days=15)  # type: ignore[attr-defined]

        forecast = client.post(
            "/forecast", json={"site": "sim", "target": "load", "horizon_h": 2}, headers=headers
        )
        assert forecast.status_code == 200, forecast.text
        assert len(forecast.json()["points"]) == 8

        start = floor_to_step(datetime.now(UTC), 15)  # the current step: dispatched at once
        body = {
            "start": start.isoformat(), "horizon_h": 2, "stored": {"site": "sim"}, "activate": True,
            "batteries": [{"name": "home", "battery_id": BATTERY, "capacity_kwh": 10, "charge_max_kw": 3,
                           "discharge_max_kw": 3, "soc_min_pct": 10}],
        }  # fmt: skip
        plan = client.post("/optimize/schedule", json=body, headers=headers)
        assert plan.status_code == 200, plan.text
        schedule = plan.json()
        assert schedule["plan_id"] and schedule["inputs"] == "stored" and len(schedule["steps"]) == 8

        sent = probe.wait_for(lambda ms: [m for m in ms if m.topic == f"luna/setpoints/{BATTERY}"])
        setpoint = json.loads(sent[0].payload)
        planned = schedule["steps"][0]["batteries"]["home"]
        assert setpoint["plan_id"] == schedule["plan_id"] and setpoint["power_kw"] == planned["power_kw"]

        # The battery answers on its own topic with what it really does: 1.5 kW more discharge.
        measured_kw = round(planned["power_kw"] + 1.5, 4)
        state_at = datetime.now(UTC).replace(microsecond=0)
        publish(broker.port, f"luna/batteries/{BATTERY}", json.dumps(
            {"soc_pct": 42.0, "power_kw": measured_kw, "ts": state_at.isoformat(), "site": "sim"}
        ))  # fmt: skip

        def deviation() -> dict[str, Any] | None:
            view = client.get("/dispatch", headers=headers).json()
            found = [
                d
                for d in view["deviations"]
                if d["measured_at"] == state_at.isoformat().replace("+00:00", "Z")
            ]
            return found[0] if found else None

        shown = _wait(deviation)
        view = client.get("/dispatch", headers=headers).json()

        # The re-plan job (DISPATCH_REPLAN_MINUTES) runs the same request from fresh stored inputs.
        container = client.app.state.container  # type: ignore[attr-defined]
        replanned = dispatch_service.replan(deps=container.dispatch_deps)
        after = client.get("/dispatch", headers=headers).json()["plan"]
        assert after["plan_id"] == str(replanned) and after["source"] == "replan"
        assert after["start_at"] > view["plan"]["start_at"]  # from the next step on

    assert shown["battery_id"] == BATTERY and shown["within_plan"]
    assert shown["measured_power_kw"] == measured_kw and shown["planned_power_kw"] == planned["power_kw"]
    assert shown["power_deviation_kw"] == pytest.approx(1.5, abs=1e-4)
    assert shown["soc_deviation_pct"] == pytest.approx(42.0 - shown["planned_soc_pct"], abs=1e-3)
    assert view["plan"]["status"] == "active" and view["plan"]["site"] == "sim"
    assert view["plan"]["devices"] == [
        {"device": BATTERY, "kind": "battery", "name": "home", "battery_id": BATTERY,
         "topic": f"luna/setpoints/{BATTERY}"},
    ]  # fmt: skip
    assert view["setpoints"][0]["payload"] == setpoint and view["setpoints"][0]["error"] is None
    assert view["latency"]["count"] == 1 and view["current_step"]["ts"] == schedule["steps"][0]["ts"]
