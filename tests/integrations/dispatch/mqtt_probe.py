"""A real MQTT subscriber for the dispatch tests: collects every message on some topic filters."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    at: float  # time.perf_counter() when the subscriber's callback saw it


@dataclass
class Probe:
    client: mqtt.Client
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def on(self, topic: str) -> list[Received]:
        return [m for m in self.snapshot() if m.topic == topic]

    def wait_for(self, check: Callable[[list[Received]], Any], timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check(self.snapshot())
            if result:
                return result
            time.sleep(0.02)
        raise AssertionError(f"condition not met in time; got topics {[m.topic for m in self.snapshot()]}")


@contextmanager
def subscriber(port: int, *topics: str, client_id: str = "probe") -> Iterator[Probe]:
    """Subscribe (QoS 1) before yielding, so no message published afterwards is missed."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    probe = Probe(client=client)
    subscribed = threading.Event()

    def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        received = Received(message.topic, bytes(message.payload), bool(message.retain), time.perf_counter())
        with probe.lock:
            probe.messages.append(received)

    def on_connect(c: mqtt.Client, _u: Any, _f: Any, _rc: Any, _p: Any) -> None:
        c.subscribe([(t, 1) for t in topics])

    client.on_message = on_message
    client.on_connect = on_connect
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        if not subscribed.wait(10):
            raise RuntimeError("probe did not subscribe")
        yield probe
    finally:
        client.loop_stop()
        client.disconnect()
