"""Alerts and rule firings over a real MQTT broker (mosquitto on a free port), through the app's own
wiring: MQTT_URL set, so bootstrap builds the paho `MqttPublisher` and the outbox publishes with it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient

from luna_iems.integrations.notify import jobs as notify_jobs
from luna_iems.main import create_app
from tests.conftest import make_settings
from tests.integrations.notify.support import add_anomaly_alert, add_rule_alert, container_of, create_rule
from tests.support.mosquitto import mosquitto


@contextmanager
def _subscribed(port: int, topic_filter: str) -> Iterator[list[tuple[str, bytes]]]:
    """A plain paho subscriber; yields once the subscription is acknowledged."""
    received: list[tuple[str, bytes]] = []
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="notify-test-probe")
    client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = lambda _c, _u, m: received.append((m.topic, bytes(m.payload)))
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert ready.wait(10), "subscription not acknowledged"
        yield received
    finally:
        client.loop_stop()
        client.disconnect()


def _wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_alerts_and_rule_firings_reach_the_broker(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    with mosquitto(tmp_path) as broker, _subscribed(broker.port, "luna/#") as received:
        settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"), mqtt_url=broker.url)
        with TestClient(create_app(settings)) as client:
            container = container_of(client)
            rule_id = create_rule(client, "reserve", channels=["mqtt"])
            with container.session_factory() as session:
                add_rule_alert(session, rule_id=rule_id, name="reserve", severity="critical")
                add_anomaly_alert(session)
            counts = notify_jobs.run_once(container.notify_deps)
            assert (counts.delivered, counts.retried, counts.dead) == (3, 0, 0)

            wanted = {"luna/alerts/hall", f"luna/rules/{rule_id}/fired"}
            _wait_for(
                lambda: (
                    wanted <= {t for t, _ in received} and len([t for t, _ in received if t in wanted]) >= 3
                )
            )
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for topic, payload in received:
        if topic in wanted:
            by_topic.setdefault(topic, []).append(json.loads(payload))
    assert sorted(p["type"] for p in by_topic["luna/alerts/hall"]) == ["alert.raised", "alert.raised"]
    (fired,) = by_topic[f"luna/rules/{rule_id}/fired"]
    assert fired["rule"]["name"] == "reserve" and fired["severity"] == "critical"
