"""The backup routes over HTTP: admin role only; create, list, read, verify; restore refused on a
running instance with the command to run instead."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from luna_iems.admin.schemas import Role
from tests.admin.backup_support import seed_energy, seed_vectors_and_files
from tests.conftest import ADMIN_TOKEN, auth
from tests.knowledge.api_support import container_of

ADMIN = auth(ADMIN_TOKEN)


def test_backup_routes_need_the_admin_role(
    sqlite_client: TestClient, make_key: Callable[[TestClient, Role], str]
) -> None:
    client = sqlite_client
    routes = [
        ("POST", "/admin/backups"),
        ("GET", "/admin/backups"),
        ("GET", "/admin/backups/luna-20261205T213000Z"),
        ("GET", "/admin/backups/luna-20261205T213000Z/verify"),
        ("POST", "/admin/backups/luna-20261205T213000Z/restore"),
    ]
    for role in (Role.VIEWER, Role.ANALYST):
        token = make_key(client, role)
        for method, path in routes:
            response = client.request(method, path, headers=auth(token))
            assert response.status_code == 403, (role, method, path, response.text)
            assert "needs the role 'admin'" in response.json()["error"]["message"]
    for method, path in routes:
        assert client.request(method, path).status_code == 401
    backup_dir = container_of(client).settings.resolved_backup_dir
    assert not backup_dir.exists() or not any(backup_dir.iterdir())  # nothing was made


def test_create_list_get_verify_and_restore_refused(sqlite_client: TestClient) -> None:
    client = sqlite_client
    seed_energy(client, meters=1, steps=8)
    seed_vectors_and_files(container_of(client), points=5, files=1)
    assert client.get("/admin/backups", headers=ADMIN).json() == {"items": []}

    created = client.post("/admin/backups", headers=ADMIN)
    assert created.status_code == 201, created.text
    backup = created.json()
    name = backup["name"]
    assert backup["database_kind"] == "sqlite" and backup["vectors"] == 5 and backup["files"] == 3
    assert backup["row_counts"]["smart_meter_readings"] == 8 and backup["size_bytes"] > 0
    assert backup["created_at"].endswith("Z")

    listed = client.get("/admin/backups", headers=ADMIN).json()["items"]
    assert [b["name"] for b in listed] == [name]
    assert client.get(f"/admin/backups/{name}", headers=ADMIN).json() == backup
    verified = client.get(f"/admin/backups/{name}/verify", headers=ADMIN).json()
    in_backup = [p for p in Path(backup["path"]).rglob("*") if p.is_file() and p.name != "manifest.json"]
    assert verified == {"name": name, "ok": True, "files_checked": len(in_backup), "problem": None}

    refused = client.post(f"/admin/backups/{name}/restore", headers=ADMIN)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert f"luna restore {name}" in error["message"] and "stop Luna-IEMS" in error["message"]
    assert error["details"] == {"command": f"luna restore {name}"}

    victim = next((Path(backup["path"]) / "files").iterdir())
    victim.write_bytes(b"tampered")
    verified = client.get(f"/admin/backups/{name}/verify", headers=ADMIN).json()
    assert not verified["ok"] and f"files/{victim.name}" in verified["problem"]

    missing = client.get("/admin/backups/luna-19990101T000000Z", headers=ADMIN)
    assert (
        missing.status_code == 404
        and "no backup 'luna-19990101T000000Z'" in missing.json()["error"]["message"]
    )
    assert client.post("/admin/backups/luna-19990101T000000Z/restore", headers=ADMIN).status_code == 404
    assert client.get("/admin/backups/..%2Fetc/verify", headers=ADMIN).status_code in {404, 422}
    assert client.get("/admin/backups/.hidden", headers=ADMIN).status_code == 422
