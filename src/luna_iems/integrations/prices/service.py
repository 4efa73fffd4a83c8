"""The price fetch: which day to fetch, when to try again, what to store, when to alert.

Each configured source (ENTSO-E with `ENTSOE_TOKEN`, a generic URL with `PRICE_SOURCE_URL`) keeps one
state row. `run_due` is what the scheduled job calls (every minute; cheap when nothing is due):

- the target is the next local delivery day once `PRICE_FETCH_AFTER` has passed (the day-ahead
  auction publishes ~12:45 CET), otherwise today (a fresh install in the morning fetches today);
- a day whose stored curve is complete is never requested again (no request at all);
- "not published yet" (ENTSO-E "No matching data found") retries every `PRICE_FETCH_RETRY_MIN`;
  429/5xx/unreachable back off, doubling from that interval up to `PRICE_FETCH_BACKOFF_MAX_MIN`
  (at least the server's Retry-After);
- a refused token (401/403) raises a critical alert and blocks the source: no request with that token
  again until it changes or an admin calls `fetch_now`, so a bad token cannot cause a retry storm;
- a stored day with missing steps raises a "price_gap" alert; a day still incomplete at
  `PRICE_FETCH_CUTOFF` (the day before) raises a "price_late" alert, and attempts go on hourly.

Alerts are the decisions domain's (`alert_service.raise_alert`, one per fingerprint: a rerun never
duplicates them). Prices are stored through `timeseries.ingest.ingest_prices_body`, the path of
`POST /ingest/market-prices`: the same parsing (A44 with A03 forward fill, CSV, JSON), validation and
upsert, so a refetch updates rows and never duplicates them. All times are UTC inside; the schedule's
clock times are local to `PRICE_FETCH_TIMEZONE`. The clock is `deps.clock` (tests inject theirs).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from luna_iems.db.base import utcnow
from luna_iems.decisions import alert_service
from luna_iems.errors import ConflictError, LunaError
from luna_iems.integrations.prices import client, repository
from luna_iems.integrations.prices.client import Answer, Outcome
from luna_iems.integrations.prices.deps import PriceFetchDeps
from luna_iems.integrations.prices.models import PriceSourceState
from luna_iems.integrations.prices.schemas import PriceSchedule, PriceSourceList, PriceSourceRead
from luna_iems.settings import Settings
from luna_iems.timeseries import ingest as ingest_service
from luna_iems.timeseries.deps import TimeseriesDeps
from luna_iems.timeseries.formats.entsoe import MARKETS

log = logging.getLogger(__name__)

ALERT_SOURCE = "prices"
STEPS_MIN = (15, 30, 60)  # resolutions a day-ahead curve comes in
LATE_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class Source:
    name: str  # "entsoe" | "url"
    target: str
    market: str
    product: str


def sources(settings: Settings) -> list[Source]:
    """The configured sources (none: fetching is off)."""
    found = []
    if settings.entsoe_token.get_secret_value().strip():
        area = settings.entsoe_area
        market = MARKETS.get(area, area)
        target = f"ENTSO-E {area} ({market}) at {client.redact(settings.entsoe_url)}"
        found.append(Source("entsoe", target, market, "day_ahead"))
    if settings.price_source_url:
        found.append(
            Source(
                "url",
                f"{client.redact(settings.price_source_url)} ({settings.price_source_format})",
                settings.default_market,
                settings.default_product,
            )
        )
    return found


def _token_fingerprint(settings: Settings) -> str:
    secret = settings.entsoe_token.get_secret_value() or settings.price_source_url or ""
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


# --- the delivery day and its completeness -------------------------------------------------------------
def target_day(settings: Settings, now: datetime) -> date:
    """Tomorrow (local) once PRICE_FETCH_AFTER has passed, else today."""
    local = now.astimezone(ZoneInfo(settings.price_fetch_timezone))
    return local.date() + timedelta(days=1) if local.time() >= settings.price_fetch_after else local.date()


def day_window(settings: Settings, day: date) -> tuple[datetime, datetime]:
    """[local midnight, next local midnight) in UTC: 23, 24 or 25 hours."""
    tz = ZoneInfo(settings.price_fetch_timezone)
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def missing_steps(
    *, session: Session, source: Source, start: datetime, end: datetime
) -> tuple[int, list[datetime]]:
    """(stored prices in [start, end), the steps missing from that curve). The curve's resolution is the
    finest spacing of its stored timestamps (15, 30 or 60 minutes): a day stored hourly is complete with
    24 prices, one stored in quarter-hours needs 96. Nothing stored: every quarter-hour is missing."""
    stored = [
        t.astimezone(UTC)
        for t in repository.price_times(
            session=session, market=source.market, product=source.product, ts_from=start, ts_to=end
        )
    ]
    gaps = [int((b - a).total_seconds() // 60) for a, b in pairwise(stored)]
    aligned = [m for m in STEPS_MIN if all(g % m == 0 for g in gaps) and _aligned(stored, start, m)]
    minutes = max(aligned) if stored and aligned else 15
    step = timedelta(minutes=minutes)
    have = set(stored)
    expected = [start + i * step for i in range(int((end - start) / step))]
    return len(stored), [t for t in expected if t not in have]


def _aligned(stored: list[datetime], start: datetime, minutes: int) -> bool:
    return all(int((t - start).total_seconds()) % (minutes * 60) == 0 for t in stored)


# --- one source, one tick ------------------------------------------------------------------------------
@dataclass
class _Tick:
    deps: PriceFetchDeps
    session: Session
    source: Source
    state: PriceSourceState
    now: datetime
    day: date

    @property
    def settings(self) -> Settings:
        return self.deps.settings


def _tick(
    deps: PriceFetchDeps, session: Session, source: Source, now: datetime, *, manual: bool, day: date | None
) -> None:
    settings = deps.settings
    target = day or target_day(settings, now)
    state = repository.get_state(session=session, source=source.name)
    if state.target_day != target.isoformat():  # a new delivery day: a fresh retry cadence
        state.target_day, state.failures, state.next_attempt_at = target.isoformat(), 0, None
        if state.status != "blocked":
            state.status = "waiting"
    tick = _Tick(deps, session, source, state, now, target)
    start, end = day_window(settings, target)
    count, missing = missing_steps(session=session, source=source, start=start, end=end)
    if count and not missing and not manual:
        state.status = "complete"
        return
    if manual or _due(tick):
        _attempt(tick, start, end)
        count, missing = missing_steps(session=session, source=source, start=start, end=end)
    if count and missing:
        _alert_gap(tick, missing, start, end)
    if not count or missing:
        _check_late(tick, start, end)
    state.updated_at = utcnow()


def _due(tick: _Tick) -> bool:
    state = tick.state
    if state.status == "blocked" and state.blocked_token == _token_fingerprint(tick.settings):
        return False
    return state.next_attempt_at is None or tick.now >= state.next_attempt_at


def _attempt(tick: _Tick, start: datetime, end: datetime) -> None:
    settings, state = tick.settings, tick.state
    state.attempts += 1
    state.last_attempt_at = tick.now
    # Commit before the request: no transaction (or SQLite write lock) is held while the source answers
    # and the ingest writes in its own session, and the attempt is on record whatever happens next.
    tick.session.commit()
    answer = _request(tick.source, settings, start, end)
    token = settings.entsoe_token.get_secret_value()
    detail = answer.detail.replace(token, "***") if token else answer.detail
    retry = timedelta(minutes=settings.price_fetch_retry_min)
    if answer.outcome is Outcome.OK:
        _store(tick, answer, retry)
        return
    state.last_error = detail
    if answer.outcome is Outcome.NO_DATA:
        state.status, state.failures, state.next_attempt_at = "waiting", 0, tick.now + retry
    elif answer.outcome is Outcome.RETRY:
        state.failures += 1
        delay = min(
            retry * 2 ** (state.failures - 1), timedelta(minutes=settings.price_fetch_backoff_max_min)
        )
        if answer.retry_after_s is not None:
            delay = max(delay, timedelta(seconds=answer.retry_after_s))
        state.status, state.next_attempt_at = "backoff", tick.now + delay
    elif answer.outcome is Outcome.AUTH:
        state.status, state.blocked_token, state.next_attempt_at = (
            "blocked",
            _token_fingerprint(settings),
            None,
        )
        message = (
            f"price source {tick.source.name} refused our credentials: {detail}. Fix the token "
            "(ENTSOE_TOKEN) and restart, or POST /integrations/prices/fetch to retry"
        )
        _alert(tick, "price_auth", "critical", message, key=state.blocked_token or "", start=start, end=end)
    else:  # REJECTED: a configuration problem; retrying soon would only repeat it
        state.status = "error"
        state.next_attempt_at = tick.now + timedelta(minutes=settings.price_fetch_backoff_max_min)
        message = f"price source {tick.source.name} refused the request: {detail}"
        _alert(tick, "price_rejected", "warning", message, key=tick.day.isoformat(), start=start, end=end)
    log.info("price fetch: %s", answer.outcome.value, extra={"source": tick.source.name, "detail": detail})


def _request(source: Source, settings: Settings, start: datetime, end: datetime) -> Answer:
    if source.name == "entsoe":
        return client.fetch_entsoe(
            url=settings.entsoe_url,
            token=settings.entsoe_token.get_secret_value(),
            area=settings.entsoe_area,
            start=start,
            end=end,
            timeout_s=max(settings.http_timeout_s, 30.0),
        )
    assert settings.price_source_url is not None  # sources() lists "url" only with one
    return client.fetch_url(
        url=settings.price_source_url, fmt=settings.price_source_format, timeout_s=settings.http_timeout_s
    )


def _store(tick: _Tick, answer: Answer, retry: timedelta) -> None:
    state, settings = tick.state, tick.settings
    deps = TimeseriesDeps(session_factory=tick.deps.session_factory, settings=settings)
    try:
        result = ingest_service.ingest_prices_body(
            deps=deps, body=answer.body, media_type=answer.media_type, classification_sequence=1
        )
    except LunaError as exc:  # an invalid document: the source's problem, reported like one
        state.status, state.last_error = "error", f"invalid price document: {exc}"[:1000]
        state.next_attempt_at = tick.now + retry
        message = f"price source {tick.source.name} sent an invalid document: {exc}"
        start, end = day_window(settings, tick.day)
        _alert(tick, "price_invalid", "warning", message, key=tick.day.isoformat(), start=start, end=end)
        return
    state.rows_last = result.rows_written
    state.last_success_at, state.failures = tick.now, 0
    start, end = day_window(settings, tick.day)
    count, missing = missing_steps(session=tick.session, source=tick.source, start=start, end=end)
    if count and not missing:
        state.status, state.last_error, state.next_attempt_at = "complete", None, None
    else:
        state.status = "incomplete" if count else "waiting"
        state.last_error = (
            f"{len(missing)} of the day's steps missing" if count else "the answer holds no price of the day"
        )
        state.next_attempt_at = tick.now + retry


def _alert_gap(tick: _Tick, missing: list[datetime], start: datetime, end: datetime) -> None:
    shown = ", ".join(t.isoformat() for t in missing[:5]) + (" ..." if len(missing) > 5 else "")
    message = (
        f"{tick.source.market} {tick.source.product} prices of {tick.day.isoformat()} have "
        f"{len(missing)} missing step(s): {shown}"
    )
    evidence: dict[str, object] = {"missing": [t.isoformat() for t in missing[:100]]}
    _alert(
        tick,
        "price_gap",
        "warning",
        message,
        key=tick.day.isoformat(),
        start=start,
        end=end,
        evidence=evidence,
    )


def _check_late(tick: _Tick, start: datetime, end: datetime) -> None:
    settings = tick.settings
    tz = ZoneInfo(settings.price_fetch_timezone)
    cutoff = datetime.combine(tick.day - timedelta(days=1), settings.price_fetch_cutoff, tzinfo=tz)
    if tick.now < cutoff.astimezone(UTC):
        return
    message = (
        f"{tick.source.market} {tick.source.product} prices of {tick.day.isoformat()} are still "
        f"incomplete at the cut-off {settings.price_fetch_cutoff:%H:%M} ({settings.price_fetch_timezone}) "
        f"via {tick.source.name}: {tick.state.last_error or 'no answer'}"
    )
    _alert(tick, "price_late", "warning", message, key=tick.day.isoformat(), start=start, end=end)
    state = tick.state  # past the cut-off: keep trying, but hourly
    if state.next_attempt_at is not None and state.last_attempt_at is not None:
        state.next_attempt_at = max(state.next_attempt_at, state.last_attempt_at + LATE_RETRY)


def _alert(
    tick: _Tick,
    kind: str,
    severity: str,
    message: str,
    *,
    key: str,
    start: datetime,
    end: datetime,
    evidence: dict[str, object] | None = None,
) -> None:
    """A decisions alert (source "prices"), once per kind, source and `key` (see alert_service)."""
    alert_service.raise_alert(
        session=tick.session,
        fingerprint=f"{ALERT_SOURCE}:{kind}:{tick.source.name}:{key}"[:200],
        source=ALERT_SOURCE,
        kind=kind,
        severity=severity,
        start_at=start,
        end_at=end,
        message=message[:2000],
        evidence={
            "source": tick.source.name,
            "market": tick.source.market,
            "day": tick.day.isoformat(),
            **(evidence or {}),
        },
    )


# --- entry points --------------------------------------------------------------------------------------
def run_due(deps: PriceFetchDeps) -> PriceSourceList:
    """The scheduled tick: every configured source once (see the module docstring); returns the status."""
    now = deps.clock()
    for source in sources(deps.settings):
        with deps.session_factory() as session:
            _tick(deps, session, source, now, manual=False, day=None)
            session.commit()
    return list_sources(deps)


def fetch_now(deps: PriceFetchDeps, *, source: str | None = None, day: date | None = None) -> PriceSourceList:
    """An admin's fetch: one request per source (or the named one) now, ignoring backoff and a blocked
    token, for `day` (default: the scheduled target). Raises ConflictError (409) when nothing is
    configured or the named source is not."""
    configured = sources(deps.settings)
    chosen = [s for s in configured if source in (None, s.name)]
    if not chosen:
        names = ", ".join(s.name for s in configured) or "none"
        raise ConflictError(
            f"price source {source or 'any'} is not configured (configured: {names}); set ENTSOE_TOKEN "
            "or PRICE_SOURCE_URL",
            details={"field": "source", "configured": [s.name for s in configured]},
        )
    now = deps.clock()
    for item in chosen:
        with deps.session_factory() as session:
            _tick(deps, session, item, now, manual=True, day=day)
            session.commit()
    return list_sources(deps)


def list_sources(deps: PriceFetchDeps) -> PriceSourceList:
    settings = deps.settings
    items = []
    with deps.session_factory() as session:
        for source in sources(settings):
            state = session.get(PriceSourceState, source.name)
            items.append(_read(source, state))
    schedule = PriceSchedule(
        timezone=settings.price_fetch_timezone,
        fetch_after=settings.price_fetch_after.strftime("%H:%M"),
        cutoff=settings.price_fetch_cutoff.strftime("%H:%M"),
        retry_min=settings.price_fetch_retry_min,
        backoff_max_min=settings.price_fetch_backoff_max_min,
    )
    return PriceSourceList(items=items, schedule=schedule)


def _read(source: Source, state: PriceSourceState | None) -> PriceSourceRead:
    base = {
        "source": source.name,
        "target": source.target,
        "market": source.market,
        "product": source.product,
    }
    if state is None:
        never = dict.fromkeys(
            ("target_day", "last_attempt_at", "last_success_at", "last_error", "next_attempt_at")
        )
        return PriceSourceRead.model_validate(
            {**base, **never, "status": "idle", "failures": 0, "attempts": 0, "rows_last": 0}
        )
    return PriceSourceRead.model_validate(
        {
            **base,
            "status": state.status,
            "target_day": date.fromisoformat(state.target_day) if state.target_day else None,
            "last_attempt_at": state.last_attempt_at,
            "last_success_at": state.last_success_at,
            "last_error": state.last_error,
            "next_attempt_at": state.next_attempt_at,
            "failures": state.failures,
            "attempts": state.attempts,
            "rows_last": state.rows_last,
        }
    )
