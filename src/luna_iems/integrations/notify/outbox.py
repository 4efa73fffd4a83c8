"""The notification outbox: events fed from the alerts table, and their delivery with retries.

Feed (`feed`): every alert row that commits becomes an `alert.raised` event (and, for a rule's alert,
a `rule.fired` event); every acknowledgement an `alert.resolved` event. Each event gets one delivery per
channel: the rule's channels, else NOTIFY_DEFAULT_CHANNELS. Reading the table rather than hooking the
code that writes it means no code path can raise an alert without it being announced, and the unique
keys (`(event_type, alert_id)`, `(event_id, channel)`) make a replayed feed a no-op. A cursor per feed
bounds the scan; it re-reads `FEED_OVERLAP` behind itself, so an alert whose transaction committed a
little after a later one is still seen.

Delivery (`deliver_due`): at least once. 2xx is delivered; 4xx other than 408 and 429 is dead at once
(the receiver refuses this request, retrying will not help); anything else (5xx, 408, 429, a timeout,
a refused connection, an unreachable broker) is retried after `backoff_bounds`, until
NOTIFY_MAX_ATTEMPTS, then dead. Each result is committed before the next send, so a crash repeats at
most the one delivery in flight; receivers drop the duplicate by its X-Luna-Delivery id.
"""

from __future__ import annotations

import json
import logging
import random
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from luna_iems import __version__
from luna_iems.db.base import utcnow
from luna_iems.decisions.models import Alert, Rule
from luna_iems.decisions.schemas import AlertRead
from luna_iems.integrations.notify import channels as notify_channels
from luna_iems.integrations.notify import repository, signing
from luna_iems.integrations.notify.models import NotifyDelivery, NotifyEvent, Webhook
from luna_iems.integrations.notify.schemas import SEVERITY_RANK
from luna_iems.ports import MessagePublisher
from luna_iems.settings import Settings

log = logging.getLogger("luna_iems.integrations.notify")

Clock = Callable[[], datetime]
FEED_OVERLAP = timedelta(minutes=15)
# (cursor name, alert column, event type)
FEEDS = (
    ("alerts.created", "created_at", "alert.raised"),
    ("alerts.acknowledged", "acknowledged_at", "alert.resolved"),
)
RETRYABLE_4XX = {408, 429}
MAX_ERROR_CHARS = 500
_TOPIC_UNSAFE = re.compile(r"[/+#\x00]")


# --- payloads -----------------------------------------------------------------------------------------
def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON, keys sorted, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def topic_level(value: str) -> str:
    """One MQTT topic level: '/', '+', '#' would split or wildcard it, so they become '_'."""
    return _TOPIC_UNSAFE.sub("_", value) or "_"


