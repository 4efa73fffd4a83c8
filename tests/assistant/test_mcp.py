"""`POST /mcp`: Luna's tools over MCP Streamable HTTP, with the API key's role.

The protocol tests run against the real app on both databases with stored simulated data (site
'sim'); the oracle test drives a real uvicorn server on a loopback port with the official `mcp` SDK
client (`mcp.client.streamable_http` + `ClientSession`), the way Claude Desktop or any other MCP
client connects.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import McpError

from luna_iems.admin.schemas import Role
from luna_iems.bootstrap import Container
from luna_iems.main import create_app
from luna_iems.simulation import service as sim_service
from tests.conftest import ADMIN_TOKEN, auth, make_settings

WEEK = {"site": "sim", "from_date": "2026-11-02", "to_date": "2026-11-08"}


def _seed(container: Container) -> None:
    """Two simulated weeks of one meter (site 'sim') and their day-ahead prices."""
    deps = container.timeseries_deps
    config = sim_service.load_config(deps)
    meters = sim_service.select_meters(config, meter_ids=None, count=1)
    start, end = datetime(2026, 10, 25, 23, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC)
    sim_service.backfill_meters(deps=deps, ts_from=start, ts_to=end, meters=meters)
    sim_service.backfill_prices(deps=deps, ts_from=start, ts_to=end)


@pytest.fixture
def site(client: TestClient) -> TestClient:
    _seed(client.app.state.container)  # type: ignore[attr-defined]
    return client


def rpc(
    client: TestClient,
    token: str,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    version: str | None = None,
) -> Any:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 7, "method": method}
    if params is not None:
        body["params"] = params
    headers = auth(token) | ({"MCP-Protocol-Version": version} if version else {})
    return client.post("/mcp", json=body, headers=headers)


def result(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] == 7 and "error" not in body, body
    reply: dict[str, Any] = body["result"]
    return reply


def error(response: Any) -> dict[str, Any]:
    """A JSON-RPC error answered inside the protocol (HTTP 200)."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["jsonrpc"] == "2.0" and "result" not in body, body
    err: dict[str, Any] = body["error"]
    return err


# --- the protocol on both databases, against stored data ------------------------------------------
def test_viewer_lists_read_only_tools_and_reads_the_kpis_route_numbers(
    site: TestClient, make_key: Callable[[TestClient, Role], str]
) -> None:
    viewer = make_key(site, Role.VIEWER)
    init = result(rpc(site, viewer, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}}))
    assert init["protocolVersion"] == "2025-06-18" and init["capabilities"] == {
        "tools": {"listChanged": False}
    }
    assert init["serverInfo"]["name"] == "luna-iems"
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    accepted = site.post("/mcp", json=initialized, headers=auth(viewer))
    assert accepted.status_code == 202 and accepted.content == b""

    tools = {t["name"]: t for t in result(rpc(site, viewer, "tools/list"))["tools"]}
    assert "what_if" not in tools and {"site_kpis", "price_hours", "open_alerts"} <= set(tools)
    kpis_tool = tools["site_kpis"]
    assert kpis_tool["annotations"]["readOnlyHint"] is True
    schema = kpis_tool["inputSchema"]
    assert schema["type"] == "object" and schema["required"] == ["from_date", "to_date"]
    assert schema["properties"]["from_date"]["format"] == "date" and schema["additionalProperties"] is False

    call = rpc(
        site,
        viewer,
        "tools/call",
        {"name": "site_kpis", "arguments": WEEK},
        version="2025-06-18",
    )
    out = result(call)
    kpis = site.get(
        "/kpis",
        params={"site": "sim", "from": "2026-11-01T23:00:00Z", "to": "2026-11-08T23:00:00Z"},
        headers=auth(viewer),
    ).json()
    data = out["structuredContent"]["data"]
    assert out["isError"] is False
    assert data["import_kwh"] == round(kpis["import_kwh"], 1) and data["period"] == "2026-11-02…2026-11-08"
    assert data["autarky_pct"] == round(kpis["autarky_rate"] * 100, 1)
    assert out["structuredContent"]["citation"] == {
        "source": "KPIs site sim, 2026-11-02…2026-11-08",
        "link": "http://testserver/smart-meters?site=sim&from=2026-11-02&to=2026-11-09&tz=Europe%2FBerlin",
    }
    plan = result(
        rpc(site, viewer, "tools/call", {"name": "optimiser_plan", "arguments": {"day": "2026-11-05"}})
    )
    assert plan["isError"] is False, plan["content"]
    assert plan["structuredContent"]["citation"] == {
        "source": "Optimiser plan site sim, 2026-11-05",
        "link": "http://testserver/?site=sim&day=2026-11-05&tz=Europe%2FBerlin",
    }
    sentence, as_json = (c["text"] for c in out["content"])
    assert "kWh" in sentence and "Source: KPIs site sim, 2026-11-02…2026-11-08" in sentence
    assert json.loads(as_json) == out["structuredContent"]


