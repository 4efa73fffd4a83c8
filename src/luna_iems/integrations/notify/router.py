"""HTTP routes of integrations/notify: webhooks and their delivery log (admin role only).

`{webhook_id:uuid}`: only a UUID matches, so `/integrations/webhooks/deliveries` is never read as a
webhook id.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from luna_iems.deps import AdminKey, SessionDep
from luna_iems.errors import AUTHENTICATED_ERRORS, BODY_ERRORS, error_responses
from luna_iems.integrations.notify import service
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

router = APIRouter(prefix="/integrations/webhooks", tags=["integrations"], responses=AUTHENTICATED_ERRORS)
_NOT_FOUND = error_responses(404)


@router.post("", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED, responses=BODY_ERRORS)
def create_webhook(body: WebhookCreate, session: SessionDep, _: AdminKey) -> WebhookCreated:
    """Add a webhook. The signing secret is in this response only: store it to verify X-Luna-Signature."""
    return service.create_webhook(session=session, webhook_in=body)


@router.get("", response_model=WebhookList)
def list_webhooks(session: SessionDep, _: AdminKey) -> WebhookList:
    return service.list_webhooks(session=session)


@router.get("/deliveries", response_model=DeliveryList)
def list_deliveries(
    session: SessionDep, _: AdminKey, query: Annotated[DeliveryQuery, Query()]
) -> DeliveryList:
    """Webhook and MQTT deliveries, newest first; `status=dead` lists the dead letters."""
    return service.list_deliveries(session=session, query=query)


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryRead,
    responses=error_responses(404, 409),
)
def redeliver(delivery_id: uuid.UUID, session: SessionDep, _: AdminKey) -> DeliveryRead:
    """Send a dead (or delivered) delivery again, now, with a fresh attempt budget and the same id."""
    return service.redeliver(session=session, delivery_id=delivery_id)


@router.get("/{webhook_id:uuid}", response_model=WebhookRead, responses=_NOT_FOUND)
def get_webhook(webhook_id: uuid.UUID, session: SessionDep, _: AdminKey) -> WebhookRead:
    return service.webhook_read(service.get_webhook(session=session, webhook_id=webhook_id))


@router.patch("/{webhook_id:uuid}", response_model=WebhookRead, responses=BODY_ERRORS | _NOT_FOUND)
def update_webhook(
    webhook_id: uuid.UUID, body: WebhookUpdate, session: SessionDep, _: AdminKey
) -> WebhookRead:
    """Change URL, name, filters or `enabled`; a disabled webhook's pending deliveries wait."""
    return service.update_webhook(session=session, webhook_id=webhook_id, webhook_in=body)


@router.delete("/{webhook_id:uuid}", status_code=status.HTTP_204_NO_CONTENT, responses=_NOT_FOUND)
def delete_webhook(webhook_id: uuid.UUID, session: SessionDep, _: AdminKey) -> Response:
    """Delete a webhook and its deliveries (pending ones are never sent)."""
    service.delete_webhook(session=session, webhook_id=webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