def _iso(instant: datetime) -> str:
    """UTC with a `Z`, as the alert fields inside the payload are written."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _alert_payload(event: NotifyEvent, alert: Alert, site: str | None) -> dict[str, Any]:
    return {
        "id": str(event.event_id),
        "type": event.event_type,
        "occurred_at": _iso(event.occurred_at),
        "site": site,
        "alert": AlertRead.model_validate(alert).model_dump(mode="json"),
    }


def _rule_payload(event: NotifyEvent, alert: Alert, rule: Rule | None, site: str | None) -> dict[str, Any]:
    values = {k: v for k, v in alert.evidence.items() if k != "rule"}
    name = rule.name if rule is not None else alert.evidence.get("rule")
    return {
        "id": str(event.event_id),
        "type": "rule.fired",
        "occurred_at": _iso(event.occurred_at),
        "site": site,
        "rule": {"rule_id": str(alert.rule_id), "name": name},
        "alert_id": str(alert.alert_id),
        "ts": _iso(alert.start_at),
        "action": alert.kind,
        "severity": alert.severity,
        "message": alert.message,
        "values": values,
    }


# --- feed ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Routing:
    webhooks: Sequence[Webhook]
    defaults: list[notify_channels.Channel]
    mqtt_enabled: bool


def default_channels(settings: Settings) -> list[notify_channels.Channel]:
    parts = [p for p in (s.strip() for s in settings.notify_default_channels.split(",")) if p]
    return notify_channels.parse_channels(parts)


def _matches(webhook: Webhook, event_type: str, severity: str | None, site: str | None) -> bool:
    if event_type not in webhook.events:
        return False
    if webhook.min_severity is not None and SEVERITY_RANK.get(severity or "", -1) < SEVERITY_RANK.get(
        webhook.min_severity, 0
    ):
        return False
    return webhook.sites is None or site in webhook.sites


def _deliveries(
    event: NotifyEvent, channels: Sequence[notify_channels.Channel], routing: _Routing, now: datetime
) -> list[NotifyDelivery]:
    out: dict[str, NotifyDelivery] = {}

    def add(channel: str, *, webhook: Webhook | None = None, topic: str | None = None) -> None:
        out.setdefault(
            channel,
            NotifyDelivery(
                channel=channel,
                webhook_id=webhook.webhook_id if webhook else None,
                topic=topic,
                event_type=event.event_type,
                payload=event.payload,
                status="pending",
                attempts=0,
                next_attempt_at=now,
            ),
        )

    for channel in channels:
        if channel.kind == notify_channels.MQTT:
            if routing.mqtt_enabled:
                topic = (
                    f"luna/rules/{event.rule_id}/fired"
                    if event.event_type == "rule.fired"
                    else f"luna/alerts/{topic_level(event.site or 'default')}"
                )
                add(notify_channels.MQTT, topic=topic)
            continue
        for webhook in routing.webhooks:
            if channel.webhook_id not in (None, webhook.webhook_id):
                continue
            if _matches(webhook, event.event_type, event.severity, event.site):
                add(f"{notify_channels.WEBHOOK}:{webhook.webhook_id}", webhook=webhook)
    return list(out.values())


def _channels_of(rule: Rule | None, routing: _Routing) -> list[notify_channels.Channel]:
    if rule is not None and rule.channels:
        try:
            return notify_channels.parse_channels(rule.channels)
        except ValueError as exc:  # stored before a format change: announce by the defaults
            log.warning("rule %r has invalid channels (%s): using the defaults", rule.name, exc)
    return routing.defaults


def _feed_one(
    session: Session,
    *,
    feed: str,
    column: str,
    event_type: str,
    routing: _Routing,
    now: datetime,
    settings: Settings,
) -> int:
    cursor = repository.get_cursor(session=session, feed=feed)
    if cursor is None:
        position = since = now - timedelta(hours=settings.notify_backfill_h)
    else:
        position, since = cursor.position_at, cursor.position_at - FEED_OVERLAP
    alerts = repository.unannounced_alerts(
        session=session, column=column, event_type=event_type, since=since, limit=settings.notify_batch_size
    )
    rules = repository.rules_by_id(session=session, rule_ids=[a.rule_id for a in alerts if a.rule_id])
    meter_sites = repository.meter_sites(
        session=session, meter_ids=[a.meter_id for a in alerts if a.meter_id]
    )
    created = 0
    for alert in alerts:
        rule = rules.get(alert.rule_id) if alert.rule_id else None
        site = rule.site if rule is not None else meter_sites.get(alert.meter_id or "")
        channels = _channels_of(rule, routing)
        types = [event_type]
        if event_type == "alert.raised" and alert.source == "rule":
            types.append("rule.fired")
        for kind in types:
            occurred = getattr(alert, column) if kind != "rule.fired" else alert.start_at
            event = NotifyEvent(
                event_id=uuid.uuid4(),
                event_type=kind,
                alert_id=alert.alert_id,
                site=site,
                severity=alert.severity,
                rule_id=alert.rule_id,
                occurred_at=occurred,
                payload={},
            )
            event.payload = (
                _rule_payload(event, alert, rule, site)
                if kind == "rule.fired"
                else _alert_payload(event, alert, site)
            )
            repository.add_event(
                session=session, event=event, deliveries=_deliveries(event, channels, routing, now)
            )
            created += 1
    if len(alerts) < settings.notify_batch_size:
        # Everything unannounced up to now is done: move on, keeping the overlap behind.
        position = max(position, now - FEED_OVERLAP)
    elif alerts:
        position = max(position, getattr(alerts[-1], column))
    repository.set_cursor(session=session, feed=feed, position_at=position)
    return created


def feed(*, session: Session, settings: Settings, mqtt_enabled: bool, now: datetime | None = None) -> int:
    """Turn new alerts and acknowledgements into events with their deliveries; returns the events
    created. Idempotent: run twice over the same rows, it creates nothing the second time."""
    now = now or utcnow()
    routing = _Routing(
        webhooks=repository.list_webhooks(session=session, enabled=True),
        defaults=default_channels(settings),
        mqtt_enabled=mqtt_enabled,
    )
    created = 0
    for name, column, event_type in FEEDS:
        created += _feed_one(
            session,
            feed=name,
            column=column,
            event_type=event_type,
            routing=routing,
            now=now,
            settings=settings,
        )
    session.commit()
    return created


# --- delivery -----------------------------------------------------------------------------------------
def backoff_bounds(attempt: int, *, base_s: float, max_s: float) -> tuple[float, float]:
    """Seconds to wait after failed attempt `attempt` (1-based): uniformly between half and all of
    base·2^(attempt-1), capped at `max_s` ("equal jitter": spread out, never much shorter)."""
    full = min(max_s, base_s * 2.0 ** min(attempt - 1, 62))
    return full / 2, full


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    permanent: bool = False
    status: int | None = None
    error: str | None = None
    retry_after_s: float | None = None


@dataclass
class DeliveryCounts:
    delivered: int = 0
    retried: int = 0
    dead: int = 0


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def send_webhook(
    *, http: httpx.Client, webhook: Webhook, delivery: NotifyDelivery, timestamp: int
) -> Outcome:
    """POST the delivery's payload, signed with the webhook's secret; classify the answer."""
    body = body_bytes(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"Luna-IEMS/{__version__}",
        signing.EVENT_HEADER: delivery.event_type,
        signing.DELIVERY_HEADER: str(delivery.delivery_id),
        signing.SIGNATURE_HEADER: signing.signature_header(
            secret=webhook.secret, timestamp=timestamp, body=body
        ),
    }
    try:
        response = http.post(webhook.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Outcome(delivered=False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(delivered=True, status=status)
    error = f"HTTP {status}: {response.text[:200]}"[:MAX_ERROR_CHARS]
    permanent = 400 <= status < 500 and status not in RETRYABLE_4XX
    return Outcome(
        delivered=False, permanent=permanent, status=status, error=error, retry_after_s=_retry_after(response)
    )


def send_mqtt(*, publisher: MessagePublisher | None, delivery: NotifyDelivery) -> Outcome:
    if publisher is None or delivery.topic is None:
        return Outcome(delivered=False, error="MQTT is not configured (MQTT_URL is empty)")
    try:
        publisher.publish(delivery.topic, body_bytes(delivery.payload), qos=1, retain=False)
    except Exception as exc:  # ConnectionError by contract; anything else is retried the same way
        return Outcome(delivered=False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
    return Outcome(delivered=True)


def record(
    delivery: NotifyDelivery, outcome: Outcome, *, now: datetime, settings: Settings, rng: random.Random
) -> str:
    """Apply one attempt's outcome to the delivery; returns its new status."""
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_status = outcome.status
    if outcome.delivered:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
        delivery.last_error = None
    elif outcome.permanent or delivery.attempts >= settings.notify_max_attempts:
        delivery.status, delivery.next_attempt_at, delivery.last_error = "dead", None, outcome.error
    else:
        low, high = backoff_bounds(
            delivery.attempts, base_s=settings.notify_backoff_base_s, max_s=settings.notify_backoff_max_s
        )
        wait = rng.uniform(low, high)
        if outcome.retry_after_s is not None:  # the receiver asked for a pause (429, 503)
            wait = max(wait, min(outcome.retry_after_s, settings.notify_backoff_max_s))
        delivery.next_attempt_at = now + timedelta(seconds=wait)
        delivery.last_error = outcome.error
    return delivery.status


