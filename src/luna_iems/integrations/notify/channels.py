"""Notification channels as rules and settings name them (pure: no database, no I/O).

- `webhook`: every enabled webhook whose event filter matches;
- `webhook:<id>`: that webhook only (its event filter still applies);
- `mqtt`: the broker (`luna/alerts/<site>`, `luna/rules/<rule_id>/fired`), when MQTT_URL is set.

A rule's empty channel list means "the defaults" (NOTIFY_DEFAULT_CHANNELS).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

MQTT = "mqtt"
WEBHOOK = "webhook"
MAX_CHANNELS = 20
CHANNEL_HELP = "use 'mqtt', 'webhook' (every webhook) or 'webhook:<webhook id>'"


@dataclass(frozen=True)
class Channel:
    kind: str  # "webhook" | "mqtt"
    webhook_id: uuid.UUID | None = None  # None with kind "webhook": every webhook

    def __str__(self) -> str:
        return f"{WEBHOOK}:{self.webhook_id}" if self.webhook_id is not None else self.kind


def parse_channel(value: str) -> Channel:
    """`mqtt`, `webhook` or `webhook:<uuid>` (case and surrounding blanks ignored); raises ValueError
    naming the bad channel and the accepted forms."""
    text = value.strip()
    lowered = text.lower()
    if lowered == MQTT:
        return Channel(kind=MQTT)
    if lowered == WEBHOOK:
        return Channel(kind=WEBHOOK)
    if lowered.startswith(f"{WEBHOOK}:"):
        try:
            return Channel(kind=WEBHOOK, webhook_id=uuid.UUID(text.split(":", 1)[1].strip()))
        except ValueError:
            raise ValueError(
                f"unknown channel {value!r}: the part after 'webhook:' must be a webhook id (a UUID)"
            ) from None
    raise ValueError(f"unknown channel {value!r}: {CHANNEL_HELP}")


def normalise_channel(value: str) -> str:
    """The canonical spelling of a channel (for a pydantic validator); raises ValueError."""
    return str(parse_channel(value))


def parse_channels(values: list[str] | tuple[str, ...]) -> list[Channel]:
    """Every channel of a list, without duplicates, in order; raises ValueError on the first bad one."""
    seen: dict[str, Channel] = {}
    for value in values:
        channel = parse_channel(value)
        seen.setdefault(str(channel), channel)
    return list(seen.values())
