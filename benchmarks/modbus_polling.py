"""Modbus polling: 50 devices at 5 s for 60 s through the real poller into SQLite (and PostgreSQL).

    python -m benchmarks.run --only modbus_polling [--quick] [--postgres]

Devices: 50 pymodbus TCP servers (the real server, each on its own loopback port) in one subprocess,
each with a SunSpec map (common, 103, 203, 124, 802) at 40000 and SDM630 float registers at 0; the
poller reads them as 20 SunSpec meters, 15 inverters, 10 batteries and 5 SDM630 meters, at 5 s slots,
writing through the time-series ingest every second.

Per slot (all devices are due at the same wall-clock instant): cycle = last poll finished - slot.
Keeping up means cycle p99 well under the interval, no missed cycles, and every slot's values
stored. Baseline in the same run: a raw pymodbus read loop (one client, one 203 body read, sequential),
and the cost of polling the 50 devices one after another (50 x a single poll's latency).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import databases, in_process_container

DEVICES, INTERVAL_S, DURATION_S = 50, 5.0, 60.0
QUICK_DURATION_S = 15.0
MIX = [("sunspec-meter", 20), ("sunspec-inverter", 15), ("sunspec-battery", 10), ("eastron-sdm630", 5)]
BASELINE_READS = 500


def _register_blocks() -> list[tuple[int, list[int]]]:
    from tests.integrations.devices.modbus_server import float_registers, sunspec_map

    models = [
        (103, {"W": 12345, "W_SF": 0xFFFF, "WH": 5_000_000, "WH_SF": 0, "PhVphA": 2301, "V_SF": 0xFFFF}),
        (203, {"W": 0xFFCE, "W_SF": 2, "TotWhImp": 1000, "TotWhExp": 20, "TotWh_SF": 1}),
        (124, {"WChaMax": 500, "WChaMax_SF": 1, "ChaState": 55, "ChaState_SF": 0, "InOutWRte_SF": 0xFFFE}),
        (802, {"SoC": 567, "SoC_SF": 0xFFFF, "W": 0xFF06, "W_SF": 1}),
    ]
    return [(0, float_registers({0: 229.5, 52: 1500.5, 72: 12345.5, 74: 2.25})), (40000, sunspec_map(models))]


def serve(count: int) -> None:
    """Subprocess: `count` servers on one event loop; prints their ports, serves until stdin closes."""
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    async def main() -> None:
        servers = []
        for _ in range(count):
            simdata = [
                SimData(address=a, values=w, datatype=DataType.REGISTERS) for a, w in _register_blocks()
            ]
            server = ModbusTcpServer(SimDevice(id=0, simdata=simdata), address=("127.0.0.1", 0))
            await server.serve_forever(background=True)
            servers.append(server)
        ports = [int(s.transport.sockets[0].getsockname()[1]) for s in servers]  # type: ignore[union-attr]
        print(json.dumps(ports), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for server in servers:
            await server.shutdown()

    asyncio.run(main())


def _start_servers(count: int) -> tuple[subprocess.Popen[str], list[int]]:
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.modbus_polling", "--serve", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError("the Modbus server subprocess did not start")
    return process, [int(p) for p in json.loads(line)]


def _device_file(ports: list[int]) -> str:
    lines, i = ["devices:"], 0
    for template, n in MIX:
        for _ in range(n):
            target = "battery_id" if template == "sunspec-battery" else "meter_id"
            lines.append(
                f"  - {{id: d{i:02d}, template: {template}, host: 127.0.0.1, port: {ports[i]}, "
                f"{target}: dev-{i:02d}, site: bench, poll_interval_s: {INTERVAL_S}, timeout_s: 2}}"
            )
            i += 1
    return "\n".join(lines) + "\n"


def baseline(port: int) -> dict[str, float]:
    """Raw pymodbus: one client reading one 203 body (58 registers) BASELINE_READS times in a row."""
    from pymodbus.client import AsyncModbusTcpClient

    async def loop() -> list[float]:
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0, reconnect_delay=0)
        await client.connect()
        latencies = []
        for _ in range(BASELINE_READS):
            t0 = time.perf_counter()
            await client.read_holding_registers(40000 + 2 + 68 + 52 + 2, count=54, device_id=1)
            latencies.append(time.perf_counter() - t0)
        client.close()
        return latencies

    latencies = asyncio.run(loop())
    return {"read_p50_ms": round(statistics.median(latencies) * 1000, 3)}


def _stored_rows(container: Any) -> int:
    from sqlalchemy import func, select

    from luna_iems.timeseries.models import BatteryState, SmartMeterReading

    with container.session_factory() as session:
        readings = session.scalar(select(func.count()).select_from(SmartMeterReading)) or 0
        states = session.scalar(select(func.count()).select_from(BatteryState)) or 0
    return int(readings) + int(states)


def measure(database_url: str | None, ports: list[int], duration_s: float) -> dict[str, Any]:
    from luna_iems.integrations.devices.config import load_templates, parse_devices
    from luna_iems.integrations.devices.poller import DevicePoller, PollEvent

    events: list[PollEvent] = []
    lock = threading.Lock()

    def observe(event: PollEvent) -> None:
        with lock:
            events.append(event)

    with tempfile.TemporaryDirectory(prefix="luna-bench-") as tmp:
        container = in_process_container(Path(tmp) / "var", database_url)
        try:
            devices = parse_devices(_device_file(ports), origin="bench", templates=load_templates())
            # One sequential pass first: the cost of polling the devices one after another (baseline),
            # and it creates the meters, so the timed run measures polling only.
            single: list[float] = []
            probe = DevicePoller(container.devices_deps, devices[:1])
            for _ in range(20):
                t0 = time.perf_counter()
                probe.run_once()
                single.append(time.perf_counter() - t0)
            before = _stored_rows(container)
            poller = DevicePoller(container.devices_deps, devices, observe=observe)
            poller.start()
            time.sleep(duration_s)
            poller.stop()
            listed = poller.device_list(config_path="bench")
            in_db = _stored_rows(container) - before
        finally:
            container.close()
    slots: dict[float, list[PollEvent]] = {}
    for event in events:
        slots.setdefault(event.slot, []).append(event)
    complete = [evs for evs in slots.values() if len(evs) == len(devices)]
    cycles = np.array([max(e.finished for e in evs) - evs[0].slot for evs in complete])
    polls = np.array([e.finished - e.started for e in events])
    start_lag = np.array([e.started - e.slot for e in events])
    return {
        "slots": len(complete),
        "cycle_p50_ms": round(float(np.percentile(cycles, 50)) * 1000, 1),
        "cycle_p99_ms": round(float(np.percentile(cycles, 99)) * 1000, 1),
        "cycle_max_ms": round(float(cycles.max()) * 1000, 1),
        "cycle_p99_share_of_interval": round(float(np.percentile(cycles, 99)) / INTERVAL_S, 4),
        "poll_p50_ms": round(float(np.percentile(polls, 50)) * 1000, 2),
        "poll_p99_ms": round(float(np.percentile(polls, 99)) * 1000, 2),
        "start_lag_p99_ms": round(float(np.percentile(start_lag, 99)) * 1000, 2),
        "missed_cycles": sum(d.missed_cycles for d in listed.items),
        "failures": sum(d.failures for d in listed.items),
        "rows_written": listed.rows_written,
        "rows_expected": len(events) - sum(d.failures for d in listed.items),
        "rows_in_db": in_db,
        "store_errors": listed.store_errors,
        "single_device_poll_p50_ms": round(statistics.median(single) * 1000, 2),
    }


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    duration = QUICK_DURATION_S if quick else DURATION_S
    process, ports = _start_servers(DEVICES)
    try:
        base = baseline(ports[0])
        rows = []
        for name, url in databases(postgres):
            result = measure(url, ports, duration)
            sequential_ms = result["single_device_poll_p50_ms"] * DEVICES
            rows.append(
                {
                    "database": name,
                    **result,
                    "raw_read_p50_ms": base["read_p50_ms"],
                    "sequential_50_estimate_ms": round(sequential_ms, 1),
                    "cycle_p50_vs_sequential": round(result["cycle_p50_ms"] / sequential_ms, 3),
                }
            )
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)
    return {
        "title": f"Modbus polling: {DEVICES} pymodbus devices, {INTERVAL_S:g} s slots for {duration:g} s",
        "params": {"devices": DEVICES, "interval_s": INTERVAL_S, "duration_s": duration, "mix": MIX},
        "columns": [
            "database",
            "slots",
            "cycle_p50_ms",
            "cycle_p99_ms",
            "cycle_max_ms",
            "cycle_p99_share_of_interval",
            "poll_p50_ms",
            "poll_p99_ms",
            "start_lag_p99_ms",
            "missed_cycles",
            "failures",
            "rows_written",
            "rows_expected",
            "rows_in_db",
            "raw_read_p50_ms",
            "single_device_poll_p50_ms",
            "sequential_50_estimate_ms",
            "cycle_p50_vs_sequential",
        ],
        "rows": rows,
        "notes": [
            "cycle: from a slot's wall-clock instant to the last of its 50 polls finishing (servers in a "
            "subprocess on the same 2 cores)",
            "single_device_poll: run_once for one SunSpec meter (new connection, discovery, reads, one "
            "write to the database); sequential_50_estimate is 50 of those in a row",
            "rows_written counts readings and battery states stored; rows_expected the successful polls",
        ],
    }


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    else:
        print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
