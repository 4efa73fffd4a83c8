"""SQL of the price fetch: its state rows and the stored price timestamps of a day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from luna_iems.integrations.prices.models import PriceSourceState
from luna_iems.timeseries.models import MarketPrice


def get_state(*, session: Session, source: str) -> PriceSourceState:
    """The source's state row, created (not yet flushed) on first use."""
    state = session.get(PriceSourceState, source)
    if state is None:
        state = PriceSourceState(source=source, status="idle", failures=0, attempts=0, rows_last=0)
        session.add(state)
    return state


def price_times(
    *, session: Session, market: str, product: str, ts_from: datetime, ts_to: datetime
) -> Sequence[datetime]:
    query = (
        select(MarketPrice.ts)
        .where(
            MarketPrice.market == market,
            MarketPrice.product == product,
            MarketPrice.ts >= ts_from,
            MarketPrice.ts < ts_to,
        )
        .order_by(MarketPrice.ts)
    )
    return session.scalars(query).all()
