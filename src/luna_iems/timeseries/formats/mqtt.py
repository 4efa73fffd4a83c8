"""MQTT payloads: Tasmota `tele/<topic>/SENSOR` energy JSON and the documented Luna reading JSON.

Tasmota ENERGY: Power in W (+ import, - export), Total / ExportActive in kWh, Voltage in V,
Current in A, Frequency in Hz; its "Time" is local without an offset, so the broker receive time
is used instead. Luna JSON: consumption_kw / production_kw in kW, voltage in V, ts ISO 8601 with
an offset.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypedDict

from luna_iems.timeseries.formats.errors import FormatError
from luna_iems.timeseries.formats.samples import MeterSample, meter_sample_from_obis

# Tasmota ENERGY field -> (OBIS code, divisor to base unit, how to combine multi-channel lists)
_TASMOTA = {
    "Power": ("1-0:16.7.0", Decimal(1000), "sum"),  # W -> kW
    "Total": ("1-0:1.8.0", Decimal(1), "sum"),  # kWh
    "ExportActive": ("1-0:2.8.0", Decimal(1), "sum"),  # kWh
    "Voltage": ("1-0:32.7.0", Decimal(1), "first"),  # V
    "Current": ("1-0:31.7.0", Decimal(1), "first"),  # A
    "Frequency": ("1-0:14.7.0", Decimal(1), "first"),  # Hz
}
_NUMBERS = ("consumption_kw", "production_kw", "voltage")


class JsonReading(TypedDict):
    """One Luna MQTT reading: ts aware UTC; kW, kW and V, each None when absent."""

    meter_id: str | None
    ts: datetime
    consumption_kw: float | None
    production_kw: float | None
    voltage: float | None


def _load(payload: bytes | str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise FormatError(f"{what} payload is not valid JSON: {exc}", details={"format": what}) from exc
    if not isinstance(data, dict):
        raise FormatError(f"{what} payload must be a JSON object, got {type(data).__name__}")
    return data


def _number(value: Any, field: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FormatError(
            f"{what} field {field!r} must be a finite number, got {value!r}",
            details={"format": what, "field": field},
        )
    return float(value)


def _aware(received_at: datetime) -> datetime:
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    return received_at.astimezone(UTC)


def _offset_ts(raw: Any) -> datetime:
    parsed: datetime | None = None
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise FormatError(
            f"field 'ts' must be ISO 8601 with a UTC offset (e.g. 2026-02-02T12:00:00+01:00), got {raw!r}",
            details={"format": "json", "field": "ts"},
        )
    return parsed.astimezone(UTC)


def parse_tasmota_sensor(payload: bytes | str, *, received_at: datetime) -> MeterSample:
    """Decode a Tasmota SENSOR message with an ENERGY object; ts = received_at in UTC.

    Power (W) becomes 1-0:16.7.0 and is split into import_kw (>= 0) and export_kw (>= 0, from
    negative power); multi-channel lists are summed (Power, energies) or take channel 1 (Voltage,
    Current, Frequency). Total (kWh) -> import_kwh_total, ExportActive (kWh) -> export_kwh_total.
    """
    ts = _aware(received_at)
    data = _load(payload, "tasmota")
    energy = data.get("ENERGY")
    if not isinstance(energy, dict):
        raise FormatError(
            f"Tasmota SENSOR payload has no ENERGY object (keys: {', '.join(sorted(data)) or 'none'})",
            details={"format": "tasmota", "field": "ENERGY"},
        )
    obis: dict[str, Decimal] = {}
    for field, (code, divisor, combine) in _TASMOTA.items():
        if field not in energy or energy[field] is None:
            continue
        raw = energy[field]
        values = raw if isinstance(raw, list) else [raw]
        numbers = [_number(v, f"ENERGY.{field}", "tasmota") for v in values]
        if not numbers:
            continue
        chosen = math.fsum(numbers) if combine == "sum" else numbers[0]
        obis[code] = Decimal(repr(chosen)) / divisor
    if not obis:
        raise FormatError(
            "Tasmota ENERGY object has none of Power, Total, ExportActive, Voltage, Current, Frequency",
            details={"format": "tasmota", "field": "ENERGY"},
        )
    return meter_sample_from_obis(obis, ts=ts, meter_serial=None)


def parse_json_reading(payload: bytes | str, *, received_at: datetime) -> JsonReading:
    """Decode {"meter_id"?, "ts"?, "consumption_kw"?, "production_kw"?, "voltage"?}.

    ts must carry an offset and defaults to received_at; the result's ts is aware UTC. Numbers
    must be finite (NaN / Infinity are refused); absent or null numbers become None. Other keys
    are ignored.
    """
    default_ts = _aware(received_at)
    data = _load(payload, "json")
    meter_id = data.get("meter_id")
    if meter_id is not None and (not isinstance(meter_id, str) or not meter_id.strip()):
        raise FormatError(
            f"field 'meter_id' must be a non-empty string, got {meter_id!r}",
            details={"format": "json", "field": "meter_id"},
        )
    ts = default_ts if data.get("ts") is None else _offset_ts(data["ts"])
    numbers = {
        field: None if data.get(field) is None else _number(data[field], field, "json") for field in _NUMBERS
    }
    return JsonReading(
        meter_id=meter_id,
        ts=ts,
        consumption_kw=numbers["consumption_kw"],
        production_kw=numbers["production_kw"],
        voltage=numbers["voltage"],
    )
