"""Unit tests of `luna_iems.timeseries.netting` (a site's meters netted as one grid connection)."""

from __future__ import annotations

import numpy as np
import pytest

from luna_iems.timeseries.netting import MeterSamples, common_step_us, net_site

US = 1_000_000


def _meter(step_s: int, consumption: list[float], production: list[float] | None = None) -> MeterSamples:
    n = len(consumption)
    return MeterSamples(
        ts_us=np.arange(n, dtype=np.int64) * step_s * US,
        consumption_kw=np.array(consumption, dtype=np.float64),
        production_kw=np.array(production if production is not None else [np.nan] * n, dtype=np.float64),
        step_us=step_s * US,
        declared=False,
    )


def test_common_step_is_the_coarsest_meter_on_a_nesting_grid() -> None:
    assert common_step_us([10 * US, 60 * US]) == 60 * US
    assert common_step_us([9_800_000]) == 10 * US  # jitter within 5 %
    assert common_step_us([7 * US]) == 9 * US  # the next width that divides a quarter-hour
    assert common_step_us([900 * US, 3600 * US]) == 3600 * US
    assert common_step_us([2 * 86_400 * US]) == 86_400 * US


def test_net_per_minute_then_sum_per_quarter_hour() -> None:
    load = _meter(60, [6.0, 0.0] * 15)
    pv = _meter(60, [np.nan] * 30, [0.0, 6.0] * 15)
    rows = net_site([load, pv], 0, 1800 * US)
    assert rows.netting_s == 60.0
    assert rows.ts_us.tolist() == [0, 900 * US]
    assert rows.import_kwh == pytest.approx([0.8, 0.7])  # 8 and 7 minutes at 6 kW
    assert rows.export_kwh == pytest.approx([0.7, 0.8])
    assert rows.consumption_kwh == pytest.approx([0.8, 0.7])
    assert rows.meters.tolist() == [2, 2] and rows.covered_s.tolist() == [1800.0, 1800.0]


def test_an_hourly_cell_spreads_evenly_over_its_quarter_hours() -> None:
    load = _meter(900, [8.0, 0.0, 0.0, 0.0])
    pv = _meter(3600, [np.nan], [1.0])
    rows = net_site([load, pv], 0, 3600 * US)
    assert rows.netting_s == 3600.0
    assert rows.import_kwh == pytest.approx([0.25] * 4)  # 2 kWh - 1 kWh over the hour
    assert rows.consumption_kwh == pytest.approx([2.0, 0.0, 0.0, 0.0])
