"""Admin routes over HTTP on both databases: keys shown once, audit trail of every write, privacy."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from luna_iems.admin import service as admin_service
from luna_iems.settings import Settings
from tests.conftest import ADMIN_TOKEN, auth


def test_key_is_shown_once_and_works(client: TestClient) -> None:
    response = client.post(
        "/admin/keys", json={"name": "ops-dashboard", "role": "analyst"}, headers=auth(ADMIN_TOKEN)
    )
    assert response.status_code == 201
    created = response.json()
    token = created["token"]
    listed = client.get("/admin/keys", headers=auth(ADMIN_TOKEN)).json()["items"]
    assert all("token" not in k for k in listed)
    assert token not in client.get("/admin/keys", headers=auth(ADMIN_TOKEN)).text
    assert {k["name"] for k in listed} >= {"ops-dashboard", "admin (LUNA_ADMIN_KEY)"}
    assert client.get("/status/summary", headers=auth(token)).status_code == 200


def test_every_write_leaves_an_audit_row(client: TestClient) -> None:
    headers = auth(ADMIN_TOKEN) | {"X-Request-ID": "trace-123"}
    client.post("/admin/keys", json={"name": "a", "role": "viewer"}, headers=headers)
    client.post("/admin/keys", json={"name": ""}, headers=auth(ADMIN_TOKEN))  # 422, still audited
    client.put("/admin/privacy", json={"flag_send_aggregates": True})  # 401, still audited
    client.get("/status/summary", headers=auth(ADMIN_TOKEN))  # a read: not audited

    page = client.get("/admin/audit", params={"limit": 10}, headers=auth(ADMIN_TOKEN)).json()
    rows = page["items"]
    assert page["total"] == 3
    assert [(r["method"], r["path"], r["status"]) for r in rows] == [
        ("PUT", "/admin/privacy", 401),
        ("POST", "/admin/keys", 422),
        ("POST", "/admin/keys", 201),
    ]
    assert rows[2]["request_id"] == "trace-123"
    assert rows[2]["role"] == "admin" and rows[2]["key_id"] is not None
    assert rows[0]["key_id"] is None and rows[0]["role"] is None
    assert rows[0]["ts"].endswith(("Z", "+00:00"))

    filtered = client.get("/admin/audit", params={"status": 422}, headers=auth(ADMIN_TOKEN)).json()
    assert [r["status"] for r in filtered["items"]] == [422]
    paged = client.get("/admin/audit", params={"limit": 1, "offset": 1}, headers=auth(ADMIN_TOKEN)).json()
    assert paged["total"] == 3 and [r["status"] for r in paged["items"]] == [422]
    bad = client.get("/admin/audit", params={"limit": 0}, headers=auth(ADMIN_TOKEN))
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "query.limit"
    naive = client.get("/admin/audit", params={"ts_from": "2026-01-01T00:00:00"}, headers=auth(ADMIN_TOKEN))
    assert naive.status_code == 422 and "ts_from" in naive.json()["error"]["message"]


def test_privacy_is_off_by_default_and_toggles(client: TestClient) -> None:
    before = client.get("/admin/privacy", headers=auth(ADMIN_TOKEN)).json()
    assert before["flag_send_aggregates"] is False and len(before["instance_fingerprint"]) == 64
    after = client.put(
        "/admin/privacy", json={"flag_send_aggregates": True}, headers=auth(ADMIN_TOKEN)
    ).json()
    assert after["flag_send_aggregates"] is True
    assert after["instance_fingerprint"] == before["instance_fingerprint"]


def test_settings_view_hides_secrets(client: TestClient) -> None:
    body = client.get("/admin/settings", headers=auth(ADMIN_TOKEN)).text
    assert ADMIN_TOKEN not in body
    assert '"api_port":8001' in body.replace(" ", "")


def test_every_credential_in_the_settings_view_is_redacted(tmp_path: Path) -> None:
    """Regression (issue 9, item 9): `mqtt_url` was shown with its password."""
    secrets_in = {
        "mqtt_url": "mqtts://luna:mqtt-pass-1@broker:8883",
        "database_url": "postgresql://luna:db-pass-2@db:5432/luna",
        "qdrant_url": "https://q:qdrant-pass-3@qdrant:6333",
        "qdrant_api_key": "qdrant-key-4",
        "ollama_url": "http://ollama:11434/?token=ollama-token-5",
        "openai_base_url": "https://u:openai-pass-6@vllm:8000/v1",
        "openai_api_key": "openai-key-7",
        "s3_access_key": "s3-access-8",
        "s3_secret_key": "s3-secret-9",
        "tika_url": "http://t:tika-pass-10@tika:9998",
        "postgres_password": "pg-pass-11",
        "luna_admin_key": ADMIN_TOKEN,
    }
    settings = Settings(_env_file=None, environment="test", **secrets_in)  # type: ignore[arg-type]
    view = admin_service.redacted_settings(settings)
    text = json.dumps(view)
    for name, value in secrets_in.items():
        secret = value.rsplit("@", 1)[0].rsplit(":", 1)[-1] if "@" in value else value.rsplit("=", 1)[-1]
        assert secret not in text, f"{name} leaks {secret}"
    assert view["mqtt_url"] == "mqtts://luna:**********@broker:8883"
    assert view["ollama_url"] == "http://ollama:11434/?token=**********"
    assert set(view) == set(Settings.model_fields), "every setting is shown (redacted or not)"


def test_credential_like_settings_are_typed_as_secrets() -> None:
    """A new password/token/key setting must be a SecretStr, so the view (and logs) never show it."""
    credential = ("password", "secret", "api_key", "admin_key", "access_key")
    for name, field in Settings.model_fields.items():
        if any(word in name for word in credential) or name.endswith("_token"):
            assert "SecretStr" in str(field.annotation), f"{name} should be a SecretStr"