def test_viewer_is_refused_the_analyst_tool_and_an_analyst_runs_it(
    site: TestClient, make_key: Callable[[TestClient, Role], str]
) -> None:
    arguments = {**WEEK, "battery_capacity_kwh": 10, "battery_power_kw": 5}
    params = {"name": "what_if", "arguments": arguments}
    refused = error(rpc(site, make_key(site, Role.VIEWER), "tools/call", params))
    assert refused["code"] == -32003
    assert refused["message"] == "tool 'what_if' needs the role 'analyst'; this key has 'viewer'"
    assert refused["data"] == {"tool": "what_if", "needed": "analyst", "have": "viewer"}

    analyst = make_key(site, Role.ANALYST)
    assert "what_if" in {t["name"] for t in result(rpc(site, analyst, "tools/list"))["tools"]}
    out = result(rpc(site, analyst, "tools/call", params))
    assert out["isError"] is False and out["structuredContent"]["data"]["deltas"]["cost_eur"] <= 0
    assert out["structuredContent"]["citation"]["link"].startswith("http://testserver/playbook?scenario=")


# --- protocol errors (the database plays no part: SQLite only) --------------------------------------
def refused(response: Any) -> dict[str, Any]:
    """HTTP 400 for a body the server cannot accept: the API's error shape, the JSON-RPC code inside."""
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == "invalid_jsonrpc"
    return body


def test_json_rpc_errors_use_the_standard_codes(sqlite_client: TestClient) -> None:
    client, token = sqlite_client, ADMIN_TOKEN
    headers = auth(token) | {"content-type": "application/json"}
    parse = refused(client.post("/mcp", content=b"{not json", headers=headers))
    assert parse["details"]["jsonrpc_code"] == -32700 and parse["message"].startswith("parse error")
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "ping"}]
    assert refused(client.post("/mcp", json=batch, headers=auth(token)))["details"]["jsonrpc_code"] == -32600
    envelope = refused(client.post("/mcp", json={"jsonrpc": "1.0", "id": True}, headers=auth(token)))
    assert envelope["details"] == {
        "jsonrpc_code": -32600,
        "errors": [
            'jsonrpc: must be "2.0"',
            "id: must be a string of at most 200 characters or an integer within ±2^53",
            "method: required",
        ],
    }
    long_method = {"jsonrpc": "2.0", "id": 1, "method": "x" * 101}
    assert (
        "method: must be a string"
        in refused(client.post("/mcp", json=long_method, headers=auth(token)))["message"]
    )
    unknown = error(rpc(client, token, "resources/list"))
    assert unknown["code"] == -32601 and "tools/call" in unknown["message"]
    no_tool = error(rpc(client, token, "tools/call", {"name": "drop_tables"}))
    assert no_tool["code"] == -32602 and no_tool["message"].startswith("unknown tool 'drop_tables'")
    bad_args = error(rpc(client, token, "tools/call", {"name": "site_kpis", "arguments": {"to_date": "x"}}))
    assert bad_args["code"] == -32602
    assert {e["field"] for e in bad_args["data"]["errors"]} == {"arguments.from_date", "arguments.to_date"}
    version = refused(rpc(client, token, "ping", version="1999-01-01"))
    assert version["details"] == {"jsonrpc_code": -32600, "supported": ["2025-06-18", "2025-03-26"]}
    assert result(rpc(client, token, "ping", version="2025-03-26")) == {}
    float_id = client.post("/mcp", json={"jsonrpc": "2.0", "id": 3.0, "method": "ping"}, headers=auth(token))
    assert float_id.json() == {"jsonrpc": "2.0", "id": 3.0, "result": {}}  # 3.0 is the integer 3 in JSON


