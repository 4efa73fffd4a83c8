"""Fixtures of the dispatch tests: a real mosquitto and dispatch deps on the parametrised database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from luna_iems.adapters.mqtt_publisher import MqttPublisher
from luna_iems.bootstrap import Container, build_container
from luna_iems.db import migrate
from luna_iems.integrations.dispatch.deps import DispatchDeps
from tests.conftest import make_settings
from tests.support.mosquitto import Broker, mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with mosquitto(tmp_path) as started:
        yield started


@pytest.fixture
def dispatch_container(tmp_path: Path, database_url: str, broker: Broker) -> Iterator[Container]:
    settings = make_settings(
        tmp_path, database_url=database_url, mqtt_url=broker.url, dispatch_enabled=True,
        ha_discovery_enabled=True, dispatch_site="site-a",
    )  # fmt: skip
    container = build_container(settings)
    migrate.upgrade(container.engine)
    try:
        publisher = container.message_publisher
        assert isinstance(publisher, MqttPublisher) and publisher.wait_connected(10)
        yield container
    finally:
        container.close()


@pytest.fixture
def deps(dispatch_container: Container) -> DispatchDeps:
    return dispatch_container.dispatch_deps


class ShiftedClock:
    """UTC now plus an offset the test moves: a step boundary arrives in a second, not in 15 minutes.
    The dispatcher really sleeps until the (shifted) step start; latency is measured on this clock."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self.offset

    def place_before(self, instant: datetime, seconds: float) -> None:
        """Move the clock so that `instant` is `seconds` ahead."""
        with self._lock:
            self.offset = instant - timedelta(seconds=seconds) - datetime.now(UTC)


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


def explicit_request(start: datetime, **overrides: Any) -> dict[str, Any]:
    """Four 15-minute steps: cheap, dear, dear, cheap; an empty 10 kWh battery (it must charge in the
    first step to discharge in the dear ones) and a 2 kW on/off load."""
    body: dict[str, Any] = {
        "start": start.isoformat(),
        "inputs": {
            "load_kw": [3.0, 3.0, 3.0, 3.0],
            "import_price_eur_kwh": [0.10, 0.50, 0.50, 0.10],
            "export_price_eur_kwh": [0.0, 0.0, 0.0, 0.0],
        },
        "batteries": [
            {
                "name": "hall",
                "battery_id": "bat-hall",
                "capacity_kwh": 10,
                "charge_max_kw": 4,
                "discharge_max_kw": 4,
                "soc_initial_pct": 10,
                "soc_min_pct": 10,
            },
        ],
        "deferrable_loads": [{"name": "heat pump", "power_kw": 2, "energy_kwh": 0.5}],
    }
    body.update(overrides)
    return body


Waiter = Callable[[Callable[[], Any]], Any]
