"""Polling real Modbus TCP servers (pymodbus' own, on loopback) into readings and battery states, on
SQLite and PostgreSQL; a device that is down or silent; setpoints refused and written."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from luna_iems.admin.schemas import Role
from luna_iems.bootstrap import Container, build_container
from luna_iems.integrations.devices.config import Device, load_templates, parse_devices
from luna_iems.integrations.devices.poller import DevicePoller
from luna_iems.integrations.devices.service import SetpointRefusedError
from luna_iems.main import create_app
from luna_iems.timeseries.models import BatteryState, Meter, SmartMeterReading
from tests.conftest import auth, make_settings
from tests.integrations.devices.modbus_server import (
    ModbusTestServer,
    float_registers,
    modbus_server,
    sunspec_map,
)

NI = 0x8000  # int16 / sunssf "not implemented"

# Raw register values; with their scale factors: inverter 1234.5 W, 5 MWh, 230.1 V; meter -5000 W
# (export), import 10 kWh; battery 56.7 % from 802 (124 says 55 %), -2500 W (charging), WChaMax 5 kW.
SUNSPEC_MODELS = [
    (103, {"W": 12345, "W_SF": 0xFFFF, "WH": 5_000_000, "WH_SF": 0, "PhVphA": 2301, "V_SF": 0xFFFF}),
    (
        203,
        {"W": 0xFFCE, "W_SF": 2, "TotWhImp": 1000, "TotWhExp": 20, "TotWh_SF": 1, "PhVphA": 231, "V_SF": 0},
    ),
    (124, {"WChaMax": 500, "WChaMax_SF": 1, "ChaState": 55, "ChaState_SF": 0, "InOutWRte_SF": 0xFFFE}),
    (802, {"SoC": 567, "SoC_SF": 0xFFFF, "W": 0xFF06, "W_SF": 1}),
]


@pytest.fixture
def sunspec_device() -> Iterator[ModbusTestServer]:
    with modbus_server([(40000, sunspec_map(SUNSPEC_MODELS))]) as server:
        yield server


@pytest.fixture
def sdm630() -> Iterator[ModbusTestServer]:
    registers = float_registers({0: 229.5, 52: 1500.5, 72: 12345.5, 74: 2.25})
    # Input registers only (function 4), as the meter has; holding registers for a setpoint at 100.
    with modbus_server([(100, [0, 0])], input_blocks=[(0, registers)]) as server:
        yield server


@pytest.fixture
def container_of(tmp_path: Path, database_url: str) -> Iterator[Callable[..., Container]]:
    built: list[Container] = []

    def make(**overrides: object) -> Container:
        container = build_container(make_settings(tmp_path, database_url=database_url, **overrides))
        built.append(container)
        return container

    yield make
    for container in built:
        container.close()


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: connecting is refused


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A socket that accepts connections (in the backlog) and never answers a request."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def _devices(text: str) -> list[Device]:
    return parse_devices(text, origin="devices.yml", templates=load_templates())


def _site_file(port: int) -> str:
    return f"""
devices:
  - {{id: roof, template: sunspec-inverter, host: 127.0.0.1, port: {port}, meter_id: pv-roof, site: plant,
     poll_interval_s: 3600}}
  - {{id: grid, template: sunspec-meter, host: 127.0.0.1, port: {port}, meter_id: grid-main, site: plant,
     poll_interval_s: 3600}}
  - {{id: store, template: sunspec-battery, host: 127.0.0.1, port: {port}, battery_id: hall, site: plant,
     poll_interval_s: 3600}}
