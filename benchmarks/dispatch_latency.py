"""Dispatch latency: from a step's start to its setpoint arriving at an MQTT subscriber.

    python -m benchmarks.run --only dispatch_latency [--quick] [--postgres]

Real parts: Debian's mosquitto on a free port, the paho publisher (adapters/mqtt_publisher.py), the
dispatcher thread (integrations/dispatch/jobs.py) and a paho subscriber in this process. Steps are 15
minutes long, so the dispatcher runs on a shifted clock: before each sample a plan is activated whose
first step starts 0.3 s ahead on that clock, and the thread really sleeps until then. Latency = wall
time the subscriber receives the first setpoint - wall time the step started; the second device of the
step is reported separately (it waits for the first one's PUBACK: publishes are sequential).

Baseline in the same run, interleaved with the samples: the broker's own round trip, publish → receive
of a plain message through the same publisher and subscriber. The ratio says what dispatch adds.
"""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from benchmarks.common import databases

SAMPLES, QUICK_SAMPLES = 200, 30
LEAD_S = 0.3  # the activation (a database commit) must end before the step starts


class _Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self.offset

    def place_before(self, instant: datetime, seconds: float) -> None:
        with self._lock:
            self.offset = instant - timedelta(seconds=seconds) - datetime.now(UTC)


def _pct(values: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.asarray(values), [50, 99])
    return round(float(p50), 3), round(float(p99), 3)


def _request(start: datetime) -> Any:
    from luna_iems.decisions.schemas import OptimizeRequest

    return OptimizeRequest.model_validate({
        "start": start.isoformat(),
        "inputs": {"load_kw": [3.0, 3.0], "import_price_eur_kwh": [0.1, 0.5]},
        "batteries": [{"name": "bench", "battery_id": "bench-battery", "capacity_kwh": 10,
                       "charge_max_kw": 4, "discharge_max_kw": 4, "soc_initial_pct": 10, "soc_min_pct": 10}],
        "deferrable_loads": [{"name": "bench-load", "power_kw": 1, "energy_kwh": 0.25}],
    })  # fmt: skip


def measure(database: str, url: str | None, samples: int) -> dict[str, Any]:
    from tests.integrations.dispatch.mqtt_probe import subscriber
    from tests.support.mosquitto import mosquitto

    from luna_iems.bootstrap import build_container
    from luna_iems.db import migrate
    from luna_iems.decisions import optimize_service
    from luna_iems.decisions.history import floor_to_step
    from luna_iems.integrations.dispatch import repository, service
    from luna_iems.integrations.dispatch.jobs import Dispatcher
    from luna_iems.settings import Settings

    with tempfile.TemporaryDirectory() as tmp, mosquitto(Path(tmp)) as broker:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=Path(tmp) / "var", database_url=url, seed_demo_data=False, enable_scheduler=False,
            mqtt_url=broker.url, dispatch_enabled=True,
        )  # fmt: skip
        container = build_container(settings)
        migrate.upgrade(container.engine)
        deps = container.dispatch_deps
        clock = _Clock()
        dispatcher = Dispatcher(deps, clock=clock)
        first_ms: list[float] = []
        second_ms: list[float] = []
        baseline_ms: list[float] = []
        acked_ms: list[float] = []
        lead_left_ms: list[float] = []  # step start minus the end of the activation
        try:
            assert deps.publisher is not None
            publisher = deps.publisher
            with subscriber(broker.port, "luna/setpoints/#", "bench/ping") as probe:
                dispatcher.start()
                virtual_step = floor_to_step(datetime.now(UTC), 15)
                for i in range(samples):
                    # Baseline: a plain publish → receive through the same client pair.
                    seen = len(probe.snapshot())
                    sent = time.perf_counter()
                    publisher.publish("bench/ping", b"%d" % i, qos=1)
                    got = probe.wait_for(lambda ms, n=seen: len(ms) > n and ms[n:])
                    baseline_ms.append((got[0].at - sent) * 1000)

                    virtual_step += timedelta(minutes=15)
                    with deps.session_factory() as session:
                        schedule = optimize_service.optimize(
                            session=session, settings=settings, request=_request(virtual_step)
                        )
                    clock.place_before(virtual_step, LEAD_S)
                    offset = clock.offset
                    seen = len(probe.snapshot())
                    service.activate(
                        deps=deps, request=_request(virtual_step), schedule=schedule, now=clock()
                    )
                    lead_left_ms.append((virtual_step - clock()).total_seconds() * 1000)
                    got = probe.wait_for(
                        lambda ms, n=seen: (
                            len([m for m in ms[n:] if m.topic.startswith("luna/setpoints/")]) >= 2
                            and [m for m in ms[n:] if m.topic.startswith("luna/setpoints/")]
                        )
                    )
                    step_start_perf = _perf_of(virtual_step - offset)
                    first_ms.append((got[0].at - step_start_perf) * 1000)
                    second_ms.append((got[1].at - step_start_perf) * 1000)
                    assert orjson.loads(got[0].payload)["step_start"] == service.iso(virtual_step)
                with deps.session_factory() as session:
                    stored = repository.list_setpoints(session=session, plan_id=None, limit=4 * samples)
                acked_ms = [r.latency_ms for r in stored if r.kind == "battery" and r.latency_ms is not None]
        finally:
            dispatcher.stop()
            container.close()
    first, second, base, acked = _pct(first_ms), _pct(second_ms), _pct(baseline_ms), _pct(acked_ms)
    return {
        "database": database,
        "samples": samples,
        "step_to_receive_p50_ms": first[0],
        "step_to_receive_p99_ms": first[1],
        "second_device_p50_ms": second[0],
        "second_device_p99_ms": second[1],
        "step_to_puback_p50_ms": acked[0],
        "step_to_puback_p99_ms": acked[1],
        "broker_rtt_p50_ms": base[0],
        "broker_rtt_p99_ms": base[1],
        "activation_lead_left_min_ms": round(min(lead_left_ms), 1),
        "ratio_p50": round(first[0] / base[0], 2) if base[0] else None,
        "ratio_p99": round(first[1] / base[1], 2) if base[1] else None,
    }


def _perf_of(wall: datetime) -> float:
    """The perf_counter reading at a wall-clock instant (the subscriber stamps with perf_counter)."""
    return time.perf_counter() - (datetime.now(UTC) - wall).total_seconds()


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    samples = QUICK_SAMPLES if quick else SAMPLES
    rows = [measure(name, url, samples) for name, url in databases(postgres)]
    columns = list(rows[0])
    return {
        "title": "Dispatch: step start to setpoint received over MQTT (mosquitto, paho, dispatcher thread)",
        "params": {"samples": samples, "lead_s": LEAD_S, "step_minutes": 15, "devices": 2},
        "columns": columns,
        "rows": rows,
        "notes": [
            "step_to_receive: the first device's setpoint at the subscriber; second_device: the next one "
            "(publishes wait for each PUBACK); step_to_puback: what GET /dispatch stores as latency_ms",
            "broker_rtt: a plain QoS 1 publish to receive through the same clients, interleaved; ratio = "
            "step_to_receive / broker_rtt",
        ],
    }
