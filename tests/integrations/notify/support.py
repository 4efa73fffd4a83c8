"""Helpers of the notification tests: a fake clock, an in-test `MessagePublisher`, a webhook receiver
(a real loopback HTTP server) that fails a chosen number of times, and alert factories."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from luna_iems.bootstrap import Container
from luna_iems.db.base import utcnow
from luna_iems.decisions.models import Alert
from luna_iems.integrations.notify import jobs as notify_jobs
from luna_iems.integrations.notify import outbox, signing
from luna_iems.integrations.notify.deps import NotifyDeps
from luna_iems.ports import ComponentHealth
from luna_iems.timeseries.models import Meter
from tests.conftest import ADMIN_TOKEN, auth
from tests.support.loopback import Loopback, Recorded, loopback_server, text_reply


class FakeClock:
    """`utcnow` that moves only when told: backoff is checked without sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance_to(self, instant: datetime | None) -> None:
        assert instant is not None
        self.now = max(self.now, instant)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class FakePublisher:
    """A `MessagePublisher` that records messages; raises ConnectionError `fail_first` times."""

    fail_first: int = 0
    messages: list[tuple[str, bytes, int, bool]] = field(default_factory=list)
    calls: int = 0

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        self.calls += 1
        if self.calls <= self.fail_first:
            raise ConnectionError("broker unreachable (fake)")
        self.messages.append((topic, payload, qos, retain))

    def health(self) -> ComponentHealth:
        return ComponentHealth(name="mqtt_publisher", kind="fake", ok=True)


@dataclass
class Receiver:
    """What a webhook receiver saw: each request, and whether its signature verified."""

    server: Loopback
    secret: str = ""
    statuses: list[int] = field(default_factory=list)  # answers in order; then 200
    verified: list[bool] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{self.server.url}/hook"

    @property
    def requests(self) -> list[Recorded]:
        return list(self.server.requests)


@contextmanager
def receiver(statuses: list[int] | None = None) -> Iterator[Receiver]:
    """A loopback HTTP server at /hook that answers `statuses` in order, then 200, and verifies every
    signature with `Receiver.secret` (set once the webhook exists) as a real receiver would."""
    state: dict[str, Receiver] = {}

    def handle(request: Recorded) -> tuple[int, dict[str, str], bytes]:
        got = state["receiver"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        timestamp = int(headers[signing.SIGNATURE_HEADER.lower()].split(",")[0].removeprefix("t="))
        ok = signing.verify(
            secret=got.secret,
            header=headers[signing.SIGNATURE_HEADER.lower()],
            body=request.body,
            now=timestamp,
        )
        with got.lock:
            got.verified.append(ok)
            status = got.statuses.pop(0) if got.statuses else 200
        return text_reply("ok" if status < 300 else "nope", status)

    with loopback_server({("POST", "/hook"): handle}) as server:
        state["receiver"] = Receiver(server=server, statuses=list(statuses or []))
        yield state["receiver"]


def container_of(client: TestClient) -> Container:
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    return container


def notify_deps(client: TestClient, publisher: FakePublisher | None = None) -> NotifyDeps:
    container = container_of(client)
    return NotifyDeps(
        session_factory=container.session_factory,
        settings=container.settings,
        publisher=lambda: publisher,
        mqtt_enabled=publisher is not None,
    )


def run(deps: NotifyDeps, clock: FakeClock) -> outbox.DeliveryCounts:
    return notify_jobs.run_once(deps, clock=clock)


def create_webhook(client: TestClient, rx: Receiver | None = None, **fields: Any) -> dict[str, Any]:
    body = {"url": rx.url if rx else "http://127.0.0.1:9/hook", **fields}
    response = client.post("/integrations/webhooks", json=body, headers=auth(ADMIN_TOKEN))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    if rx is not None:
        rx.secret = created["secret"]
    return created


def create_rule(
    client: TestClient, name: str, *, channels: list[str] | None = None, site: str = "hall"
) -> str:
    body: dict[str, Any] = {"name": name, "when": "soc_pct < 20", "then": "notify", "site": site}
    if channels is not None:
        body["channels"] = channels
    response = client.post("/rules", json=body, headers=auth(ADMIN_TOKEN))
    assert response.status_code == 201, response.text
    rule_id: str = response.json()["rule_id"]
    return rule_id


def add_anomaly_alert(
    session: Session, *, meter_id: str = "m-hall", site: str = "hall", severity: str = "warning"
) -> Alert:
    """An anomaly alert of a meter of `site`, as detection would store it."""
    if session.get(Meter, meter_id) is None:
        session.add(Meter(meter_id=meter_id, site=site))
    start = utcnow().replace(microsecond=0)
    alert = Alert(
        fingerprint=f"anomaly:{meter_id}:consumption_kw:spike:{uuid.uuid4()}",
        source="anomaly",
        kind="spike",
        severity=severity,
        meter_id=meter_id,
        field="consumption_kw",
        start_at=start,
        end_at=start + timedelta(minutes=15),
        score=7.5,
        message="consumption spike: 42.0 kW (expected about 10.0 kW)",
        evidence={"detector": "decisions.anomalies"},
    )
    session.add(alert)
    session.commit()
    return alert


def add_rule_alert(session: Session, *, rule_id: str, name: str, severity: str = "warning") -> Alert:
    """The alert a rule firing stores (rule_service._step_rule)."""
    ts = utcnow().replace(second=0, microsecond=0)
    alert = Alert(
        fingerprint=f"rule:{rule_id}:{ts.isoformat()}:{uuid.uuid4()}",
        source="rule",
        kind="notify",
        severity=severity,
        rule_id=uuid.UUID(rule_id),
        start_at=ts,
        end_at=ts + timedelta(minutes=15),
        message="battery low: 12 %",
        evidence={"rule": name, "soc_pct": 12.0},
    )
    session.add(alert)
    session.commit()
    return alert
