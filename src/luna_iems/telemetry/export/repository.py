"""SQL of the DP export: events and rewarded recommendations of a period, the ε ledger, imported
priors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from luna_iems.db.base import utcnow
from luna_iems.telemetry.export.models import LearnBudget, LearnPriorImport
from luna_iems.telemetry.models import Event
from luna_iems.telemetry.recommend.models import RecommendationReward

EventRow = tuple[str, str, str | None, int | None]  # type, item_kind, user_hash, duration_ms


def iter_events(*, session: Session, ts_from: datetime, ts_to: datetime) -> Iterator[EventRow]:
    """Events with ts in [ts_from, ts_to), oldest first (ties by event_id): only the columns the
    aggregates need, streamed."""
    query = (
        select(Event.type, Event.item_kind, Event.user_hash, Event.duration_ms)
        .where(Event.ts >= ts_from, Event.ts < ts_to)
        .order_by(Event.ts, Event.event_id)
        .execution_options(yield_per=5000)
    )
    for row in session.execute(query):
        yield row[0], row[1], row[2], row[3]


def iter_rewards(*, session: Session, ts_from: datetime, ts_to: datetime) -> Iterator[tuple[str, float]]:
    """(arm id, reward) of the recommendations' actions rewarded in [ts_from, ts_to)."""
    query = (
        select(RecommendationReward.arm_id, RecommendationReward.reward)
        .where(RecommendationReward.rewarded_at >= ts_from, RecommendationReward.rewarded_at < ts_to)
        .order_by(RecommendationReward.rewarded_at, RecommendationReward.recommendation_id)
        .execution_options(yield_per=2000)
    )
    for arm_id, reward in session.execute(query):
        yield str(arm_id), float(reward)


def list_ledgers(*, session: Session, ledgers: list[str] | None = None) -> list[LearnBudget]:
    query = select(LearnBudget).order_by(LearnBudget.ledger)
    if ledgers is not None:
        query = query.where(LearnBudget.ledger.in_(ledgers))
    return list(session.scalars(query))


def ensure_ledgers(*, session: Session, ledgers: list[str]) -> None:
    """Creates the missing ledger rows at ε 0 and commits them (a row at 0 spends nothing); a
    concurrent creator wins harmlessly. Call it before anything else of the unit of work: no
    savepoint here, because SQLite's driver turns the first SAVEPOINT of a transaction that has only
    read into the outermost transaction, whose release commits."""
    existing = {row.ledger for row in list_ledgers(session=session, ledgers=ledgers)}
    missing = sorted(set(ledgers) - existing)
    if not missing:
        return
    session.add_all(LearnBudget(ledger=ledger, epsilon_spent=0.0, updated_at=utcnow()) for ledger in missing)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()


def charge(*, session: Session, ledger: str, epsilon: float, budget: float) -> bool:
    """Adds `epsilon` to the ledger if that stays within `budget`, in one conditional UPDATE (atomic
    on both databases; the row stays locked until the transaction ends). False: it would not fit."""
    result = session.execute(
        update(LearnBudget)
        .where(LearnBudget.ledger == ledger, LearnBudget.epsilon_spent + epsilon <= budget + 1e-9)
        .values(epsilon_spent=LearnBudget.epsilon_spent + epsilon, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def add_prior_import(*, session: Session, row: LearnPriorImport) -> bool:
    """Stores the digest of an imported export (flushed, not committed); False when it was imported
    before — the session is then rolled back, so call it first in the unit of work."""
    if session.get(LearnPriorImport, row.digest_sha256) is not None:
        return False
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # imported by a concurrent request a moment ago
        session.rollback()
        return False
    return True


def get_prior_import(*, session: Session, digest_sha256: str) -> LearnPriorImport | None:
    return session.get(LearnPriorImport, digest_sha256)
