"""The HTTP edge of dispatch: who may activate, what a server without dispatch answers, GET /dispatch."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from luna_iems.decisions.history import floor_to_step
from tests.conftest import ADMIN_TOKEN, auth
from tests.integrations.dispatch.conftest import explicit_request


def test_activation_needs_dispatch_on_and_an_analyst(client: TestClient) -> None:
    body = explicit_request(floor_to_step(datetime.now(UTC), 15), activate=True)
    off = client.post("/optimize/schedule", json=body, headers=auth(ADMIN_TOKEN))
    assert off.status_code == 409
    assert "DISPATCH_ENABLED" in off.json()["error"]["message"]

    created = client.post("/admin/keys", json={"name": "v", "role": "viewer"}, headers=auth(ADMIN_TOKEN))
    viewer = auth(created.json()["token"])
    refused = client.post("/optimize/schedule", json=body, headers=viewer)
    assert refused.status_code == 403 and "analyst" in refused.json()["error"]["message"]
    # Without `activate` a viewer still gets the plan, and nothing is stored.
    plain = client.post("/optimize/schedule", json={**body, "activate": False}, headers=viewer)
    assert plain.status_code == 200 and plain.json()["plan_id"] is None

    view = client.get("/dispatch", headers=viewer).json()
    assert view == {
        "enabled": False, "publisher_connected": None, "plan": None, "current_step": None, "setpoints": [],
        "deviations": [], "reading_deviations": [], "latency": {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None},
    }  # fmt: skip
    assert client.get("/dispatch").status_code == 401
