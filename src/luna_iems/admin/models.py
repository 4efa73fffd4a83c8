"""Tables of the admin domain: API keys, audit trail, privacy configuration."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from luna_iems.db.base import Base, UTCDateTime, utcnow


class ApiKey(Base):
    __tablename__ = "api_keys"

    key_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    # First characters of the token, shown in listings so a person can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    # Tokens carry 240 bits of randomness, so a plain SHA-256 is a safe, fast lookup key.
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("role IN ('admin', 'analyst', 'viewer')", name="role"),)


class AuditLog(Base):
    __tablename__ = "audit_log"

    audit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    role: Mapped[str | None] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(String(100))


class PrivacyConfig(Base):
    """One row: whether aggregated statistics may be exported, and this instance's random fingerprint."""

    __tablename__ = "privacy_config"

    config_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_send_aggregates: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    instance_fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("config_id = 1", name="singleton"),)
