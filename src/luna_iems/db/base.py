"""Declarative base, naming convention and portable column types.

Every dialect difference in column storage is fenced in here (Home Assistant recorder style):
domain models use `UTCDateTime`, `JSONType` and `Uuid` and never check which database they run on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant.

    PostgreSQL: `timestamptz`. SQLite: integer microseconds since the Unix epoch, so that
    ordering, unique keys and time bucketing are plain integer arithmetic (and fast).
    Naive datetimes are refused: a timestamp without an offset is ambiguous.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} has no UTC offset")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return to_epoch_us(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return from_epoch_us(int(value))
        assert isinstance(value, datetime)
        return value.astimezone(UTC)


def to_epoch_us(value: datetime) -> int:
    """Microseconds since the Unix epoch for an aware datetime (exact integer arithmetic)."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_epoch_us(value: int) -> datetime:
    seconds, micros = divmod(value, 1_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=micros)


def epoch_us_column(column: Any, dialect: str) -> Any:
    """SQL for a `UTCDateTime` column as integer microseconds since the epoch (bulk reads)."""
    from sqlalchemy import BigInteger, cast, extract, type_coerce

    if dialect == "sqlite":
        return type_coerce(column, BigInteger)
    return cast(extract("epoch", column) * 1_000_000, BigInteger)


# JSON documents: JSONB on PostgreSQL (indexable), JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(tz=UTC)
