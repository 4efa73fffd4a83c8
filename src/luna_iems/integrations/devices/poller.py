"""The device poller: every configured device read at its interval, concurrently, into the database.

Why one asyncio loop in one background thread, not an APScheduler job: Modbus TCP is request/response
I/O, so 50 devices are 50 coroutines waiting on sockets, not 50 threads; each device keeps its own
cadence, timeout and backoff (a dead device waits on its own task, never on a shared job's run); and
the loop is not the API's, so neither a burst of requests nor a slow device delays the other. An
APScheduler job would run the devices of one tick in its thread pool (10 workers) and its
coalescing would hide the missed cycles this poller counts.

Slots are aligned to the wall clock (multiples of the interval), and a reading's timestamp is its
slot: a poll that overran its slot skips to the next one (`missed_cycles`), and a replayed slot
updates its row. Values are buffered and written every DEVICES_FLUSH_INTERVAL_S in one transaction,
on one database thread, through the time-series ingest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import ValidationError

from luna_iems.errors import LunaError
from luna_iems.integrations.devices import service
from luna_iems.integrations.devices.config import Device
from luna_iems.integrations.devices.deps import DevicesDeps
from luna_iems.integrations.devices.modbus import DeviceUnreachableError, ModbusConnection
from luna_iems.integrations.devices.schemas import DeviceList, DeviceRead, SetpointWritten
from luna_iems.integrations.devices.sunspec import ModbusExceptionError, SunSpecError
from luna_iems.ports import ComponentHealth
from luna_iems.timeseries.schemas import BatteryStateIn, ReadingIn

log = logging.getLogger("luna_iems.devices")

# What a poll may fail with: the device (connection, Modbus exception, not SunSpec, timeout) or its
# values (outside the ingest's bounds).
POLL_ERRORS = (
    DeviceUnreachableError,
    ModbusExceptionError,
    SunSpecError,
    TimeoutError,
    ValidationError,
    OSError,
)


@dataclass(frozen=True)
class PollEvent:
    """One poll, for observers (the benchmark, metrics): wall-clock seconds."""

    device_id: str
    slot: float
    started: float
    finished: float
    ok: bool


PollObserver = Callable[[PollEvent], None]


@dataclass
class DeviceStatus:
    last_ok_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    polls: int = 0
    failures: int = 0
    missed_cycles: int = 0
    latency_ms: float | None = None
    next_poll_at: float | None = None  # wall clock
    values: dict[str, float | None] = field(default_factory=dict)
    models: list[int] = field(default_factory=list)


class _Runner:
    def __init__(self, device: Device) -> None:
        config = device.config
        self.device = device
        self.connection = ModbusConnection(
            host=config.host, port=config.port, unit_id=config.unit_id, timeout_s=config.timeout_s
        )
        self.lock = asyncio.Lock()  # a setpoint never interleaves with a poll on one connection


class DevicePoller:
    def __init__(
        self,
        deps: DevicesDeps,
        devices: list[Device],
        *,
        observe: PollObserver | None = None,
        config_path: str | None = None,
    ) -> None:
        self._deps = deps
        self._devices = {d.id: d for d in devices}
        self._observe = observe
        self._config_path = config_path or str(deps.settings.devices_config_path)
        self.status = {d.id: DeviceStatus() for d in devices}
        self.rows_written = 0
        self.store_errors = 0
        self.last_store_error: str | None = None
        self._readings: list[ReadingIn] = []
        self._states: list[BatteryStateIn] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runners: dict[str, _Runner] = {}
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="luna-devices-db")
        self._meters_ensured = False

    @property
    def devices(self) -> list[Device]:
        return list(self._devices.values())

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Poll in a background thread until `stop`."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run_thread, name="luna-devices", daemon=True)
        self._thread.start()
        self._started.wait(timeout=30)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop polling, write what is buffered, close the connections."""
        loop, stop = self._loop, self._stop
        if self._thread is not None and loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
            self._thread.join(timeout=timeout_s)
        self._thread = None
        self._db.shutdown(wait=True)

    def run_once(self) -> None:
        """Poll every device once, concurrently, and write the values (tests, CLI); not while started."""
        if self._thread is not None:
            raise RuntimeError("the poller is running; run_once is for a stopped poller")
        asyncio.run(self._once())

    def _run_thread(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:  # the poller must report, never take the service down
            log.exception("device poller stopped")
        finally:
            self._started.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._runners = {d.id: _Runner(d) for d in self._devices.values()}
        await self._ensure_meters()
        tasks = [
            asyncio.create_task(self._device_loop(r), name=f"device-{r.device.id}")
            for r in self._runners.values()
        ]
        tasks.append(asyncio.create_task(self._flush_loop(), name="devices-flush"))
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._flush()
            for runner in self._runners.values():
                runner.connection.close()
            self._loop = None

    async def _once(self) -> None:
        runners = [_Runner(d) for d in self._devices.values()]
        await self._ensure_meters()
        try:
            now = time.time()
            await asyncio.gather(
                *(self._poll(r, slot=_floor(now, r.device.config.poll_interval_s)) for r in runners)
            )
            await self._flush()
        finally:
            for runner in runners:
                runner.connection.close()

    async def _ensure_meters(self) -> None:
        if self._meters_ensured:
            return
        try:
            created = await asyncio.get_running_loop().run_in_executor(
                self._db, lambda: service.ensure_meters(deps=self._deps, devices=self.devices)
            )
            if created:
                log.info("device meters created", extra={"meters": created})
            self._meters_ensured = True
        except Exception as exc:  # the ingest still creates missing meters (on site "default")
            log.warning("device meters not created", extra={"error": str(exc)[:300]})

    # --- polling ---------------------------------------------------------------------------
    async def _device_loop(self, runner: _Runner) -> None:
        config = runner.device.config
        interval = config.poll_interval_s
        status = self.status[config.id]
        slot = _floor(time.time(), interval) + interval
        while True:
            status.next_poll_at = slot
            await asyncio.sleep(max(slot - time.time(), 0.0))
            ok = await self._poll(runner, slot=slot)
            slot, skipped = next_slot(
                slot,
                now=time.time(),
                interval=interval,
                failures=0 if ok else status.consecutive_failures,
                backoff_max=self._deps.settings.devices_backoff_max_s,
            )
            status.missed_cycles += skipped

    async def _poll(self, runner: _Runner, *, slot: float) -> bool:
        device, status = runner.device, self.status[runner.device.id]
        started = time.time()
        ts = datetime.fromtimestamp(slot, tz=UTC)
        ok = False
        try:
            async with runner.lock:
                sample = await asyncio.wait_for(
                    service.read_device(runner.connection, device), timeout=device.config.timeout_s
                )
            reading = service.to_reading(device, sample, ts=ts)
            state = service.to_battery_state(device, sample, ts=ts)
        except POLL_ERRORS as exc:
            runner.connection.close()  # reconnect (and rediscover SunSpec models) next time
            message = _describe(exc, device)
            status.failures += 1
            status.consecutive_failures += 1
            status.last_error, status.last_error_at = message, datetime.now(tz=UTC)
            if status.consecutive_failures in {1, 10, 100} or status.consecutive_failures % 1000 == 0:
                log.warning(
                    "device poll failed",
                    extra={"device": device.id, "error": message, "failures": status.consecutive_failures},
                )
        else:
            ok = True
            if reading is not None:
                self._readings.append(reading)
            if state is not None:
                self._states.append(state)
            status.consecutive_failures = 0
            status.last_ok_at = datetime.now(tz=UTC)
            status.latency_ms = round((time.time() - started) * 1000.0, 3)
            status.values, status.models = sample.values, sample.models
        finally:
            status.polls += 1
            if self._observe is not None:
                self._observe(PollEvent(device.id, slot, started, time.time(), ok))
        return ok

    # --- storing ---------------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._deps.settings.devices_flush_interval_s)
            await self._flush()

    async def _flush(self) -> None:
        readings, states = self._readings, self._states
        if not readings and not states:
            return
        self._readings, self._states = [], []
        # The batch is counted on the database thread: a flush cancelled at shutdown still completes
        # there (stop() waits for that thread) and is counted.
        await asyncio.get_running_loop().run_in_executor(self._db, self._store, readings, states)

    def _store(self, readings: list[ReadingIn], states: list[BatteryStateIn]) -> None:
        try:
            self.rows_written += service.store(deps=self._deps, readings=readings, states=states)
        except Exception as exc:  # a database error must not stop polling; the batch is dropped
            self.store_errors += 1
            self.last_store_error = exc.message if isinstance(exc, LunaError) else str(exc)[:300]
            log.warning(
                "device values not stored",
                extra={"readings": len(readings), "states": len(states), "error": self.last_store_error},
            )

    # --- setpoints -------------------------------------------------------------------------
    def write_setpoint(self, device_id: str, kw: float, *, timeout_s: float = 10.0) -> SetpointWritten:
        """Send `kw` (+ discharge, - charge) to a device (thread-safe; used by dispatch).

        Raises SetpointRefusedError for an unknown device or one that may not receive it (nothing is
        sent); DeviceUnreachableError, ModbusExceptionError or TimeoutError when the write fails.
        """
        device = self._devices.get(device_id)
        if device is None:
            raise service.SetpointRefusedError(
                f"no device {device_id!r} in {self._config_path}; known: {', '.join(sorted(self._devices))}",
                details={"device_id": device_id},
            )
        service.check_setpoint(device, kw, config_path=self._config_path)  # refuse before any I/O
        loop = self._loop
        if loop is not None and self._thread is not None:
            runner = self._runners[device_id]
            future = asyncio.run_coroutine_threadsafe(self._write(runner, kw), loop)
            return future.result(timeout=timeout_s)
        return asyncio.run(self._write_standalone(device, kw))

    async def _write(self, runner: _Runner, kw: float) -> SetpointWritten:
        async with runner.lock:
            try:
                return await asyncio.wait_for(
                    service.write_setpoint(
                        runner.connection, runner.device, kw, config_path=self._config_path
                    ),
                    timeout=runner.device.config.timeout_s,
                )
            except POLL_ERRORS:
                runner.connection.close()
                raise

    async def _write_standalone(self, device: Device, kw: float) -> SetpointWritten:
        runner = _Runner(device)
        try:
            return await self._write(runner, kw)
        finally:
            runner.connection.close()

    # --- status ----------------------------------------------------------------------------
    def device_list(self, *, config_path: str) -> DeviceList:
        now = time.time()
        items = []
        for device in self._devices.values():
            config, status = device.config, self.status[device.id]
            state = "pending" if status.polls == 0 else "failing" if status.consecutive_failures else "ok"
            items.append(
                DeviceRead(
                    id=config.id,
                    template=device.template.name,
                    kind=device.template.kind,
                    protocol=device.template.protocol,
                    host=config.host,
                    port=config.port,
                    unit_id=config.unit_id,
                    meter_id=config.meter_id,
                    battery_id=config.battery_id,
                    site=config.site,
                    poll_interval_s=config.poll_interval_s,
                    write=config.write,
                    state=state,
                    last_ok_at=status.last_ok_at,
                    last_error=status.last_error,
                    last_error_at=status.last_error_at,
                    consecutive_failures=status.consecutive_failures,
                    polls=status.polls,
                    failures=status.failures,
                    missed_cycles=status.missed_cycles,
                    latency_ms=status.latency_ms,
                    next_poll_in_s=None
                    if status.next_poll_at is None or self._thread is None
                    else round(max(status.next_poll_at - now, 0.0), 3),
                    values=dict(status.values),
                    sunspec_models=list(status.models),
                )
            )
        return DeviceList(
            configured=True,
            config_path=config_path,
            rows_written=self.rows_written,
            store_errors=self.store_errors,
            last_store_error=self.last_store_error,
            items=items,
        )

    def health(self) -> ComponentHealth:
        failing = sorted(i for i, s in self.status.items() if s.consecutive_failures)
        return ComponentHealth(
            name="devices",
            kind="modbus",
            ok=not failing,
            required=False,
            detail=f"failing: {', '.join(failing)}" if failing else "",
            info={"devices": len(self.status), "failing": len(failing), "rows_written": self.rows_written},
        )


def next_slot(
    slot: float, *, now: float, interval: float, failures: int, backoff_max: float
) -> tuple[float, int]:
    """The next slot after a poll of `slot` that ended at `now`, and the slots skipped because it overran.

    After a success: the following slot, or the first one still ahead when the poll overran. After
    `failures` consecutive failures: the slot at least interval x 2^(failures-1) (at most
    `backoff_max`) after the previous one's end, on the same grid; backoff skips are not missed cycles.
    """
    if failures:
        wait = max(interval, min(interval * 2.0 ** min(failures - 1, 32), backoff_max))
        return _floor(now + wait - interval, interval) + interval, 0
    following = slot + interval
    if following > now:
        return following, 0
    skipped = math.floor((now - following) / interval) + 1
    return following + skipped * interval, skipped


def _floor(instant: float, interval: float) -> float:
    return math.floor(instant / interval) * interval


def _describe(exc: BaseException, device: Device) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {device.config.timeout_s} s (timeout_s)"
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"value out of range: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc) or type(exc).__name__
