"""Time bucketing in SQL, the same result on SQLite and PostgreSQL.

- `15m` and `1h` buckets are aligned in UTC (identical to local alignment for whole-hour offsets, and
  unambiguous in the repeated hour when daylight saving time ends).
- `1d`, `1w` (ISO weeks, starting Monday) and `1mo` buckets follow the calendar of a time zone.

The SQL returns a *label*: an integer (UTC microseconds for 15m/1h, local microseconds for 1d/1w) or a
'YYYY-MM' string (1mo); `label_to_datetime` turns it into the aware UTC start of the bucket.
PostgreSQL uses `date_bin`/`date_trunc` on `ts AT TIME ZONE`; SQLite, which stores microseconds and
has no time zone database, adds the zone's UTC offset through a CASE over the zone's transitions in
the queried range. TimescaleDB's `time_bucket` is not needed for these results; plain PostgreSQL
functions keep one code path that the tests can run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, String, case, cast, func, literal, literal_column, type_coerce

Bucket = Literal["15m", "1h", "1d", "1w", "1mo"]
BUCKETS: tuple[Bucket, ...] = ("15m", "1h", "1d", "1w", "1mo")
_US = 1_000_000
FIXED_US: dict[str, int] = {"15m": 900 * _US, "1h": 3600 * _US, "1d": 86_400 * _US}
_PG_INTERVAL = {"15m": "15 minutes", "1h": "1 hour", "1d": "1 day", "1w": "7 days"}
# A Monday, so that 7-day bins are ISO weeks.
_PG_ORIGIN = "2000-01-03 00:00:00"


def offset_transitions(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """[(instant from which the offset applies, offset in seconds)], covering [start, end]."""
    cursor = start - timedelta(days=2)
    stop = end + timedelta(days=2)
    current = int(cursor.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]
    result = [(cursor, current)]
    step = timedelta(hours=6)
    while cursor < stop:
        nxt = cursor + step
        offset = int(nxt.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]
        if offset != current:
            lo, hi = cursor, nxt  # bisect to the minute
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if int(mid.astimezone(tz).utcoffset().total_seconds()) == current:  # type: ignore[union-attr]
                    lo = mid
                else:
                    hi = mid
            result.append((hi.replace(second=0, microsecond=0), offset))
            current = offset
        cursor = nxt
    return result


def _sqlite_local_us(
    ts: ColumnElement[Any], tz: ZoneInfo, start: datetime, end: datetime
) -> ColumnElement[Any]:
    from luna_iems.db.base import to_epoch_us

    transitions = offset_transitions(tz, start, end)
    if len(transitions) == 1:
        return ts + literal(transitions[0][1] * _US)
    whens = [
        (ts < literal(to_epoch_us(transitions[i + 1][0])), literal(transitions[i][1] * _US))
        for i in range(len(transitions) - 1)
    ]
    return ts + case(*whens, else_=literal(transitions[-1][1] * _US))


def bucket_label(
    dialect: str, ts: Any, bucket: Bucket, *, tz: ZoneInfo, start: datetime, end: datetime
) -> ColumnElement[Any]:
    """SQL expression for the bucket label of `ts` (see the module docstring)."""
    if dialect == "sqlite":
        return _sqlite_label(ts, bucket, tz=tz, start=start, end=end)
    if dialect == "postgresql":
        return _postgres_label(ts, bucket, tz=tz)
    raise NotImplementedError(f"time buckets for dialect {dialect}")


def _sqlite_label(
    ts: Any, bucket: Bucket, *, tz: ZoneInfo, start: datetime, end: datetime
) -> ColumnElement[Any]:
    raw = type_coerce(ts, Integer)  # stored as UTC microseconds; bypass the datetime conversion
    if bucket in ("15m", "1h"):
        width = FIXED_US[bucket]
        return cast(raw / width, Integer) * width
    local = _sqlite_local_us(raw, tz, start, end)
    if bucket == "1mo":
        return func.strftime("%Y-%m", cast(local / _US, Integer), "unixepoch")
    day = cast(local / FIXED_US["1d"], Integer)
    if bucket == "1w":
        # 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
        return (day - (day + 3) % 7) * FIXED_US["1d"]
    return day * FIXED_US["1d"]


def _postgres_label(ts: Any, bucket: Bucket, *, tz: ZoneInfo) -> ColumnElement[Any]:
    if bucket in ("15m", "1h"):
        utc_origin: ColumnElement[Any] = literal_column("TIMESTAMPTZ '2000-01-03 00:00:00+00'")
        return func.date_bin(literal_column(f"INTERVAL '{_PG_INTERVAL[bucket]}'"), ts, utc_origin)
    local = func.timezone(literal(tz.key, String), ts)
    if bucket == "1mo":
        return func.to_char(func.date_trunc("month", local), "YYYY-MM")
    origin: ColumnElement[Any] = literal_column(f"TIMESTAMP '{_PG_ORIGIN}'")
    return func.date_bin(literal_column(f"INTERVAL '{_PG_INTERVAL[bucket]}'"), local, origin)


def label_to_datetime(label: Any, bucket: Bucket, tz: ZoneInfo) -> datetime:
    """The aware UTC start of the bucket a label names."""
    if isinstance(label, datetime):
        if label.tzinfo is not None:  # PostgreSQL 15m/1h: timestamptz
            return label.astimezone(UTC)
        return label.replace(tzinfo=tz).astimezone(UTC)  # local naive day/week start
    if isinstance(label, str):  # 'YYYY-MM'
        year, month = (int(x) for x in label.split("-"))
        return datetime(year, month, 1, tzinfo=tz).astimezone(UTC)
    micros = int(label)
    naive = datetime(1970, 1, 1) + timedelta(microseconds=micros)  # noqa: DTZ001 - interpreted below
    if bucket in ("15m", "1h"):
        return naive.replace(tzinfo=UTC)
    return naive.replace(tzinfo=tz).astimezone(UTC)


def bucket_end(start: datetime, bucket: Bucket, tz: ZoneInfo) -> datetime:
    """The aware UTC end of the bucket that starts at `start` (calendar-aware for 1d/1w/1mo)."""
    if bucket == "15m":
        return start + timedelta(minutes=15)
    if bucket == "1h":
        return start + timedelta(hours=1)
    local = start.astimezone(tz).replace(tzinfo=None)
    if bucket == "1d":
        nxt = local + timedelta(days=1)
    elif bucket == "1w":
        nxt = local + timedelta(days=7)
    else:
        nxt = local.replace(year=local.year + (local.month == 12), month=local.month % 12 + 1)
    return nxt.replace(tzinfo=tz).astimezone(UTC)


def bucket_starts(bucket: Bucket, start: datetime, end: datetime, tz: ZoneInfo) -> list[datetime]:
    """Every bucket start in [start, end) (for filling gaps in a result)."""
    starts = []
    if bucket in ("15m", "1h"):
        width = timedelta(minutes=15) if bucket == "15m" else timedelta(hours=1)
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        cursor = epoch + ((start - epoch) // width) * width
        while cursor < end:
            starts.append(cursor)
            cursor += width
        return starts
    local = start.astimezone(tz)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    if bucket == "1w":
        day -= timedelta(days=day.weekday())
    if bucket == "1mo":
        day = day.replace(day=1)
    while True:
        instant = day.replace(tzinfo=tz).astimezone(UTC)
        if instant >= end:
            return starts
        starts.append(instant)
        if bucket == "1d":
            day += timedelta(days=1)
        elif bucket == "1w":
            day += timedelta(days=7)
        else:
            day = day.replace(year=day.year + (day.month == 12), month=day.month % 12 + 1)
