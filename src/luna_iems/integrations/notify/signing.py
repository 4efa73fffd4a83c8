"""Webhook signatures (Stripe-style), pure: `X-Luna-Signature: t=<unix seconds>,v1=<hex>` where
`<hex>` is HMAC-SHA256 with the webhook's secret over `"<t>.<raw body>"`.

The timestamp is inside the signed text, so a receiver that refuses old `t` (e.g. older than five
minutes) is safe against a replayed request; `X-Luna-Delivery` (the same on every retry of one
delivery) lets it drop a duplicate it has already processed. See docs/integrations/alerts.md.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Luna-Signature"
DELIVERY_HEADER = "X-Luna-Delivery"
EVENT_HEADER = "X-Luna-Event"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
DEFAULT_TOLERANCE_S = 300


def generate_secret() -> str:
    """A new signing secret: `whsec_` and 43 URL-safe characters (256 bits from `secrets`)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `"<timestamp>.<body>"` keyed with `secret`."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret=secret, timestamp=timestamp, body=body)}"


def verify(
    *, secret: str, header: str, body: bytes, now: int, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> bool:
    """What a receiver does: parse `t` and every `v1`, refuse a `t` further than `tolerance_s` from
    `now`, and compare in constant time. True when one `v1` matches."""
    parts = [item.split("=", 1) for item in header.split(",") if "=" in item]
    timestamps = [value for key, value in parts if key.strip() == "t"]
    candidates = [value.strip() for key, value in parts if key.strip() == "v1"]
    if len(timestamps) != 1 or not timestamps[0].strip().isdigit() or not candidates:
        return False
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret=secret, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