def deliver_due(
    *,
    session: Session,
    settings: Settings,
    publisher: Callable[[], MessagePublisher | None],
    http: Callable[[], httpx.Client],
    clock: Clock = utcnow,
    rng: random.Random | None = None,
) -> DeliveryCounts:
    """Send every delivery due at `clock()` (at most NOTIFY_BATCH_SIZE), committing each result.
    `http` and `publisher` are called only when a webhook or an MQTT delivery is due."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    counts = DeliveryCounts()
    due = repository.due_deliveries(session=session, now=clock(), limit=settings.notify_batch_size)
    webhooks = {w.webhook_id: w for w in repository.list_webhooks(session=session)}
    for delivery in due:
        if delivery.webhook_id is not None:
            webhook = webhooks.get(delivery.webhook_id)
            if webhook is None:  # deleted since the query: its deliveries went with it
                continue
            outcome = send_webhook(
                http=http(), webhook=webhook, delivery=delivery, timestamp=int(clock().timestamp())
            )
        else:
            outcome = send_mqtt(publisher=publisher(), delivery=delivery)
        status = record(delivery, outcome, now=clock(), settings=settings, rng=rng)
        session.commit()
        if status == "delivered":
            counts.delivered += 1
        elif status == "dead":
            counts.dead += 1
            log.warning(
                "notification is a dead letter",
                extra={
                    "delivery_id": str(delivery.delivery_id),
                    "channel": delivery.channel,
                    "error": outcome.error,
                },
            )
        else:
            counts.retried += 1
    return counts
