"""Dispatch: an activated schedule becomes setpoints on MQTT at each step's start.

- `activate` stores the plan (superseding the active one, releasing devices the new plan drops) and
  wakes the dispatcher thread (`jobs.Dispatcher`).
- `next_action` tells the thread what is due next and when: the setpoints of the next unsent step, the
  plan going stale (its inputs older than DISPATCH_MAX_PLAN_AGE_MINUTES at that step) or its end. It is
  computed *before* the thread sleeps, so at the step's start only the publish itself remains.
- `execute` publishes (retained, QoS 1: the latest setpoint is the device's state) and stores every
  attempt with its latency or error. A stale plan releases its devices and raises a `stale_plan` alert.
- `get_dispatch` is GET /dispatch: the plan, the setpoints sent, and each battery's newest reported state
  against the plan.

Setpoint payload (topic `<DISPATCH_TOPIC_PREFIX>/<device>`, JSON, times ISO 8601 UTC): see
docs/integrations/dispatch.md. Signs follow DESIGN.md: battery `power_kw` + = discharge, - = charge.
One dispatcher per deployment (one scheduler instance, as every job here).
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson
from sqlalchemy.exc import IntegrityError

from luna_iems.admin.schemas import Role
from luna_iems.decisions import history as history_module
from luna_iems.decisions import optimize_service
from luna_iems.decisions.models import Alert
from luna_iems.decisions.schemas import OptimizeRequest, ScheduleRead
from luna_iems.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from luna_iems.integrations.dispatch import repository
from luna_iems.integrations.dispatch.deps import DispatchDeps
from luna_iems.integrations.dispatch.models import DispatchPlan, DispatchSetpoint
from luna_iems.integrations.dispatch.schemas import (
    DeviationRead,
    DeviceRead,
    DispatchRead,
    LatencyRead,
    PlanRead,
    ReadingDeviationRead,
    SetpointRead,
)

log = logging.getLogger("luna_iems.dispatch")

Clock = Callable[[], datetime]
IDLE_KW = 0.001  # below 1 W a battery is idle and a load off


def _utcnow() -> datetime:
    return datetime.now(UTC)


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")  # MQTT wildcards and separators must not reach a topic level


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def device_slug(name: str) -> str:
    """A topic level from a battery id or load name: letters, digits, `_`, `.` and `-` only."""
    return _UNSAFE.sub("_", name).strip("_") or "device"


def topic_of(prefix: str, device: str) -> str:
    return f"{prefix.rstrip('/')}/{device}"


def plan_devices(request: OptimizeRequest, *, prefix: str) -> list[DeviceRead]:
    """One device per battery (named by its battery_id, else its name) and per deferrable load."""
    devices = [
        DeviceRead(
            device=(device := device_slug(b.battery_id or b.name)),
            kind="battery",
            name=b.name,
            battery_id=b.battery_id or b.name,
            topic=topic_of(prefix, device),
        )
        for b in request.batteries
    ] + [
        DeviceRead(
            device=(device := device_slug(d.name)), kind="load", name=d.name, topic=topic_of(prefix, device)
        )
        for d in request.deferrable_loads
    ]
    seen = [d.device for d in devices]
    clashes = sorted({d for d in seen if seen.count(d) > 1})
    if clashes:
        raise InvalidInputError(
            f"batteries/deferrable_loads: {clashes} name the same setpoint topic; give distinct names "
            "(topic levels keep letters, digits, '_', '.' and '-')",
            details={"field": "batteries", "devices": clashes},
        )
    return devices


def activate(
    *,
    deps: DispatchDeps,
    request: OptimizeRequest,
    schedule: ScheduleRead,
    source: Literal["request", "replan"] = "request",
    now: datetime | None = None,
) -> uuid.UUID:
    """Make `schedule` the active plan and wake the dispatcher; returns the plan id.

    Raises ConflictError when dispatch is off (DISPATCH_ENABLED) or no broker is configured (MQTT_URL),
    InvalidInputError when two devices would share a topic or the schedule has no steps."""
    settings = deps.settings
    if not settings.dispatch_enabled:
        raise ConflictError(
            "activate: dispatch is off; set DISPATCH_ENABLED=true (and MQTT_URL) to publish setpoints",
            details={"field": "activate"},
        )
    if deps.publisher is None:
        raise ConflictError(
            "activate: no MQTT broker is configured; set MQTT_URL", details={"field": "activate"}
        )
    if not schedule.steps:
        raise InvalidInputError("activate: the schedule has no steps", details={"field": "activate"})
    now = now or datetime.now(UTC)
    devices = plan_devices(request, prefix=settings.dispatch_topic_prefix)
    step = timedelta(minutes=schedule.step_minutes)
    site = (request.stored.site if request.stored is not None else None) or settings.dispatch_site
    plan = DispatchPlan(
        plan_id=uuid.uuid4(),
        site=site,
        status="active",
        source=source,
        created_at=now,
        start_at=schedule.steps[0].ts,
        end_at=schedule.steps[-1].ts + step,
        step_minutes=schedule.step_minutes,
        request=request.model_dump(mode="json", exclude={"activate", "start"}),
        schedule=schedule.model_dump(mode="json"),
        devices=[d.model_dump(mode="json") for d in devices],
    )
    with deps.session_factory() as session:
        previous = repository.active_plan(session=session)
        dropped = [] if previous is None else _devices(previous)
        previous_id = None if previous is None else previous.plan_id
        repository.end_active_plans(
            session=session, status="superseded", reason=f"superseded by plan {plan.plan_id}", at=now
        )
        repository.add_plan(session=session, plan=plan)
        session.commit()
    kept = {d.device for d in devices}
    if previous_id is not None:
        _release(deps, previous_id, [d for d in dropped if d.device not in kept], reason="superseded")
    deps.wakeup.set()
    log.info(
        "plan activated", extra={"plan_id": str(plan.plan_id), "source": source, "devices": len(devices)}
    )
    return plan.plan_id


def activate_schedule(
    *, deps: DispatchDeps, role: Role, request: OptimizeRequest, schedule: ScheduleRead
) -> ScheduleRead:
    """`POST /optimize/schedule` with `activate`: the schedule with the id of the plan now active.
    Raises PermissionDeniedError below the analyst role (activating changes what devices do)."""
    if not role.allows(Role.ANALYST):
        raise PermissionDeniedError(
            f"activate: dispatching a plan needs the role 'analyst' or higher; your key has '{role.value}'",
            details={"needed": Role.ANALYST.value, "have": role.value, "field": "activate"},
        )
    plan_id = activate(deps=deps, request=request, schedule=schedule)
    return schedule.model_copy(update={"plan_id": plan_id})


def _devices(plan: DispatchPlan) -> list[DeviceRead]:
    return [DeviceRead.model_validate(d) for d in plan.devices]


# --- the dispatcher's cycle ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PendingSetpoint:
    device: str
    kind: str
    topic: str
    body: dict[str, Any]  # the payload without `sent_at`


@dataclass(frozen=True)
class Pending:
    """What the dispatcher does next, at `at` (UTC): publish a step, mark the plan stale, or finish it."""

    action: Literal["publish", "stale", "finish"]
    plan_id: uuid.UUID
    at: datetime
    step_at: datetime | None = None
    setpoints: tuple[PendingSetpoint, ...] = ()


def step_payloads(plan: DispatchPlan, index: int) -> tuple[PendingSetpoint, ...]:
    """The setpoints of step `index`: battery power (+ discharge, - charge) and load on/off."""
    step = plan.schedule["steps"][index]
    start = plan.start_at + index * timedelta(minutes=plan.step_minutes)
    end = start + timedelta(minutes=plan.step_minutes)
    common = {"plan_id": str(plan.plan_id), "step_start": iso(start), "step_end": iso(end)}
    result = []
    for device in _devices(plan):
        body: dict[str, Any] = {"device": device.device, "kind": device.kind, **common}
        if device.kind == "battery":
            planned = step["batteries"][device.name]
            power = float(planned["power_kw"])
            mode = "discharge" if power > IDLE_KW else "charge" if power < -IDLE_KW else "idle"
            body |= {
                "battery_id": device.battery_id,
                "mode": mode,
                "power_kw": power,
                "charge_kw": round(max(-power, 0.0), 4),
                "discharge_kw": round(max(power, 0.0), 4),
                "soc_target_pct": planned["soc_pct"],
            }
        else:
            power = float(step["deferrable_kw"].get(device.name, 0.0))
            body |= {"on": power > IDLE_KW, "power_kw": power}
        result.append(PendingSetpoint(device.device, device.kind, device.topic, body))
    return tuple(result)


def next_action(*, deps: DispatchDeps, now: datetime) -> Pending | None:
    """What is due next for the active plan (None: no active plan). A step whose start has passed but
    that was not sent (a restart mid-step) is due at once; a finished step is never sent late."""
    with deps.session_factory() as session:
        plan = repository.active_plan(session=session)
        if plan is None:
            return None
        sent = repository.sent_steps(session=session, plan_id=plan.plan_id)
        session.expunge(plan)
    step = timedelta(minutes=plan.step_minutes)
    steps = len(plan.schedule["steps"])
    index = 0 if now < plan.start_at else math.floor((now - plan.start_at) / step)
    while index < steps and plan.start_at + index * step in sent:
        index += 1
    if index >= steps:
        return Pending("finish", plan.plan_id, at=plan.end_at)
    step_at = plan.start_at + index * step
    stale_at = plan.created_at + timedelta(minutes=deps.settings.dispatch_max_plan_age_minutes)
    if stale_at <= max(step_at, now):  # stale before this step is due (or already)
        return Pending("stale", plan.plan_id, at=stale_at)
    return Pending("publish", plan.plan_id, at=step_at, step_at=step_at, setpoints=step_payloads(plan, index))


def execute(*, deps: DispatchDeps, pending: Pending, clock: Clock = _utcnow) -> list[DispatchSetpoint]:
    """Do what `pending` says (at or after its time); returns the setpoint rows written. Latency is
    measured on `clock`, the dispatcher's."""
    if pending.action == "publish":
        assert pending.step_at is not None  # a publish always has its step
        rows = _publish(deps, pending.plan_id, pending.step_at, pending.setpoints, retain=True, clock=clock)
        _store(deps, rows)
        return rows
    now = clock()
    with deps.session_factory() as session:
        plan = repository.get_plan(session=session, plan_id=pending.plan_id)
        if plan is None or plan.status != "active":
            return []  # superseded while the thread slept
        devices = _devices(plan)
        if pending.action == "stale":
            age = (now - plan.created_at).total_seconds() / 60
            plan.status, plan.ended_at = "stale", now
            plan.end_reason = (
                f"inputs are {age:.0f} min old, more than DISPATCH_MAX_PLAN_AGE_MINUTES "
                f"({deps.settings.dispatch_max_plan_age_minutes:g}); devices released"
            )
            _raise_stale_alert(session, plan, now=now)
        else:
            plan.status, plan.ended_at, plan.end_reason = "finished", now, "the plan's horizon ended"
        session.commit()
    log.warning("plan %s", pending.action, extra={"plan_id": str(pending.plan_id)})
    reason = "stale" if pending.action == "stale" else "finished"
    return _release(deps, pending.plan_id, devices, reason=reason, clock=clock)


