"""HTTP routes of the admin domain (admin role only)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from luna_iems.admin import backup as backup_service
from luna_iems.admin import service as admin_service
from luna_iems.admin.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyRead,
    AuditFilter,
    AuditList,
    BackupList,
    BackupRead,
    BackupVerified,
    CallerRead,
    PrivacyRead,
    PrivacyUpdate,
)
from luna_iems.bounds import Offset
from luna_iems.deps import AdminKey, ContainerDep, SessionDep, ViewerKey
from luna_iems.errors import AUTHENTICATED_ERRORS, BODY_ERRORS, ErrorResponse, error_responses

router = APIRouter(prefix="/admin", tags=["admin"], responses=AUTHENTICATED_ERRORS)
# Every role: who am I? (the web app asks it at sign-in)
auth_router = APIRouter(prefix="/auth", tags=["admin"], responses=AUTHENTICATED_ERRORS)
_NOT_FOUND = error_responses(404)


@auth_router.get("/me", response_model=CallerRead)
def get_me(session: SessionDep, caller: ViewerKey) -> CallerRead:
    """The key this request was sent with: id, name, role, and the roles whose operations it may call."""
    return admin_service.describe_caller(session=session, principal=caller)


@router.post(
    "/keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    responses=BODY_ERRORS | error_responses(409),
)
def create_key(key_in: ApiKeyCreate, session: SessionDep, _: AdminKey) -> ApiKeyCreated:
    """Create an API key. The token is in this response only: store it now."""
    return admin_service.create_key(session=session, key_in=key_in)


@router.get("/keys", response_model=ApiKeyList)
def list_keys(session: SessionDep, _: AdminKey) -> ApiKeyList:
    return ApiKeyList(items=admin_service.list_keys(session=session))


@router.delete("/keys/{key_id}", response_model=ApiKeyRead, responses=error_responses(404, 409))
def revoke_key(key_id: uuid.UUID, session: SessionDep, _: AdminKey) -> ApiKeyRead:
    return admin_service.revoke_key(session=session, key_id=key_id)


@router.get("/audit", response_model=AuditList)
def list_audit(
    session: SessionDep,
    _: AdminKey,
    flt: Annotated[AuditFilter, Query()],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> AuditList:
    """The audit trail, newest first; filter by key, method, path prefix, status and time range."""
    return admin_service.list_audit(session=session, flt=flt, limit=limit, offset=offset)


@router.get("/privacy", response_model=PrivacyRead, responses=_NOT_FOUND)
def get_privacy(session: SessionDep, _: AdminKey) -> Any:
    return admin_service.get_privacy(session=session)


@router.put("/privacy", response_model=PrivacyRead, responses=BODY_ERRORS | _NOT_FOUND)
def update_privacy(privacy_in: PrivacyUpdate, session: SessionDep, _: AdminKey) -> Any:
    """Allow or forbid the (manual, aggregated) statistics export. Off by default."""
    return admin_service.update_privacy(session=session, privacy_in=privacy_in)


@router.get("/settings")
def get_settings(container: ContainerDep, _: AdminKey) -> dict[str, Any]:
    """The effective settings; secrets and every credential inside a URL are redacted."""
    return admin_service.redacted_settings(container.settings)


# --- backups -----------------------------------------------------------------------------------
BackupName = Annotated[
    str, Path(pattern=backup_service.NAME_PATTERN, max_length=128, examples=["luna-20261205T213000Z"])
]


def _backup_targets(container: ContainerDep) -> backup_service.BackupTargets:
    return backup_service.BackupTargets(
        engine=container.engine, vectors=container.vector_store, objects=container.object_store
    )


@router.post(
    "/backups",
    response_model=BackupRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {
            "model": ErrorResponse,
            "description": "Another backup is running, or a part failed (e.g. pg_dump missing)",
        }
    },
)
def create_backup(container: ContainerDep, _: AdminKey) -> BackupRead:
    """Back up the database, the vector index and the stored files into BACKUP_DIR, online.

    The request lasts as long as the backup (seconds for a small instance; plan minutes for a large
    one, or use `luna backup` / the scheduled job)."""
    return backup_service.create_backup(
        targets=_backup_targets(container),
        backup_dir=container.settings.resolved_backup_dir,
        pg_bin_dir=container.settings.pg_bin_dir,
    )


@router.get("/backups", response_model=BackupList)
def list_backups(container: ContainerDep, _: AdminKey) -> BackupList:
    """The backups in BACKUP_DIR, newest first (from their manifests)."""
    return BackupList(items=backup_service.list_backups(backup_dir=container.settings.resolved_backup_dir))


@router.get("/backups/{name}", response_model=BackupRead, responses=_NOT_FOUND)
def get_backup(name: BackupName, container: ContainerDep, _: AdminKey) -> BackupRead:
    return backup_service.get_backup(backup_dir=container.settings.resolved_backup_dir, name=name)


@router.get("/backups/{name}/verify", response_model=BackupVerified, responses=_NOT_FOUND)
def verify_backup(name: BackupName, container: ContainerDep, _: AdminKey) -> BackupVerified:
    """Check the manifest and the SHA-256 of every file; `problem` names the first file that fails."""
    backup_dir = container.settings.resolved_backup_dir
    root = backup_service.locate(backup_dir=backup_dir, name_or_path=name)
    return backup_service.verify_backup(root=root)


@router.post(
    "/backups/{name}/restore",
    status_code=status.HTTP_409_CONFLICT,
    response_model=None,
    responses={
        409: {
            "model": ErrorResponse,
            "description": "Always: a restore runs with the service stopped (`luna restore`)",
        },
        **_NOT_FOUND,
    },
)
def restore_backup(name: BackupName, container: ContainerDep, _: AdminKey) -> None:
    """Refused on a running instance, with the command to run instead (see docs/operations.md).

    A restore replaces the database, the vector index and the files under this process, which holds
    them open and in memory and runs jobs that write into them."""
    backup_dir = container.settings.resolved_backup_dir
    backup_service.locate(backup_dir=backup_dir, name_or_path=name)  # 404 for an unknown backup
    raise backup_service.restore_refused(name)
