"""The columnar fast path takes only batches the models accept, with the same values; the models decide
every other batch (issue 10, item 3: one validation, two speeds, same answers)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from luna_iems.db.base import to_epoch_us
from luna_iems.errors import InvalidInputError
from luna_iems.timeseries.columnar import (
    _epoch_us,
    _general_fields,
    _instants,
    _uniform_fields,
    reading_columns,
)
from luna_iems.timeseries.parsing import validate_rows
from luna_iems.timeseries.schemas import MAX_POWER_KW, ReadingIn

GOOD = [
    {"meter_id": "m-1", "ts": "2026-03-29T01:45:00+01:00", "consumption_kw": 1.5, "voltage": 230},
    {"meter_id": "m.2", "ts": "2026-03-29T03:00:00+02:00", "production_kw": 0, "quality": "missing"},
    {"meter_id": "m-1", "ts": "2026-03-29T01:00:00Z", "consumption_kw": 2, "production_kw": 0.25},
]


def test_fast_path_matches_the_models() -> None:
    columns = reading_columns(GOOD)
    assert columns is not None
    models = validate_rows(ReadingIn, GOOD)
    assert columns.meter_ids.tolist() == [m.meter_id for m in models]
    assert columns.ts_us.tolist() == [to_epoch_us(m.ts) for m in models]
    for name in ("consumption_kw", "production_kw", "voltage"):
        expected = [math.nan if getattr(m, name) is None else getattr(m, name) for m in models]
        got = getattr(columns, name).tolist()
        assert all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(got, expected, strict=True))
    assert columns.quality.tolist() == [m.quality.value for m in models]


@pytest.mark.parametrize(
    "change",
    [
        {"ts": "2026-03-29T01:45:00"},  # no offset
        {"consumption_kw": -1},
        {"consumption_kw": 100_001},
        {"voltage": 0},
        {"consumption_kw": "1.5"},  # a string: the models decide
        {"consumption_kw": True},
        {"meter_id": "bad id"},
        {"quality": "great"},
        {"extra": 1},
        {"ts": "1969-12-31T23:00:00Z"},
        {"meter_id": "m-1\n"},  # POST /meters refuses it
        {"ts": "20260101T001500Z"},  # compact: the models refuse it
    ],
)
def test_anything_doubtful_goes_to_the_models(change: dict[str, Any]) -> None:
    rows = [GOOD[0] | change, *GOOD[1:]]
    assert reading_columns(rows) is None
    if change not in ({"consumption_kw": "1.5"}, {"consumption_kw": True}):  # lax models accept these
        with pytest.raises(ValidationError):
            ReadingIn.model_validate(rows[0])


# ------------------------------------------------------------------ one validation, two speeds
# The fast path may decline a batch (None: the models decide), but whatever it accepts the models
# accept too, with the same stored values; whatever the models refuse, it declines.

_IDS = st.one_of(
    st.sampled_from(
        [
            "m-1",
            "m.2",
            "a:b_c",
            "m1\n",
            "m1 ",
            " m1",
            "\nm1",
            "m1\r",
            "m\t1",
            "m\u0661",  # an Arabic-Indic digit
            "mé",
            "",
            "x" * 100,
            "x" * 101,
        ]
    ),
    st.from_regex(r"[A-Za-z0-9._:\-]{1,12}", fullmatch=True),
    st.text(max_size=8),
    st.integers(),
    st.none(),
)
_DATES = st.sampled_from(
    [
        "2026-01-01",
        "2026-03-29",
        "1970-01-01",
        "1969-12-31",
        "2199-12-31",
        "2200-01-01",
        "2026-02-30",
        "0001-01-01",
        "9999-12-31",
        "20260101",
        "2026-W01-1",
        "2026-001",
        "2026-1-1",
    ]
)
_TIMES = st.sampled_from(
    [
        "00:15:00",
        "23:59:59",
        "001500",
        "00:15",
        "00",
        "24:00:00",
        "23:59:60",
        "01:45:00.5",
        "01:45:00.123456",
        "01:45:00.1234567",
        "01:45:00,5",
        "01:45:00.",
        "1:45:00",
    ]
)
_OFFSETS = st.sampled_from(
    [
        "",
        "Z",
        "z",
        "+00:00",
        "-00:00",
        "+01:00",
        "+0100",
        "+01",
        "+05:30",
        "-23:59",
        "+24:00",
        "+01:60",
        "+01:00:30",
        " UTC",
        "UTC",
    ]
)
_SEPARATORS = st.sampled_from(["T", "T", "t", " ", "_"])
_TIMESTAMPS = st.one_of(
    st.builds(lambda d, s, t, o: f"{d}{s}{t}{o}", _DATES, _SEPARATORS, _TIMES, _OFFSETS),
    st.sampled_from(
        ["20260101T001500Z", "2026-01-01T00:15:00Z ", " 2026-01-01T00:15:00Z", "", "1767226500", "now"]
    ),
    st.datetimes(min_value=datetime(1960, 1, 1), max_value=datetime(2210, 1, 1), timezones=st.just(UTC)).map(
        lambda d: d.isoformat()
    ),
    st.integers(),
    st.floats(),
    st.none(),
)
_NUMBERS = st.one_of(
    st.none(),
    st.floats(),
    st.floats(min_value=-1, max_value=1_001),
    st.integers(min_value=-5, max_value=2_000),
    st.sampled_from(
        [0, 0.0, -0.0, 1e-300, 100_000, 100_000.0001, 1_000, 10**400, -(10**400), math.inf, -math.inf]
    ),
    st.booleans(),
    st.sampled_from(["1.5", "nan", "inf", "", " 2 ", "1e3"]),
)
_QUALITY = st.one_of(
    st.sampled_from(["ok", "missing", "estimated", "suspect", "OK", "great", ""]), st.none(), st.integers()
)
_ROW = st.fixed_dictionaries(
    {"meter_id": _IDS, "ts": _TIMESTAMPS},
    optional={
        "consumption_kw": _NUMBERS,
        "production_kw": _NUMBERS,
        "voltage": _NUMBERS,
        "quality": _QUALITY,
        "extra": st.integers(),
    },
)
# A valid row most of the time, so that batches the fast path takes are common too.
_GOOD_ROW = st.fixed_dictionaries(
    {
        "meter_id": st.from_regex(r"[A-Za-z0-9._:\-]{1,12}", fullmatch=True),
        "ts": st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2199, 12, 30))
        .map(lambda d: d.isoformat(timespec=["seconds", "milliseconds", "microseconds"][d.microsecond % 3]))
        .flatmap(
            lambda t: st.sampled_from(["Z", "+00:00", "+01:00", "-05:30", "+23:59"]).map(lambda o: t + o)
        ),
    },
    optional={
        "consumption_kw": st.none()
        | st.floats(min_value=0, max_value=MAX_POWER_KW)
        | st.integers(0, 100_000),
        "production_kw": st.none() | st.floats(min_value=0, max_value=MAX_POWER_KW),
        "voltage": st.none() | st.floats(min_value=1e-9, max_value=1_000),
        "quality": st.sampled_from(["ok", "missing", "estimated", "suspect"]),
    },
)


def _batches() -> st.SearchStrategy[list[Any]]:
    rows = st.lists(st.one_of(_GOOD_ROW, _GOOD_ROW, _GOOD_ROW, _ROW), min_size=1, max_size=6)
    with_duplicates = rows.flatmap(
        lambda r: st.lists(st.sampled_from(r), min_size=1, max_size=4).map(lambda d: r + d)
    )
    others = st.sampled_from([[], [1], ["meter_id"], [None], [[]], [{}]])
    return st.one_of(rows, rows, with_duplicates, others)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _models(rows: list[Any]) -> list[ReadingIn] | None:
    try:
        return validate_rows(ReadingIn, rows)
    except InvalidInputError:
        return None


@settings(
    max_examples=600,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_batches())
@example([{"meter_id": "m1\n", "ts": "2026-01-01T00:15:00Z", "consumption_kw": 1.0}])
@example([{"meter_id": "m1", "ts": "20260101T001500Z", "consumption_kw": 1.0}])
@example([{"meter_id": "m1", "ts": "2026-01-01T00:15:00Z", "consumption_kw": math.nan}])
@example([{"meter_id": "m1", "ts": "2026-01-01T00:15:00Z", "consumption_kw": 10**400}])
@example([{"meter_id": "m1", "ts": "2199-12-31T23:59:59.999999Z"}])
def test_the_fast_path_and_the_models_give_the_same_answer(rows: list[Any]) -> None:
    columns = reading_columns(rows)
    models = _models(rows)
    if columns is None:
        return  # the models decide, as the caller does
    assert models is not None, "the fast path took a batch the models refuse"
    assert columns.meter_ids.tolist() == [m.meter_id for m in models]
    assert columns.ts_us.tolist() == [to_epoch_us(m.ts) for m in models]
    for name in ("consumption_kw", "production_kw", "voltage"):
        expected = [math.nan if getattr(m, name) is None else getattr(m, name) for m in models]
        assert all(_same(a, b) for a, b in zip(getattr(columns, name).tolist(), expected, strict=True))
    assert columns.quality.tolist() == [m.quality.value for m in models]


@pytest.mark.parametrize(
    "ts",
    [
        "2026-01-01T00:15:00Z",
        "2026-01-01T00:15:00+00:00",
        "2026-01-01T01:15:00.000+01:00",
        "2025-12-31T18:45:00.0-05:30",
    ],
)
def test_the_common_iso_forms_take_the_fast_path(ts: str) -> None:
    columns = reading_columns([{"meter_id": "m1", "ts": ts, "consumption_kw": 1}])
    assert columns is not None and columns.ts_us.tolist() == [1_767_226_500_000_000]


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(_GOOD_ROW, min_size=1, max_size=8))
def test_valid_batches_in_the_common_forms_take_the_fast_path(rows: list[dict[str, Any]]) -> None:
    assert reading_columns(rows) is not None


_ISO_LIKE = st.one_of(
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2})?([.,][0-9]{0,8})?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)?",
        fullmatch=True,
    ),
    st.text(alphabet="0123456789-:T.Z+ \n", min_size=18, max_size=34),
    st.builds(
        lambda d, minutes, spec: d.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(
            timespec=spec
        ),
        st.datetimes(min_value=datetime(1969, 12, 30), max_value=datetime(2200, 1, 2)),
        st.integers(min_value=-1439, max_value=1439),
        st.sampled_from(["seconds", "milliseconds", "microseconds", "minutes"]),
    ),
)


@settings(max_examples=1_000, deadline=None, derandomize=True, database=None)
@given(st.lists(_ISO_LIKE, min_size=1, max_size=3))
@example(["2026-02-29T00:00:00Z"])
@example(["2024-02-29T23:59:59.999999-23:59"])
@example(["1969-12-31T23:30:00-01:00"])
@example(["2199-12-31T23:30:00-01:00"])
def test_timestamps_read_by_the_fast_path_are_the_models_instants(stamps: list[str]) -> None:
    rows = [{"meter_id": "m1", "ts": ts} for ts in stamps]
    columns = reading_columns(rows)
    if columns is not None:
        models = _models(rows)
        assert models is not None, stamps
        assert columns.ts_us.tolist() == [to_epoch_us(m.ts) for m in models]


@settings(max_examples=1_000, deadline=None, derandomize=True, database=None)
@given(_ISO_LIKE.flatmap(lambda first: st.lists(_ISO_LIKE, max_size=3).map(lambda rest: [first, *rest])))
@example(["2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z"])
@example(["2026-01-01T00:15:00+01:00", "2026-01-01T00:30:00-01:00"])
@example(["2026-01-01T00:15:00.123+01:00", "2026-01-01T00:15:00.12+01:00Z"])
@example(["2026-01-01T00:15:00+00:0", "92026-01-01T00:15:00+00:00"])  # lengths that add up
def test_the_uniform_reader_takes_only_what_the_general_one_reads_the_same(stamps: list[str]) -> None:
    """The fixed-position reader (all texts laid out as the first) never reads a text the general
    reader refuses, and reads the same instants."""
    uniform = _uniform_fields(stamps)
    if uniform is None:
        return
    general = _general_fields(stamps)
    assert general is not None, stamps
    a, b = _instants(uniform), _instants(general)
    assert (a is None) == (b is None), stamps
    if a is not None and b is not None:
        assert a.tolist() == b.tolist(), stamps


def test_a_batch_in_one_layout_takes_the_uniform_reader() -> None:
    stamps = [f"2026-01-01T{h:02d}:15:00.5+01:00" for h in range(24)]
    assert _uniform_fields(stamps) is not None
    instants = _epoch_us(stamps)
    assert instants is not None
    assert instants.tolist() == [
        to_epoch_us(datetime(2026, 1, 1, h, 15, 0, 500_000, tzinfo=timezone(timedelta(hours=1))))
        for h in range(24)
    ]
