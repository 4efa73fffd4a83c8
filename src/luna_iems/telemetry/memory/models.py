"""Tables of telemetry/memory: what Luna remembers of a customer, per API key."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from luna_iems.bounds import ID_MAX_CHARS
from luna_iems.db.base import Base, JSONType, UTCDateTime, utcnow


class Memory(Base):
    """The customer context of one key: its site and the preferences it stated (short texts)."""

    __tablename__ = "memories"

    key_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    site: Mapped[str | None] = mapped_column(String(ID_MAX_CHARS))
    preferences: Mapped[list[str]] = mapped_column(JSONType, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