def test_versions_methods_keys_and_failed_tools(
    sqlite_client: TestClient, make_key: Callable[[TestClient, Role], str]
) -> None:
    client = sqlite_client
    viewer = make_key(client, Role.VIEWER)
    for asked, answered in (("2025-03-26", "2025-03-26"), ("2025-11-25", "2025-06-18")):
        init = result(rpc(client, viewer, "initialize", {"protocolVersion": asked}))
        assert init["protocolVersion"] == answered
    assert client.get("/mcp", headers=auth(viewer)).status_code == 405  # no SSE stream
    missing = client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthenticated"
    bearer = {"Authorization": f"Bearer {viewer}"}
    assert client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=bearer).json() == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {},
    }
    text = client.post("/mcp", content=b"ping", headers=auth(viewer) | {"content-type": "text/plain"})
    assert text.status_code == 415
    rules = result(rpc(client, viewer, "tools/call", {"name": "list_rules"}))["structuredContent"]
    assert rules["citation"] == {"source": "Rules", "link": "http://testserver/playbook"}
    # A tool that runs but finds nothing answers a result with isError, readable by the model.
    empty = {"name": "price_hours", "arguments": {"from_date": "2026-11-02", "to_date": "2026-11-02"}}
    failed = result(rpc(client, viewer, "tools/call", empty))
    assert failed["isError"] is True and "no DE-LU day_ahead prices stored" in failed["content"][0]["text"]


# --- the official MCP client against a real server ------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Any, fresh_database_url: Callable[[str], str]) -> Iterator[tuple[str, dict[Role, str]]]:
    """The app under a real uvicorn on a loopback port (in a thread), with stored data and one key per
    role; yields the MCP URL and the keys."""
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"))
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        container: Container = app.state.container
        _seed(container)
        base = f"http://127.0.0.1:{server.config.port}"
        keys = {}
        for role in (Role.VIEWER, Role.ANALYST):
            created = httpx.post(
                f"{base}/admin/keys", json={"name": f"mcp-{role}", "role": role}, headers=auth(ADMIN_TOKEN)
            )
            assert created.status_code == 201, created.text
            keys[role] = created.json()["token"]
        yield f"{base}/mcp", keys
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_the_official_mcp_client_lists_and_calls_tools_with_a_viewer_key(
    served: tuple[str, dict[Role, str]],
) -> None:
    url, keys = served

    async def session_as(role: Role) -> tuple[Any, ...]:
        headers = {"Authorization": f"Bearer {keys[role]}"}
        async with (
            httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(60)) as http,
            streamable_http_client(url, http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            init = await session.initialize()
            listed = await session.list_tools()
            called = await session.call_tool("site_kpis", WEEK)
            try:
                await session.call_tool("what_if", {**WEEK, "pv_scale": 2})
            except McpError as exc:
                refused: Any = exc.error
            else:
                refused = None
            return init, listed, called, refused

    init, listed, called, refused = anyio.run(session_as, Role.VIEWER)
    assert init.protocolVersion == "2025-06-18" and init.serverInfo.name == "luna-iems"
    names = {t.name for t in listed.tools}
    assert "site_kpis" in names and "what_if" not in names
    assert called.isError is False and called.structuredContent is not None
    assert called.structuredContent["citation"]["source"] == "KPIs site sim, 2026-11-02…2026-11-08"
    assert called.structuredContent["data"]["import_kwh"] > 0 and "kWh" in str(called.content[0])
    assert refused is not None and refused.code == -32003 and "needs the role 'analyst'" in refused.message

    _, listed, _, allowed = anyio.run(session_as, Role.ANALYST)
    assert "what_if" in {t.name for t in listed.tools} and allowed is None
