"""Home Assistant: publish the discovery configs (when they change) and the sensor states (every run).

States (JSON, retained, so HA shows the last value after its restart):
- `luna/state/kpis`: today's KPIs of DISPATCH_SITE since local midnight (`import_kwh`, `export_kwh`,
  `self_consumption_pct`, `autarky_pct`, `import_cost_eur`, `ts_from`, `ts_to`);
- `luna/state/price`: the current quarter-hour's price (`import_price_eur_kwh` = spot + markup,
  `spot_eur_mwh`, `ts`);
- `luna/state/plan`: the active plan's next hour (`grid_kw`, `battery_kw`: means, `plan_id`, `steps`);
- `luna/state/alerts`: `{"open": n}`, alerts not acknowledged;
- `luna/state/batteries/<id>`: each battery's newest reported `soc_pct`, `power_kw`, `ts`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson

from luna_iems.decisions import history as history_module
from luna_iems.decisions import optimize_service
from luna_iems.errors import LunaError
from luna_iems.integrations.dispatch import homeassistant as ha
from luna_iems.integrations.dispatch import repository
from luna_iems.integrations.dispatch.deps import DispatchDeps
from luna_iems.integrations.dispatch.service import iso
from luna_iems.tariffs import service as tariff_service
from luna_iems.timeseries import kpis as kpi_service

log = logging.getLogger("luna_iems.dispatch.homeassistant")


@dataclass
class DiscoveryState:
    """The configs published so far (topic → payload): unchanged ones are not sent again, vanished
    ones are removed with an empty retained payload."""

    configs: dict[str, bytes] = field(default_factory=dict)


def _pct(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 2)


def kpi_state(*, deps: DispatchDeps, session: Any, now: datetime) -> dict[str, Any]:
    settings = deps.settings
    tz = ZoneInfo(settings.timezone)
    ts_from = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    ts_to = max(history_module.floor_to_step(now, 15), ts_from + timedelta(minutes=15))
    empty = dict.fromkeys(
        ("import_kwh", "export_kwh", "self_consumption_pct", "autarky_pct", "import_cost_eur")
    )
    try:
        kpis = kpi_service.compute_kpis(
            session=session, meter_id=None, site=settings.dispatch_site, ts_from=ts_from, ts_to=ts_to,
            market=settings.default_market, product=settings.default_product, timezone=settings.timezone,
            default_tariff=tariff_service.supply_tariff(settings),
        )  # fmt: skip
    except LunaError as exc:  # no meter on the site yet: HA shows "unknown"
        session.rollback()
        return {**empty, "ts_from": iso(ts_from), "ts_to": iso(ts_to), "note": exc.message}
    return {
        "import_kwh": round(kpis.import_kwh, 3),
        "export_kwh": round(kpis.export_kwh, 3),
        "self_consumption_pct": _pct(kpis.self_consumption_rate),
        "autarky_pct": _pct(kpis.autarky_rate),
        "import_cost_eur": None if kpis.import_cost_eur is None else round(kpis.import_cost_eur, 4),
        "ts_from": iso(ts_from),
        "ts_to": iso(ts_to),
    }


def price_state(*, deps: DispatchDeps, session: Any, now: datetime) -> dict[str, Any]:
    settings = deps.settings
    start = history_module.floor_to_step(now, 15)
    spot = history_module.load_prices(
        session=session, market=settings.default_market, product=settings.default_product,
        ts_from=start, ts_to=start + timedelta(minutes=15),
    )  # fmt: skip
    if not np.isfinite(spot).all():
        return {"import_price_eur_kwh": None, "spot_eur_mwh": None, "ts": iso(start)}
    import_price, _ = optimize_service.tariff_prices(
        spot, import_markup_eur_kwh=None, export_tariff_eur_kwh=None, settings=settings
    )
    return {
        "import_price_eur_kwh": round(float(import_price[0]), 5),
        "spot_eur_mwh": round(float(spot[0]), 2),
        "market": settings.default_market,
        "ts": iso(start),
    }


def plan_state(*, session: Any, now: datetime) -> dict[str, Any]:
    plan = repository.active_plan(session=session)
    if plan is None:
        return {"plan_id": None, "grid_kw": None, "battery_kw": None, "steps": []}
    step = timedelta(minutes=plan.step_minutes)
    window = [
        s
        for i, s in enumerate(plan.schedule["steps"])
        if now - step < plan.start_at + i * step < now + timedelta(hours=1)
    ]
    grid = [float(s["grid_kw"]) for s in window]
    battery = [sum(float(b["power_kw"]) for b in s["batteries"].values()) for s in window]
    return {
        "plan_id": str(plan.plan_id),
        "grid_kw": round(sum(grid) / len(grid), 4) if grid else None,
        "battery_kw": round(sum(battery) / len(battery), 4) if battery else None,
        "steps": [
            {
                "ts": s["ts"],
                "grid_kw": s["grid_kw"],
                "batteries": s["batteries"],
                "deferrable_kw": s["deferrable_kw"],
            }
            for s in window
        ],
    }


def collect(*, deps: DispatchDeps, now: datetime) -> tuple[list[ha.Entity], dict[str, dict[str, Any]]]:
    """The entities to announce and the state payloads by topic."""
    with deps.session_factory() as session:
        plan = repository.active_plan(session=session)
        setpoint_devices: list[Mapping[str, Any]] = [] if plan is None else list(plan.devices)
        planned = [d["battery_id"] for d in setpoint_devices if d.get("battery_id")]
        batteries = sorted(
            set(repository.battery_ids(session=session, site=deps.settings.dispatch_site)) | set(planned)
        )
        states: dict[str, dict[str, Any]] = {
            f"{ha.STATE_PREFIX}/kpis": kpi_state(deps=deps, session=session, now=now),
            f"{ha.STATE_PREFIX}/price": price_state(deps=deps, session=session, now=now),
            f"{ha.STATE_PREFIX}/plan": plan_state(session=session, now=now),
            f"{ha.STATE_PREFIX}/alerts": {"open": repository.open_alert_count(session=session)},
        }
        for battery_id in batteries:
            state = repository.latest_battery_state(session=session, battery_id=battery_id)
            states[f"{ha.STATE_PREFIX}/batteries/{ha.object_id(battery_id)}"] = {
                "battery_id": battery_id,
                "soc_pct": None if state is None else state.soc_pct,
                "power_kw": None if state is None else state.power_kw,
                "ts": None if state is None else iso(state.ts),
            }
        session.commit()  # KPIs may have refreshed rollups
    return ha.entities(deps.settings, batteries=batteries, setpoints=setpoint_devices), states


def publish(*, deps: DispatchDeps, state: DiscoveryState, now: datetime | None = None) -> int:
    """Publish changed discovery configs and every state; returns the messages sent. Raises
    ConnectionError when the broker is unreachable (the job logs it and tries again next run)."""
    publisher = deps.publisher
    if publisher is None or not deps.settings.ha_discovery_enabled:
        return 0
    entities, states = collect(deps=deps, now=now or datetime.now(UTC))
    configs = {ha.config_topic(deps.settings, e): orjson.dumps(e.config) for e in entities}
    sent = 0
    for topic in sorted(set(state.configs) - set(configs)):
        publisher.publish(topic, b"", qos=1, retain=True)  # HA removes the entity
        del state.configs[topic]
        sent += 1
    for topic, payload in configs.items():
        if state.configs.get(topic) != payload:
            publisher.publish(topic, payload, qos=1, retain=True)
            state.configs[topic] = payload
            sent += 1
    for topic, body in states.items():
        publisher.publish(topic, orjson.dumps(body), qos=1, retain=True)
        sent += 1
    return sent
