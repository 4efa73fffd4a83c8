"""Device templates, the site's device file and the status the API returns (Pydantic).

Templates (`templates/*.yml`, like evcc's) say how to read one kind of device; the site file
(DEVICES_CONFIG_PATH) lists the devices: where they are and which meter or battery they feed.
Unknown keys are errors, so a typo never silently disables a value or a safety switch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from luna_iems.integrations.devices.sunspec import MODELS

ValueName = Literal["power_w", "voltage_v", "soc_pct", "import_wh", "export_wh", "energy_wh"]
DeviceKind = Literal["meter", "inverter", "battery"]
RegisterType = Literal["int16", "uint16", "int32", "uint32", "float32"]
Identifier = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegisterValue(_Strict):
    """One value of a register-map device: address (0-based), type, and the factor to its unit."""

    address: int = Field(ge=0, le=65535)
    type: RegisterType
    scale: float = Field(default=1.0, description="Multiplies the raw value, e.g. 1000 for kWh -> Wh")


class RegisterSetpoint(_Strict):
    """Where a register-map device takes a power setpoint: value written = W x scale (+ = discharge)."""

    address: int = Field(ge=0, le=65535)
    type: Literal["int16", "int32", "float32"]
    scale: float = Field(default=1.0, gt=0)


class SunSpecTemplate(_Strict):
    name: str
    description: str = ""
    kind: DeviceKind
    protocol: Literal["sunspec"]
    # Each value: candidate points "MODEL.POINT", the first one the device implements wins.
    values: dict[ValueName, list[str]] = Field(min_length=1)
    # "storage_124": SunSpec model 124's charge/discharge window pinned to the setpoint.
    setpoint: Literal["storage_124"] | None = None

    @model_validator(mode="after")
    def _known_points(self) -> SunSpecTemplate:
        for value, candidates in self.values.items():
            for candidate in candidates:
                model, _, point = candidate.partition(".")
                if not model.isdigit() or point not in MODELS.get(int(model), {}):
                    known = ", ".join(str(m) for m in sorted(MODELS))
                    raise ValueError(
                        f"values.{value}: unknown SunSpec point {candidate!r} (MODEL.POINT; models {known})"
                    )
        return self


class RegisterTemplate(_Strict):
    name: str
    description: str = ""
    kind: DeviceKind
    protocol: Literal["registers"]
    function: Literal["holding", "input"] = "holding"
    word_order: Literal["big", "little"] = "big"
    values: dict[ValueName, RegisterValue] = Field(min_length=1)
    setpoint: RegisterSetpoint | None = None


Template = Annotated[SunSpecTemplate | RegisterTemplate, Field(discriminator="protocol")]


class DeviceConfig(_Strict):
    """One device of the site file."""

    id: Identifier
    template: str = Field(min_length=1)
    host: str = Field(min_length=1)
    port: int = Field(default=502, ge=1, le=65535)
    unit_id: int = Field(default=1, ge=0, le=255)
    meter_id: Identifier | None = Field(default=None, description="Readings go to this meter")
    battery_id: Identifier | None = Field(default=None, description="Battery states go to this battery")
    site: Identifier = "default"
    poll_interval_s: float = Field(default=5.0, ge=1.0, le=3600.0)
    timeout_s: float = Field(default=2.0, gt=0.0, le=60.0)
    base_address: int | None = Field(default=None, ge=0, le=65535, description="SunSpec; empty: probe")
    invert_power: bool = Field(default=False, description="A meter or battery mounted the other way round")
    write: bool = Field(default=False, description="Allow setpoints over Modbus (off by default)")
    max_setpoint_kw: float | None = Field(default=None, gt=0.0, le=100_000.0)
    enabled: bool = True

    @model_validator(mode="after")
    def _targets_and_safety(self) -> DeviceConfig:
        if self.meter_id is None and self.battery_id is None:
            raise ValueError(f"device {self.id!r}: set meter_id or battery_id (where its values go)")
        if self.write and self.max_setpoint_kw is None:
            raise ValueError(f"device {self.id!r}: write: true needs max_setpoint_kw (the largest |kW| sent)")
        return self


class DevicesFile(_Strict):
    devices: list[DeviceConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> DevicesFile:
        seen: set[str] = set()
        for device in self.devices:
            if device.id in seen:
                raise ValueError(f"device id {device.id!r} appears twice")
            seen.add(device.id)
        return self


DeviceState = Literal["pending", "ok", "failing", "disabled"]


class DeviceRead(BaseModel):
    id: str
    template: str
    kind: DeviceKind
    protocol: Literal["sunspec", "registers"]
    host: str
    port: int
    unit_id: int
    meter_id: str | None
    battery_id: str | None
    site: str
    poll_interval_s: float
    write: bool
    state: DeviceState = Field(description="pending: not polled yet; failing: the last poll failed")
    last_ok_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    polls: int = 0
    failures: int = 0
    missed_cycles: int = Field(default=0, description="Poll slots skipped because a poll overran")
    latency_ms: float | None = Field(default=None, description="Duration of the last successful poll")
    next_poll_in_s: float | None = Field(default=None, description="Longer than the interval in backoff")
    values: dict[str, float | None] = Field(
        default_factory=dict, description="Last values read, in their units (W, V, %, Wh)"
    )
    sunspec_models: list[int] = Field(default_factory=list, description="Models found on the device")


class DeviceList(BaseModel):
    configured: bool = Field(description="False: DEVICES_CONFIG_PATH does not exist, nothing is polled")
    config_path: str
    rows_written: int = 0
    store_errors: int = 0
    last_store_error: str | None = None
    items: list[DeviceRead]


class SetpointWritten(BaseModel):
    device_id: str
    kw: float = Field(description="+ discharge, - charge")
    registers: dict[int, int] = Field(description="Register address -> word written")
