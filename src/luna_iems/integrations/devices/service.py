"""Field devices: read one device, map its values onto readings and battery states (Luna's signs),
store them through the time-series ingest, and write a setpoint when the device allows it.

Signs (docs/integrations/devices.md): a reading's consumption_kw is power drawn into the site through
the device's meter, production_kw power delivered by it; a battery's power_kw is + discharge,
- charge. A meter's W > 0 is grid import; an inverter's or a battery's W > 0 is power delivered.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from luna_iems.errors import LunaError, NotFoundError
from luna_iems.integrations.devices import sunspec
from luna_iems.integrations.devices.config import Device
from luna_iems.integrations.devices.deps import DevicesDeps
from luna_iems.integrations.devices.modbus import MAX_READ, ModbusConnection
from luna_iems.integrations.devices.schemas import (
    DeviceList,
    RegisterTemplate,
    RegisterType,
    SetpointWritten,
    SunSpecTemplate,
)
from luna_iems.timeseries import ingest as timeseries_ingest
from luna_iems.timeseries import service as timeseries_service
from luna_iems.timeseries.schemas import BatteryStateIn, MeterCreate, MeterKind, ReadingIn

if TYPE_CHECKING:
    from luna_iems.integrations.devices.poller import DevicePoller

SOURCE = "modbus"


class SetpointRefusedError(LunaError):
    """The device may not receive this setpoint (read-only, no setpoint register, beyond its limit)."""

    status_code = 409
    code = "setpoint_refused"


@dataclass
class DeviceSample:
    """What one poll read: values in their units (W, V, %, Wh), None where the device has none."""

    values: dict[str, float | None] = field(default_factory=dict)
    models: list[int] = field(default_factory=list)


# --- reading ---------------------------------------------------------------------------------
async def read_device(connection: ModbusConnection, device: Device) -> DeviceSample:
    """Read every value of the device's template. Raises the connection's errors, and
    sunspec.SunSpecError when a SunSpec device has no (or a malformed) model chain."""
    template = device.template
    if isinstance(template, SunSpecTemplate):
        return await _read_sunspec(connection, device, template)
    return await _read_registers(connection, template)


async def _models(connection: ModbusConnection, device: Device) -> dict[int, sunspec.ModelBlock]:
    if connection.models is None:
        base = device.config.base_address
        connection.models = await sunspec.discover(
            connection.read, base_addresses=(base,) if base is not None else sunspec.BASE_ADDRESSES
        )
    found: dict[int, sunspec.ModelBlock] = {}
    for block in connection.models:
        found.setdefault(block.model_id, block)  # the first of a model (a second inverter is another unit)
    return found


async def _read_sunspec(
    connection: ModbusConnection, device: Device, template: SunSpecTemplate
) -> DeviceSample:
    models = await _models(connection, device)
    wanted = {int(c.partition(".")[0]) for candidates in template.values.values() for c in candidates}
    bodies: dict[int, list[int]] = {}
    for model_id in sorted(wanted & models.keys()):
        block = models[model_id]
        # Only up to the last point Luna reads (a 203 body is 105 registers; W and energies are early).
        needed = max(p.offset + 2 for p in sunspec.MODELS[model_id].values())
        bodies[model_id] = await connection.read(block.address, min(block.length, needed))
    sample = DeviceSample(models=[b.model_id for b in connection.models or []])
    for name, candidates in template.values.items():
        sample.values[name] = None
        for candidate in candidates:
            model, _, point = candidate.partition(".")
            if int(model) in bodies:
                value = sunspec.read_point(int(model), bodies[int(model)], point)
                if value is not None:
                    sample.values[name] = value
                    break
    return sample


_FORMATS: dict[str, tuple[str, int]] = {
    "int16": ("h", 1),
    "uint16": ("H", 1),
    "int32": ("i", 2),
    "uint32": ("I", 2),
    "float32": ("f", 2),
}


def decode_register_value(words: Sequence[int], value_type: RegisterType, *, word_order: str) -> float | None:
    fmt, width = _FORMATS[value_type]
    ordered = list(words[:width]) if word_order == "big" else list(reversed(words[:width]))
    value = struct.unpack(f">{fmt}", struct.pack(f">{width}H", *ordered))[0]
    return None if isinstance(value, float) and not math.isfinite(value) else float(value)


def encode_register_value(value: float, value_type: RegisterType, *, word_order: str = "big") -> list[int]:
    fmt, width = _FORMATS[value_type]
    packed = struct.pack(f">{fmt}", value if value_type == "float32" else round(value))
    words = list(struct.unpack(f">{width}H", packed))
    return words if word_order == "big" else list(reversed(words))


async def _read_registers(connection: ModbusConnection, template: RegisterTemplate) -> DeviceSample:
    spans = [(v.address, _FORMATS[v.type][1]) for v in template.values.values()]
    low = min(a for a, _ in spans)
    high = max(a + w for a, w in spans)
    cache: dict[int, int] = {}
    if high - low <= MAX_READ:
        cache = dict(enumerate(await connection.read(low, high - low, function=template.function), start=low))
    else:  # far apart: one request per value
        for address, width in spans:
            words = await connection.read(address, width, function=template.function)
            cache.update(enumerate(words, start=address))
    sample = DeviceSample()
    for name, spec in template.values.items():
        width = _FORMATS[spec.type][1]
        raw = decode_register_value(
            [cache[spec.address + i] for i in range(width)], spec.type, word_order=template.word_order
        )
        sample.values[name] = None if raw is None else raw * spec.scale
    return sample


# --- mapping ---------------------------------------------------------------------------------
def _delivered_w(device: Device, power_w: float) -> float:
    """Power the device delivers into the site (W): a meter's import counts as negative delivery."""
    sign = -1.0 if device.config.invert_power else 1.0
    return sign * (-power_w if device.template.kind == "meter" else power_w)


