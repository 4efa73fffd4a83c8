"""Per-rule channels: validation at the API (422 naming the bad channel) and routing of each rule's
firings to its webhooks and/or MQTT (an in-test `MessagePublisher`), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from luna_iems.db.base import utcnow
from luna_iems.decisions import rule_service
from luna_iems.integrations.notify.models import NotifyDelivery
from luna_iems.timeseries.models import Meter
from tests.conftest import ADMIN_TOKEN, auth
from tests.integrations.notify.support import (
    FakeClock,
    FakePublisher,
    add_anomaly_alert,
    add_rule_alert,
    container_of,
    create_rule,
    create_webhook,
    notify_deps,
    receiver,
    run,
)


def test_rule_channels_are_validated_and_normalised(client: TestClient) -> None:
    admin = auth(ADMIN_TOKEN)
    base = {"when": "soc_pct < 20", "then": "notify"}
    hook = create_webhook(client, url="https://example.org/hook")

    for index, bad, needle in (
        (0, "sms", "unknown channel 'sms'"),
        (1, "webhook:not-a-uuid", "must be a webhook id"),
    ):
        channels = ["mqtt", bad] if index else [bad]
        response = client.post(
            "/rules", json={**base, "name": f"r-{index}", "channels": channels}, headers=admin
        )
        assert response.status_code == 422, response.text
        detail = response.json()["error"]["details"]
        assert needle in json.dumps(detail) and f"channels[{index}]" in json.dumps(detail)

    ghost = uuid.uuid4()
    response = client.post(
        "/rules", json={**base, "name": "ghost", "channels": [f"webhook:{ghost}"]}, headers=admin
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert f"webhook:{ghost}" in error["message"] and error["details"]["field"] == "channels"

    created = client.post(
        "/rules",
        json={**base, "name": "ok", "channels": [" MQTT ", f"Webhook:{hook['webhook_id'].upper()}", "mqtt"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["channels"] == ["mqtt", f"webhook:{hook['webhook_id']}"]
    rule_id = created.json()["rule_id"]

    patched = client.patch(f"/rules/{rule_id}", json={"channels": ["pager"]}, headers=admin)
    assert patched.status_code == 422 and "pager" in json.dumps(patched.json()["error"])
    patched = client.patch(f"/rules/{rule_id}", json={"channels": []}, headers=admin)
    assert patched.status_code == 200 and patched.json()["channels"] == []
    assert client.get("/rules", headers=admin).json()["items"][0]["channels"] == []

    document = (
        f"- name: imported\n  when: soc_pct < 10\n  then: notify\n  channels: [mqtt, 'webhook:{ghost}']\n"
    )
    imported = client.post(
        "/rules/import", content=document, headers={**admin, "Content-Type": "application/yaml"}
    )
    assert imported.status_code == 422
    assert (
        imported.json()["error"]["details"]["rule_index"] == 0
        and "channels[1]" in imported.json()["error"]["message"]
    )
    document = "- name: imported\n  when: soc_pct < 10\n  then: notify\n  channels: [mqtt]\n"
    imported = client.post(
        "/rules/import", content=document, headers={**admin, "Content-Type": "application/yaml"}
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["items"][0]["channels"] == ["mqtt"]


def test_firings_follow_each_rules_channels(client: TestClient) -> None:
    clock = FakeClock()
    publisher = FakePublisher()
    with receiver() as rx_a, receiver() as rx_b:
        hook_a = create_webhook(client, rx_a, name="a")
        hook_b = create_webhook(client, rx_b, name="b", events=["rule.fired"])
        only_a = create_rule(client, "only-a", channels=[f"webhook:{hook_a['webhook_id']}"])
        only_mqtt = create_rule(client, "only-mqtt", channels=["mqtt"], site="yard/east")
        defaults = create_rule(client, "defaults")  # NOTIFY_DEFAULT_CHANNELS: webhook,mqtt
        with container_of(client).session_factory() as session:
            alert_a = add_rule_alert(session, rule_id=only_a, name="only-a")
            alert_mqtt = add_rule_alert(session, rule_id=only_mqtt, name="only-mqtt", severity="critical")
            alert_default = add_rule_alert(session, rule_id=defaults, name="defaults")
            anomaly = add_anomaly_alert(session)
        counts = run(notify_deps(client, publisher), clock)
        assert counts.dead == 0 and counts.retried == 0

        with container_of(client).session_factory() as session:
            rows = session.scalars(select(NotifyDelivery)).all()
        routes = {
            (
                str(d.payload.get("alert", {}).get("alert_id") or d.payload.get("alert_id")),
                d.event_type,
                d.channel,
            )
            for d in rows
        }
        a, b = f"webhook:{hook_a['webhook_id']}", f"webhook:{hook_b['webhook_id']}"
        assert routes == {
            (str(alert_a.alert_id), "alert.raised", a),
            (str(alert_a.alert_id), "rule.fired", a),
            (str(alert_mqtt.alert_id), "alert.raised", "mqtt"),
            (str(alert_mqtt.alert_id), "rule.fired", "mqtt"),
            (str(alert_default.alert_id), "alert.raised", a),
            (str(alert_default.alert_id), "rule.fired", a),
            (str(alert_default.alert_id), "rule.fired", b),  # b subscribes to rule.fired only
            (str(alert_default.alert_id), "alert.raised", "mqtt"),
            (str(alert_default.alert_id), "rule.fired", "mqtt"),
            (str(anomaly.alert_id), "alert.raised", a),
            (str(anomaly.alert_id), "alert.raised", "mqtt"),
        }
    assert len(rx_a.requests) == 5 and len(rx_b.requests) == 1
    assert all(rx_a.verified) and all(rx_b.verified)

    topics = sorted(topic for topic, _, _, _ in publisher.messages)
    assert topics == sorted(
        [
            "luna/alerts/yard_east",  # '/' would split the topic level
            f"luna/rules/{only_mqtt}/fired",
            "luna/alerts/hall",
            f"luna/rules/{defaults}/fired",
            "luna/alerts/hall",
        ]
    )
    assert all(qos == 1 and not retain for _, _, qos, retain in publisher.messages)
    fired = next(json.loads(p) for t, p, _, _ in publisher.messages if t == f"luna/rules/{only_mqtt}/fired")
    assert fired["type"] == "rule.fired" and fired["rule"] == {"rule_id": only_mqtt, "name": "only-mqtt"}
    assert (
        fired["severity"] == "critical"
        and fired["values"] == {"soc_pct": 12.0}
        and fired["site"] == "yard/east"
    )


def test_mqtt_failures_are_retried_and_no_mqtt_without_a_broker(client: TestClient) -> None:
    clock = FakeClock()
    with container_of(client).session_factory() as session:
        add_anomaly_alert(session)
    run(notify_deps(client, publisher=None), clock)  # MQTT_URL unset: no MQTT delivery at all
    with container_of(client).session_factory() as session:
        assert session.scalars(select(NotifyDelivery)).all() == []

    publisher = FakePublisher(fail_first=1)
    with container_of(client).session_factory() as session:
        add_anomaly_alert(session)
    deps = notify_deps(client, publisher)
    assert run(deps, clock).retried == 1
    with container_of(client).session_factory() as session:
        delivery = session.scalars(select(NotifyDelivery)).one()
    assert delivery.status == "pending" and "ConnectionError" in (delivery.last_error or "")
    clock.advance_to(delivery.next_attempt_at)
    assert run(deps, clock).delivered == 1
    assert [t for t, _, _, _ in publisher.messages] == ["luna/alerts/hall"]


def test_a_scheduled_rule_firing_reaches_its_webhook_and_mqtt(client: TestClient) -> None:
    """The real path: rule_service.evaluate_due stores the firing; the outbox feed (not a call in the
    decisions code) announces it on the rule's channels, once, however often the jobs run."""
    clock = FakeClock()
    publisher = FakePublisher()
    container = container_of(client)
    with receiver() as rx:
        hook = create_webhook(client, rx, events=["rule.fired"])
        body = {
            "name": "always",
            "when": "hour >= 0",
            "then": {"action": "notify", "severity": "info", "message": "hour {hour}"},
            "site": "plant",
            "channels": [f"webhook:{hook['webhook_id']}", "mqtt"],
        }
        rule = client.post("/rules", json=body, headers=auth(ADMIN_TOKEN)).json()
        with container.session_factory() as session:
            session.add(Meter(meter_id="m-plant", site="plant"))
            session.commit()
            now = utcnow()
            assert rule_service.evaluate_due(session=session, settings=container.settings, now=now) == 1
            assert rule_service.evaluate_due(session=session, settings=container.settings, now=now) == 0
        deps = notify_deps(client, publisher)
        run(deps, clock)
        run(deps, clock)
        clock.advance(timedelta(hours=1).total_seconds())
        run(deps, clock)
    assert [r.headers["X-Luna-Event"] for r in rx.requests] == ["rule.fired"]
    payload = rx.requests[0].json()
    assert payload["rule"] == {"rule_id": rule["rule_id"], "name": "always"} and payload["site"] == "plant"
    assert payload["message"].startswith("hour ") and payload["action"] == "notify"
    assert sorted(t for t, _, _, _ in publisher.messages) == [
        "luna/alerts/plant",
        f"luna/rules/{rule['rule_id']}/fired",
    ]
