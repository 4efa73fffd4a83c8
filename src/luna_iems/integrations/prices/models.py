"""Tables of integrations/prices: one row of fetch state per configured price source."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from luna_iems.db.base import Base, UTCDateTime, utcnow


class PriceSourceState(Base):
    """Where a price source stands: what it is fetching, the last attempt, success and error.

    `next_attempt_at` carries the backoff across job runs and restarts; `blocked_token` is the
    fingerprint of a token the source refused (401): no retries with it until the token changes or an
    admin fetches by hand.
    """

    __tablename__ = "price_sources"

    source: Mapped[str] = mapped_column(String(20), primary_key=True)  # "entsoe" | "url"
    status: Mapped[str] = mapped_column(String(20), default="idle")
    target_day: Mapped[str | None] = mapped_column(String(10))  # local delivery day, ISO date
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive, for the backoff
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # requests sent, ever
    rows_last: Mapped[int] = mapped_column(Integer, default=0)  # price rows the last success carried
    blocked_token: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