"""


def _readings(container: Container, meter_id: str) -> list[SmartMeterReading]:
    with container.session_factory() as session:
        query = select(SmartMeterReading).where(SmartMeterReading.meter_id == meter_id)
        return list(session.scalars(query))


def test_sunspec_values_land_in_readings_and_battery_states(
    sunspec_device: ModbusTestServer, container_of: Callable[..., Container]
) -> None:
    container = container_of()
    poller = DevicePoller(container.devices_deps, _devices(_site_file(sunspec_device.port)))
    poller.run_once()

    (pv,) = _readings(container, "pv-roof")  # inverter W > 0: production
    assert (pv.production_kw, pv.consumption_kw, pv.voltage) == (
        pytest.approx(1.2345),
        0.0,
        pytest.approx(230.1),
    )
    (grid,) = _readings(container, "grid-main")  # meter W = -50 x 10^2 = -5000: export
    assert (grid.production_kw, grid.consumption_kw, grid.voltage) == (5.0, 0.0, 231.0)
    assert pv.ts == grid.ts and pv.ts.minute == pv.ts.second == 0  # the slot of a 3600 s interval
    with container.session_factory() as session:
        (state,) = session.scalars(select(BatteryState))
        sites = {m.meter_id: m.site for m in session.scalars(select(Meter))}
    assert (state.battery_id, state.site, state.soc_pct, state.power_kw) == ("hall", "plant", 56.7, -2.5)
    assert sites == {"pv-roof": "plant", "grid-main": "plant"}  # created on the device's site

    status = {d.id: d for d in poller.device_list(config_path="devices.yml").items}
    assert status["grid"].values == {
        "power_w": -5000.0,
        "import_wh": 10_000.0,
        "export_wh": 200.0,
        "voltage_v": 231.0,
    }
    assert status["store"].sunspec_models == [1, 103, 203, 124, 802]
    assert all(d.state == "ok" and d.last_ok_at is not None for d in status.values())

    poller.run_once()  # the same slot again: updated, never duplicated (as HTTP ingest)
    with container.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(SmartMeterReading)) == 2
        assert session.scalar(select(func.count()).select_from(BatteryState)) == 1


def test_register_map_meter_reads_float32_input_registers(
    sdm630: ModbusTestServer, container_of: Callable[..., Container]
) -> None:
    container = container_of()
    devices = _devices(
        f"devices: [{{id: sdm, template: eastron-sdm630, host: 127.0.0.1, port: {sdm630.port}, meter_id: sdm}}]"
    )
    poller = DevicePoller(container.devices_deps, devices)
    poller.run_once()
    (reading,) = _readings(container, "sdm")  # W > 0 on a meter: import
    assert (reading.consumption_kw, reading.production_kw, reading.voltage) == (1.5005, 0.0, 229.5)
    (status,) = poller.device_list(config_path="x").items
    assert status.values["import_wh"] == 12_345_500.0 and status.values["export_wh"] == 2250.0
    assert status.sunspec_models == []


def test_a_down_and_a_silent_device_are_reported_and_the_others_still_stored(
    sunspec_device: ModbusTestServer, silent_port: int, container_of: Callable[..., Container]
) -> None:
    container = container_of()
    devices = _devices(
        _site_file(sunspec_device.port)
        + f"""
  - {{id: dead, template: sunspec-meter, host: 127.0.0.1, port: {_refused_port()}, meter_id: dead-meter}}
  - {{id: mute, template: sunspec-meter, host: 127.0.0.1, port: {silent_port}, meter_id: mute-meter,
     timeout_s: 2}}
"""
    )
    finished: dict[str, float] = {}
    poller = DevicePoller(
        container.devices_deps, devices, observe=lambda e: finished.setdefault(e.device_id, e.finished)
    )
    poller.run_once()
    # Order, not duration: the live devices were done while the silent one still waited for its timeout.
    assert max(finished[d] for d in ("roof", "grid", "store", "dead")) < finished["mute"]
    status = {d.id: d for d in poller.device_list(config_path="x").items}
    assert status["dead"].state == "failing" and "cannot connect" in (status["dead"].last_error or "")
    assert status["mute"].state == "failing" and "timeout_s" in (status["mute"].last_error or "")
    assert status["dead"].consecutive_failures == status["mute"].consecutive_failures == 1
    assert {status[d].state for d in ("roof", "grid", "store")} == {"ok"}
    assert len(_readings(container, "pv-roof")) == 1 and _readings(container, "dead-meter") == []
    poller.run_once()
    assert poller.status["dead"].consecutive_failures == 2 and poller.status["roof"].consecutive_failures == 0


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_service_polls_in_the_background_and_lists_status(
    sunspec_device: ModbusTestServer,
    tmp_path: Path,
    database_url: str,
    make_key: Callable[[TestClient, Role], str],
) -> None:
    config = tmp_path / "devices.yml"
    port = sunspec_device.port
    config.write_text(
        f"""devices:
  - {{id: grid, template: sunspec-meter, host: 127.0.0.1, port: {port}, meter_id: grid-main, poll_interval_s: 1}}
  - {{id: store, template: sunspec-battery, host: 127.0.0.1, port: {port}, battery_id: hall, poll_interval_s: 1,
     write: true, max_setpoint_kw: 3}}
  - {{id: dead, template: sunspec-meter, host: 127.0.0.1, port: {_refused_port()}, meter_id: dead, poll_interval_s: 1}}
