"""Every route of the OpenAPI document needs a key, except the public health and metrics routes;
viewers read but never write; analysts never manage keys."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from luna_iems.admin.schemas import Role
from tests.conftest import ADMIN_TOKEN, auth

PUBLIC = {("GET", "/health/live"), ("GET", "/health/ready"), ("GET", "/health"), ("GET", "/metrics")}
# Writes a viewer may make because they only compute and store nothing (asking Luna, forecasting,
# planning a schedule, a dry run of rules).
VIEWER_MAY_POST: set[str] = {
    "/rag/ask",
    "/forecast",
    "/forecast/backtest",
    "/optimize/schedule",
    "/rules/evaluate",
    "/recommend",  # stores only the recommendation shown, for its reward (learning loop)
    "/mcp",  # MCP: a viewer lists and calls the read-only tools; the role gates each tool (JSON-RPC error)
}
# Writes any key may make about itself: anonymous telemetry, its own feedback, its own memory and
# conversations (issue 13).
VIEWER_OWN_WRITES = {
    ("POST", "/ingest/telemetry"),
    ("POST", "/feedback"),
    ("PUT", "/memory"),
    ("DELETE", "/memory"),
    ("DELETE", "/conversations/{conversation_id}"),
}
# Destructive operations reserved to admins outside /admin.
ADMIN_ONLY = {
    ("DELETE", "/meters/{meter_id}"),
    ("DELETE", "/tariffs/{site}/versions/{valid_from}"),
    ("POST", "/integrations/prices/fetch"),
}
# Keys, audit, backups; where alerts are sent; the DP export of aggregates and priors (/learn).
ADMIN_PREFIXES = ("/admin", "/integrations/webhooks", "/learn")
# Reads a viewer may not make: field-device addresses and their errors.
ANALYST_READS = {("GET", "/devices")}
# Open event streams end only when the client leaves (or after ?max_events): checked with a client
# that reads a few events in tests/integrations/stream, not by this loop.
STREAMS = {("GET", "/stream/readings")}
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _concrete(path: str, parameters: list[dict[str, Any]]) -> str:
    for parameter in parameters:
        if parameter.get("in") != "path":
            continue
        schema = parameter.get("schema", {})
        value = (
            str(uuid.uuid4())
            if schema.get("format") == "uuid"
            else ("1" if schema.get("type") == "integer" else "x")
        )
        path = path.replace("{" + parameter["name"] + "}", value)
    return path


def templated_operations(client: TestClient) -> Iterator[tuple[str, str, str]]:
    """(method, path template, concrete path) for every operation of the OpenAPI document."""
    spec = client.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, _concrete(path, operation.get("parameters", []))


def operations(client: TestClient) -> Iterator[tuple[str, str]]:
    for method, _, path in templated_operations(client):
        yield method, path


def test_the_document_lists_the_routes(sqlite_client: TestClient) -> None:
    ops = set(operations(sqlite_client))
    assert ("GET", "/status/summary") in ops and ("POST", "/admin/keys") in ops
    assert len(ops) >= 10


def test_only_public_routes_answer_without_a_key(sqlite_client: TestClient) -> None:
    for method, path in operations(sqlite_client):
        response = sqlite_client.request(method, path)
        if (method, path) in PUBLIC:
            assert response.status_code in {200, 503}, (method, path, response.text)
        else:
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.json()["error"]["code"] == "unauthenticated"
            assert response.headers["www-authenticate"] == "Bearer"
    for path in DOCS:
        assert sqlite_client.get(path).status_code == 200


def test_a_wrong_key_is_401_on_every_protected_route(sqlite_client: TestClient) -> None:
    for method, path in operations(sqlite_client):
        if (method, path) in PUBLIC:
            continue
        response = sqlite_client.request(method, path, headers=auth("luna_wrong_" + "x" * 40))
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["message"] == "invalid API key"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST])
def test_role_limits_on_every_route(
    sqlite_client: TestClient, make_key: Callable[[TestClient, Role], str], role: Role
) -> None:
    token = make_key(sqlite_client, role)
    for method, template, path in templated_operations(sqlite_client):
        if (method, path) in PUBLIC or (method, template) in STREAMS:
            continue
        response = sqlite_client.request(method, path, headers=auth(token))
        admin_only = path.startswith(ADMIN_PREFIXES) or (method, template) in ADMIN_ONLY
        viewer_writes = (
            method != "GET" and path not in VIEWER_MAY_POST and (method, template) not in VIEWER_OWN_WRITES
        )
        viewer_forbidden = viewer_writes or (method, template) in ANALYST_READS
        forbidden = admin_only or (role is Role.VIEWER and viewer_forbidden)
        if forbidden:
            assert response.status_code == 403, (role, method, path, response.status_code)
            assert "needs the role" in response.json()["error"]["message"]
        else:
            assert response.status_code not in {401, 403}, (role, method, path, response.text)


def test_bearer_and_header_both_work(sqlite_client: TestClient) -> None:
    assert sqlite_client.get("/status/summary", headers=auth(ADMIN_TOKEN)).status_code == 200
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert sqlite_client.get("/status/summary", headers=bearer).status_code == 200
    basic = {"Authorization": f"Basic {ADMIN_TOKEN}"}
    assert sqlite_client.get("/status/summary", headers=basic).status_code == 401


def test_revoked_key_is_refused_at_once(
    sqlite_client: TestClient, make_key: Callable[[TestClient, Role], str]
) -> None:
    token = make_key(sqlite_client, Role.ANALYST)
    assert sqlite_client.get("/status/summary", headers=auth(token)).status_code == 200
    keys = sqlite_client.get("/admin/keys", headers=auth(ADMIN_TOKEN)).json()["items"]
    key_id = next(k["key_id"] for k in keys if k["role"] == "analyst")
    assert sqlite_client.delete(f"/admin/keys/{key_id}", headers=auth(ADMIN_TOKEN)).status_code == 200
    response = sqlite_client.get("/status/summary", headers=auth(token))
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
