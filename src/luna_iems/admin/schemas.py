"""Pydantic I/O of the admin domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


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
    ts_from: AwareDatetime | None = None
    ts_to: AwareDatetime | None = None


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
    flag_send_aggregates: bool


class Principal(BaseModel):
    """The caller behind a request: which key, which role."""

    key_id: uuid.UUID
    name: str
    role: Role
