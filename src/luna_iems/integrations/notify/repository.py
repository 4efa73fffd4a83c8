"""SQL of integrations/notify: webhooks, outbox events and deliveries, feed cursors, and the alert rows
the feed reads."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from luna_iems.decisions.models import Alert, Rule
from luna_iems.integrations.notify.models import NotifyCursor, NotifyDelivery, NotifyEvent, Webhook
from luna_iems.integrations.notify.schemas import DeliveryQuery
from luna_iems.timeseries.models import Meter


# --- webhooks -----------------------------------------------------------------------------------------
def add_webhook(*, session: Session, webhook: Webhook) -> Webhook:
    session.add(webhook)
    session.flush()
    return webhook


def get_webhook(*, session: Session, webhook_id: uuid.UUID) -> Webhook | None:
    return session.get(Webhook, webhook_id)


def list_webhooks(*, session: Session, enabled: bool | None = None) -> Sequence[Webhook]:
    statement = select(Webhook).order_by(Webhook.created_at, Webhook.webhook_id)
    if enabled is not None:
        statement = statement.where(Webhook.enabled == enabled)
    return session.scalars(statement).all()


def existing_webhook_ids(*, session: Session, webhook_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    wanted = list(set(webhook_ids))
    if not wanted:
        return set()
    return set(session.scalars(select(Webhook.webhook_id).where(Webhook.webhook_id.in_(wanted))).all())


def delete_webhook(*, session: Session, webhook: Webhook) -> None:
    # Explicit, not only ON DELETE CASCADE: the deliveries go with the webhook on every database.
    session.execute(delete(NotifyDelivery).where(NotifyDelivery.webhook_id == webhook.webhook_id))
    session.delete(webhook)
    session.flush()


# --- feed: cursors, alerts not yet announced, events ----------------------------------------------------
def get_cursor(*, session: Session, feed: str) -> NotifyCursor | None:
    return session.get(NotifyCursor, feed)


def set_cursor(*, session: Session, feed: str, position_at: datetime) -> None:
    cursor = session.get(NotifyCursor, feed)
    if cursor is None:
        session.add(NotifyCursor(feed=feed, position_at=position_at))
    elif position_at > cursor.position_at:
        cursor.position_at = position_at
    session.flush()


def unannounced_alerts(
    *, session: Session, column: str, event_type: str, since: datetime, limit: int
) -> Sequence[Alert]:
    """Alerts whose `column` (created_at or acknowledged_at) is at or after `since` and that have no
    event of `event_type` yet, oldest first."""
    at = getattr(Alert, column)
    announced = exists().where(NotifyEvent.event_type == event_type, NotifyEvent.alert_id == Alert.alert_id)
    statement = (
        select(Alert)
        .where(at.is_not(None), at >= since, ~announced)
        .order_by(at, Alert.alert_id)
        .limit(limit)
    )
    return session.scalars(statement).all()


def rules_by_id(*, session: Session, rule_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Rule]:
    wanted = list(set(rule_ids))
    if not wanted:
        return {}
    return {r.rule_id: r for r in session.scalars(select(Rule).where(Rule.rule_id.in_(wanted))).all()}


def meter_sites(*, session: Session, meter_ids: Iterable[str]) -> dict[str, str]:
    wanted = list(set(meter_ids))
    if not wanted:
        return {}
    rows = session.execute(select(Meter.meter_id, Meter.site).where(Meter.meter_id.in_(wanted))).all()
    return {meter_id: site for meter_id, site in rows}


def add_event(*, session: Session, event: NotifyEvent, deliveries: Sequence[NotifyDelivery]) -> None:
    session.add(event)
    session.flush()
    for delivery in deliveries:
        delivery.event_id = event.event_id
        session.add(delivery)
    session.flush()


# --- deliveries ---------------------------------------------------------------------------------------
def due_deliveries(*, session: Session, now: datetime, limit: int) -> Sequence[NotifyDelivery]:
    """Pending deliveries due at `now`, oldest due first; those of a disabled webhook wait."""
    enabled_webhook = exists().where(Webhook.webhook_id == NotifyDelivery.webhook_id, Webhook.enabled)
    statement = (
        select(NotifyDelivery)
        .where(
            NotifyDelivery.status == "pending",
            NotifyDelivery.next_attempt_at <= now,
            or_(NotifyDelivery.webhook_id.is_(None), enabled_webhook),
        )
        .order_by(NotifyDelivery.next_attempt_at, NotifyDelivery.delivery_id)
        .limit(limit)
    )
    return session.scalars(statement).all()


def get_delivery(*, session: Session, delivery_id: uuid.UUID) -> NotifyDelivery | None:
    return session.get(NotifyDelivery, delivery_id)


def list_deliveries(*, session: Session, query: DeliveryQuery) -> tuple[Sequence[NotifyDelivery], int]:
    statement = select(NotifyDelivery)
    conditions: list[Any] = []
    if query.status is not None:
        conditions.append(NotifyDelivery.status == query.status)
    if query.webhook_id is not None:
        conditions.append(NotifyDelivery.webhook_id == query.webhook_id)
    if query.channel == "mqtt":
        conditions.append(NotifyDelivery.channel == "mqtt")
    elif query.channel == "webhook":
        conditions.append(NotifyDelivery.webhook_id.is_not(None))
    if conditions:
        statement = statement.where(and_(*conditions))
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    page = (
        statement.order_by(NotifyDelivery.created_at.desc(), NotifyDelivery.delivery_id)
        .limit(query.limit)
        .offset(query.offset)
    )
    return session.scalars(page).all(), int(total)
