"""Tables of the DP export (docs/learning.md, "The DP guarantee"): the privacy budget ledger and the
digests of imported priors. The signing key is a file, not a row (see `signing`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from luna_iems.db.base import Base, UTCDateTime, utcnow

LEDGER_MAX_CHARS = 20
DIGEST_CHARS = 64


class LearnBudget(Base):
    """ε spent so far on one ledger: a calendar month ("2026-11", UTC) for the metrics of events and
    labels in that month, or "bandit" for the bandit statistics (they sum every round ever seen)."""

    __tablename__ = "learn_budget"

    ledger: Mapped[str] = mapped_column(String(LEDGER_MAX_CHARS), primary_key=True)
    epsilon_spent: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LearnPriorImport(Base):
    """A signed export imported as bandit priors, by the SHA-256 of its canonical signed payload: the
    same file (however re-formatted) is counted once."""

    __tablename__ = "learn_prior_imports"

    digest_sha256: Mapped[str] = mapped_column(String(DIGEST_CHARS), primary_key=True)
    key_fingerprint: Mapped[str] = mapped_column(String(DIGEST_CHARS))
    period_from: Mapped[datetime] = mapped_column(UTCDateTime)
    period_to: Mapped[datetime] = mapped_column(UTCDateTime)
    weight: Mapped[float] = mapped_column(Float)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