def _publish(
    deps: DispatchDeps,
    plan_id: uuid.UUID,
    step_at: datetime,
    setpoints: tuple[PendingSetpoint, ...],
    *,
    retain: bool,
    clock: Clock,
) -> list[DispatchSetpoint]:
    rows = []
    for setpoint in setpoints:
        sent_at = clock()
        payload = {**setpoint.body, "sent_at": iso(sent_at)}
        error: str | None = None
        latency_ms: float | None = None
        try:
            if deps.publisher is None:
                raise ConnectionError("no MQTT broker is configured (MQTT_URL)")
            deps.publisher.publish(setpoint.topic, orjson.dumps(payload), qos=1, retain=retain)
            latency_ms = round((clock() - step_at).total_seconds() * 1000, 3)
        except ConnectionError as exc:
            error = str(exc)
            log.warning("setpoint not sent", extra={"topic": setpoint.topic, "error": error})
        rows.append(
            DispatchSetpoint(
                plan_id=plan_id,
                device=setpoint.device,
                kind=setpoint.kind,
                step_at=step_at,
                topic=setpoint.topic,
                payload=payload,
                retain=retain,
                sent_at=sent_at,
                latency_ms=latency_ms,
                error=error,
            )
        )
    return rows


def _store(deps: DispatchDeps, rows: list[DispatchSetpoint]) -> None:
    if not rows:
        return
    with deps.session_factory() as session:
        try:
            repository.add_setpoints(session=session, rows=rows)
            session.commit()
        except IntegrityError:  # another dispatcher stored this step: one instance per deployment
            session.rollback()
            log.warning("setpoints of this step were already stored", extra={"plan_id": str(rows[0].plan_id)})


