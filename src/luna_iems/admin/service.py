"""API keys, roles, audit trail and privacy configuration.

Tokens look like `luna_<8 chars>_<40 chars>` (240 bits from `secrets`), are shown once and stored
as SHA-256 only. A key given by the operator (`LUNA_ADMIN_KEY`) may have any form of 24+ characters.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import SecretStr
from sqlalchemy.orm import Session

from luna_iems.admin import repository
from luna_iems.admin.models import ApiKey, AuditLog, PrivacyConfig
from luna_iems.admin.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    AuditFilter,
    AuditList,
    AuditRead,
    CallerRead,
    Principal,
    PrivacyUpdate,
    Role,
)
from luna_iems.errors import AuthenticationError, ConflictError, InvalidInputError, NotFoundError
from luna_iems.settings import Settings

_ALPHABET = string.ascii_letters + string.digits
MIN_OPERATOR_KEY_LENGTH = 24
# `last_used_at` is refreshed at most this often, so reads do not turn into writes.
_TOUCH_INTERVAL = timedelta(minutes=1)


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def generate_token() -> str:
    head = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    body = "".join(secrets.choice(_ALPHABET) for _ in range(40))
    return f"luna_{head}_{body}"


def _display_prefix(token: str) -> str:
    return token[:13] if token.startswith("luna_") else token[:6]


def create_key(*, session: Session, key_in: ApiKeyCreate, token: str | None = None) -> ApiKeyCreated:
    """Create a key with `key_in.role`; returns the token once. Raises ConflictError on a reused token."""
    token = token or generate_token()
    if len(token) < MIN_OPERATOR_KEY_LENGTH:
        raise InvalidInputError(
            f"an API key needs at least {MIN_OPERATOR_KEY_LENGTH} characters, got {len(token)}",
            details={"field": "token"},
        )
    digest = _sha256(token)
    if repository.get_key_by_hash(session=session, secret_sha256=digest) is not None:
        raise ConflictError("that key already exists")
    key = repository.add_key(
        session=session,
        key=ApiKey(
            key_id=uuid.uuid4(),
            name=key_in.name,
            role=key_in.role.value,
            prefix=_display_prefix(token),
            secret_sha256=digest,
            created_at=datetime.now(tz=UTC),
        ),
    )
    session.commit()
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), token=token)


def list_keys(*, session: Session) -> list[ApiKeyRead]:
    return [ApiKeyRead.model_validate(k) for k in repository.list_keys(session=session)]


def revoke_key(*, session: Session, key_id: uuid.UUID) -> ApiKeyRead:
    """Revoke a key. Refuses (409) to revoke the last active admin key, which would lock everyone out."""
    key = repository.get_key(session=session, key_id=key_id)
    if key is None:
        raise NotFoundError(f"API key {key_id} does not exist", details={"key_id": str(key_id)})
    if key.revoked_at is None:
        if key.role == Role.ADMIN and repository.count_active_keys(session=session, role=Role.ADMIN) <= 1:
            raise ConflictError(
                "refusing to revoke the last active admin key; create another admin key first",
                details={"key_id": str(key_id)},
            )
        key.revoked_at = datetime.now(tz=UTC)
        session.commit()
    return ApiKeyRead.model_validate(key)


def authenticate(*, session: Session, token: str) -> Principal:
    """The principal behind `token`. Raises AuthenticationError for an unknown or revoked key."""
    key = repository.get_key_by_hash(session=session, secret_sha256=_sha256(token))
    if key is None:
        raise AuthenticationError("invalid API key")
    if key.revoked_at is not None:
        raise AuthenticationError("this API key was revoked")
    now = datetime.now(tz=UTC)
    if key.last_used_at is None or now - key.last_used_at > _TOUCH_INTERVAL:
        repository.touch_key(session=session, key_id=key.key_id, when=now)
    principal = Principal(key_id=key.key_id, name=key.name, role=Role(key.role))
    # End the transaction: the connection goes back to the pool instead of being held while the
    # handler runs (handlers that open their own connections would otherwise exhaust the pool).
    session.commit()
    return principal


def describe_caller(*, session: Session, principal: Principal) -> CallerRead:
    """The caller's key (never its token) and the roles it may act as. Raises AuthenticationError when
    the key was revoked or deleted after this request authenticated."""
    key = repository.get_key(session=session, key_id=principal.key_id)
    if key is None or key.revoked_at is not None:
        raise AuthenticationError("this API key was revoked")
    role = Role(key.role)
    return CallerRead(
        key_id=key.key_id,
        name=key.name,
        role=role,
        prefix=key.prefix,
        created_at=key.created_at,
        roles_allowed=[r for r in Role if role.allows(r)],
    )


def ensure_admin_key(*, session: Session, operator_key: str | None) -> ApiKeyCreated | None:
    """On first start: make sure an admin key exists.

    With `operator_key` (LUNA_ADMIN_KEY) that key is registered if new. Without it, and with no
    active key at all, a random admin key is created and returned so the caller can print it once.
    """
    if operator_key:
        if repository.get_key_by_hash(session=session, secret_sha256=_sha256(operator_key)) is None:
            create_key(
                session=session,
                key_in=ApiKeyCreate(name="admin (LUNA_ADMIN_KEY)", role=Role.ADMIN),
                token=operator_key,
            )
        return None
    if repository.count_active_keys(session=session) > 0:
        return None
    return create_key(session=session, key_in=ApiKeyCreate(name="bootstrap admin", role=Role.ADMIN))


def record_audit(
    *,
    session: Session,
    key_id: uuid.UUID | None,
    role: str | None,
    method: str,
    path: str,
    status: int,
    request_id: str,
) -> None:
    repository.add_audit(
        session=session,
        entry=AuditLog(
            ts=datetime.now(tz=UTC),
            key_id=key_id,
            role=role,
            method=method,
            path=path[:500],
            status=status,
            request_id=request_id[:100],
        ),
    )
    session.commit()


def list_audit(*, session: Session, flt: AuditFilter, limit: int, offset: int) -> AuditList:
    rows, total = repository.list_audit(session=session, flt=flt, limit=limit, offset=offset)
    return AuditList(
        items=[AuditRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )


def get_privacy(*, session: Session) -> PrivacyConfig:
    config = repository.get_privacy(session=session)
    if config is None:
        raise NotFoundError("privacy configuration missing: run `luna db upgrade`")
    return config


def update_privacy(*, session: Session, privacy_in: PrivacyUpdate) -> PrivacyConfig:
    config = get_privacy(session=session)
    config.flag_send_aggregates = privacy_in.flag_send_aggregates
    config.updated_at = datetime.now(tz=UTC)
    session.commit()
    return config


REDACTED = "**********"
_SECRET_QUERY_KEYS = ("password", "passwd", "pass", "secret", "token", "key", "apikey", "api_key", "auth")


def redact_url(value: str) -> str:
    """A URL with its password (``user:pass@``) and credential-like query values replaced."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return REDACTED  # unparsable: show nothing rather than a secret
    netloc = parts.netloc
    if parts.password is not None:
        user = parts.username or ""
        host = netloc.rsplit("@", 1)[1]
        netloc = f"{user}:{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        redacted = [(k, REDACTED if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs]
        query = urlencode(redacted, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redacted_settings(settings: Settings) -> dict[str, Any]:
    """The effective settings for the admin view: every secret (``SecretStr``) and every credential
    inside a URL (database, MQTT, Qdrant, Ollama, OpenAI, S3, Tika) redacted."""
    out: dict[str, Any] = {}
    dumped = settings.model_dump(mode="json")
    for name in type(settings).model_fields:
        raw = getattr(settings, name)
        value = dumped[name]
        if isinstance(raw, SecretStr):
            out[name] = REDACTED
        elif isinstance(value, str) and "://" in value:
            out[name] = redact_url(value)
        else:
            out[name] = value
    return out
