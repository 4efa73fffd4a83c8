"""Unit tests of `luna_iems.timeseries.rollups` (pure NumPy: samples in, rollup rows out)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from luna_iems.db.base import to_epoch_us
from luna_iems.timeseries.rollups import (
    RollupRows,
    compute_rollups,
    local_day_start_us,
    sample_durations_us,
    split_at_edges,
)
from tests.timeseries.factories import utc

BERLIN = ZoneInfo("Europe/Berlin")
US = 1_000_000
T0 = utc(2026, 2, 2)


def _us(*instants: datetime) -> np.ndarray:
    return np.array([to_epoch_us(t) for t in instants], dtype=np.int64)


def _rollups(
    ts_us: np.ndarray,
    consumption: list[float],
    production: list[float] | None = None,
    voltage: list[float] | None = None,
    tz: ZoneInfo = BERLIN,
    step_us: int | None = None,
) -> dict[str, RollupRows]:
    n = len(consumption)
    result = compute_rollups(
        ts_us,
        np.array(consumption, dtype=np.float64),
        np.array(production if production is not None else [np.nan] * n, dtype=np.float64),
        np.array(voltage if voltage is not None else [np.nan] * n, dtype=np.float64),
        tz=tz,
        step_us=step_us,
        declared=step_us is not None,
    )
    return {r.resolution: r for r in result}


def test_import_and_export_are_computed_per_sample() -> None:
    base = to_epoch_us(T0)
    ts = np.array([base, base + 450 * US], dtype=np.int64)  # two 7.5-minute samples
    rows = _rollups(ts, [4.0, 0.0], [0.0, 4.0], [230.0, 232.0])
    assert set(rows) == {"15m", "1h", "1d"}
    q = rows["15m"]
    assert q.ts_us.tolist() == [base]
    assert q.samples.tolist() == [2] and q.covered_s.tolist() == [900.0]
    # netting inside the bucket would give 0 and 0; per sample it is 4 kW x 0.125 h each way
    assert q.import_kwh.tolist() == [0.5] and q.export_kwh.tolist() == [0.5]
    assert q.consumption_kwh.tolist() == [0.5] and q.production_kwh.tolist() == [0.5]
    assert (q.consumption_kw_min[0], q.consumption_kw_max[0], q.consumption_kw_last[0]) == (0.0, 4.0, 0.0)
    assert (q.production_kw_min[0], q.production_kw_max[0], q.production_kw_last[0]) == (0.0, 4.0, 4.0)
    assert q.voltage_avg.tolist() == [231.0]
    assert rows["1h"].import_kwh.tolist() == [0.5] and rows["1d"].export_kwh.tolist() == [0.5]
    assert rows["1d"].ts_us.tolist() == [to_epoch_us(utc(2026, 2, 1, 23))]  # local midnight CET


def test_regular_10_second_samples_give_exact_energy() -> None:
    base = to_epoch_us(T0)
    ts = base + np.arange(180, dtype=np.int64) * 10 * US  # 30 minutes of 10-second samples
    rows = _rollups(ts, [3.6] * 180)
    q = rows["15m"]
    assert q.samples.tolist() == [90, 90]
    assert q.covered_s.tolist() == [900.0, 900.0]
    assert q.consumption_kwh == pytest.approx([0.9, 0.9])  # 3.6 kW x 0.25 h
    assert rows["1h"].consumption_kwh == pytest.approx([1.8])


def test_jittered_10_second_samples_give_correct_energy() -> None:
    base = to_epoch_us(T0)
    gaps = np.array([9, 10, 11] * 30, dtype=np.int64) * US  # DSMR-like: about every 10 s
    ts = base + np.concatenate([[0], np.cumsum(gaps)[:-1]])
    assert ts[-1] == base + (900 - 11) * US  # 90 samples within the first quarter-hour
    rows = _rollups(ts, [3.6] * 90)
    q = rows["15m"]
    assert q.samples.tolist() == [90]
    # the samples cover 889 s plus the last one's typical step (10 s) = 899 s
    assert q.covered_s[0] == pytest.approx(899.0)
    assert q.consumption_kwh[0] == pytest.approx(3.6 * 899 / 3600)


def test_irregular_samples_weight_by_duration() -> None:
    base = to_epoch_us(T0)
    # 10-second samples, with a 5-second pair in the middle: 8 kW for 5 s, then back to 2 kW
    offsets = [0, 10, 20, 30, 35, 40, 50]
    ts = base + np.array(offsets, dtype=np.int64) * US
    rows = _rollups(ts, [2.0, 2.0, 2.0, 8.0, 2.0, 2.0, 2.0])
    q = rows["15m"]
    # durations: 10, 10, 10, 5, 5, 10, 10 (last: the typical step) -> 60 s
    assert q.covered_s.tolist() == [60.0]
    assert q.consumption_kwh[0] == pytest.approx((2.0 * 55 + 8.0 * 5) / 3600)


def test_a_gap_is_not_counted_as_covered() -> None:
    base = to_epoch_us(T0)
    quarters = np.array([0, 1, 2, 8, 9], dtype=np.int64)  # quarter-hours 3..7 are missing
    rows = _rollups(base + quarters * 900 * US, [4.0] * 5)
    hourly = rows["1h"]
    assert hourly.ts_us.tolist() == [base, base + 2 * 3600 * US]  # no row for the empty hour
    assert hourly.covered_s.tolist() == [2700.0, 1800.0]
    assert hourly.consumption_kwh.tolist() == [3.0, 2.0]  # 4 kW x 0.75 h and x 0.5 h
    assert rows["1d"].covered_s.tolist() == [4500.0]
    assert sample_durations_us(base + quarters * 900 * US).tolist() == [900 * US] * 5


def test_missing_values_are_not_samples() -> None:
    base = to_epoch_us(T0)
    ts = base + np.arange(4, dtype=np.int64) * 900 * US
    rows = _rollups(ts, [1.0, np.nan, 3.0, np.nan], [np.nan, np.nan, 1.0, np.nan])
    hour = rows["1h"]
    assert hour.samples.tolist() == [2] and hour.covered_s.tolist() == [1800.0]
    assert hour.consumption_kwh.tolist() == [1.0] and hour.production_kwh.tolist() == [0.25]
    assert hour.import_kwh.tolist() == [0.75] and hour.export_kwh.tolist() == [0.0]
    assert (hour.consumption_kw_min[0], hour.consumption_kw_max[0]) == (1.0, 3.0)
    assert hour.consumption_kw_last[0] == 3.0  # the last sample with a value
    assert np.isnan(hour.voltage_avg[0])
    empty = rows["15m"]
    assert empty.samples.tolist() == [1, 0, 1, 0]
    assert np.isnan(empty.consumption_kw_min[1]) and np.isnan(empty.consumption_kw_last[3])


def test_unsorted_input_is_sorted() -> None:
    base = to_epoch_us(T0)
    ts = base + np.array([2, 0, 1], dtype=np.int64) * 900 * US
    rows = _rollups(ts, [3.0, 1.0, 2.0])
    assert rows["1h"].consumption_kw_last.tolist() == [3.0]
    assert rows["15m"].consumption_kwh.tolist() == [0.25, 0.5, 0.75]


def test_daily_key_follows_local_midnight_across_dst() -> None:
    instants = [
        utc(2026, 3, 28, 22, 45),  # 23:45 CET on the 28th
        utc(2026, 3, 28, 23, 0),  # 00:00 CET on the 29th
        utc(2026, 3, 29, 10, 0),  # 12:00 CEST on the 29th
        utc(2026, 3, 29, 22, 0),  # 00:00 CEST on the 30th
        utc(2026, 10, 24, 21, 45),  # 23:45 CEST on the 24th
        utc(2026, 10, 24, 22, 0),  # 00:00 CEST on the 25th (a 25-hour day)
        utc(2026, 10, 25, 1, 30),  # 02:30 CET, in the repeated hour
        utc(2026, 10, 25, 22, 59),  # 23:59 CET on the 25th
        utc(2026, 10, 25, 23, 0),  # 00:00 CET on the 26th
    ]
    expected_days = [
        utc(2026, 3, 27, 23),
        utc(2026, 3, 28, 23),
        utc(2026, 3, 28, 23),
        utc(2026, 3, 29, 22),
        utc(2026, 10, 23, 22),
        utc(2026, 10, 24, 22),
        utc(2026, 10, 24, 22),
        utc(2026, 10, 24, 22),
        utc(2026, 10, 25, 23),
    ]
    ts = _us(*instants)
    assert local_day_start_us(ts, BERLIN).tolist() == _us(*expected_days).tolist()
    # One-minute readings (declared), so that no reading reaches into the next day.
    daily = _rollups(ts, [1.0] * len(instants), step_us=60 * US)["1d"]
    assert daily.ts_us.tolist() == _us(*dict.fromkeys(expected_days)).tolist()
    assert daily.samples.tolist() == [1, 2, 1, 1, 3, 1]
    utc_days = _rollups(ts, [1.0] * len(instants), tz=ZoneInfo("UTC"), step_us=60 * US)["1d"]
    assert (
        utc_days.ts_us.tolist()
        == _us(utc(2026, 3, 28), utc(2026, 3, 29), utc(2026, 10, 24), utc(2026, 10, 25)).tolist()
    )


def test_empty_input() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert compute_rollups(empty, np.zeros(0), np.zeros(0), np.zeros(0), tz=BERLIN) == []
    assert sample_durations_us(empty).size == 0
    single = np.array([to_epoch_us(T0)], dtype=np.int64)
    assert sample_durations_us(single).tolist() == [900 * US]  # default step: a quarter-hour


def test_an_hourly_reading_spreads_over_its_quarter_hours() -> None:
    base = to_epoch_us(T0)
    ts = base + np.arange(3, dtype=np.int64) * 3600 * US
    q = _rollups(ts, [4.0, 8.0, 2.0])["15m"]
    assert q.ts_us.tolist() == (base + np.arange(12) * 900 * US).tolist()
    assert q.consumption_kwh.tolist() == [1.0] * 4 + [2.0] * 4 + [0.5] * 4
    assert q.covered_s.tolist() == [900.0] * 12
    assert q.samples.tolist() == [1, 0, 0, 0] * 3  # counted where it starts
    assert q.consumption_kw_max.tolist() == [4.0] * 4 + [8.0] * 4 + [2.0] * 4


def test_a_window_keeps_only_the_parts_inside_it() -> None:
    base = to_epoch_us(T0)
    ts = np.array([base - 1800 * US, base + 1800 * US], dtype=np.int64)  # hourly readings at :30
    window = (base, base + 3600 * US)
    result = compute_rollups(
        ts, np.array([4.0, 8.0]), np.full(2, np.nan), np.full(2, np.nan), tz=BERLIN, step_us=3600 * US,
        declared=True, window_us=window,
    )  # fmt: skip
    hour = {r.resolution: r for r in result}["1h"]
    assert hour.ts_us.tolist() == [base]
    assert hour.consumption_kwh.tolist() == [2.0 + 4.0]  # half of each reading
    assert hour.samples.tolist() == [1]


def test_split_at_edges_cuts_intervals_at_every_edge() -> None:
    edges = np.array([0, 10, 20, 30], dtype=np.int64)
    pieces = split_at_edges(
        np.array([-5, 5, 25], dtype=np.int64), np.array([2, 25, 40], dtype=np.int64), edges
    )
    assert pieces.sample.tolist() == [0, 1, 1, 1, 2]
    assert pieces.cell.tolist() == [0, 0, 1, 2, 2]
    assert pieces.length_us.tolist() == [2, 5, 10, 5, 5]
    assert pieces.first.tolist() == [False, True, False, False, True]
