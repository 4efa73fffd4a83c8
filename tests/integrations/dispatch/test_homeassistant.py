"""Home Assistant MQTT discovery against a real mosquitto: a subscriber receives every config and
checks it against the fields HA documents for MQTT discovery and the MQTT sensor:
- topic `<discovery_prefix>/<component>/<node_id>/<object_id>/config`, ids of [a-zA-Z0-9_-];
- `state_topic` (required for a sensor), `unique_id` (needed for the device registry), a `device` block
  with a non-empty `identifiers` list, `availability_topic` with payloads `online`/`offline`;
- `device_class` from HA's sensor classes, with a unit HA accepts for it and a compatible `state_class`
  (`monetary` only with `total`; `energy` with `total`/`total_increasing`);
- every `value_template` key exists in the JSON published on its `state_topic`.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from luna_iems.decisions import optimize_service
from luna_iems.decisions.history import floor_to_step
from luna_iems.decisions.schemas import OptimizeRequest
from luna_iems.integrations.dispatch import discovery_service, service
from luna_iems.integrations.dispatch.deps import DispatchDeps
from luna_iems.main import create_app
from luna_iems.timeseries import service as timeseries_service
from luna_iems.timeseries.schemas import BatteryStateIn
from tests.conftest import ADMIN_TOKEN, auth, make_settings
from tests.integrations.dispatch.conftest import explicit_request
from tests.integrations.dispatch.mqtt_probe import Received, subscriber
from tests.support.mosquitto import Broker

CONFIG_TOPIC = re.compile(r"^homeassistant/(sensor|binary_sensor)/([A-Za-z0-9_-]+)/([A-Za-z0-9_-]+)/config$")
# HA's documented units per sensor device class (the subset Luna uses) and allowed state classes.
UNITS = {"power": {"W", "kW", "MW"}, "energy": {"Wh", "kWh", "MWh"}, "battery": {"%"}, "monetary": None}
STATE_CLASSES = {
    "power": {"measurement"}, "energy": {"total", "total_increasing"}, "battery": {"measurement"},
    "monetary": {"total"}, None: {"measurement", "total", "total_increasing"},
}  # fmt: skip
TEMPLATE = re.compile(r"^\{\{ value_json\.([a-z_]+) \}\}$")


def _check_config(topic: str, config: dict[str, Any], node: str) -> None:
    match = CONFIG_TOPIC.match(topic)
    assert match, topic
    assert match.group(2) == node
    assert isinstance(config["state_topic"], str) and config["state_topic"]
    assert isinstance(config["name"], str) and config["name"]
    assert config["unique_id"] == f"{node}_{match.group(3)}"
    device = config["device"]
    assert isinstance(device["identifiers"], list) and device["identifiers"] == [node]
    assert device["name"] == "Luna-IEMS" and device["manufacturer"] and device["sw_version"]
    assert config["availability_topic"] == "luna/status"
    assert (config["payload_available"], config["payload_not_available"]) == ("online", "offline")
    assert "availability" not in config  # HA: not together with availability_topic
    device_class = config.get("device_class")
    assert device_class in UNITS or device_class is None, device_class
    if device_class is not None and UNITS[device_class] is not None:
        assert config["unit_of_measurement"] in UNITS[device_class], config
    assert config["state_class"] in STATE_CLASSES[device_class], config
    assert TEMPLATE.match(config["value_template"]), config["value_template"]


def _latest(messages: list[Received]) -> dict[str, bytes]:
    latest: dict[str, bytes] = {}
    for message in messages:
        latest[message.topic] = message.payload
    return latest


def test_discovery_configs_follow_the_documented_schema_and_states_feed_them(
    deps: DispatchDeps, broker: Broker
) -> None:
    with deps.session_factory() as session:
        timeseries_service.ingest_battery_states(session=session, rows=[BatteryStateIn(
            battery_id="bat-hall", site="site-a", ts=datetime.now(UTC) - timedelta(minutes=1),
            soc_pct=64.5, power_kw=-1.2,
        )])  # fmt: skip
        session.commit()
    start = floor_to_step(datetime.now(UTC), 15)
    request = OptimizeRequest.model_validate(explicit_request(start))
    with deps.session_factory() as session:
        schedule = optimize_service.optimize(session=session, settings=deps.settings, request=request)
    service.activate(deps=deps, request=request, schedule=schedule)

    state = discovery_service.DiscoveryState()
    with subscriber(broker.port, "homeassistant/#", "luna/state/#", "luna/status") as probe:
        sent = discovery_service.publish(deps=deps, state=state)
        got = probe.wait_for(lambda ms: len([m for m in ms if m.topic != "luna/status"]) >= sent and ms)
    latest = _latest(got)
    assert latest["luna/status"] == b"online"
    configs = {t: json.loads(p) for t, p in latest.items() if t.startswith("homeassistant/")}
    for topic, config in configs.items():
        _check_config(topic, config, "luna_iems")
    unique_ids = [c["unique_id"] for c in configs.values()]
    assert len(unique_ids) == len(set(unique_ids))
    by_id = {c["unique_id"]: c for c in configs.values()}
    assert {
        "luna_iems_price", "luna_iems_open_alerts", "luna_iems_plan_grid_next_hour", "luna_iems_import_today",
        "luna_iems_autarky_today", "luna_iems_battery_bat-hall_soc", "luna_iems_setpoint_bat-hall",
        "luna_iems_setpoint_heat_pump",
    } <= set(by_id)  # fmt: skip
    assert by_id["luna_iems_price"]["unit_of_measurement"] == "EUR/kWh"
    assert "device_class" not in by_id["luna_iems_price"]  # HA has no class for a price per kWh
    assert by_id["luna_iems_battery_bat-hall_soc"]["device_class"] == "battery"
    assert by_id["luna_iems_setpoint_bat-hall"]["state_topic"] == "luna/setpoints/bat-hall"

    # Each template's key is in the state its topic carries (setpoints come from the dispatcher).
    for config in configs.values():
        if config["state_topic"].startswith("luna/setpoints/"):
            continue
        key = TEMPLATE.match(config["value_template"]).group(1)  # type: ignore[union-attr]
        assert key in json.loads(latest[config["state_topic"]]), (config["unique_id"], key)
    assert json.loads(latest["luna/state/batteries/bat-hall"])["soc_pct"] == 64.5
    plan = json.loads(latest["luna/state/plan"])
    assert plan["plan_id"] and len(plan["steps"]) >= 4 and plan["grid_kw"] is not None
    assert json.loads(latest["luna/state/alerts"]) == {"open": 0}
    kpis = json.loads(latest["luna/state/kpis"])
    assert kpis["import_kwh"] is None and "note" in kpis  # site-a has no meter: HA shows "unknown"

    # A second run sends the states only; dropping the load from the plan removes its entity.
    assert discovery_service.publish(deps=deps, state=state) == len(
        [t for t in latest if t.startswith("luna/state/")]
    )
    smaller = OptimizeRequest.model_validate(explicit_request(start, deferrable_loads=[]))
    with deps.session_factory() as session:
        schedule = optimize_service.optimize(session=session, settings=deps.settings, request=smaller)
    service.activate(deps=deps, request=smaller, schedule=schedule)
    removed = "homeassistant/sensor/luna_iems/setpoint_heat_pump/config"
    with subscriber(broker.port, removed, client_id="removal") as probe:
        probe.wait_for(lambda ms: ms)  # the retained config
        discovery_service.publish(deps=deps, state=state)
        emptied = probe.wait_for(lambda ms: [m for m in ms if m.payload == b""])
    assert emptied[0].topic == removed


def test_the_app_announces_itself_on_start_when_discovery_is_on(
    tmp_path: Path, database_url: str, broker: Broker
) -> None:
    """The wiring: with HA_DISCOVERY_ENABLED and the scheduler on, configs appear at start-up, and
    readiness lists the publisher (not required: the API serves without the broker)."""
    settings = make_settings(
        tmp_path, database_url=database_url, mqtt_url=broker.url, ha_discovery_enabled=True,
        enable_scheduler=True, ha_node_id="plant_7",
    )  # fmt: skip
    with subscriber(broker.port, "homeassistant/#", "luna/status") as probe:
        with TestClient(create_app(settings)) as client:
            got = probe.wait_for(
                lambda ms: len([m for m in ms if m.topic.startswith("homeassistant/")]) >= 9 and ms
            )
            ready = client.get("/health/ready", headers=auth(ADMIN_TOKEN)).json()
        offline = probe.wait_for(lambda ms: ms[-1].topic == "luna/status" and ms[-1].payload == b"offline")
    configs = {m.topic: json.loads(m.payload) for m in got if m.topic.startswith("homeassistant/")}
    for topic, config in configs.items():
        _check_config(topic, config, "plant_7")
    component = next(c for c in ready["components"] if c["name"] == "mqtt_publisher")
    assert component["ok"] and component["required"] is False
    assert offline  # a clean shutdown publishes "offline" itself (the will only fires on a lost connection)
