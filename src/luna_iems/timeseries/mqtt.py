"""MQTT subscriber: readings from a broker into the same ingest path as HTTP (when MQTT_URL is set).

Topics (MQTT_TOPICS, comma-separated filters) carry either
- the documented Luna JSON payload `{"meter_id"?, "ts"?, "consumption_kw"?, "production_kw"?, "voltage"?}`;
  without `meter_id` the last topic level names the meter (e.g. `luna/readings/<meter_id>`); or
- Tasmota `tele/<device>/SENSOR` (`ENERGY.Power` W, `ENERGY.Total` kWh): meter `tasmota-<device>`;
- battery states on `luna/batteries/<battery_id>`: `{"soc_pct", "power_kw"?, "ts"?, "site"?}` (the
  state of charge rules read as `soc_pct`).
Messages are buffered and written once per second (or per 500 rows), each flush one transaction.
A lost connection is retried with exponential backoff up to MQTT_RECONNECT_MAX_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote, urlparse

import anyio
import orjson

from luna_iems.errors import LunaError
from luna_iems.ports import ComponentHealth
from luna_iems.timeseries import service as timeseries_service
from luna_iems.timeseries.deps import TimeseriesDeps
from luna_iems.timeseries.formats import FormatError, parse_json_reading, parse_tasmota_sensor
from luna_iems.timeseries.ingest import ingest_rows, reading_from_sample
from luna_iems.timeseries.schemas import BatteryStateIn, ReadingIn

log = logging.getLogger("luna_iems.mqtt")
FLUSH_INTERVAL_S = 1.0
FLUSH_ROWS = 500


@dataclass
class MqttStats:
    connected: bool = False
    messages: int = 0
    rows_written: int = 0
    rejected: int = 0
    reconnects: int = 0
    last_error: str | None = None
    last_message_at: datetime | None = None
    topics: list[str] = field(default_factory=list)


def is_battery_topic(topic: str) -> bool:
    levels = topic.split("/")
    return len(levels) >= 3 and levels[0] == "luna" and levels[1] == "batteries"


def battery_state_from_message(topic: str, payload: bytes, *, received_at: datetime) -> BatteryStateIn:
    """Decode a `luna/batteries/<battery_id>` message; raises FormatError or ValueError (validation)."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"battery state on {topic}: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise FormatError(f"battery state on {topic}: expected a JSON object")
    return BatteryStateIn.model_validate(
        {
            "battery_id": data.get("battery_id") or topic.rsplit("/", maxsplit=1)[-1],
            "site": data.get("site", "default"),
            "ts": data.get("ts") or received_at,
            "soc_pct": data.get("soc_pct"),
            "power_kw": data.get("power_kw"),
        }
    )


def reading_from_message(topic: str, payload: bytes, *, received_at: datetime) -> ReadingIn:
    """Decode one message into a reading; raises FormatError / LunaError for bad payloads."""
    levels = topic.split("/")
    if len(levels) >= 3 and levels[0] == "tele" and levels[-1] == "SENSOR":
        sample = parse_tasmota_sensor(payload, received_at=received_at)
        return reading_from_sample(sample, meter_id=f"tasmota-{levels[1]}", ts=sample.ts or received_at)
    data = parse_json_reading(payload, received_at=received_at)
    meter_id = data["meter_id"] or levels[-1]
    values = {k: data[k] for k in ("consumption_kw", "production_kw", "voltage") if data[k] is not None}
    return ReadingIn.model_validate({"meter_id": meter_id, "ts": data["ts"], **values})


