"""Unit tests of `luna_iems.db.timebucket`: zone transitions, bucket ends, labels, bucket starts."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from luna_iems.db.base import to_epoch_us
from luna_iems.db.timebucket import (
    Bucket,
    bucket_end,
    bucket_starts,
    label_to_datetime,
    offset_transitions,
)
from tests.timeseries.factories import utc

BERLIN = ZoneInfo("Europe/Berlin")
US = 1_000_000


def test_offset_transitions_of_berlin_in_2026() -> None:
    start, end = utc(2026, 1, 1), utc(2026, 12, 31)
    transitions = offset_transitions(BERLIN, start, end)
    assert transitions[0] == (start - timedelta(days=2), 3600)  # CET before the first change
    assert transitions[1:] == [(utc(2026, 3, 29, 1), 7200), (utc(2026, 10, 25, 1), 3600)]


def test_offset_transitions_without_a_change_and_near_the_edges() -> None:
    summer = offset_transitions(BERLIN, utc(2026, 6, 1), utc(2026, 6, 30))
    assert [offset for _, offset in summer] == [7200]
    assert offset_transitions(ZoneInfo("UTC"), utc(2026, 1, 1), utc(2026, 12, 31))[0][1] == 0
    # a range that ends just before the change still sees it (two days of margin)
    near = offset_transitions(BERLIN, utc(2026, 3, 27), utc(2026, 3, 28))
    assert near[1:] == [(utc(2026, 3, 29, 1), 7200)]
    # the southern hemisphere: Sydney leaves daylight time on 2026-04-05 (03:00 AEDT = 16:00Z the day before)
    sydney = offset_transitions(ZoneInfo("Australia/Sydney"), utc(2026, 3, 1), utc(2026, 5, 1))
    assert sydney[1:] == [(utc(2026, 4, 4, 16), 36000)] and sydney[0][1] == 39600
    # a half-hour zone change (Lord Howe Island: +11 to +10:30)
    lord_howe = offset_transitions(ZoneInfo("Australia/Lord_Howe"), utc(2026, 3, 1), utc(2026, 5, 1))
    assert lord_howe[1:] == [(utc(2026, 4, 4, 15), 37800)]


@pytest.mark.parametrize(
    ("bucket", "start", "end"),
    [
        ("15m", utc(2026, 3, 29, 0, 45), utc(2026, 3, 29, 1, 0)),
        ("1h", utc(2026, 3, 29, 0), utc(2026, 3, 29, 1)),
        ("1d", utc(2026, 3, 27, 23), utc(2026, 3, 28, 23)),  # an ordinary 24-hour day
        ("1d", utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)),  # 23 hours: spring forward
        ("1d", utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)),  # 25 hours: fall back
        ("1w", utc(2026, 3, 22, 23), utc(2026, 3, 29, 22)),  # 167 hours
        ("1w", utc(2026, 10, 18, 22), utc(2026, 10, 25, 23)),  # 169 hours
        ("1mo", utc(2026, 2, 28, 23), utc(2026, 3, 31, 22)),  # March: 743 hours
        ("1mo", utc(2026, 9, 30, 22), utc(2026, 10, 31, 23)),  # October: 745 hours
        ("1mo", utc(2025, 11, 30, 23), utc(2025, 12, 31, 23)),  # December rolls into the next year
        ("1mo", utc(2026, 1, 31, 23), utc(2026, 2, 28, 23)),
    ],
)
def test_bucket_end_across_dst(bucket: Bucket, start: object, end: object) -> None:
    assert bucket_end(start, bucket, BERLIN) == end  # type: ignore[arg-type]


def test_bucket_end_in_other_zones() -> None:
    utc_zone = ZoneInfo("UTC")
    assert bucket_end(utc(2026, 3, 29), "1d", utc_zone) == utc(2026, 3, 30)
    assert bucket_end(utc(2025, 12, 1), "1mo", utc_zone) == utc(2026, 1, 1)
    london = ZoneInfo("Europe/London")
    assert bucket_end(utc(2026, 10, 24, 23), "1d", london) == utc(2026, 10, 26, 0)  # 25 hours
    assert bucket_end(utc(2026, 3, 29), "1d", london) == utc(2026, 3, 29, 23)  # 23 hours


def test_label_to_datetime() -> None:
    local_day = to_epoch_us(utc(2026, 3, 29))  # "2026-03-29 00:00" read as local wall time
    assert label_to_datetime(local_day, "1d", BERLIN) == utc(2026, 3, 28, 23)
    assert label_to_datetime(local_day, "1w", BERLIN) == utc(2026, 3, 28, 23)
    assert label_to_datetime(to_epoch_us(utc(2026, 3, 29, 1, 15)), "15m", BERLIN) == utc(2026, 3, 29, 1, 15)
    assert label_to_datetime("2026-04", "1mo", BERLIN) == utc(2026, 3, 31, 22)
    assert label_to_datetime("2026-01", "1mo", BERLIN) == utc(2025, 12, 31, 23)
    naive = utc(2026, 10, 25).replace(tzinfo=None)
    assert label_to_datetime(naive, "1d", BERLIN) == utc(2026, 10, 24, 22)
    assert label_to_datetime(utc(2026, 3, 29, 1), "1h", BERLIN) == utc(2026, 3, 29, 1)


def test_bucket_starts() -> None:
    days = bucket_starts("1d", utc(2026, 3, 27, 23), utc(2026, 3, 30, 22), BERLIN)
    assert days == [utc(2026, 3, 27, 23), utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)]
    months = bucket_starts("1mo", utc(2026, 1, 15), utc(2026, 4, 15), BERLIN)
    assert months == [utc(2025, 12, 31, 23), utc(2026, 1, 31, 23), utc(2026, 2, 28, 23), utc(2026, 3, 31, 22)]
    weeks = bucket_starts("1w", utc(2026, 3, 25), utc(2026, 4, 1), BERLIN)
    assert weeks == [utc(2026, 3, 22, 23), utc(2026, 3, 29, 22)]
    quarters = bucket_starts("15m", utc(2026, 3, 29, 0, 50), utc(2026, 3, 29, 1, 31), BERLIN)
    assert quarters == [utc(2026, 3, 29, 0, 45) + i * timedelta(minutes=15) for i in range(4)]
    # every bucket start's end is the next start
    for bucket in ("1d", "1w", "1mo"):
        starts = bucket_starts(bucket, utc(2026, 1, 1), utc(2026, 12, 31), BERLIN)  # type: ignore[arg-type]
        ends = [bucket_end(s, bucket, BERLIN) for s in starts]  # type: ignore[arg-type]
        assert ends[:-1] == starts[1:], bucket
