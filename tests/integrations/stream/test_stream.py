"""The live stream (GET /stream/readings): new readings, alerts and setpoints, each sent once.

The hub is polled by hand (`autostart=False`) where the test checks what one poll finds; the last test
runs the real endpoint with the hub's own thread and reads the Server-Sent Events as a client does.
On SQLite and PostgreSQL (the `client` fixture is parametrised over both).
"""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from luna_iems.bootstrap import Container
from luna_iems.decisions.models import Alert
from luna_iems.integrations.dispatch.models import DispatchPlan, DispatchSetpoint
from luna_iems.integrations.stream.service import OVERLAP, StreamHub, Subscription
from luna_iems.settings import Settings
from tests.timeseries.factories import ADMIN, create_meter, ingest, series, utc

T0 = utc(2026, 12, 6, 8)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"stream_poll_s": 0.05})


def _container(client: TestClient) -> Container:
    return client.app.state.container  # type: ignore[attr-defined,no-any-return]


def _hub(client: TestClient) -> StreamHub:
    return StreamHub(_container(client).session_factory, poll_s=0.05, autostart=False)


def _drain(loop: asyncio.AbstractEventLoop, subscription: Subscription) -> list[Any]:
    loop.run_until_complete(asyncio.sleep(0))  # run the hub's call_soon_threadsafe callbacks
    events = []
    while not subscription.queue.empty():
        events.append(subscription.queue.get_nowait())
    return events


@pytest.fixture
def loop() -> Any:
    created = asyncio.new_event_loop()
    yield created
    created.close()


def test_each_write_reaches_the_subscribers_that_want_it_once(client: TestClient, loop: Any) -> None:
    create_meter(client, "hall", site="works")
    create_meter(client, "roof", site="works", kind="production")
    create_meter(client, "shed", site="farm")
    hub = _hub(client)
    everything = hub.subscribe(loop)
    roof_only = hub.subscribe(loop, meter_ids=["roof"])
    farm_alerts = hub.subscribe(loop, kinds=["alert"], sites=["farm"])

    ingest(client, series("hall", T0, [1.0, 2.0, 3.0]) + series("roof", T0, [None], production=[4.5]))
    ingest(client, series("shed", T0, [0.5]))
    hub.publish(hub.poll_once())
    got = _drain(loop, everything)
    assert sorted((e.kind, e.meter_id) for e in got) == [
        ("reading", "hall"),
        ("reading", "roof"),
        ("reading", "shed"),
    ]
    hall = next(e for e in got if e.meter_id == "hall")
    assert hall.data["ts"] == "2026-12-06T08:30:00Z" and hall.data["consumption_kw"] == 3.0  # its newest
    assert hall.site == "works" and hall.data["site"] == "works"
    assert [e.data["production_kw"] for e in _drain(loop, roof_only)] == [4.5]

    hub.publish(hub.poll_once())  # nothing new: nothing sent again
    assert _drain(loop, everything) == []

    with _container(client).session_factory() as session:
        session.add(
            Alert(
                fingerprint="test:shed", source="anomaly", kind="spike", severity="warning", meter_id="shed",
                start_at=T0, end_at=T0 + timedelta(minutes=15), message="a spike on shed", evidence={},
            )
        )  # fmt: skip
        session.commit()
    ingest(client, series("hall", T0 + timedelta(hours=1), [7.0]))
    hub.publish(hub.poll_once())
    assert [(e.kind, e.data["consumption_kw"]) for e in _drain(loop, everything) if e.kind == "reading"] == [
        ("reading", 7.0)
    ]
    (alert,) = _drain(loop, farm_alerts)
    assert (alert.kind, alert.data["message"], alert.data["site"]) == ("alert", "a spike on shed", "farm")
    assert _drain(loop, roof_only) == []


def test_a_late_commit_is_seen_and_setpoints_are_sent(client: TestClient, loop: Any) -> None:
    hub = _hub(client)
    subscription = hub.subscribe(loop)
    hub.publish(hub.poll_once())
    now = datetime.now(tz=UTC)
    with _container(client).session_factory() as session:
        plan = DispatchPlan(
            site="works", status="active", source="request", start_at=T0, end_at=T0 + timedelta(hours=1),
            step_minutes=15, request={}, schedule={}, devices=[],
        )  # fmt: skip
        session.add(plan)
        session.flush()
        # written "before" the last poll (a transaction that started earlier and committed later)
        session.add(
            DispatchSetpoint(
                plan_id=plan.plan_id, device="hall-battery", kind="battery", step_at=T0,
                topic="luna/setpoints/hall-battery", payload={"power_kw": -2.5}, retain=True,
                sent_at=now - OVERLAP / 2, latency_ms=3.1, error=None,
            )
        )  # fmt: skip
        session.commit()
    hub.publish(hub.poll_once())
    (event,) = _drain(loop, subscription)
    assert (event.kind, event.site, event.data["payload"], event.data["device"]) == (
        "setpoint", "works", {"power_kw": -2.5}, "hall-battery",
    )  # fmt: skip
    hub.publish(hub.poll_once())
    assert _drain(loop, subscription) == []


def test_a_slow_subscriber_is_told_what_it_missed(client: TestClient, loop: Any) -> None:
    create_meter(client, "hall", site="works")
    hub = _hub(client)
    subscription = hub.subscribe(loop)
    subscription.queue = asyncio.Queue(1)
    create_meter(client, "roof", site="works")
    ingest(client, series("hall", T0, [1.0]) + series("roof", T0, [2.0]))
    hub.publish(hub.poll_once())
    assert len(_drain(loop, subscription)) == 1 and subscription.dropped == 1


def test_the_endpoint_streams_server_sent_events(client: TestClient) -> None:
    """A client that listens, then two meters write: two `reading` events arrive, then the stream
    closes (max_events); the hub stops polling when nobody listens."""
    create_meter(client, "hall", site="works")
    create_meter(client, "roof", site="works")
    hub = _container(client).stream_hub
    frames: list[str] = []

    def listen() -> None:
        with client.stream(
            "GET", "/stream/readings", params={"kind": "reading", "max_events": 2}, headers=ADMIN
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            frames.extend(response.iter_text())

    listener = threading.Thread(target=listen)
    listener.start()
    for _ in range(500):
        if hub.subscribers:
            break
        threading.Event().wait(0.01)
    assert hub.subscribers == 1
    writer = TestClient(client.app)
    ingest(writer, series("hall", T0, [1.5]) + series("roof", T0, [2.5]))
    listener.join(timeout=30)
    assert not listener.is_alive()
    text = "".join(frames)
    events = [block for block in text.split("\n\n") if block.startswith("event: ")]
    parsed = {}
    for block in events:
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        assert lines["event"] == "reading" and lines["id"].startswith("reading:")
        data = json.loads(lines["data"])
        parsed[data["meter_id"]] = data["consumption_kw"]
    assert parsed == {"hall": 1.5, "roof": 2.5}
    assert hub.subscribers == 0


def test_filters_are_checked(client: TestClient) -> None:
    response = client.get("/stream/readings", params={"kind": "weather"}, headers=ADMIN)
    assert response.status_code == 422 and "kind" in response.text
    assert client.get("/stream/readings").status_code == 401
    too_long = client.get("/stream/readings", params={"meter_id": "x" * 101}, headers=ADMIN)
    assert too_long.status_code == 422
