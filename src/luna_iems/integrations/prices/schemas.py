"""HTTP I/O of the price fetch: GET /integrations/prices/sources, POST /integrations/prices/fetch."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

SourceName = Literal["entsoe", "url"]
Status = Literal["idle", "waiting", "complete", "incomplete", "backoff", "blocked", "error"]


class PriceSourceRead(BaseModel):
    source: SourceName
    target: str = Field(description="What is fetched: the ENTSO-E bidding zone or the URL (no query)")
    market: str
    product: str
    status: Status = Field(
        description="waiting: not published yet; complete: the day's curve is whole; incomplete: stored "
        "with gaps; backoff: 429/5xx/unreachable; blocked: the token was refused (no retries until it "
        "changes or an admin fetches); error: the source refused the request or sent an invalid document"
    )
    target_day: date | None = Field(description="Local delivery day being fetched")
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="Backoff: no scheduled attempt before this")
    failures: int = Field(description="Consecutive 429/5xx/unreachable answers")
    attempts: int = Field(description="Requests sent, ever")
    rows_last: int = Field(description="Price rows the last successful fetch stored or updated")


class PriceSchedule(BaseModel):
    timezone: str
    fetch_after: str = Field(description="Local time (HH:MM, in `timezone`) from which tomorrow is fetched")
    cutoff: str = Field(description="Local time (HH:MM) after which missing prices are reported late")
    retry_min: float
    backoff_max_min: float


class PriceSourceList(BaseModel):
    items: list[PriceSourceRead] = Field(description="Configured sources only; empty: fetching is off")
    schedule: PriceSchedule
