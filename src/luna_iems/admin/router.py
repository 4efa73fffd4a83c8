"""HTTP routes of the admin domain (admin role only)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from luna_iems.admin import service as admin_service
from luna_iems.admin.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyRead,
    AuditFilter,
    AuditList,
    PrivacyRead,
    PrivacyUpdate,
)
from luna_iems.deps import AdminKey, ContainerDep, SessionDep

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post("/keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_key(key_in: ApiKeyCreate, session: SessionDep, _: AdminKey) -> ApiKeyCreated:
    """Create an API key. The token is in this response only: store it now."""
    return admin_service.create_key(session=session, key_in=key_in)


@router.get("/keys", response_model=ApiKeyList)
def list_keys(session: SessionDep, _: AdminKey) -> ApiKeyList:
    return ApiKeyList(items=admin_service.list_keys(session=session))


@router.delete("/keys/{key_id}", response_model=ApiKeyRead)
def revoke_key(key_id: uuid.UUID, session: SessionDep, _: AdminKey) -> ApiKeyRead:
    return admin_service.revoke_key(session=session, key_id=key_id)


@router.get("/audit", response_model=AuditList)
def list_audit(
    session: SessionDep,
    _: AdminKey,
    flt: Annotated[AuditFilter, Query()],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AuditList:
    """The audit trail, newest first; filter by key, method, path prefix, status and time range."""
    return admin_service.list_audit(session=session, flt=flt, limit=limit, offset=offset)


@router.get("/privacy", response_model=PrivacyRead)
def get_privacy(session: SessionDep, _: AdminKey) -> Any:
    return admin_service.get_privacy(session=session)


@router.put("/privacy", response_model=PrivacyRead)
def update_privacy(privacy_in: PrivacyUpdate, session: SessionDep, _: AdminKey) -> Any:
    """Allow or forbid the (manual, aggregated) statistics export. Off by default."""
    return admin_service.update_privacy(session=session, privacy_in=privacy_in)


@router.get("/settings")
def get_settings(container: ContainerDep, _: AdminKey) -> dict[str, Any]:
    """The effective settings, secrets redacted."""
    return container.settings.model_dump(mode="json", exclude={"secret_key", "luna_admin_key"}) | {
        "secret_key": "**********",
        "database_url": container.engine.url.render_as_string(hide_password=True),
    }