def _release(
    deps: DispatchDeps, plan_id: uuid.UUID, devices: list[DeviceRead], *, reason: str, clock: Clock = _utcnow
) -> list[DispatchSetpoint]:
    """Tell each device Luna has no setpoint for it any more (`mode: release`, retained), so it falls
    back to its own control instead of holding the last power."""
    now = clock()
    pending = tuple(
        PendingSetpoint(
            d.device,
            d.kind,
            d.topic,
            {
                "device": d.device,
                "kind": d.kind,
                "plan_id": str(plan_id),
                "mode": "release",
                "power_kw": None,
                "reason": reason,
            },
        )
        for d in devices
    )
    rows = _publish(deps, plan_id, now, pending, retain=True, clock=clock)
    for row in rows:
        row.latency_ms = None  # a release has no step start to measure from
    _store(deps, rows)
    return rows


def _raise_stale_alert(session: Any, plan: DispatchPlan, *, now: datetime) -> None:
    fingerprint = f"dispatch:stale_plan:{plan.plan_id}"
    if repository.alert_exists(session=session, fingerprint=fingerprint):
        return
    alert = Alert(
        fingerprint=fingerprint,
        source="dispatch",
        kind="stale_plan",
        severity="warning",
        start_at=plan.created_at,
        end_at=now,
        message=f"dispatch stopped: plan {plan.plan_id} for site {plan.site!r} is stale ({plan.end_reason})",
        evidence={"plan_id": str(plan.plan_id), "site": plan.site, "created_at": iso(plan.created_at)},
    )
    repository.add_alert(session=session, alert=alert)


