"""GET /auth/me: the caller's key and role, for every role (the web app signs in with it)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from luna_iems.admin import service as admin_service
from luna_iems.admin.schemas import ApiKeyCreate, Principal, Role
from luna_iems.bootstrap import Container
from luna_iems.errors import AuthenticationError
from tests.conftest import ADMIN_TOKEN, auth


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.VIEWER, ["viewer"]),
        (Role.ANALYST, ["viewer", "analyst"]),
        (Role.ADMIN, ["viewer", "analyst", "admin"]),
    ],
)
def test_me_names_the_key_and_its_role(
    client: TestClient, make_key: Callable[[TestClient, Role], str], role: Role, allowed: list[str]
) -> None:
    token = make_key(client, role)
    response = client.get("/auth/me", headers=auth(token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == role.value and body["roles_allowed"] == allowed
    assert body["name"] == f"{role}-key" and token.startswith(body["prefix"])
    assert token not in response.text  # never the secret


def test_me_without_or_with_a_wrong_key_says_what_to_send(sqlite_client: TestClient) -> None:
    missing = sqlite_client.get("/auth/me")
    assert missing.status_code == 401
    assert "X-API-Key" in missing.json()["error"]["message"]
    wrong = sqlite_client.get("/auth/me", headers=auth("luna_wrongkey_" + "x" * 40))
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "invalid API key"
    assert sqlite_client.get("/auth/me", headers=auth(ADMIN_TOKEN)).json()["role"] == "admin"


def test_a_key_revoked_after_authentication_is_refused(container: Container) -> None:
    with container.session_factory() as session:
        created = admin_service.create_key(
            session=session, key_in=ApiKeyCreate(name="gone", role=Role.VIEWER)
        )
        principal = admin_service.authenticate(session=session, token=created.token)
        admin_service.revoke_key(session=session, key_id=created.key_id)
        with pytest.raises(AuthenticationError, match="revoked"):
            admin_service.describe_caller(session=session, principal=principal)
        stranger = Principal(key_id=principal.key_id.__class__(int=1), name="x", role=Role.ADMIN)
        with pytest.raises(AuthenticationError):
            admin_service.describe_caller(session=session, principal=stranger)
