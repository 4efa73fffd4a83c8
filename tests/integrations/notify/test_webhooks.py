"""Webhook delivery end to end: the real app and database (SQLite and PostgreSQL), the real httpx client,
and a real loopback HTTP server as the receiver (it fails a chosen number of times, then accepts, and
verifies each signature with the webhook's secret). The clock is injected: backoff is checked without
sleeping."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from luna_iems.admin.schemas import Role
from luna_iems.decisions import alert_service
from luna_iems.integrations.notify import outbox
from luna_iems.integrations.notify.models import NotifyCursor, NotifyDelivery, NotifyEvent
from tests.conftest import ADMIN_TOKEN, KeyFactory, auth
from tests.integrations.notify.support import (
    FakeClock,
    add_anomaly_alert,
    container_of,
    create_webhook,
    notify_deps,
    receiver,
    run,
)

BASE_S = 10.0  # NOTIFY_BACKOFF_BASE_S default


def _deliveries(client: TestClient, **params: str) -> list[dict[str, object]]:
    response = client.get("/integrations/webhooks/deliveries", params=params, headers=auth(ADMIN_TOKEN))
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


def _only_delivery(client: TestClient) -> NotifyDelivery:
    with container_of(client).session_factory() as session:
        return session.scalars(select(NotifyDelivery)).one()


def test_retries_with_backoff_then_delivers_a_signed_body_once(client: TestClient) -> None:
    clock = FakeClock()
    with receiver(statuses=[503, 500]) as rx:
        hook = create_webhook(client, rx, events=["alert.raised"])
        assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 40
        listed = client.get("/integrations/webhooks", headers=auth(ADMIN_TOKEN)).json()["items"]
        assert "secret" not in listed[0] and listed[0]["secret_hint"] == hook["secret"][:10] + "…"
        with container_of(client).session_factory() as session:
            alert = add_anomaly_alert(session)
        deps = notify_deps(client)

        run(deps, clock)  # attempt 1: 503
        first = _only_delivery(client)
        assert (first.status, first.attempts, first.response_status) == ("pending", 1, 503)
        assert first.next_attempt_at is not None
        assert clock.now + timedelta(seconds=BASE_S / 2) <= first.next_attempt_at
        assert first.next_attempt_at <= clock.now + timedelta(seconds=BASE_S)

        run(deps, clock)  # not due yet: nothing is sent
        assert len(rx.requests) == 1

        clock.advance_to(first.next_attempt_at)
        run(deps, clock)  # attempt 2: 500; the wait doubles
        second = _only_delivery(client)
        assert (second.status, second.attempts, second.response_status) == ("pending", 2, 500)
        assert second.next_attempt_at is not None
        assert clock.now + timedelta(seconds=BASE_S) <= second.next_attempt_at
        assert second.next_attempt_at <= clock.now + timedelta(seconds=2 * BASE_S)
        assert "HTTP 500" in (second.last_error or "")

        clock.advance_to(second.next_attempt_at)
        counts = run(deps, clock)  # attempt 3: accepted
        assert counts.delivered == 1
        done = _only_delivery(client)
        assert (done.status, done.attempts, done.response_status, done.last_error) == (
            "delivered",
            3,
            200,
            None,
        )

        # Replays of the job send nothing more, however far the clock moves.
        clock.advance(86_400)
        run(deps, clock)
        run(deps, clock)
        assert len(rx.requests) == 3

    assert rx.verified == [True, True, True]
    delivery_ids = {r.headers["X-Luna-Delivery"] for r in rx.requests}
    assert delivery_ids == {str(done.delivery_id)}, "one delivery id across retries (the idempotency key)"
    assert {r.headers["X-Luna-Event"] for r in rx.requests} == {"alert.raised"}
    body = rx.requests[-1].json()
    assert body["type"] == "alert.raised" and body["site"] == "hall"
    assert body["alert"]["alert_id"] == str(alert.alert_id) and body["alert"]["kind"] == "spike"
    assert body["id"] == str(done.event_id)


def test_a_4xx_is_dead_at_once_and_redelivery_sends_it_again(client: TestClient) -> None:
    clock = FakeClock()
    with receiver(statuses=[410]) as rx:
        create_webhook(client, rx)
        with container_of(client).session_factory() as session:
            add_anomaly_alert(session, severity="critical")
        deps = notify_deps(client)
        counts = run(deps, clock)
        assert (counts.dead, counts.retried, counts.delivered) == (1, 0, 0)

        dead = _deliveries(client, status="dead")
        assert len(dead) == 1 and dead[0]["attempts"] == 1 and dead[0]["response_status"] == 410
        assert "HTTP 410" in str(dead[0]["last_error"])
        assert _deliveries(client, status="pending") == []
        clock.advance(10 * 86_400)
        run(deps, clock)
        assert len(rx.requests) == 1, "a dead letter is not retried"

        url = f"/integrations/webhooks/deliveries/{dead[0]['delivery_id']}/redeliver"
        again = client.post(url, headers=auth(ADMIN_TOKEN))
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "pending" and again.json()["attempts"] == 0
        conflict = client.post(url, headers=auth(ADMIN_TOKEN))
        assert conflict.status_code == 409 and "still pending" in conflict.json()["error"]["message"]

        run(deps, clock)
        assert _deliveries(client, status="delivered")[0]["delivery_id"] == dead[0]["delivery_id"]
    assert len(rx.requests) == 2 and rx.verified == [True, True]
    assert rx.requests[0].headers["X-Luna-Delivery"] == rx.requests[1].headers["X-Luna-Delivery"]


def test_dead_letter_after_max_attempts(client: TestClient) -> None:
    clock = FakeClock()
    max_attempts = container_of(client).settings.notify_max_attempts
    with receiver(statuses=[500] * 100) as rx:
        create_webhook(client, rx)
        with container_of(client).session_factory() as session:
            add_anomaly_alert(session)
        deps = notify_deps(client)
        for attempt in range(1, max_attempts + 1):
            run(deps, clock)
            delivery = _only_delivery(client)
            assert delivery.attempts == attempt
            if attempt < max_attempts:
                low, high = outbox.backoff_bounds(
                    attempt, base_s=BASE_S, max_s=container_of(client).settings.notify_backoff_max_s
                )
                assert delivery.next_attempt_at is not None
                wait = (delivery.next_attempt_at - clock.now).total_seconds()
                assert low - 1e-3 <= wait <= high + 1e-3
                clock.advance_to(delivery.next_attempt_at)
        assert delivery.status == "dead" and delivery.next_attempt_at is None
        clock.advance(30 * 86_400)
        run(deps, clock)
    assert len(rx.requests) == max_attempts
    assert [d["delivery_id"] for d in _deliveries(client, status="dead")] == [str(delivery.delivery_id)]


def test_unreachable_receiver_and_429_are_retried(client: TestClient) -> None:
    clock = FakeClock()
    create_webhook(client, url="http://127.0.0.1:9/hook")  # discard port: connection refused
    with receiver(statuses=[429, 408]) as rx:
        create_webhook(client, rx)
        with container_of(client).session_factory() as session:
            add_anomaly_alert(session)
        deps = notify_deps(client)
        counts = run(deps, clock)
        assert (counts.retried, counts.dead) == (2, 0)
        clock.advance(BASE_S)
        run(deps, clock)
        clock.advance(2 * BASE_S)
        run(deps, clock)
    rows = {d["channel"]: d for d in _deliveries(client)}
    refused = next(d for d in rows.values() if d["response_status"] is None)
    assert refused["status"] == "pending" and "ConnectError" in str(refused["last_error"])
    accepted = next(d for d in rows.values() if d["response_status"] is not None)
    assert (accepted["status"], accepted["attempts"]) == ("delivered", 3)


def test_the_feed_never_enqueues_twice_and_announces_acknowledgements(client: TestClient) -> None:
    clock = FakeClock()
    with receiver() as rx:
        create_webhook(client, rx)  # every event type
        with container_of(client).session_factory() as session:
            alert = add_anomaly_alert(session)
        deps = notify_deps(client)
        run(deps, clock)
        run(deps, clock)
        with container_of(client).session_factory() as session:
            # Even with its cursor lost, the feed finds every alert already announced.
            session.execute(delete(NotifyCursor))
            session.commit()
        run(deps, clock)
        with container_of(client).session_factory() as session:
            assert session.scalar(select(func.count()).select_from(NotifyEvent)) == 1
            assert session.scalar(select(func.count()).select_from(NotifyDelivery)) == 1
            alert_service.acknowledge(session=session, alert_id=alert.alert_id, by="operator")
        run(deps, clock)
        run(deps, clock)
    assert [r.headers["X-Luna-Event"] for r in rx.requests] == ["alert.raised", "alert.resolved"]
    resolved = rx.requests[1].json()
    assert resolved["alert"]["acknowledged_by"] == "operator" and resolved["alert"]["alert_id"] == str(
        alert.alert_id
    )


def test_webhook_filters_severity_and_site(client: TestClient) -> None:
    clock = FakeClock()
    with receiver() as rx:
        create_webhook(client, rx, min_severity="critical", sites=["hall"])
        with container_of(client).session_factory() as session:
            add_anomaly_alert(session, severity="warning")
            add_anomaly_alert(session, meter_id="m-yard", site="yard", severity="critical")
            wanted = add_anomaly_alert(session, severity="critical")
        run(notify_deps(client), clock)
    assert [r.json()["alert"]["alert_id"] for r in rx.requests] == [str(wanted.alert_id)]


def test_webhook_api_errors_and_roles(client: TestClient, make_key: KeyFactory) -> None:
    admin = auth(ADMIN_TOKEN)
    for url in ("not a url", "ftp://example.org/hook", "http://"):
        response = client.post("/integrations/webhooks", json={"url": url}, headers=admin)
        assert response.status_code == 422, response.text
        assert "url" in str(response.json()["error"]["details"])
    short = client.post(
        "/integrations/webhooks", json={"url": "https://example.org/h", "secret": "x" * 8}, headers=admin
    )
    assert short.status_code == 422 and "secret" in str(short.json()["error"]["details"])
    bad_event = client.post(
        "/integrations/webhooks",
        json={"url": "https://example.org/h", "events": ["alert.exploded"]},
        headers=admin,
    )
    assert bad_event.status_code == 422

    unknown = uuid.uuid4()
    for method, path in (
        ("GET", f"/integrations/webhooks/{unknown}"),
        ("DELETE", f"/integrations/webhooks/{unknown}"),
        ("POST", f"/integrations/webhooks/deliveries/{unknown}/redeliver"),
    ):
        response = client.request(method, path, headers=admin)
        assert response.status_code == 404, (method, path, response.text)
        assert str(unknown) in response.json()["error"]["message"]

    hook = create_webhook(client, url="https://example.org/hook", secret="s" * 20, name="ops")
    assert hook["secret"] == "s" * 20 and hook["name"] == "ops"
    for role in (Role.VIEWER, Role.ANALYST):
        key = auth(make_key(client, role))
        assert client.get("/integrations/webhooks", headers=key).status_code == 403
        assert client.get("/integrations/webhooks/deliveries", headers=key).status_code == 403
        refused = client.post("/integrations/webhooks", json={"url": "https://example.org/x"}, headers=key)
        assert refused.status_code == 403 and "admin" in refused.json()["error"]["message"]
        assert client.delete(f"/integrations/webhooks/{hook['webhook_id']}", headers=key).status_code == 403
    assert client.get("/integrations/webhooks").status_code == 401

    assert client.get(f"/integrations/webhooks/{hook['webhook_id']}", headers=admin).json()["name"] == "ops"
    assert client.delete(f"/integrations/webhooks/{hook['webhook_id']}", headers=admin).status_code == 204
    assert client.get("/integrations/webhooks", headers=admin).json() == {"items": [], "total": 0}
    bad_status = client.get("/integrations/webhooks/deliveries", params={"status": "lost"}, headers=admin)
    assert bad_status.status_code == 422


def test_a_disabled_webhook_waits_and_sends_once_enabled(client: TestClient, make_key: KeyFactory) -> None:
    clock = FakeClock()
    admin = auth(ADMIN_TOKEN)
    with receiver(statuses=[503]) as rx:
        hook = create_webhook(client, rx)
        path = f"/integrations/webhooks/{hook['webhook_id']}"
        with container_of(client).session_factory() as session:
            add_anomaly_alert(session)
        deps = notify_deps(client)
        run(deps, clock)  # attempt 1 fails: a retry is pending
        assert client.patch(path, json={"enabled": False}, headers=admin).json()["enabled"] is False
        with container_of(client).session_factory() as session:
            add_anomaly_alert(session)  # raised while disabled: not for this webhook
        clock.advance(3600)
        run(deps, clock)
        assert len(rx.requests) == 1, "a disabled webhook's pending delivery waits"

        enabled = client.patch(
            path, json={"enabled": True, "min_severity": "info", "name": "ops"}, headers=admin
        )
        assert enabled.status_code == 200 and enabled.json()["name"] == "ops"
        run(deps, clock)
    assert len(rx.requests) == 2 and len(_deliveries(client, status="delivered")) == 1
    assert len(_deliveries(client)) == 1

    unchanged = client.patch(path, json={"url": None, "enabled": None}, headers=admin)  # null: unchanged
    assert unchanged.status_code == 200 and unchanged.json()["enabled"] is True
    assert unchanged.json()["url"] == enabled.json()["url"]
    assert client.patch(path, json={"url": "gopher://x"}, headers=admin).status_code == 422
    assert client.patch(path, json={"secret": "s" * 20}, headers=admin).status_code == 422  # not changeable
    assert client.patch(f"/integrations/webhooks/{uuid.uuid4()}", json={}, headers=admin).status_code == 404
    viewer = auth(make_key(client, Role.VIEWER))
    assert client.patch(path, json={"enabled": False}, headers=viewer).status_code == 403
