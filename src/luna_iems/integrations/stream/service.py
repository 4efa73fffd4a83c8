"""The live stream: new readings, alerts and dispatched setpoints, pushed to subscribers.

One poller per process reads what was written since its last look — reading batches (whatever wrote
them: HTTP ingest, MQTT, the simulator, Modbus devices), alerts, setpoints — and fans the events out to
every subscriber's queue. It reads the database rather than hooking each write path, so it sees every
writer, also another process's (a CLI backfill, a second API worker), and no write path waits for a
slow subscriber. It runs only while someone listens, every STREAM_POLL_S (1 s: the dashboard's
"live ≤ 5 s" with room to spare).

Rows are selected by their creation time from `cursor - OVERLAP` on, and ids already sent are skipped:
a transaction that commits a little after a later one is still seen, and nothing is sent twice. A
reading event carries the meter's newest reading after the batch (a batch of 100 meters gives 100
events, one per meter). A subscriber that falls more than its queue behind gets a `lagged` event with
the number of events it missed (a dashboard then reloads what it shows).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker

from luna_iems.integrations.stream import repository

log = logging.getLogger(__name__)
Kind = Literal["reading", "alert", "setpoint"]
KINDS: tuple[Kind, ...] = ("reading", "alert", "setpoint")
OVERLAP = timedelta(seconds=10)  # how far back each poll looks again (late commits)
QUEUE_EVENTS = 1000  # per subscriber; more pending: dropped, and the subscriber told so


@dataclass(frozen=True)
class StreamEvent:
    event_id: str
    kind: Kind
    data: dict[str, Any]
    site: str | None = None
    meter_id: str | None = None


@dataclass
class Subscription:
    """One listener: its filters and its queue (read on its own event loop)."""

    loop: asyncio.AbstractEventLoop
    kinds: frozenset[str]
    meter_ids: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()
    queue: asyncio.Queue[StreamEvent] = field(default_factory=lambda: asyncio.Queue(QUEUE_EVENTS))
    dropped: int = 0

    def wants(self, event: StreamEvent) -> bool:
        if event.kind not in self.kinds:
            return False
        if self.meter_ids and event.meter_id not in self.meter_ids:
            return False
        return not self.sites or event.site in self.sites

    def offer(self, event: StreamEvent) -> None:
        """Runs on the subscriber's loop: enqueue, or count the event as dropped when the queue is full."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def reading_event(meter_id: str, site: str, reading: Any) -> StreamEvent:
    ts = reading.ts
    return StreamEvent(
        event_id=f"reading:{meter_id}:{_iso(ts)}",
        kind="reading",
        site=site,
        meter_id=meter_id,
        data={
            "meter_id": meter_id,
            "site": site,
            "ts": _iso(ts),
            "consumption_kw": reading.consumption_kw,
            "production_kw": reading.production_kw,
            "voltage": reading.voltage,
            "quality": reading.quality,
        },
    )


def alert_event(alert: Any, site: str | None) -> StreamEvent:
    return StreamEvent(
        event_id=f"alert:{alert.alert_id}",
        kind="alert",
        site=site,
        meter_id=alert.meter_id,
        data={
            "alert_id": str(alert.alert_id),
            "source": alert.source,
            "kind": alert.kind,
            "severity": alert.severity,
            "meter_id": alert.meter_id,
            "site": site,
            "rule_id": None if alert.rule_id is None else str(alert.rule_id),
            "message": alert.message,
            "start_at": _iso(alert.start_at),
            "created_at": _iso(alert.created_at),
        },
    )


def setpoint_event(setpoint: Any, site: str) -> StreamEvent:
    return StreamEvent(
        event_id=f"setpoint:{setpoint.setpoint_id}",
        kind="setpoint",
        site=site,
        data={
            "plan_id": str(setpoint.plan_id),
            "site": site,
            "device": setpoint.device,
            "kind": setpoint.kind,
            "step_at": _iso(setpoint.step_at),
            "topic": setpoint.topic,
            "payload": setpoint.payload,
            "sent_at": _iso(setpoint.sent_at),
            "latency_ms": setpoint.latency_ms,
            "error": setpoint.error,
        },
    )


class StreamHub:
    """Polls for new events while anyone listens and hands each to the subscribers that want it."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        poll_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
        autostart: bool = True,
    ) -> None:
        """`autostart=False`: no thread; the caller polls (`poll_once`, `publish`), as tests do."""
        self._sessions = session_factory
        self._poll_s = poll_s
        self._clock = clock
        self._lock = threading.Lock()
        self._subscribers: list[Subscription] = []
        self._cursor: datetime | None = None
        self._sent: dict[str, datetime] = {}  # event ids sent within the overlap, by row time
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._autostart = autostart

    # --- subscribers --------------------------------------------------------------------------------
    def subscribe(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        kinds: Collection[str] = KINDS,
        meter_ids: Collection[str] = (),
        sites: Collection[str] = (),
    ) -> Subscription:
        subscription = Subscription(
            loop=loop, kinds=frozenset(kinds), meter_ids=frozenset(meter_ids), sites=frozenset(sites)
        )
        with self._lock:
            self._subscribers.append(subscription)
            if self._cursor is None:  # live from now on (and the overlap just before it)
                self._cursor = self._clock()
            idle = self._thread is None or not self._thread.is_alive()
            if self._autostart and not self._closed and idle:
                self._thread = threading.Thread(target=self._run, name="luna-stream", daemon=True)
                self._thread.start()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)
            if not self._subscribers:
                self._cursor = None  # the next listener starts from its own "now"
                self._sent.clear()

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    # --- polling ------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._closed and self.subscribers:
            try:
                self.publish(self.poll_once())
            except Exception:  # a failed poll (database restarting, ...) is retried at the next tick
                log.exception("stream poll failed")
            self._wake.wait(self._poll_s)
            self._wake.clear()

    def poll_once(self) -> list[StreamEvent]:
        """The events written since the last poll (oldest first), each once."""
        with self._lock:
            cursor = self._cursor
        if cursor is None:
            return []
        since = cursor - OVERLAP
        found: list[tuple[datetime, StreamEvent]] = []
        with self._sessions() as session:
            batches = repository.reading_batches_since(session=session, since=since)
            newest_batch = max((row.created_at for row in batches), default=cursor)
            for meter_id, site in repository.meters_of_batches(
                session=session, batch_ids=[row.batch_id for row in batches]
            ):
                reading = repository.latest_reading(session=session, meter_id=meter_id)
                if reading is not None:
                    found.append((newest_batch, reading_event(meter_id, site, reading)))
            found += [
                (alert.created_at, alert_event(alert, site))
                for alert, site in repository.alerts_since(session=session, since=since)
            ]
            found += [
                (s.sent_at, setpoint_event(s, site))
                for s, site in repository.setpoints_since(session=session, since=since)
            ]
        found.sort(key=lambda pair: pair[0])
        events = []
        with self._lock:
            for at, event in found:
                if event.event_id in self._sent:
                    continue
                self._sent[event.event_id] = at
                events.append(event)
            newest_at = max((at for at, _ in found), default=cursor)
            self._cursor = max(cursor, newest_at)
            floor = self._cursor - OVERLAP
            self._sent = {key: at for key, at in self._sent.items() if at >= floor}
        return events

    def publish(self, events: list[StreamEvent]) -> None:
        if not events:
            return
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            for event in events:
                if subscription.wants(event):
                    try:
                        subscription.loop.call_soon_threadsafe(subscription.offer, event)
                    except RuntimeError:  # its loop has closed: the listener is gone
                        self.unsubscribe(subscription)
                        break