def to_reading(device: Device, sample: DeviceSample, *, ts: datetime) -> ReadingIn | None:
    """The reading for the device's meter (None without meter_id or power): consumption_kw is power
    drawn through the device, production_kw power delivered, both >= 0 (kW)."""
    power_w = sample.values.get("power_w")
    if device.config.meter_id is None or power_w is None:
        return None
    delivered_kw = _delivered_w(device, power_w) / 1000.0
    values: dict[str, object] = {
        "meter_id": device.config.meter_id,
        "ts": ts,
        "consumption_kw": max(-delivered_kw, 0.0),
        "production_kw": max(delivered_kw, 0.0),
    }
    voltage = sample.values.get("voltage_v")
    if voltage is not None:
        values["voltage"] = voltage
    return ReadingIn.model_validate(values)


def to_battery_state(device: Device, sample: DeviceSample, *, ts: datetime) -> BatteryStateIn | None:
    """The battery state (None without battery_id or state of charge); power_kw + discharge, - charge."""
    soc = sample.values.get("soc_pct")
    if device.config.battery_id is None or soc is None:
        return None
    power_w = sample.values.get("power_w")
    return BatteryStateIn.model_validate(
        {
            "battery_id": device.config.battery_id,
            "site": device.config.site,
            "ts": ts,
            "soc_pct": soc,
            "power_kw": None if power_w is None else _delivered_w(device, power_w) / 1000.0,
        }
    )


