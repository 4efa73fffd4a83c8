"""What the price fetch receives from the wiring (built in `bootstrap.Container.price_fetch_deps`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from luna_iems.settings import Settings


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


@dataclass(frozen=True)
class PriceFetchDeps:
    session_factory: sessionmaker[Session]
    settings: Settings
    clock: Callable[[], datetime] = field(default=utc_now)  # tests pass their own: no sleeping