# --- re-planning -------------------------------------------------------------------------------------------
def replan(*, deps: DispatchDeps, now: datetime | None = None) -> uuid.UUID | None:
    """Re-run the newest plan's request from stored inputs (from the next step) and activate the result.

    Only plans made from `stored` inputs can be re-planned (explicit arrays are not re-read); None when
    there is nothing to re-plan. Raises what the optimiser raises (InvalidInputError when the stored
    history no longer suffices): the old plan then ages until it goes stale and alerts."""
    with deps.session_factory() as session:
        plan = repository.latest_plan(session=session)
        if plan is None or plan.status not in {"active", "stale"} or plan.request.get("stored") is None:
            return None
        request = OptimizeRequest.model_validate(plan.request)
        schedule = optimize_service.optimize(
            session=session, settings=deps.settings, request=request, now=now
        )
    return activate(deps=deps, request=request, schedule=schedule, source="replan", now=now)


# --- GET /dispatch ---------------------------------------------------------------------------------------
def get_dispatch(*, deps: DispatchDeps, limit: int = 50, now: datetime | None = None) -> DispatchRead:
    """The active plan (else the newest), its current step, the newest setpoints and the deviations of
    each planned battery's newest reported state from the plan."""
    now = now or datetime.now(UTC)
    connected = None if deps.publisher is None else deps.publisher.health().ok
    with deps.session_factory() as session:
        plan = repository.active_plan(session=session) or repository.latest_plan(session=session)
        plan_id = None if plan is None else plan.plan_id
        setpoints = [
            SetpointRead.model_validate(s)
            for s in repository.list_setpoints(session=session, plan_id=plan_id, limit=limit)
        ]
        deviations = [] if plan is None else _deviations(session, plan)
        readings = [] if plan is None else _reading_deviations(session, plan, now)
        session.commit()  # reading the site's energy may have refreshed its rollups
        plan_read = None if plan is None else _plan_read(plan, now)
        current = None if plan is None else _step_at(plan, now)
    latencies = sorted(s.latency_ms for s in setpoints if s.latency_ms is not None)
    return DispatchRead(
        enabled=deps.settings.dispatch_enabled,
        publisher_connected=connected,
        plan=plan_read,
        current_step=current[1] if current else None,
        setpoints=setpoints,
        deviations=deviations,
        reading_deviations=readings,
        latency=LatencyRead(
            count=len(latencies),
            p50_ms=_quantile(latencies, 0.5),
            p99_ms=_quantile(latencies, 0.99),
            max_ms=latencies[-1] if latencies else None,
        ),
    )


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)]


def _plan_read(plan: DispatchPlan, now: datetime) -> PlanRead:
    return PlanRead(
        plan_id=plan.plan_id,
        site=plan.site,
        status=plan.status,
        source=plan.source,
        created_at=plan.created_at,
        age_minutes=round((now - plan.created_at).total_seconds() / 60, 3),
        start_at=plan.start_at,
        end_at=plan.end_at,
        step_minutes=plan.step_minutes,
        devices=_devices(plan),
        ended_at=plan.ended_at,
        end_reason=plan.end_reason,
    )


