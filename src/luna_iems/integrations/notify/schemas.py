"""HTTP request and response models of integrations/notify: webhooks and their deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StrictBool, UrlConstraints

from luna_iems.bounds import ID_MAX_CHARS, MAX_OFFSET

EventType = Literal["alert.raised", "alert.resolved", "rule.fired"]
EVENT_TYPES: tuple[EventType, ...] = ("alert.raised", "alert.resolved", "rule.fired")
Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
DeliveryStatus = Literal["pending", "delivered", "dead"]
MIN_SECRET_CHARS = 16
MAX_URL_CHARS = 2000

WebhookUrl = Annotated[
    AnyHttpUrl, UrlConstraints(max_length=MAX_URL_CHARS, allowed_schemes=["http", "https"])
]
SiteStr = Annotated[str, Field(min_length=1, max_length=ID_MAX_CHARS)]


class WebhookCreate(BaseModel):
    """A webhook: where to POST, which events, and the signing secret (generated when omitted)."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl = Field(description="http(s) URL that receives a POST per event")
    name: str = Field(default="", max_length=100, description="Label; empty: the URL's host")
    secret: str | None = Field(
        default=None,
        min_length=MIN_SECRET_CHARS,
        max_length=200,
        description="HMAC-SHA256 key for X-Luna-Signature; omitted: one is generated and shown once",
    )
    events: list[EventType] = Field(default_factory=lambda: list(EVENT_TYPES), min_length=1, max_length=3)
    min_severity: Severity | None = Field(default=None, description="Only events of at least this severity")
    sites: list[SiteStr] | None = Field(
        default=None, max_length=100, description="Only events of these sites; omitted: every site"
    )
    enabled: StrictBool = True


class WebhookUpdate(BaseModel):
    """Fields to change (the secret cannot be changed: create a new webhook to rotate it)."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl | None = None
    name: str | None = Field(default=None, min_length=1, max_length=100)
    events: list[EventType] | None = Field(default=None, min_length=1, max_length=3)
    min_severity: Severity | None = None
    sites: list[SiteStr] | None = Field(default=None, max_length=100)
    enabled: StrictBool | None = None


class WebhookRead(BaseModel):
    webhook_id: uuid.UUID
    name: str
    url: str
    secret_hint: str = Field(description="The secret's first characters (the secret is shown once)")
    events: list[str]
    min_severity: str | None
    sites: list[str] | None
    enabled: bool
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="Shown in this response only: store it to verify signatures")


class WebhookList(BaseModel):
    items: list[WebhookRead]
    total: int


class DeliveryQuery(BaseModel):
    """Filters and paging of GET /integrations/webhooks/deliveries (query parameters)."""

    model_config = ConfigDict(extra="forbid")

    status: DeliveryStatus | None = None
    webhook_id: uuid.UUID | None = None
    channel: Literal["webhook", "mqtt"] | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    delivery_id: uuid.UUID = Field(description="Also the X-Luna-Delivery header: receivers dedupe on it")
    event_id: uuid.UUID
    channel: str = Field(description="'webhook:<id>' or 'mqtt'")
    webhook_id: uuid.UUID | None
    topic: str | None = Field(description="The MQTT topic (MQTT deliveries)")
    event_type: str
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    response_status: int | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    items: list[DeliveryRead]
    total: int
