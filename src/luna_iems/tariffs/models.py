"""Tables of the tariffs domain: one row per tariff version of a site."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from luna_iems.db.base import Base, JSONType, UTCDateTime, utcnow

__all__ = ["Base", "TariffVersion"]


class TariffVersion(Base):
    """What energy costs a site from `valid_from` (a date in the site calendar, `TIMEZONE`) until the
    next version's `valid_from`. `components` is the validated `TariffComponents` document (prices,
    grid fee, VAT, feed-in, peak charge); a PUT with the same `valid_from` replaces it."""

    __tablename__ = "tariff_versions"

    version_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    site: Mapped[str] = mapped_column(String(100))
    valid_from: Mapped[date] = mapped_column(Date)
    components: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("site", "valid_from"),)
