"""One JSON error shape everywhere: malformed JSON, validation, unknown routes, large bodies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from luna_iems.main import create_app
from tests.conftest import ADMIN_TOKEN, auth, make_settings


def _shape(body: dict) -> dict:  # type: ignore[type-arg]
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]  # type: ignore[no-any-return]


def test_malformed_json_names_the_problem(sqlite_client: TestClient) -> None:
    response = sqlite_client.post(
        "/admin/keys",
        content=b'{"name": "x",',
        headers=auth(ADMIN_TOKEN) | {"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    error = _shape(response.json())
    assert error["code"] == "invalid_input" and error["details"][0]["type"] == "json_invalid"


def test_validation_error_names_each_field(sqlite_client: TestClient) -> None:
    response = sqlite_client.post("/admin/keys", json={"name": "", "role": "root"}, headers=auth(ADMIN_TOKEN))
    assert response.status_code == 422
    error = _shape(response.json())
    fields = {d["field"] for d in error["details"]}
    assert fields == {"body.name", "body.role"}
    assert error["message"].startswith("body.name")


def test_unknown_route_and_method(sqlite_client: TestClient) -> None:
    missing = sqlite_client.get("/no/such/route")
    assert missing.status_code == 404
    assert "GET /no/such/route" in _shape(missing.json())["message"]
    wrong_method = sqlite_client.patch("/health/live")
    assert wrong_method.status_code == 405
    assert _shape(wrong_method.json())["code"] == "method_not_allowed"


def test_body_too_large_is_413_by_header_and_by_stream(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"), luna_max_upload_mb=0.01)
    with TestClient(create_app(settings)) as client:
        big = b'{"name": "' + b"a" * 20_000 + b'"}'
        by_header = client.post(
            "/admin/keys", content=big, headers=auth(ADMIN_TOKEN) | {"Content-Type": "application/json"}
        )
        assert by_header.status_code == 413
        error = _shape(by_header.json())
        assert "LUNA_MAX_UPLOAD_MB" in error["message"]

        def chunks():  # type: ignore[no-untyped-def]
            for _ in range(30):
                yield b"a" * 1000

        streamed = client.post("/admin/keys", content=chunks(), headers=auth(ADMIN_TOKEN))
        assert streamed.status_code == 413
        assert _shape(streamed.json())["code"] == "payload_too_large"
        small = client.post("/admin/keys", json={"name": "fits", "role": "viewer"}, headers=auth(ADMIN_TOKEN))
        assert small.status_code == 201
