"""Webhooks (create, list, delete), the delivery log (list, redeliver) and rule channel checks.

The outbox itself (feeding events from the alerts table, sending what is due, backoff) is in
`outbox`; this module is what the HTTP routes and the rules service call.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from luna_iems.db.base import utcnow
from luna_iems.errors import ConflictError, InvalidInputError, NotFoundError
from luna_iems.integrations.notify import channels as notify_channels
from luna_iems.integrations.notify import repository, signing
from luna_iems.integrations.notify.models import NotifyDelivery, Webhook
from luna_iems.integrations.notify.schemas import (
    DeliveryList,
    DeliveryQuery,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookRead,
    WebhookUpdate,
)

HINT_CHARS = 4


# --- webhooks -----------------------------------------------------------------------------------------
def _secret_hint(secret: str) -> str:
    prefix = signing.SECRET_PREFIX if secret.startswith(signing.SECRET_PREFIX) else ""
    return secret[: len(prefix) + HINT_CHARS] + "…"


def webhook_read(webhook: Webhook) -> WebhookRead:
    return WebhookRead(
        webhook_id=webhook.webhook_id,
        name=webhook.name,
        url=webhook.url,
        secret_hint=_secret_hint(webhook.secret),
        events=list(webhook.events),
        min_severity=webhook.min_severity,
        sites=list(webhook.sites) if webhook.sites is not None else None,
        enabled=webhook.enabled,
        created_at=webhook.created_at,
    )


def create_webhook(*, session: Session, webhook_in: WebhookCreate) -> WebhookCreated:
    """Store a webhook; its secret (given, or generated as `whsec_…`) is in this answer only."""
    url = str(webhook_in.url)
    secret = webhook_in.secret or signing.generate_secret()
    webhook = Webhook(
        name=webhook_in.name or (urlsplit(url).hostname or url)[:100],
        url=url,
        secret=secret,
        events=list(dict.fromkeys(webhook_in.events)),
        min_severity=webhook_in.min_severity,
        sites=list(dict.fromkeys(webhook_in.sites)) if webhook_in.sites is not None else None,
        enabled=webhook_in.enabled,
    )
    repository.add_webhook(session=session, webhook=webhook)
    session.commit()
    return WebhookCreated(**webhook_read(webhook).model_dump(), secret=secret)


def get_webhook(*, session: Session, webhook_id: uuid.UUID) -> Webhook:
    """The webhook, or NotFoundError (404) naming the id."""
    webhook = repository.get_webhook(session=session, webhook_id=webhook_id)
    if webhook is None:
        raise NotFoundError(
            f"webhook {webhook_id} not found (GET /integrations/webhooks lists them)",
            details={"webhook_id": str(webhook_id)},
        )
    return webhook


def list_webhooks(*, session: Session) -> WebhookList:
    items = [webhook_read(w) for w in repository.list_webhooks(session=session)]
    return WebhookList(items=items, total=len(items))


def update_webhook(*, session: Session, webhook_id: uuid.UUID, webhook_in: WebhookUpdate) -> WebhookRead:
    """Change the given fields; an explicit `null` clears `min_severity` or `sites` (no filter).
    Disabling keeps pending deliveries waiting; they are sent once the webhook is enabled again."""
    webhook = get_webhook(session=session, webhook_id=webhook_id)
    changes = webhook_in.model_dump(exclude_unset=True)
    for required in ("url", "name", "events", "enabled"):
        if required in changes and changes[required] is None:
            del changes[required]  # null: unchanged (these have no "empty" value)
    if "url" in changes:
        webhook.url = str(webhook_in.url)
    if "name" in changes:
        webhook.name = changes["name"]
    if "events" in changes:
        webhook.events = list(dict.fromkeys(changes["events"]))
    if "min_severity" in changes:
        webhook.min_severity = changes["min_severity"]
    if "sites" in changes:
        webhook.sites = list(dict.fromkeys(changes["sites"])) if changes["sites"] is not None else None
    if "enabled" in changes:
        webhook.enabled = changes["enabled"]
    session.commit()
    return webhook_read(webhook)


def delete_webhook(*, session: Session, webhook_id: uuid.UUID) -> None:
    """Delete the webhook and its deliveries (pending ones are never sent). Rules naming it keep the
    channel; the outbox skips it (and logs nothing), so a rule edit can follow at leisure."""
    repository.delete_webhook(session=session, webhook=get_webhook(session=session, webhook_id=webhook_id))
    session.commit()


# --- rule channels ------------------------------------------------------------------------------------
def check_channels(*, session: Session, channels: list[str]) -> list[str]:
    """The canonical, de-duplicated channels of a rule; raises InvalidInputError (422) naming the first
    bad channel, its index and why (unknown form, or a webhook id that does not exist)."""
    parsed: list[notify_channels.Channel] = []
    for index, value in enumerate(channels):
        try:
            parsed.append(notify_channels.parse_channel(value))
        except ValueError as exc:
            raise InvalidInputError(
                f"channels[{index}]: {exc}", details={"field": "channels", "index": index, "channel": value}
            ) from None
    known = repository.existing_webhook_ids(
        session=session, webhook_ids=[c.webhook_id for c in parsed if c.webhook_id is not None]
    )
    for index, channel in enumerate(parsed):
        if channel.webhook_id is not None and channel.webhook_id not in known:
            raise InvalidInputError(
                f"channels[{index}]: unknown channel {channels[index]!r}: no webhook has the id "
                f"{channel.webhook_id} (GET /integrations/webhooks lists them)",
                details={"field": "channels", "index": index, "channel": channels[index]},
            )
    return list(dict.fromkeys(str(c) for c in parsed))


# --- deliveries ---------------------------------------------------------------------------------------
def list_deliveries(*, session: Session, query: DeliveryQuery) -> DeliveryList:
    """Deliveries newest first; `status=dead` lists the dead letters."""
    rows, total = repository.list_deliveries(session=session, query=query)
    return DeliveryList(items=[DeliveryRead.model_validate(d) for d in rows], total=total)


def get_delivery(*, session: Session, delivery_id: uuid.UUID) -> NotifyDelivery:
    delivery = repository.get_delivery(session=session, delivery_id=delivery_id)
    if delivery is None:
        raise NotFoundError(
            f"delivery {delivery_id} not found (GET /integrations/webhooks/deliveries lists them)",
            details={"delivery_id": str(delivery_id)},
        )
    return delivery


def redeliver(*, session: Session, delivery_id: uuid.UUID, now: datetime | None = None) -> DeliveryRead:
    """Queue a dead (or delivered) delivery again, due at once with a fresh attempt budget. It keeps
    its id, so receivers that already processed it recognise it (X-Luna-Delivery). Raises NotFoundError
    (404), or ConflictError (409) when it is still pending."""
    delivery = get_delivery(session=session, delivery_id=delivery_id)
    if delivery.status == "pending":
        raise ConflictError(
            f"delivery {delivery_id} is still pending (next attempt at {delivery.next_attempt_at}); "
            "only dead or delivered ones can be sent again",
            details={"delivery_id": str(delivery_id), "status": delivery.status},
        )
    delivery.status = "pending"
    delivery.attempts = 0
    delivery.next_attempt_at = now or utcnow()
    delivery.delivered_at = None
    session.commit()
    return DeliveryRead.model_validate(delivery)
