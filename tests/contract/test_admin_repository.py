"""The admin domain's repository and service: the same assertions on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from luna_iems.admin import service as admin_service
from luna_iems.admin.schemas import ApiKeyCreate, AuditFilter, PrivacyUpdate, Role
from luna_iems.bootstrap import Container
from luna_iems.errors import AuthenticationError, ConflictError, InvalidInputError, NotFoundError


@pytest.fixture
def session(container: Container) -> Iterator[Session]:
    with container.session_factory() as s:
        yield s


def test_key_lifecycle(session: Session) -> None:
    created = admin_service.create_key(session=session, key_in=ApiKeyCreate(name="grafana", role=Role.VIEWER))
    assert created.token.startswith("luna_") and len(created.token) == 54
    assert created.prefix == created.token[:13]
    principal = admin_service.authenticate(session=session, token=created.token)
    assert principal.role is Role.VIEWER and principal.key_id == created.key_id

    listed = {k.key_id: k for k in admin_service.list_keys(session=session)}
    assert created.key_id in listed
    assert "token" not in listed[created.key_id].model_dump()
    assert listed[created.key_id].last_used_at is not None

    admin_service.revoke_key(session=session, key_id=created.key_id)
    with pytest.raises(AuthenticationError, match="revoked"):
        admin_service.authenticate(session=session, token=created.token)
    with pytest.raises(AuthenticationError, match="invalid"):
        admin_service.authenticate(session=session, token=created.token + "x")


def test_secret_is_stored_hashed_only(session: Session) -> None:
    from sqlalchemy import text

    created = admin_service.create_key(session=session, key_in=ApiKeyCreate(name="k", role=Role.ANALYST))
    rows = session.execute(text("SELECT * FROM api_keys")).all()
    assert all(created.token not in str(tuple(r)) for r in rows)


def test_last_admin_cannot_be_revoked(session: Session) -> None:
    first = admin_service.create_key(session=session, key_in=ApiKeyCreate(name="a1", role=Role.ADMIN))
    admin_service.create_key(session=session, key_in=ApiKeyCreate(name="v", role=Role.VIEWER))
    with pytest.raises(ConflictError, match="last active admin"):
        admin_service.revoke_key(session=session, key_id=first.key_id)
    second = admin_service.create_key(session=session, key_in=ApiKeyCreate(name="a2", role=Role.ADMIN))
    admin_service.revoke_key(session=session, key_id=first.key_id)
    with pytest.raises(ConflictError):
        admin_service.revoke_key(session=session, key_id=second.key_id)


def test_revoke_unknown_key(session: Session) -> None:
    with pytest.raises(NotFoundError):
        admin_service.revoke_key(session=session, key_id=uuid.uuid4())


def test_ensure_admin_key(session: Session) -> None:
    # The test database has no key yet: a random admin key is created once.
    created = admin_service.ensure_admin_key(session=session, operator_key=None)
    assert created is not None and created.role is Role.ADMIN
    assert admin_service.ensure_admin_key(session=session, operator_key=None) is None
    # An operator key is registered once, never printed, and may be used at once.
    operator = "operator-chosen-key-0123456789"
    assert admin_service.ensure_admin_key(session=session, operator_key=operator) is None
    assert admin_service.ensure_admin_key(session=session, operator_key=operator) is None
    assert admin_service.authenticate(session=session, token=operator).role is Role.ADMIN
    with pytest.raises(InvalidInputError, match="at least 24"):
        admin_service.ensure_admin_key(session=session, operator_key="short")


def test_audit_filters_and_paging(session: Session) -> None:
    key_id = uuid.uuid4()
    for i in range(7):
        admin_service.record_audit(
            session=session,
            key_id=key_id if i % 2 else None,
            role="admin" if i % 2 else None,
            method="POST" if i < 5 else "DELETE",
            path=f"/admin/keys/{i}",
            status=201 if i < 6 else 409,
            request_id=f"req-{i}",
        )
    page = admin_service.list_audit(session=session, flt=AuditFilter(), limit=3, offset=0)
    assert page.total == 7 and [e.request_id for e in page.items] == ["req-6", "req-5", "req-4"]
    page2 = admin_service.list_audit(session=session, flt=AuditFilter(), limit=3, offset=6)
    assert [e.request_id for e in page2.items] == ["req-0"]
    assert (
        admin_service.list_audit(session=session, flt=AuditFilter(key_id=key_id), limit=50, offset=0).total
        == 3
    )
    assert (
        admin_service.list_audit(session=session, flt=AuditFilter(method="delete"), limit=50, offset=0).total
        == 2
    )
    assert (
        admin_service.list_audit(session=session, flt=AuditFilter(status=409), limit=50, offset=0).total == 1
    )
    by_path = admin_service.list_audit(
        session=session, flt=AuditFilter(path_prefix="/admin/keys/3"), limit=5, offset=0
    )
    assert [e.request_id for e in by_path.items] == ["req-3"]
    future = datetime.now(tz=UTC) + timedelta(hours=1)
    assert (
        admin_service.list_audit(session=session, flt=AuditFilter(ts_from=future), limit=5, offset=0).total
        == 0
    )


def test_privacy_toggle(session: Session) -> None:
    before = admin_service.get_privacy(session=session)
    assert before.flag_send_aggregates is False
    after = admin_service.update_privacy(session=session, privacy_in=PrivacyUpdate(flag_send_aggregates=True))
    assert after.flag_send_aggregates is True
    assert after.instance_fingerprint == before.instance_fingerprint
