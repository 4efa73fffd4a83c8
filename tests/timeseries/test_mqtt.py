"""The MQTT subscriber against a real broker (mosquitto) that the test starts on a free port."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from luna_iems.main import create_app
from tests.conftest import ADMIN_TOKEN, auth, make_settings
from tests.support.mosquitto import mosquitto, publish


def _wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _mqtt_component(client: TestClient) -> dict[str, Any]:
    ready = client.get("/health/ready", headers=auth(ADMIN_TOKEN)).json()  # details need a key
    return next(c for c in ready["components"] if c["name"] == "mqtt")


def _latest(client: TestClient, meter_id: str) -> dict[str, Any] | None:
    response = client.get(
        "/timeseries/readings/latest", params={"meter_id": meter_id}, headers=auth(ADMIN_TOKEN)
    )
    return response.json() if response.status_code == 200 else None


def test_json_and_tasmota_messages_become_readings(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    with mosquitto(tmp_path) as broker:
        settings = make_settings(
            tmp_path, database_url=fresh_database_url("sqlite"), mqtt_url=broker.url,
            mqtt_topics="luna/readings/#,tele/+/SENSOR",
        )  # fmt: skip
        with TestClient(create_app(settings)) as client:
            _wait_for(lambda: _mqtt_component(client)["ok"])
            publish(broker.port, "luna/readings/pv-roof", json.dumps(
                {"ts": "2026-06-01T12:00:00+02:00", "consumption_kw": 0.2, "production_kw": 4.5, "voltage": 231.2}
            ))  # fmt: skip
            publish(broker.port, "tele/tasmota_plug/SENSOR", json.dumps(
                {"Time": "2026-06-01T12:00:05", "ENERGY": {"Total": 12.5, "Power": 230, "Voltage": 229}}
            ))  # fmt: skip
            publish(broker.port, "luna/readings/broken", b"{not json")

            pv = _wait_for(lambda: _latest(client, "pv-roof"))
            assert pv["ts"] == "2026-06-01T10:00:00Z"
            assert (pv["consumption_kw"], pv["production_kw"], pv["voltage"]) == (0.2, 4.5, 231.2)
            plug = _wait_for(lambda: _latest(client, "tasmota-tasmota_plug"))
            assert plug["consumption_kw"] == 0.23 and plug["voltage"] == 229.0
            info = _wait_for(lambda: (c := _mqtt_component(client))["info"]["rejected"] >= 1 and c)["info"]
            assert info["messages"] == 3 and info["rows_written"] == 2
            quality = client.get("/quality", params={"meter_id": "pv-roof"}, headers=auth(ADMIN_TOKEN)).json()
            assert quality["items"][0]["rows"] == 1


def test_subscriber_reconnects_after_the_broker_restarts(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    with mosquitto(tmp_path) as broker:
        settings = make_settings(
            tmp_path, database_url=fresh_database_url("sqlite"), mqtt_url=broker.url, mqtt_reconnect_max_s=1
        )
        with TestClient(create_app(settings)) as client:
            _wait_for(lambda: _mqtt_component(client)["ok"])
            broker.stop()
            down = _wait_for(lambda: None if (c := _mqtt_component(client))["ok"] else c)
            assert "not connected" in down["detail"]
            assert client.get("/health/ready").status_code == 200  # MQTT is optional for readiness
            broker.start()
            _wait_for(lambda: _mqtt_component(client)["ok"])
            assert _mqtt_component(client)["info"]["reconnects"] >= 1
            publish(broker.port, "luna/readings/after-restart", json.dumps({"consumption_kw": 1.5}))
            reading = _wait_for(lambda: _latest(client, "after-restart"))
            assert reading["consumption_kw"] == 1.5


def test_battery_states_arrive_over_mqtt(tmp_path: Path, fresh_database_url: Callable[[str], str]) -> None:
    """`luna/batteries/<battery_id>` carries a battery's state of charge; rules read it as soc_pct."""
    with mosquitto(tmp_path) as broker:
        settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"), mqtt_url=broker.url)
        with TestClient(create_app(settings)) as client:
            _wait_for(lambda: _mqtt_component(client)["ok"])
            state = {"ts": "2026-06-01T12:00:00+02:00", "soc_pct": 64.5, "power_kw": -2.0, "site": "home"}
            publish(broker.port, "luna/batteries/garage", json.dumps(state))
            publish(broker.port, "luna/batteries/garage", json.dumps({"soc_pct": 140}))  # out of range

            def stored() -> list[dict[str, Any]]:
                params = {"site": "home", "from": "2026-06-01T00:00:00Z", "to": "2026-06-02T00:00:00Z"}
                response = client.get("/timeseries/battery-states", params=params, headers=auth(ADMIN_TOKEN))
                return response.json()["items"]  # type: ignore[no-any-return]

            items = _wait_for(stored)
            assert items == [
                {
                    "battery_id": "garage",
                    "site": "home",
                    "ts": "2026-06-01T10:00:00Z",
                    "soc_pct": 64.5,
                    "power_kw": -2.0,
                }
            ]
            info = _wait_for(lambda: (c := _mqtt_component(client))["info"]["rejected"] >= 1 and c)["info"]
            assert info["messages"] == 2 and info["rows_written"] == 1
