"""Pydantic I/O of the admin domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool

from luna_iems.bounds import Timestamp


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.ANALYST: 1, Role.ADMIN: 2}


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["grafana-reader"])
    role: Role = Role.VIEWER


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key_id: uuid.UUID
    name: str
    role: Role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    token: str = Field(description="The secret key. Shown once: store it now.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    audit_id: int
    ts: datetime
    key_id: uuid.UUID | None
    role: str | None
    method: str
    path: str
    status: int
    request_id: str


class AuditFilter(BaseModel):
    key_id: uuid.UUID | None = None
    method: str | None = Field(default=None, max_length=10)
    path_prefix: str | None = Field(default=None, max_length=500)
    status: int | None = Field(default=None, ge=100, le=599)
    ts_from: Timestamp | None = None
    ts_to: Timestamp | None = None


class AuditList(BaseModel):
    items: list[AuditRead]
    total: int
    limit: int
    offset: int


class PrivacyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    flag_send_aggregates: bool
    instance_fingerprint: str
    updated_at: datetime


class PrivacyUpdate(BaseModel):
    flag_send_aggregates: StrictBool


class Principal(BaseModel):
    """The caller behind a request: which key, which role."""

    key_id: uuid.UUID
    name: str
    role: Role


class CallerRead(BaseModel):
    """Who the caller is, as `GET /auth/me` answers (the web app shows its pages by `role`)."""

    key_id: uuid.UUID
    name: str
    role: Role
    prefix: str = Field(description="The first characters of the token, as `GET /admin/keys` lists it")
    created_at: datetime
    roles_allowed: list[Role] = Field(
        description="Every role whose operations this key may call (viewer < analyst < admin)"
    )


class BackupRead(BaseModel):
    """One backup: what its manifest says (row counts per table, vector and file counts)."""

    name: str = Field(examples=["luna-20261205T213000Z"])
    path: str
    created_at: AwareDatetime
    app_version: str
    alembic_revision: str | None
    database_kind: str = Field(examples=["sqlite", "postgresql"])
    row_counts: dict[str, int]
    vectors: int
    files: int
    size_bytes: int
    seconds: float = Field(description="How long the backup took")


class BackupList(BaseModel):
    items: list[BackupRead]


class BackupVerified(BaseModel):
    name: str
    ok: bool
    files_checked: int
    problem: str | None = Field(description="The first problem found, naming the file; null when ok")


class BackupRestored(BaseModel):
    name: str
    database_kind: str
    backup_revision: str | None
    schema_revision: str | None = Field(description="After the restore (migrated to the shipped head)")
    row_counts: dict[str, int]
    vectors: int
    files: int
    seconds: float