def slot_ts(now: datetime, interval_s: float) -> datetime:
    """The poll's timestamp: `now` floored to the device's interval, so a replayed slot updates its row."""
    step = max(int(interval_s), 1)
    return datetime.fromtimestamp(int(now.timestamp()) // step * step, tz=UTC)


# --- storing ---------------------------------------------------------------------------------
def ensure_meters(*, deps: DevicesDeps, devices: Sequence[Device]) -> list[str]:
    """Create the devices' meters that do not exist yet, on the device's site; returns those created."""
    created = []
    with deps.timeseries.session_factory() as session:
        for device in devices:
            meter_id = device.config.meter_id
            if meter_id is None:
                continue
            try:
                timeseries_service.get_meter(session=session, meter_id=meter_id)
            except NotFoundError:
                kind = {
                    "meter": MeterKind.BIDIRECTIONAL,
                    "inverter": MeterKind.PRODUCTION,
                    "battery": MeterKind.BATTERY,
                }[device.template.kind]
                timeseries_service.create_meter(
                    session=session,
                    meter_in=MeterCreate(
                        meter_id=meter_id,
                        site=device.config.site,
                        kind=kind,
                        interval_s=max(int(device.config.poll_interval_s), 1),
                    ),
                )
                created.append(meter_id)
    return created


def store(*, deps: DevicesDeps, readings: Sequence[ReadingIn], states: Sequence[BatteryStateIn]) -> int:
    """Write polled readings and battery states through the time-series ingest (same validation,
    quality and idempotence as HTTP ingest: a replayed (meter, ts) updates). Returns rows written."""
    written = 0
    if readings:
        result = timeseries_ingest.ingest_rows(deps.timeseries, readings, source=SOURCE, create_meters=True)
        written += result.rows_written
    if states:
        with deps.timeseries.session_factory() as session:
            written += timeseries_service.ingest_battery_states(session=session, rows=states).rows_written
    return written


# --- writing ---------------------------------------------------------------------------------
def check_setpoint(device: Device, kw: float, *, config_path: str = "DEVICES_CONFIG_PATH") -> None:
    """Raise SetpointRefusedError unless the device may receive `kw` (+ discharge, - charge)."""
    config = device.config
    if not config.write:
        raise SetpointRefusedError(
            f"device {config.id!r} is read-only: writing setpoints needs `write: true` and "
            f"`max_setpoint_kw` in its entry of {config_path}",
            details={"device_id": config.id, "field": "write"},
        )
    if device.template.setpoint is None:
        raise SetpointRefusedError(
            f"device {config.id!r}: template {device.template.name!r} defines no setpoint register",
            details={"device_id": config.id, "field": "template"},
        )
    limit = config.max_setpoint_kw or 0.0
    if not math.isfinite(kw) or abs(kw) > limit:
        raise SetpointRefusedError(
            f"device {config.id!r}: setpoint {kw} kW is outside ±{limit} kW (max_setpoint_kw)",
            details={"device_id": config.id, "field": "kw", "max_setpoint_kw": limit},
        )


async def write_setpoint(
    connection: ModbusConnection, device: Device, kw: float, *, config_path: str = "DEVICES_CONFIG_PATH"
) -> SetpointWritten:
    """Send a power setpoint in kW (+ discharge, - charge) to a device with `write: true`.

    Raises SetpointRefusedError (nothing is sent) when the device is read-only, has no setpoint
    register or `kw` exceeds max_setpoint_kw; the connection's errors when the write fails.
    """
    check_setpoint(device, kw, config_path=config_path)
    template = device.template
    if isinstance(template, SunSpecTemplate):
        registers = await _storage_124_registers(connection, device, kw)
    else:
        spec = template.setpoint
        assert spec is not None  # checked above
        words = encode_register_value(kw * 1000.0 * spec.scale, spec.type, word_order=template.word_order)
        registers = dict(enumerate(words, start=spec.address))
    for address, words in _runs(registers):
        await connection.write(address, words)
    return SetpointWritten(device_id=device.id, kw=kw, registers=registers)


def _runs(registers: dict[int, int]) -> list[tuple[int, list[int]]]:
    """Consecutive registers as one write each (a float32 is never half-written), in the given order."""
    runs: list[tuple[int, list[int]]] = []
    for address, word in registers.items():
        if runs and runs[-1][0] + len(runs[-1][1]) == address:
            runs[-1][1].append(word)
        else:
            runs.append((address, [word]))
    return runs


async def _storage_124_registers(connection: ModbusConnection, device: Device, kw: float) -> dict[int, int]:
    """Model 124's window pinned to `kw`: OutWRte = p, InWRte = -p (p in % of WChaMax), then
    StorCtl_Mod = 3 (both limits active): the rates are in place before the mode enables them."""
    block = (await _models(connection, device)).get(124)
    if block is None:
        raise SetpointRefusedError(
            f"device {device.id!r} has no SunSpec model 124 (storage controls) for setpoints",
            details={"device_id": device.id},
        )
    body = await connection.read(block.address, block.length)
    w_max = sunspec.read_point(124, body, "WChaMax")
    sf = sunspec.scale_factor(124, body, "InOutWRte_SF")
    if not w_max or sf is None:
        raise SetpointRefusedError(
            f"device {device.id!r}: model 124 has no WChaMax or InOutWRte_SF; cannot express {kw} kW in %",
            details={"device_id": device.id},
        )
    percent = max(-100.0, min(100.0, kw * 1000.0 / w_max * 100.0))
    raw = round(percent / 10.0**sf)
    points = sunspec.MODELS[124]
    return {
        block.address + points["OutWRte"].offset: sunspec.encode_int16(raw),
        block.address + points["InWRte"].offset: sunspec.encode_int16(-raw),
        block.address + points["StorCtl_Mod"].offset: 3,
    }


# --- status ----------------------------------------------------------------------------------
def list_devices(*, config_path: str, poller: DevicePoller | None) -> DeviceList:
    """The configured devices and their polling status (empty when no device file exists)."""
    if poller is None:
        return DeviceList(configured=False, config_path=config_path, items=[])
    return poller.device_list(config_path=config_path)