class MqttSubscriber:
    def __init__(self, deps: TimeseriesDeps) -> None:
        settings = deps.settings
        if not settings.mqtt_url:
            raise ValueError("MQTT_URL is not set")
        url = urlparse(settings.mqtt_url)
        if url.scheme not in {"mqtt", "tcp", ""} or not url.hostname:
            raise ValueError(
                f"MQTT_URL must look like mqtt://user:password@host:1883, got {settings.mqtt_url!r}"
            )
        self._deps = deps
        self._host = url.hostname
        self._port = url.port or 1883
        self._username = unquote(url.username) if url.username else None
        self._password = unquote(url.password) if url.password else None
        self._topics = [t.strip() for t in settings.mqtt_topics.split(",") if t.strip()]
        self._client_id = settings.mqtt_client_id
        self._backoff_max = settings.mqtt_reconnect_max_s
        self._buffer: list[ReadingIn] = []
        self._states: list[BatteryStateIn] = []
        self._task: asyncio.Task[None] | None = None
        self.stats = MqttStats(topics=self._topics)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="luna-mqtt")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._flush()

    async def _run(self) -> None:
        import aiomqtt

        delay = 0.5
        flusher = asyncio.create_task(self._flush_periodically())
        try:
            while True:
                try:
                    async with aiomqtt.Client(
                        self._host,
                        self._port,
                        username=self._username,
                        password=self._password,
                        identifier=self._client_id,
                        keepalive=30,
                    ) as client:
                        for topic in self._topics:
                            await client.subscribe(topic, qos=1)
                        self.stats.connected, self.stats.last_error, delay = True, None, 0.5
                        log.info(
                            "mqtt connected",
                            extra={"host": self._host, "port": self._port, "topics": self._topics},
                        )
                        async for message in client.messages:
                            self._on_message(str(message.topic), bytes(message.payload))
                            if len(self._buffer) >= FLUSH_ROWS:
                                await self._flush()
                except aiomqtt.MqttError as exc:
                    self.stats.connected = False
                    self.stats.reconnects += 1
                    self.stats.last_error = str(exc)
                    log.warning("mqtt disconnected; retrying in %.1f s", delay, extra={"error": str(exc)})
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._backoff_max)
        finally:
            flusher.cancel()
            self.stats.connected = False

    def _on_message(self, topic: str, payload: bytes) -> None:
        now = datetime.now(tz=UTC)
        self.stats.messages += 1
        self.stats.last_message_at = now
        try:
            if is_battery_topic(topic):
                self._states.append(battery_state_from_message(topic, payload, received_at=now))
            else:
                self._buffer.append(reading_from_message(topic, payload, received_at=now))
        except (FormatError, LunaError, ValueError) as exc:
            self.stats.rejected += 1
            log.warning("mqtt message rejected", extra={"topic": topic, "reason": str(exc)[:300]})

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            await self._flush()

    async def _flush(self) -> None:
        if self._states:
            await self._flush_states()
        if not self._buffer:
            return
        rows, self._buffer = self._buffer, []
        try:
            result = await anyio.to_thread.run_sync(
                lambda: ingest_rows(self._deps, rows, source="mqtt", create_meters=True)
            )
            self.stats.rows_written += result.rows_written
        except LunaError as exc:
            self.stats.rejected += len(rows)
            log.warning("mqtt batch rejected", extra={"rows": len(rows), "reason": exc.message[:300]})

    async def _flush_states(self) -> None:
        states, self._states = self._states, []

        def write() -> int:
            with self._deps.session_factory() as session:
                return timeseries_service.ingest_battery_states(session=session, rows=states).rows_written

        try:
            self.stats.rows_written += await anyio.to_thread.run_sync(write)
        except LunaError as exc:
            self.stats.rejected += len(states)
            log.warning(
                "mqtt battery states rejected", extra={"rows": len(states), "reason": exc.message[:300]}
            )

    def health(self) -> ComponentHealth:
        s = self.stats
        return ComponentHealth(
            name="mqtt",
            kind="mqtt",
            ok=s.connected,
            required=False,
            detail="" if s.connected else f"not connected: {s.last_error or 'connecting'}",
            info={
                "broker": f"{self._host}:{self._port}",
                "topics": s.topics,
                "messages": s.messages,
                "rows_written": s.rows_written,
                "rejected": s.rejected,
                "reconnects": s.reconnects,
            },
        )
