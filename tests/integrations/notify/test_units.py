"""Pure parts of notifications: signatures, backoff bounds, outcome recording, channel parsing, settings."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from luna_iems.integrations.notify import channels, outbox, signing
from luna_iems.integrations.notify.models import NotifyDelivery
from luna_iems.settings import Settings

SECRET = "whsec_test-secret-0123456789"


def test_signature_verifies_and_refuses_tampering_replays_and_wrong_keys() -> None:
    body = b'{"type":"alert.raised"}'
    header = signing.signature_header(secret=SECRET, timestamp=1_700_000_000, body=body)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert signing.verify(secret=SECRET, header=header, body=body, now=1_700_000_060)
    assert not signing.verify(secret=SECRET, header=header, body=body + b" ", now=1_700_000_060)
    assert not signing.verify(secret="whsec_other", header=header, body=body, now=1_700_000_060)
    assert not signing.verify(secret=SECRET, header=header, body=body, now=1_700_000_000 + 301)  # replay
    assert not signing.verify(secret=SECRET, header="v1=abc", body=body, now=1_700_000_000)
    assert not signing.verify(secret=SECRET, header="t=x,v1=abc", body=body, now=1_700_000_000)
    assert signing.generate_secret() != signing.generate_secret()


def test_backoff_doubles_within_jitter_bounds_and_is_capped() -> None:
    assert [outbox.backoff_bounds(n, base_s=10, max_s=3600) for n in (1, 2, 3)] == [
        (5, 10),
        (10, 20),
        (20, 40),
    ]
    assert outbox.backoff_bounds(20, base_s=10, max_s=3600) == (1800, 3600)
    assert outbox.backoff_bounds(10_000, base_s=10, max_s=3600) == (1800, 3600)  # no overflow


def _settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, **overrides)  # type: ignore[arg-type]


def _delivery() -> NotifyDelivery:
    return NotifyDelivery(channel="mqtt", event_type="alert.raised", payload={}, status="pending", attempts=0)


def test_record_applies_outcomes_and_honours_retry_after() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    settings = _settings(notify_max_attempts=3, notify_backoff_base_s=10, notify_backoff_max_s=600)
    rng = random.Random(7)
    delivery = _delivery()
    assert (
        outbox.record(
            delivery, outbox.Outcome(delivered=False, status=503), now=now, settings=settings, rng=rng
        )
        == "pending"
    )
    assert delivery.next_attempt_at is not None
    assert now + timedelta(seconds=5) <= delivery.next_attempt_at <= now + timedelta(seconds=10)
    slow = outbox.Outcome(delivered=False, status=429, retry_after_s=120)
    outbox.record(delivery, slow, now=now, settings=settings, rng=rng)
    assert delivery.next_attempt_at == now + timedelta(seconds=120)
    assert (
        outbox.record(
            delivery, outbox.Outcome(delivered=False, status=500), now=now, settings=settings, rng=rng
        )
        == "dead"
    )
    assert delivery.attempts == 3 and delivery.next_attempt_at is None

    gone = _delivery()
    assert (
        outbox.record(
            gone,
            outbox.Outcome(delivered=False, permanent=True, status=404),
            now=now,
            settings=settings,
            rng=rng,
        )
        == "dead"
    )
    ok = _delivery()
    assert (
        outbox.record(ok, outbox.Outcome(delivered=True, status=204), now=now, settings=settings, rng=rng)
        == "delivered"
    )
    assert ok.delivered_at == now


def test_channels_parse_and_name_the_bad_one() -> None:
    hook = "3f2b8c1e-0000-4000-8000-000000000001"
    parsed = channels.parse_channels(["mqtt", f"WEBHOOK:{hook}", "webhook", "mqtt"])
    assert [str(c) for c in parsed] == ["mqtt", f"webhook:{hook}", "webhook"]
    with pytest.raises(ValueError, match="unknown channel 'email'"):
        channels.parse_channel("email")
    with pytest.raises(ValueError, match="must be a webhook id"):
        channels.parse_channel("webhook:42")


def test_settings_are_harmless_by_default_and_refuse_unknown_channels() -> None:
    settings = _settings()
    assert settings.notify_default_channels == "webhook,mqtt" and settings.mqtt_url is None
    assert outbox.default_channels(_settings(notify_default_channels="")) == []
    with pytest.raises(ValidationError, match="NOTIFY_DEFAULT_CHANNELS: unknown channel 'sms'"):
        _settings(notify_default_channels="webhook,sms")


def test_topic_levels_cannot_split_or_wildcard() -> None:
    assert outbox.topic_level("hall") == "hall"
    assert outbox.topic_level("a/b+#") == "a_b__"
