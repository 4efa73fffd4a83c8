"""Health, readiness, metrics, status summary, request ids and JSON logs."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from luna_iems.db import migrate
from luna_iems.main import create_app
from tests.conftest import ADMIN_TOKEN, auth, make_settings
from tests.support.loopback import json_reply, loopback_server, text_reply


def test_live_ready_and_combined(client: TestClient) -> None:
    live = client.get("/health/live")
    assert live.status_code == 200 and live.json()["status"] == "ok"
    ready = client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready" and body["failing"] == []
    assert {c["name"] for c in body["components"]} == {
        "database",
        "vector_store",
        "embedder",
        "object_store",
        "extractor",
    }
    combined = client.get("/health")
    assert combined.status_code == 200 and combined.json()["ready"]["status"] == "ready"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ready_is_503_naming_a_configured_backend_that_is_down(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    settings = make_settings(
        tmp_path, database_url=fresh_database_url("sqlite"), tika_url=f"http://127.0.0.1:{_closed_port()}"
    )
    with TestClient(create_app(settings)) as client:
        ready = client.get("/health/ready", headers=auth(ADMIN_TOKEN))
        assert ready.status_code == 503
        assert ready.json()["failing"] == ["extractor"]
        tika = next(c for c in ready.json()["components"] if c["name"] == "extractor")
        assert tika["kind"] == "tika"
        assert "unreachable" in tika["detail"]
        assert client.get("/health").status_code == 503
        assert client.get("/health/live").status_code == 200


def test_ready_checks_tika_and_ollama_over_their_http_apis(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    """Tika and Ollama cannot run here: a loopback server answers their documented routes
    (`GET /version` for Tika; `GET /api/tags` and `POST /api/embed` for Ollama)."""
    routes = {
        ("GET", "/version"): lambda _: text_reply("Apache Tika 3.2.3"),
        ("GET", "/api/tags"): lambda _: json_reply(
            {"models": [{"name": "nomic-embed-text:latest"}, {"name": "llama3.1:8b"}]}
        ),
        ("POST", "/api/embed"): lambda r: json_reply(
            {"model": r.json()["model"], "embeddings": [[0.1] * 768 for _ in r.json()["input"]]}
        ),
    }
    with loopback_server(routes) as server:
        settings = make_settings(
            tmp_path,
            database_url=fresh_database_url("sqlite"),
            tika_url=server.url,
            ollama_url=server.url,
        )
        with TestClient(create_app(settings)) as client:
            ready = client.get("/health/ready", headers=auth(ADMIN_TOKEN))
            assert ready.status_code == 200, ready.text
            kinds = {c["name"]: c["kind"] for c in ready.json()["components"]}
            assert kinds == {
                "database": "sqlite",
                "vector_store": "numpy-sqlite",
                "embedder": "ollama",
                "object_store": "local-directory",
                "extractor": "tika",
                "generator": "ollama",
            }
            vectors = next(c for c in ready.json()["components"] if c["name"] == "vector_store")
            assert vectors["info"]["dimension"] == 768
            assert vectors["info"]["collection"] == "luna_chunks__nomic_embed_text__768"
        assert {(r.method, r.path) for r in server.requests} >= {("GET", "/version"), ("GET", "/api/tags")}
        embed = next(r for r in server.requests if r.path == "/api/embed")
        assert embed.json()["model"] == "nomic-embed-text"


def test_ready_reports_an_unreachable_embedder_instead_of_raising(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    settings = make_settings(
        tmp_path, database_url=fresh_database_url("sqlite"), ollama_url=f"http://127.0.0.1:{_closed_port()}"
    )
    with TestClient(create_app(settings)) as client:
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        # The chat model is optional (Luna answers extractively without it): reported, not failing.
        assert ready.json()["failing"] == ["vector_store", "embedder"]
        generator = next(c for c in ready.json()["components"] if c["name"] == "generator")
        assert generator["ok"] is False and generator["required"] is False
    # Chosen by name, the chat backend is required: ready means Luna's configured model answers.
    explicit = make_settings(
        tmp_path / "explicit",
        database_url=fresh_database_url("sqlite"),
        ollama_url=f"http://127.0.0.1:{_closed_port()}",
        generator_backend="ollama",
    )
    with TestClient(create_app(explicit)) as client:
        assert client.get("/health/ready").json()["failing"] == ["vector_store", "embedder", "generator"]


def test_database_down_makes_ready_fail(tmp_path: Path) -> None:
    port = _closed_port()
    settings = make_settings(
        tmp_path, database_url=f"postgresql://luna:x@127.0.0.1:{port}/luna", apply_migrations=False
    )
    app = create_app(settings)
    # Start-up needs the database (admin key); the readiness logic alone must still report it.
    from luna_iems.bootstrap import build_container
    from luna_iems.ops import service as ops_service

    container = build_container(settings)
    try:
        result = ops_service.readiness(container.ops_deps)
    finally:
        container.close()
    assert result.status == "not_ready" and result.failing == ["database"]
    assert app.title == "Luna-IEMS"


def test_public_readiness_shows_no_users_hosts_or_paths(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    """Regression (issue 9, item 8): the public /health/ready showed the database user, host and paths."""
    settings = make_settings(
        tmp_path, database_url=fresh_database_url("sqlite"), tika_url=f"http://127.0.0.1:{_closed_port()}"
    )
    with TestClient(create_app(settings)) as client:
        for path in ("/health/ready", "/health"):
            public = client.get(path)
            assert public.status_code == 503
            text = public.text
            assert str(tmp_path) not in text and "127.0.0.1" not in text, text
            ready = public.json() if path == "/health/ready" else public.json()["ready"]
            assert ready["failing"] == ["extractor"]
            assert {c["detail"] for c in ready["components"]} == {"ok", "not answering"}
            assert all(c["info"] == {} for c in ready["components"])
            for headers in ({"X-API-Key": "not-a-key"}, {"Authorization": "Bearer nope"}):
                wrong = client.get(path, headers=headers).json()  # a wrong key sees the public view
                assert (wrong if path == "/health/ready" else wrong["ready"]) == ready
        detailed = client.get("/health/ready", headers=auth(ADMIN_TOKEN)).json()
        database = next(c for c in detailed["components"] if c["name"] == "database")
        assert str(tmp_path) in json.dumps(database), "a key holder sees where the database is"


def test_database_outage_is_503_backend_unavailable(
    tmp_path: Path, fresh_database_url: Callable[[str], str], db_kind: str, request: pytest.FixtureRequest
) -> None:
    """Regression (issue 9, item 8): with the database gone, data routes answered 500."""
    settings = make_settings(tmp_path, database_url=fresh_database_url(db_kind))
    with TestClient(create_app(settings)) as client:
        assert client.get("/meters", headers=auth(ADMIN_TOKEN)).status_code == 200
        container = client.app.state.container  # type: ignore[attr-defined]
        database = container.engine.url.database
        outage, restore = _outage(request, db_kind, database, container)
        outage()
        try:
            for method, path in (("GET", "/meters"), ("POST", "/meters"), ("GET", "/status/summary")):
                response = client.request(method, path, headers=auth(ADMIN_TOKEN), json={"meter_id": "m"})
                assert response.status_code == 503, (path, response.text)
                error = response.json()["error"]
                assert error["code"] == "backend_unavailable" and error["details"] == {
                    "component": "database"
                }
                assert response.headers["retry-after"] == "5"
                assert response.headers["x-request-id"]
            ready = client.get("/health/ready")
            assert ready.status_code == 503 and "database" in ready.json()["failing"]
        finally:
            restore()
        assert client.get("/meters", headers=auth(ADMIN_TOKEN)).status_code == 200, "back once it returns"


def _outage(
    request: pytest.FixtureRequest, db_kind: str, database: str, container: Any
) -> tuple[Callable[[], None], Callable[[], None]]:
    """Take the database away and give it back: PostgreSQL refuses connections to it; the SQLite
    file is replaced by a directory (which cannot be opened)."""
    if db_kind == "postgresql":
        server = request.getfixturevalue("pg_server")

        def pg_down() -> None:
            server.refuse_connections(database)
            container.engine.dispose()

        return pg_down, lambda: server.refuse_connections(database, refuse=False)
    path = Path(database)
    aside = path.with_suffix(".aside")

    def sqlite_down() -> None:
        container.engine.dispose()
        path.rename(aside)
        path.mkdir()

    def sqlite_up() -> None:
        container.engine.dispose()
        path.rmdir()
        aside.rename(path)

    return sqlite_down, sqlite_up


def test_metrics_count_requests_by_route_and_status(client: TestClient) -> None:
    client.get("/health/live")
    client.get("/status/summary")  # 401
    client.get("/status/summary", headers=auth(ADMIN_TOKEN))
    text = client.get("/metrics").text
    assert 'luna_http_requests_total{method="GET",route="/health/live",status="200"} 1.0' in text
    assert 'luna_http_requests_total{method="GET",route="/status/summary",status="401"} 1.0' in text
    assert 'luna_http_requests_total{method="GET",route="/status/summary",status="200"} 1.0' in text
    assert 'luna_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/health/live"}' in text
    assert "luna_build_info{" in text and 'version="0.1.0"' in text


def test_status_summary(client: TestClient, db_kind: str) -> None:
    summary = client.get("/status/summary", headers=auth(ADMIN_TOKEN)).json()
    db = summary["database"]
    assert db["kind"] == db_kind
    assert db["schema_revision"] == db["schema_head"] == migrate.head_revision()
    # No TimescaleDB on the test machine: the summary must say so rather than pretend.
    assert db["hypertables"] == [] and db["time_series_storage"] == "plain tables"
    assert db["row_counts"]["api_keys"] == 1 and db["row_counts"]["privacy_config"] == 1
    assert set(db["row_counts"]) >= {"smart_meter_readings", "market_prices", "events", "items", "audit_log"}
    assert {b["name"]: b["ok"] for b in summary["backends"]} == {
        "database": True,
        "vector_store": True,
        "embedder": True,
        "object_store": True,
        "extractor": True,
    }
    # The scheduler is off in tests: no jobs, and nothing decided yet.
    assert summary["decisions"] == {
        "rules": 0,
        "rules_enabled": 0,
        "open_alerts": {"info": 0, "warning": 0, "critical": 0},
        "jobs": [],
    }


def test_status_summary_lists_rules_alerts_and_job_runs(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    settings = make_settings(
        tmp_path, database_url=fresh_database_url("sqlite"), enable_scheduler=True, seed_demo_data=True
    )
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 30
        while True:  # the decisions jobs run once right after the demo seed
            decisions = client.get("/status/summary", headers=auth(ADMIN_TOKEN)).json()["decisions"]
            runs = {j["job_id"]: j["last_run_at"] for j in decisions["jobs"]}
            if runs.get("decisions.rules") and runs.get("decisions.anomalies"):
                break
            assert time.monotonic() < deadline, decisions
            time.sleep(0.2)
        metrics = client.get("/metrics").text
    assert 'luna_job_duration_seconds_count{job="decisions.anomalies"} 1.0' in metrics
    assert not [line for line in metrics.splitlines() if line.startswith("luna_job_failures_total{")]
    assert decisions["rules"] == decisions["rules_enabled"] == 5  # the seeded example rules
    assert set(decisions["open_alerts"]) == {"info", "warning", "critical"}
    assert "timeseries.rollups" in runs


def test_request_id_is_echoed_or_generated(sqlite_client: TestClient) -> None:
    given = sqlite_client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = sqlite_client.get("/health/live")
    assert len(generated.headers["x-request-id"]) == 32
    hostile = sqlite_client.get("/health/live", headers={"X-Request-ID": "bad id\twith spaces"})
    assert hostile.headers["x-request-id"] != "bad id\twith spaces"


def test_access_log_is_json_with_request_fields_and_no_secrets(
    sqlite_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    from luna_iems.ops.logs import configure_logging

    configure_logging(level="INFO", json_lines=True)
    capsys.readouterr()
    sqlite_client.get("/status/summary", headers=auth(ADMIN_TOKEN) | {"X-Request-ID": "log-test-1"})
    sqlite_client.post("/admin/keys", json={"name": "x", "role": "viewer"}, headers=auth(ADMIN_TOKEN))
    out = capsys.readouterr().out
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    access = [r for r in records if r.get("logger") == "luna_iems.access"]
    first = next(r for r in access if r.get("request_id") == "log-test-1")
    assert first["method"] == "GET" and first["path"] == "/status/summary" and first["status"] == 200
    assert isinstance(first["duration_ms"], float) and first["key_id"]
    assert ADMIN_TOKEN not in out
    created_tokens = [r for r in records if "luna_" in json.dumps(r) and "token" in json.dumps(r)]
    assert created_tokens == []


def test_a_500_carries_its_request_id_in_header_body_and_traceback_line(
    tmp_path: Path, fresh_database_url: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression (issue 9, item 7): 500 responses had no X-Request-ID, the traceback no request id."""
    from luna_iems.ops.logs import configure_logging

    app = create_app(make_settings(tmp_path, database_url=fresh_database_url("sqlite")))

    def broken() -> None:
        raise RuntimeError("a bug deep in a service")

    app.add_api_route("/test-broken", broken)
    configure_logging(level="INFO", json_lines=True)
    with TestClient(app) as client:
        capsys.readouterr()
        given = client.get("/test-broken", headers={"X-Request-ID": "trace-me-42"})
        generated = client.get("/test-broken")
    out = capsys.readouterr().out
    assert given.status_code == 500 and given.headers["x-request-id"] == "trace-me-42"
    error = given.json()["error"]
    assert error["code"] == "internal_error" and error["details"] == {"request_id": "trace-me-42"}
    assert "trace-me-42" in error["message"] and "a bug deep" not in given.text, "no internals leak"
    assert generated.status_code == 500
    assert generated.json()["error"]["details"]["request_id"] == generated.headers["x-request-id"]
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    failure = next(
        r for r in records if r["msg"] == "unhandled error" and r.get("request_id") == "trace-me-42"
    )
    assert "RuntimeError: a bug deep in a service" in failure["exc"] and failure["path"] == "/test-broken"
    access = next(r for r in records if r["msg"] == "request" and r.get("request_id") == "trace-me-42")
    assert access["status"] == 500


