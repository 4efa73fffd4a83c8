"""Dispatch against a real broker: setpoints at step start, stored attempts, stale plans, releases."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from luna_iems.decisions import optimize_service
from luna_iems.decisions.history import floor_to_step
from luna_iems.decisions.models import Alert
from luna_iems.decisions.schemas import OptimizeRequest
from luna_iems.errors import ConflictError, InvalidInputError
from luna_iems.integrations.dispatch import service
from luna_iems.integrations.dispatch.deps import DispatchDeps
from luna_iems.integrations.dispatch.jobs import Dispatcher
from luna_iems.integrations.dispatch.models import DispatchPlan, DispatchSetpoint
from tests.integrations.dispatch.conftest import ShiftedClock, explicit_request
from tests.integrations.dispatch.mqtt_probe import subscriber
from tests.support.mosquitto import Broker


def _wait(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def _activate(deps: DispatchDeps, body: dict[str, Any], *, now: datetime) -> tuple[Any, Any]:
    request = OptimizeRequest.model_validate(body)
    with deps.session_factory() as session:
        schedule = optimize_service.optimize(
            session=session, settings=deps.settings, request=request, now=now
        )
    return service.activate(deps=deps, request=request, schedule=schedule, now=now), schedule


def _setpoints(deps: DispatchDeps) -> list[DispatchSetpoint]:
    with deps.session_factory() as session:
        return list(
            session.scalars(
                select(DispatchSetpoint).order_by(DispatchSetpoint.step_at, DispatchSetpoint.device)
            )
        )


def test_setpoints_are_published_at_each_step_start_and_stored(
    deps: DispatchDeps, broker: Broker, clock: ShiftedClock
) -> None:
    start = floor_to_step(datetime.now(UTC), 15) + timedelta(minutes=15)
    clock.place_before(start, 0.5)  # the first step starts half a second from "now"
    dispatcher = Dispatcher(deps, clock=clock)
    with subscriber(broker.port, "luna/setpoints/#") as probe:
        plan_id, schedule = _activate(deps, explicit_request(start), now=clock())
        dispatcher.start()
        try:
            first = probe.wait_for(lambda ms: len(ms) >= 2 and ms)
            assert not _setpoints(deps)[1:] or all(r.step_at == start for r in _setpoints(deps))
            clock.place_before(start + timedelta(minutes=15), 0.3)
            deps.wakeup.set()  # the thread slept for 15 (shifted) minutes: make it look again
            both = probe.wait_for(lambda ms: len(ms) >= 4 and ms)
        finally:
            dispatcher.stop()

    by_topic = {m.topic: m for m in first}
    assert set(by_topic) == {"luna/setpoints/bat-hall", "luna/setpoints/heat_pump"}
    battery = json.loads(by_topic["luna/setpoints/bat-hall"].payload)
    planned = schedule.steps[0].batteries["hall"]
    assert battery["plan_id"] == str(plan_id) and battery["kind"] == "battery"
    assert battery["power_kw"] == planned.power_kw and battery["soc_target_pct"] == planned.soc_pct
    assert battery["step_start"] == start.isoformat().replace("+00:00", "Z")
    # Cheap first step: the battery charges (power < 0 is charging), so charge_kw carries the magnitude.
    assert battery["power_kw"] < 0 and battery["mode"] == "charge"
    assert (
        battery["charge_kw"] == pytest.approx(-battery["power_kw"], abs=1e-4) and battery["discharge_kw"] == 0
    )
    load = json.loads(by_topic["luna/setpoints/heat_pump"].payload)
    assert load["kind"] == "load" and load["on"] is (schedule.steps[0].deferrable_kw["heat pump"] > 0)
    second = json.loads(next(m for m in both[2:] if m.topic == "luna/setpoints/bat-hall").payload)
    assert second["power_kw"] == schedule.steps[1].batteries["hall"].power_kw > 0  # dear: discharge

    rows = _setpoints(deps)
    assert [(r.step_at, r.device) for r in rows] == [
        (start, "bat-hall"), (start, "heat_pump"),
        (start + timedelta(minutes=15), "bat-hall"), (start + timedelta(minutes=15), "heat_pump"),
    ]  # fmt: skip
    assert all(r.error is None and r.retain and r.latency_ms is not None and r.latency_ms >= 0 for r in rows)
    assert rows[0].payload == battery  # what was sent is what is stored

    # A late subscriber sees the latest setpoint: retained, it is the device's state.
    with subscriber(broker.port, "luna/setpoints/bat-hall", client_id="late") as late:
        retained = late.wait_for(lambda ms: ms)
        assert retained[0].retain and json.loads(retained[0].payload) == second

    # Restarting the dispatcher in the same step sends nothing twice (the table says it was sent).
    pending = service.next_action(deps=deps, now=clock())
    assert pending is not None and pending.step_at == start + timedelta(minutes=30)


def test_a_stale_plan_stops_releases_its_devices_and_alerts(
    deps: DispatchDeps, broker: Broker, clock: ShiftedClock
) -> None:
    start = floor_to_step(datetime.now(UTC), 15)
    created = datetime.now(UTC) - timedelta(minutes=deps.settings.dispatch_max_plan_age_minutes + 1)
    with subscriber(broker.port, "luna/setpoints/#") as probe:
        plan_id, _ = _activate(deps, explicit_request(start), now=created)
        pending = service.next_action(deps=deps, now=clock())
        assert pending is not None and pending.action == "stale"
        service.execute(deps=deps, pending=pending, clock=clock)
        released = probe.wait_for(lambda ms: len(ms) >= 2 and ms)
    assert {json.loads(m.payload)["mode"] for m in released} == {"release"}
    assert all(json.loads(m.payload)["power_kw"] is None for m in released)
    with deps.session_factory() as session:
        plan = session.get(DispatchPlan, plan_id)
        assert (
            plan is not None
            and plan.status == "stale"
            and "DISPATCH_MAX_PLAN_AGE_MINUTES" in (plan.end_reason or "")
        )
        alerts = session.scalars(select(Alert).where(Alert.kind == "stale_plan")).all()
        assert len(alerts) == 1 and alerts[0].source == "dispatch" and str(plan_id) in alerts[0].message
    assert service.next_action(deps=deps, now=clock()) is None  # nothing is dispatched any more
    view = service.get_dispatch(deps=deps)
    assert view.plan is not None and view.plan.status == "stale"


def test_a_new_plan_supersedes_and_releases_the_devices_it_drops(deps: DispatchDeps, broker: Broker) -> None:
    start = floor_to_step(datetime.now(UTC), 15) + timedelta(minutes=15)
    now = datetime.now(UTC)
    first_id, _ = _activate(deps, explicit_request(start), now=now)
    with subscriber(broker.port, "luna/setpoints/#") as probe:
        second_id, _ = _activate(deps, explicit_request(start, deferrable_loads=[]), now=now)
        released = probe.wait_for(lambda ms: [m for m in ms if m.topic == "luna/setpoints/heat_pump"])
    assert json.loads(released[0].payload) | {"sent_at": None} == {
        "device": "heat_pump", "kind": "load", "plan_id": str(first_id), "mode": "release", "power_kw": None,
        "reason": "superseded", "sent_at": None,
    }  # fmt: skip
    with deps.session_factory() as session:
        statuses = {p.plan_id: p.status for p in session.scalars(select(DispatchPlan))}
    assert statuses == {first_id: "superseded", second_id: "active"}


def test_a_broker_outage_is_recorded_per_setpoint(
    deps: DispatchDeps, broker: Broker, clock: ShiftedClock
) -> None:
    start = floor_to_step(datetime.now(UTC), 15)
    _activate(deps, explicit_request(start), now=clock())
    broker.stop()
    assert deps.publisher is not None
    _wait(lambda: not deps.publisher.health().ok)  # type: ignore[union-attr]
    pending = service.next_action(deps=deps, now=clock())
    assert pending is not None and pending.action == "publish" and pending.step_at == start
    rows = service.execute(deps=deps, pending=pending, clock=clock)
    assert len(rows) == 2 and all(r.latency_ms is None and "not connected" in (r.error or "") for r in rows)
    view = service.get_dispatch(deps=deps)
    assert [s.error is not None for s in view.setpoints] == [True, True] and view.publisher_connected is False


def test_activation_is_refused_when_off_or_topics_clash(deps: DispatchDeps) -> None:
    start = floor_to_step(datetime.now(UTC), 15)
    off = DispatchDeps(
        session_factory=deps.session_factory, settings=deps.settings.model_copy(update={"dispatch_enabled": False}),
        publisher=deps.publisher, wakeup=deps.wakeup,
    )  # fmt: skip
    with pytest.raises(ConflictError, match="DISPATCH_ENABLED"):
        _activate(off, explicit_request(start), now=datetime.now(UTC))
    clash = explicit_request(
        start, deferrable_loads=[{"name": "bat hall", "power_kw": 1, "energy_kwh": 0.25}]
    )
    clash["batteries"][0]["battery_id"] = "bat_hall"
    with pytest.raises(InvalidInputError, match="same setpoint topic"):
        _activate(deps, clash, now=datetime.now(UTC))


def test_payload_sign_convention_is_documented_in_the_stored_rows(deps: DispatchDeps, broker: Broker) -> None:
    """+ = discharge: a step the optimiser discharges in has a positive power_kw and discharge_kw."""
    start = floor_to_step(datetime.now(UTC), 15) - timedelta(minutes=15)  # step 1 (dear) holds now
    _activate(deps, explicit_request(start), now=datetime.now(UTC))
    pending = service.next_action(deps=deps, now=datetime.now(UTC))
    assert pending is not None and pending.step_at == start + timedelta(minutes=15)
    rows = service.execute(deps=deps, pending=pending)
    battery = next(r for r in rows if r.kind == "battery")
    assert battery.payload["power_kw"] > 0 and battery.payload["mode"] == "discharge"
    assert battery.payload["discharge_kw"] == pytest.approx(battery.payload["power_kw"], abs=1e-4)
    assert orjson.loads(orjson.dumps(battery.payload)) == battery.payload


def test_metered_consumption_and_production_are_compared_with_the_plan(deps: DispatchDeps) -> None:
    from luna_iems.timeseries import service as timeseries_service
    from luna_iems.timeseries.schemas import MeterCreate, ReadingIn

    start = floor_to_step(datetime.now(UTC), 15) - timedelta(minutes=15)  # step 1 holds now
    with deps.session_factory() as session:
        timeseries_service.create_meter(session=session, meter_in=MeterCreate(meter_id="m-a", site="site-a"))
        rows = [
            ReadingIn(meter_id="m-a", ts=start + timedelta(minutes=m), consumption_kw=4.0, production_kw=0.5)
            for m in range(0, 15, 5)
        ]  # step 0 only: 4 kW measured against the plan's 3 kW load plus what it ran of the heat pump
        timeseries_service.ingest_readings(session=session, rows=rows, source="test")
        session.commit()
    _, schedule = _activate(deps, explicit_request(start), now=datetime.now(UTC))
    view = service.get_dispatch(deps=deps)
    planned = 3.0 + schedule.steps[0].deferrable_kw["heat pump"]
    assert [r.model_dump() for r in view.reading_deviations] == [
        {
            "step_at": start, "measured_consumption_kw": 4.0, "planned_consumption_kw": planned,
            "consumption_deviation_kw": round(4.0 - planned, 4), "measured_production_kw": 0.5,
            "planned_pv_kw": 0.0, "production_deviation_kw": 0.5,
        }
    ]  # fmt: skip