def _step_at(plan: DispatchPlan, instant: datetime) -> tuple[int, dict[str, Any]] | None:
    """The index and step of the plan holding `instant`, or None outside its horizon."""
    if not plan.start_at <= instant < plan.end_at:
        return None
    index = math.floor((instant - plan.start_at) / timedelta(minutes=plan.step_minutes))
    return index, plan.schedule["steps"][index]


def planned_soc_at(plan: DispatchPlan, battery_name: str, instant: datetime) -> float | None:
    """The plan's SOC at `instant`: linear between the SOC at the step's start and at its end. The
    start of the first step is derived from its power (storage side: charge x η_c, discharge / η_d)."""
    found = _step_at(plan, instant)
    if found is None:
        return None
    index, step = found
    end_soc = float(step["batteries"][battery_name]["soc_pct"])
    if index > 0:
        start_soc = float(plan.schedule["steps"][index - 1]["batteries"][battery_name]["soc_pct"])
    else:
        spec = next(b for b in plan.request["batteries"] if b["name"] == battery_name)
        power = float(step["batteries"][battery_name]["power_kw"])
        stored_kw = power / spec["discharge_efficiency"] if power > 0 else power * spec["charge_efficiency"]
        start_soc = end_soc + stored_kw * plan.step_minutes / 60 / spec["capacity_kwh"] * 100
    step_start = plan.start_at + index * timedelta(minutes=plan.step_minutes)
    fraction = (instant - step_start) / timedelta(minutes=plan.step_minutes)
    return start_soc + (end_soc - start_soc) * fraction


def _deviations(session: Any, plan: DispatchPlan) -> list[DeviationRead]:
    result = []
    for device in _devices(plan):
        if device.kind != "battery" or device.battery_id is None:
            continue
        state = repository.latest_battery_state(session=session, battery_id=device.battery_id)
        if state is None:
            continue
        found = _step_at(plan, state.ts)
        planned_soc = planned_soc_at(plan, device.name, state.ts)
        planned_kw = None if found is None else float(found[1]["batteries"][device.name]["power_kw"])
        result.append(
            DeviationRead(
                device=device.device,
                battery_id=device.battery_id,
                measured_at=state.ts,
                measured_soc_pct=state.soc_pct,
                planned_soc_pct=None if planned_soc is None else round(planned_soc, 3),
                soc_deviation_pct=None if planned_soc is None else round(state.soc_pct - planned_soc, 3),
                measured_power_kw=state.power_kw,
                planned_power_kw=planned_kw,
                power_deviation_kw=None
                if planned_kw is None or state.power_kw is None
                else round(state.power_kw - planned_kw, 4),
                within_plan=found is not None,
            )
        )
    return result


READING_STEPS = 4


def _reading_deviations(session: Any, plan: DispatchPlan, now: datetime) -> list[ReadingDeviationRead]:
    """Metered consumption/production of the plan's site per step against the plan's assumptions, for
    the last READING_STEPS steps up to the one holding `now` (steps without readings are left out)."""
    step = timedelta(minutes=plan.step_minutes)
    if now < plan.start_at:
        return []
    ts_to = min(plan.end_at, plan.start_at + (math.floor((now - plan.start_at) / step) + 1) * step)
    ts_from = max(plan.start_at, ts_to - READING_STEPS * step)
    try:
        scope = history_module.resolve_scope(session=session, meter_id=None, site=plan.site)
    except NotFoundError:  # a site without meters: nothing to compare
        return []
    energy = history_module.load_energy(
        session=session, scope=scope, ts_from=ts_from, ts_to=ts_to, step_minutes=plan.step_minutes
    )
    result = []
    for i in range(len(energy)):
        consumption = float(energy.consumption_kw[i])
        if not math.isfinite(consumption):
            continue
        step_at = energy.start + i * step
        planned = plan.schedule["steps"][round((step_at - plan.start_at) / step)]
        planned_consumption = float(planned["load_kw"]) + sum(
            float(v) for v in planned["deferrable_kw"].values()
        )
        production = float(energy.production_kw[i])
        measured_pv = production if math.isfinite(production) else None
        result.append(
            ReadingDeviationRead(
                step_at=step_at,
                measured_consumption_kw=round(consumption, 4),
                planned_consumption_kw=round(planned_consumption, 4),
                consumption_deviation_kw=round(consumption - planned_consumption, 4),
                measured_production_kw=None if measured_pv is None else round(measured_pv, 4),
                planned_pv_kw=float(planned["pv_kw"]),
                production_deviation_kw=None
                if measured_pv is None
                else round(measured_pv - float(planned["pv_kw"]), 4),
            )
        )
    return result