"""
    )
    settings = make_settings(
        tmp_path, database_url=database_url, devices_config_path=config, devices_flush_interval_s=0.2
    )
    with TestClient(create_app(settings)) as client:
        poller: DevicePoller = client.app.state.device_poller  # type: ignore[attr-defined]
        _wait_for(lambda: poller.status["grid"].polls >= 2 and poller.rows_written >= 2, "two polls stored")
        _wait_for(lambda: poller.status["dead"].failures >= 1, "the dead device's first failure")

        assert client.get("/devices", headers=auth(make_key(client, Role.VIEWER))).status_code == 403
        body = client.get("/devices", headers=auth(make_key(client, Role.ANALYST))).json()
        items = {d["id"]: d for d in body["items"]}
        assert body["configured"] is True and body["config_path"] == str(config)
        assert items["grid"]["state"] == "ok" and items["grid"]["latency_ms"] is not None
        assert items["dead"]["state"] == "failing" and items["dead"]["consecutive_failures"] >= 1
        assert items["store"]["write"] is True and items["grid"]["write"] is False

        written = poller.write_setpoint("store", 1.5)  # through the running poller's connection
        assert written.kw == 1.5
    # OutWRte = 1.5 kW / 5 kW = 30.00 % (SF -2), InWRte = -30.00 %, StorCtl_Mod = 3
    assert _storage_controls(sunspec_device) == (3, 3000, (-3000) & 0xFFFF)


def _storage_controls(server: ModbusTestServer) -> tuple[int, int, int]:
    body = 40000 + 2 + 68 + 52 + 107 + 2  # "SunS", common, 103, 203, then 124's header
    mode, out_rate, in_rate = (server.registers(body + 3, 1)[0], *server.registers(body + 10, 2))
    return mode, out_rate, in_rate


def test_no_device_file_means_no_polling(sqlite_client: TestClient, make_key: Callable[..., str]) -> None:
    assert sqlite_client.app.state.device_poller is None  # type: ignore[attr-defined]
    body = sqlite_client.get("/devices", headers=auth(make_key(sqlite_client, Role.ANALYST))).json()
    assert body["configured"] is False and body["items"] == []


def test_setpoints_are_refused_unless_the_device_allows_them(
    sunspec_device: ModbusTestServer, tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    container = build_container(make_settings(tmp_path, database_url=fresh_database_url("sqlite")))
    port = sunspec_device.port
    devices = _devices(
        f"""devices:
  - {{id: ro, template: sunspec-battery, host: 127.0.0.1, port: {port}, battery_id: a}}
  - {{id: rw, template: sunspec-battery, host: 127.0.0.1, port: {port}, battery_id: b, write: true,
     max_setpoint_kw: 4}}
  - {{id: meter, template: sunspec-meter, host: 127.0.0.1, port: {port}, meter_id: m, write: true,
     max_setpoint_kw: 4}}
"""
    )
    poller = DevicePoller(container.devices_deps, devices)
    before = _storage_controls(sunspec_device)
    try:
        with pytest.raises(SetpointRefusedError, match="read-only: writing setpoints needs `write: true`"):
            poller.write_setpoint("ro", 1.0)
        with pytest.raises(SetpointRefusedError, match=r"outside ±4\.0 kW"):
            poller.write_setpoint("rw", -4.5)
        with pytest.raises(SetpointRefusedError, match="defines no setpoint register"):
            poller.write_setpoint("meter", 1.0)
        with pytest.raises(SetpointRefusedError, match="no device 'nope'"):
            poller.write_setpoint("nope", 1.0)
        assert _storage_controls(sunspec_device) == before  # nothing was sent

        written = poller.write_setpoint("rw", -2.0)  # charge 2 kW = -40 % of WChaMax
    finally:
        poller.stop()
        container.close()
    assert written.registers == {40241: (-4000) & 0xFFFF, 40242: 4000, 40234: 3}
    assert _storage_controls(sunspec_device) == (3, (-4000) & 0xFFFF, 4000)


def test_slots_are_timestamps_on_the_interval_grid() -> None:
    from luna_iems.integrations.devices.service import slot_ts

    assert slot_ts(datetime.fromisoformat("2026-01-01T10:00:07.5+00:00"), 5) == datetime.fromisoformat(
        "2026-01-01T10:00:05+00:00"
    )


def test_register_map_setpoint_is_written_to_its_holding_registers(
    sdm630: ModbusTestServer, tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "hybrid.yml").write_text(
        """name: test-hybrid
kind: battery
protocol: registers
function: input
values:
  soc_pct: {address: 72, type: float32, scale: 0.001}
  power_w: {address: 52, type: float32}
setpoint: {address: 100, type: int32, scale: 1}
"""
    )
    text = f"""devices: [{{id: h, template: test-hybrid, host: 127.0.0.1, port: {sdm630.port}, battery_id: h,
  write: true, max_setpoint_kw: 3}}]"""
    devices = parse_devices(text, origin="x", templates=load_templates(tmp_path / "templates"))
    container = build_container(make_settings(tmp_path, database_url=fresh_database_url("sqlite")))
    poller = DevicePoller(container.devices_deps, devices)
    try:
        written = poller.write_setpoint("h", -2.5)
        poller.run_once()
        (status,) = poller.device_list(config_path="x").items
    finally:
        poller.stop()
        container.close()
    assert written.registers == {100: 0xFFFF, 101: (-2500) & 0xFFFF}  # int32 -2500 W, high word first
    assert sdm630.registers(100, 2) == [0xFFFF, (-2500) & 0xFFFF]
    assert status.values["soc_pct"] == pytest.approx(12.3455) and status.state == "ok"