def test_anonymous_refused_writes_are_audited_with_a_bound(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    """Regression (issue 9, item 8): every refused anonymous write added an audit row, without bound."""
    from luna_iems.ops.middleware import AnonymousAuditLimiter

    settings = make_settings(
        tmp_path, database_url=fresh_database_url("sqlite"), audit_anonymous_per_minute=5
    )
    with TestClient(create_app(settings)) as client:
        for _ in range(40):
            assert client.post("/meters", json={"meter_id": "x"}).status_code == 401
        client.post("/admin/keys", json={"name": "k", "role": "viewer"}, headers=auth(ADMIN_TOKEN))
        rows = client.get("/admin/audit", params={"limit": 500}, headers=auth(ADMIN_TOKEN)).json()["items"]
        metrics = client.get("/metrics").text
    anonymous = [r for r in rows if r["key_id"] is None]
    # 40 in one go may straddle a minute boundary: then one summary row and up to 5 more rows.
    assert 5 <= len(anonymous) <= 11, len(anonymous)
    assert any(r["key_id"] is not None and r["path"] == "/admin/keys" for r in rows), "keyed writes stay"
    (line,) = [m for m in metrics.splitlines() if m.startswith("luna_audit_anonymous_suppressed_total ")]
    suppressed = float(line.split()[1])
    assert 40 - 11 <= suppressed <= 35

    clock = iter([0.0, 10, 20, 30, 61, 62])
    limiter = AnonymousAuditLimiter(2, clock=lambda: next(clock))
    assert [limiter.admit() for _ in range(6)] == [
        (True, 0),
        (True, 0),
        (False, 0),
        (False, 0),
        (True, 2),
        (True, 0),
    ]


def test_many_concurrent_authenticated_reads_do_not_exhaust_the_pool(
    tmp_path: Path, fresh_database_url: Callable[[str], str], db_kind: str
) -> None:
    """Regression: each request held its session's connection while the status summary opened
    more, so ~15-20 concurrent callers deadlocked the pool (found by the API load benchmark)."""
    import asyncio

    import httpx

    settings = make_settings(
        tmp_path, database_url=fresh_database_url(db_kind), db_pool_size=2, db_pool_timeout_s=3
    )
    app = create_app(settings)

    async def hammer() -> list[int]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://luna") as http:
                calls = [http.get("/status/summary", headers=auth(ADMIN_TOKEN)) for _ in range(24)]
                return [r.status_code for r in await asyncio.gather(*calls)]

    assert asyncio.run(hammer()) == [200] * 24
