"""MQTT as the `MessagePublisher` (when MQTT_URL is set): setpoints, Home Assistant discovery, alerts.

One paho-mqtt client with its own network thread (`loop_start`), shared by every caller:
- `publish` is synchronous and thread-safe (paho serialises its socket writes); with QoS ≥ 1 it returns
  once the broker acknowledged the message (PUBACK / PUBCOMP), with QoS 0 once paho wrote it to the socket.
  It raises `ConnectionError` when the client is not connected (within `connect_timeout_s` of start-up) or
  the broker does not acknowledge in `publish_timeout_s`. Nothing is handed to paho while disconnected
  (paho would queue it and send it after the reconnect, and a setpoint sent minutes late is wrong): the
  caller records the failure instead. Only a message in flight when the connection drops may still be
  delivered after the reconnect (QoS 1 redelivery), in publish order, so a retained topic ends right.
- Availability for Home Assistant: the client connects with a last will `offline` (retained, QoS 1) on
  the availability topic and publishes the birth message `online` (retained) after every (re)connect;
  `close()` publishes `offline` itself, because a clean disconnect does not fire the will.
- A lost connection is retried by paho's loop with backoff from 1 s up to `reconnect_max_s`.

The client id is the configured one with a `-pub` suffix: a broker drops an older session when a new one
connects with the same id, and the subscriber (timeseries/mqtt.py) already uses the plain id.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from luna_iems.ports import ComponentHealth

log = logging.getLogger("luna_iems.mqtt_publisher")

ONLINE = b"online"
OFFLINE = b"offline"


@dataclass(frozen=True)
class MqttAddress:
    host: str
    port: int
    username: str | None
    password: str | None


def parse_mqtt_url(url: str) -> MqttAddress:
    """`mqtt://user:password@host:1883` (or `tcp://`); raises ValueError with the expected shape."""
    parsed = urlparse(url)
    if parsed.scheme not in {"mqtt", "tcp"} or not parsed.hostname:
        raise ValueError(f"MQTT_URL must look like mqtt://user:password@host:1883, got {url!r}")
    return MqttAddress(
        host=parsed.hostname,
        port=parsed.port or 1883,
        username=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
    )


class MqttPublisher:
    """See the module docstring. Start-up does not block: the first connect happens in paho's thread."""

    def __init__(
        self,
        *,
        url: str,
        client_id: str = "luna-iems",
        availability_topic: str = "luna/status",
        connect_timeout_s: float = 5.0,
        publish_timeout_s: float = 5.0,
        reconnect_max_s: float = 60.0,
        keepalive_s: int = 30,
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self._address = parse_mqtt_url(url)
        self._availability_topic = availability_topic
        self._connect_timeout_s = connect_timeout_s
        self._publish_timeout_s = publish_timeout_s
        self._connected = threading.Event()
        self._started_at = time.monotonic()
        self._lock = threading.Lock()  # guards the counters below
        self._published = 0
        self._failed = 0
        self._last_error: str | None = None
        self._closed = False
        self._ever_connected = False

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{client_id}-pub",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if self._address.username is not None:
            client.username_pw_set(self._address.username, self._address.password)
        client.will_set(availability_topic, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=max(1, int(reconnect_max_s)))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self._client = client
        client.connect_async(self._address.host, self._address.port, keepalive=keepalive_s)
        client.loop_start()

    @property
    def availability_topic(self) -> str:
        return self._availability_topic

    def is_connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        """True once connected (tests and start-up use it; `publish` waits on its own)."""
        return self._connected.wait(timeout_s)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        if self._closed:
            raise ConnectionError("MQTT publisher is closed")
        if not self._connected.is_set():
            # Right after start-up the first connect may still be under way: wait for it, but only then
            # (a connection that was up and dropped fails at once).
            remaining = self._connect_timeout_s - (time.monotonic() - self._started_at)
            if self._ever_connected or remaining <= 0 or not self._connected.wait(remaining):
                self._fail(f"not connected to {self._where()}")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != 0:
            import paho.mqtt.client as mqtt

            self._fail(f"publish to {self._where()} failed: {mqtt.error_string(info.rc)}")
        try:
            info.wait_for_publish(timeout=self._publish_timeout_s)
        except (RuntimeError, ValueError) as exc:  # paho raises these for a lost connection / full queue
            self._fail(f"publish to {self._where()} failed: {exc}")
        if not info.is_published():
            self._fail(f"{self._where()} did not acknowledge {topic!r} within {self._publish_timeout_s:g} s")
        with self._lock:
            self._published += 1

    def health(self) -> ComponentHealth:
        connected = self._connected.is_set()
        with self._lock:
            info: dict[str, Any] = {
                "host": self._address.host,
                "port": self._address.port,
                "availability_topic": self._availability_topic,
                "published": self._published,
                "failed": self._failed,
                "last_error": self._last_error,
            }
        return ComponentHealth(
            name="mqtt_publisher",
            kind="mqtt",
            ok=connected,
            # The API serves without it; dispatch records each failed publish and alerts on a stale plan.
            required=False,
            detail="" if connected else f"not connected to {self._where()}",
            info=info,
        )

    def close(self) -> None:
        """Publish `offline` (a clean disconnect does not fire the will), disconnect, stop the thread."""
        if self._closed:
            return
        if self._connected.is_set():
            try:
                info = self._client.publish(self._availability_topic, OFFLINE, qos=1, retain=True)
                info.wait_for_publish(timeout=min(self._publish_timeout_s, 2.0))
            except (RuntimeError, ValueError):
                log.warning("mqtt publisher: could not publish offline before disconnecting")
        self._closed = True
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def _where(self) -> str:
        return f"MQTT broker {self._address.host}:{self._address.port}"

    def _fail(self, message: str) -> None:
        with self._lock:
            self._failed += 1
            self._last_error = message
        raise ConnectionError(message)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if getattr(reason_code, "is_failure", False):
            with self._lock:
                self._last_error = f"connection refused by {self._where()}: {reason_code}"
            log.warning("mqtt publisher: connection refused", extra={"reason": str(reason_code)})
            return
        # Birth message: retained, so Home Assistant sees Luna as available whenever it subscribes.
        client.publish(self._availability_topic, ONLINE, qos=1, retain=True)
        self._ever_connected = True
        self._connected.set()
        log.info("mqtt publisher connected", extra={"host": self._address.host, "port": self._address.port})

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        self._connected.clear()
        if not self._closed:
            with self._lock:
                self._last_error = f"disconnected from {self._where()}: {reason_code}"
            log.warning("mqtt publisher disconnected; paho reconnects", extra={"reason": str(reason_code)})
