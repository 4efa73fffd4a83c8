"""Home Assistant MQTT discovery: Luna's sensors appear in Home Assistant as one device.

Discovery topics follow HA's documented scheme `<prefix>/<component>/<node_id>/<object_id>/config`
(node and object ids of `[A-Za-z0-9_-]` only), payloads retained so HA finds them after its own restart.
Every config carries `name`, `unique_id` (`<node>_<object>`), `state_topic`, the shared `device` block
(`identifiers`, `name`, `manufacturer`, `model`, `sw_version`), `origin`, and `availability_topic`
(Luna's birth/last-will topic, `online`/`offline`). Numeric sensors carry `unit_of_measurement`,
`state_class` and a `device_class` where HA has one for the quantity: `power` (kW), `energy` (kWh,
`total_increasing`), `battery` (%), `monetary` (EUR, `total`: HA refuses `measurement` for monetary).
A price per kWh has no HA device class, so the price sensor has a unit and `measurement` only.

Several sensors share one JSON state topic and pick their value with `value_template`; a null renders
as `None`, which HA shows as "unknown". A config whose entity no longer exists (a device dropped from
the plan) is removed by an empty retained payload, as HA documents.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from luna_iems import __version__
from luna_iems.settings import Settings

STATE_PREFIX = "luna/state"
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def object_id(value: str) -> str:
    return _ID_UNSAFE.sub("_", value).strip("_") or "x"


@dataclass(frozen=True)
class Entity:
    component: str  # sensor
    object_id: str
    config: dict[str, Any]


def device_block(settings: Settings) -> dict[str, Any]:
    return {
        "identifiers": [settings.ha_node_id],
        "name": "Luna-IEMS",
        "manufacturer": "Luna-IEMS",
        "model": "Intelligent Energy Management System",
        "sw_version": __version__,
    }


def _sensor(
    settings: Settings,
    oid: str,
    name: str,
    *,
    state_topic: str,
    value_key: str,
    unit: str | None = None,
    device_class: str | None = None,
    state_class: str | None = "measurement",
    attributes_topic: str | None = None,
    icon: str | None = None,
) -> Entity:
    config: dict[str, Any] = {
        "name": name,
        "unique_id": f"{settings.ha_node_id}_{oid}",
        "state_topic": state_topic,
        "value_template": f"{{{{ value_json.{value_key} }}}}",
        "availability_topic": settings.mqtt_availability_topic,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device_block(settings),
        "origin": {"name": "luna-iems", "sw_version": __version__},
    }
    optional = {
        "unit_of_measurement": unit,
        "device_class": device_class,
        "state_class": state_class,
        "json_attributes_topic": attributes_topic,
        "icon": icon,
    }
    config |= {k: v for k, v in optional.items() if v is not None}
    return Entity("sensor", oid, config)


def entities(settings: Settings, *, batteries: list[str], setpoints: list[Mapping[str, Any]]) -> list[Entity]:
    """Every sensor Luna announces: site KPIs of today, current price, next-hour plan, open alerts, the
    SOC of each battery of DISPATCH_SITE, and one sensor per setpoint device of the active plan."""
    kpis, plan = f"{STATE_PREFIX}/kpis", f"{STATE_PREFIX}/plan"
    result = [
        _sensor(
            settings,
            "import_today",
            "Grid import today",
            state_topic=kpis,
            value_key="import_kwh",
            unit="kWh",
            device_class="energy",
            state_class="total_increasing",
        ),
        _sensor(
            settings,
            "export_today",
            "Grid export today",
            state_topic=kpis,
            value_key="export_kwh",
            unit="kWh",
            device_class="energy",
            state_class="total_increasing",
        ),
        _sensor(
            settings,
            "self_consumption_today",
            "Self-consumption today",
            state_topic=kpis,
            value_key="self_consumption_pct",
            unit="%",
            icon="mdi:solar-power",
        ),
        _sensor(
            settings,
            "autarky_today",
            "Autarky today",
            state_topic=kpis,
            value_key="autarky_pct",
            unit="%",
            icon="mdi:home-lightning-bolt",
        ),
        _sensor(
            settings,
            "import_cost_today",
            "Import cost today",
            state_topic=kpis,
            value_key="import_cost_eur",
            unit="EUR",
            device_class="monetary",
            state_class="total",
        ),
        _sensor(
            settings,
            "price",
            "Electricity price",
            state_topic=f"{STATE_PREFIX}/price",
            value_key="import_price_eur_kwh",
            unit="EUR/kWh",
            icon="mdi:currency-eur",
            attributes_topic=f"{STATE_PREFIX}/price",
        ),
        _sensor(
            settings,
            "plan_grid_next_hour",
            "Planned grid power next hour",
            state_topic=plan,
            value_key="grid_kw",
            unit="kW",
            device_class="power",
            attributes_topic=plan,
        ),
        _sensor(
            settings,
            "plan_battery_next_hour",
            "Planned battery power next hour",
            state_topic=plan,
            value_key="battery_kw",
            unit="kW",
            device_class="power",
        ),
        _sensor(
            settings,
            "open_alerts",
            "Open alerts",
            state_topic=f"{STATE_PREFIX}/alerts",
            value_key="open",
            icon="mdi:alert",
        ),
    ]
    for battery_id in batteries:
        oid = object_id(f"battery_{battery_id}_soc")
        result.append(
            _sensor(
                settings,
                oid,
                f"Battery {battery_id} state of charge",
                state_topic=f"{STATE_PREFIX}/batteries/{object_id(battery_id)}",
                value_key="soc_pct",
                unit="%",
                device_class="battery",
            )
        )
    for device in setpoints:
        oid = object_id(f"setpoint_{device['device']}")
        label = "battery power" if device["kind"] == "battery" else "load power"
        result.append(
            _sensor(
                settings,
                oid,
                f"Setpoint {device['name']} {label}",
                state_topic=device["topic"],
                value_key="power_kw",
                unit="kW",
                device_class="power",
                attributes_topic=device["topic"],
            )
        )
    return result


def config_topic(settings: Settings, entity: Entity) -> str:
    return (
        f"{settings.ha_discovery_prefix}/{entity.component}/{settings.ha_node_id}/{entity.object_id}/config"
    )
