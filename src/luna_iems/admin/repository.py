"""SQL of the admin domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from luna_iems.admin.models import ApiKey, AuditLog, PrivacyConfig
from luna_iems.admin.schemas import AuditFilter


def get_key_by_hash(*, session: Session, secret_sha256: str) -> ApiKey | None:
    return session.scalars(select(ApiKey).where(ApiKey.secret_sha256 == secret_sha256)).first()


def get_key(*, session: Session, key_id: uuid.UUID) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def list_keys(*, session: Session) -> Sequence[ApiKey]:
    return session.scalars(select(ApiKey).order_by(ApiKey.created_at)).all()


def count_active_keys(*, session: Session, role: str | None = None) -> int:
    query = select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))
    if role is not None:
        query = query.where(ApiKey.role == role)
    return int(session.scalar(query) or 0)


def add_key(*, session: Session, key: ApiKey) -> ApiKey:
    session.add(key)
    session.flush()
    return key


def touch_key(*, session: Session, key_id: uuid.UUID, when: datetime) -> None:
    session.execute(update(ApiKey).where(ApiKey.key_id == key_id).values(last_used_at=when))


def add_audit(*, session: Session, entry: AuditLog) -> None:
    session.add(entry)


def list_audit(
    *, session: Session, flt: AuditFilter, limit: int, offset: int
) -> tuple[Sequence[AuditLog], int]:
    conditions = []
    if flt.key_id is not None:
        conditions.append(AuditLog.key_id == flt.key_id)
    if flt.method is not None:
        conditions.append(AuditLog.method == flt.method.upper())
    if flt.path_prefix is not None:
        conditions.append(AuditLog.path.startswith(flt.path_prefix, autoescape=True))
    if flt.status is not None:
        conditions.append(AuditLog.status == flt.status)
    if flt.ts_from is not None:
        conditions.append(AuditLog.ts >= flt.ts_from)
    if flt.ts_to is not None:
        conditions.append(AuditLog.ts < flt.ts_to)
    total = int(session.scalar(select(func.count()).select_from(AuditLog).where(*conditions)) or 0)
    rows = session.scalars(
        select(AuditLog)
        .where(*conditions)
        .order_by(AuditLog.ts.desc(), AuditLog.audit_id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, total


def get_privacy(*, session: Session) -> PrivacyConfig | None:
    return session.get(PrivacyConfig, 1)
