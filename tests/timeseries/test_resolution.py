"""Readings at any resolution give true durations (issue 10, items 1 and 2), on SQLite and PostgreSQL.

A reading is the mean power over its interval: an hourly reading covers four quarter-hours, a reading
crossing midnight belongs to two days. KPIs, quarter-hour queries and forecasts must use those
durations; a site nets its meters at the finest resolution all of them have. Expected values come from
an independent computation: each meter's power integrated second by second in plain Python.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.timeseries.factories import (
    ADMIN,
    QUARTER,
    create_meter,
    ingest,
    iso,
    reading,
    readings_query,
    series,
    utc,
)

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
T0 = utc(2026, 3, 2)
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "samples"
HOUSEHOLD = FIXTURE / "opsd_residential4_hourly_2016-05-02_2016-05-16.csv"


def _kpis(client: TestClient, start: datetime, end: datetime, **scope: Any) -> dict[str, Any]:
    response = client.get("/kpis", params={"from": iso(start), "to": iso(end), **scope}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _per_second(readings: list[tuple[datetime, float]], ends: list[datetime]) -> dict[int, float]:
    """kW at every covered second (epoch seconds): reading i holds from its ts until ends[i]."""
    power: dict[int, float] = {}
    for (ts, kw), end in zip(readings, ends, strict=True):
        for second in range(int(ts.timestamp()), int(end.timestamp())):
            power[second] = kw
    return power


def _quarter_means(power: dict[int, float]) -> dict[int, float]:
    """Mean kW per quarter-hour over its covered seconds."""
    sums: dict[int, list[float]] = {}
    for second, kw in power.items():
        sums.setdefault(second - second % 900, []).append(kw)
    return {q: sum(v) / len(v) for q, v in sums.items()}


def _check_meter_kpis(k: dict[str, Any], power: dict[int, float], period_s: float) -> None:
    energy = sum(power.values()) / 3600.0
    quarters = _quarter_means(power)
    assert k["consumption_kwh"] == pytest.approx(energy, abs=1e-6)
    assert k["peak_load_kw"] == pytest.approx(max(quarters.values()), abs=1e-6)
    assert k["mean_load_kw"] == pytest.approx(energy / (len(power) / 3600.0), abs=1e-6)
    assert k["coverage"] == pytest.approx(len(power) / period_s, abs=1e-6)


def test_hourly_readings_cover_their_whole_hour(client: TestClient) -> None:
    values = [1.0 + (i * 7 % 5) for i in range(24)]  # 1..5 kW
    create_meter(client, "hourly")
    ingest(client, series("hourly", T0, values, step=HOUR))
    k = _kpis(client, T0, T0 + 24 * HOUR, meter_id="hourly")
    # The faulty reading of an hour as one quarter-hour gave peak 4 x 5 kW, mean load 4x, coverage 0.25.
    assert (k["peak_load_kw"], k["coverage"]) == (5.0, 1.0)
    assert k["mean_load_kw"] == pytest.approx(sum(values) / 24)
    assert k["consumption_kwh"] == pytest.approx(sum(values))
    points = readings_query(client, "hourly", T0, T0 + 24 * HOUR, bucket="15m", agg="avg")["points"]
    assert [p["consumption_kw"] for p in points] == [v for v in values for _ in range(4)]
    assert {p["coverage"] for p in points} == {1.0}
    # Each reading is counted once, in the quarter-hour where it starts.
    assert [p["samples"] for p in points[:4]] == [1, 0, 0, 0]
    hourly = readings_query(client, "hourly", T0, T0 + 24 * HOUR, bucket="1h", agg="sum")["points"]
    assert [p["consumption_kwh"] for p in hourly] == values


def test_one_minute_readings(client: TestClient) -> None:
    values = [float(1 + (i * 13) % 9) for i in range(120)]
    create_meter(client, "minute")
    ingest(client, series("minute", T0, values, step=MINUTE))
    readings = [(T0 + i * MINUTE, v) for i, v in enumerate(values)]
    power = _per_second(readings, [ts + MINUTE for ts, _ in readings])
    _check_meter_kpis(_kpis(client, T0, T0 + 2 * HOUR, meter_id="minute"), power, 7200)


def test_irregular_readings_match_a_per_second_integration(client: TestClient) -> None:
    # Gaps of 7 to 14 minutes (median 11): each reading lasts until the next one; the last one lasts
    # the typical step, 11 minutes.
    minutes = [0, 7, 20, 31, 45, 52, 63, 74, 88, 99]
    values = [3.0, 1.0, 6.0, 2.0, 5.0, 4.0, 1.0, 7.0, 2.0, 3.0]
    create_meter(client, "irregular")
    ingest(
        client,
        [
            reading("irregular", T0 + m * MINUTE, consumption_kw=v)
            for m, v in zip(minutes, values, strict=True)
        ],
    )
    starts = [T0 + m * MINUTE for m in minutes]
    ends = [*starts[1:], starts[-1] + 11 * MINUTE]
    power = _per_second(list(zip(starts, values, strict=True)), ends)
    _check_meter_kpis(_kpis(client, T0, T0 + 2 * HOUR, meter_id="irregular"), power, 7200)
    points = readings_query(client, "irregular", T0, T0 + 2 * HOUR, bucket="15m", agg="avg")["points"]
    expected = _quarter_means(power)
    assert {
        int(datetime.fromisoformat(p["ts"]).timestamp()): p["consumption_kw"] for p in points
    } == pytest.approx(expected, abs=1e-6)


def test_a_declared_interval_leaves_the_rest_uncovered(client: TestClient) -> None:
    # A meter declared as 15-minute that reports every 30 minutes covers half of the time.
    create_meter(client, "sparse", interval_s=900)
    ingest(client, series("sparse", T0, [2.0, 4.0, 6.0, 8.0], step=2 * QUARTER))
    k = _kpis(client, T0, T0 + 2 * HOUR, meter_id="sparse")
    assert (k["consumption_kwh"], k["coverage"], k["peak_load_kw"]) == (5.0, 0.5, 8.0)
    assert k["mean_load_kw"] == 5.0
    # Declaring hourly readings afterwards recomputes the rollups: now every reading covers 30 minutes
    # (up to the next reading), so the whole period is covered and the energy doubles.
    response = client.patch("/meters/sparse", json={"interval_s": 3600}, headers=ADMIN)
    assert response.status_code == 200 and response.json()["interval_s"] == 3600
    k = _kpis(client, T0, T0 + 2 * HOUR, meter_id="sparse")
    assert (k["consumption_kwh"], k["coverage"]) == (10.0, 1.0)


def test_a_reading_across_local_midnight_splits_between_days(client: TestClient) -> None:
    create_meter(client, "late", timezone="Europe/Berlin", interval_s=3600)
    ingest(client, [reading("late", utc(2026, 3, 1, 22, 30), consumption_kw=4.0)])  # 23:30-00:30 CET
    start, end = utc(2026, 2, 28, 23), utc(2026, 3, 2, 23)  # local midnights, 1 and 2 March
    days = readings_query(client, "late", start, end, bucket="1d", agg="sum")["points"]
    assert [(p["ts"], p["consumption_kwh"]) for p in days] == [
        ("2026-02-28T23:00:00Z", 2.0),  # 1 March, local midnight
        ("2026-03-01T23:00:00Z", 2.0),
    ]


def test_site_nets_one_minute_meters_per_minute(client: TestClient) -> None:
    # Load and PV take turns minute by minute: per quarter-hour they almost cancel, per instant the
    # site imports 4 kW half of the time and exports 4 kW the other half.
    load = [4.0 if i % 2 == 0 else 0.0 for i in range(60)]
    pv = [0.0 if i % 2 == 0 else 4.0 for i in range(60)]
    create_meter(client, "load", site="works")
    create_meter(client, "pv", site="works", kind="production")
    ingest(
        client,
        series("load", T0, load, step=MINUTE) + series("pv", T0, [None] * 60, production=pv, step=MINUTE),
    )
    k = _kpis(client, T0, T0 + HOUR, site="works")
    assert k["netting_s"] == 60.0
    assert (k["import_kwh"], k["export_kwh"]) == (pytest.approx(2.0), pytest.approx(2.0))
    assert k["self_consumption_rate"] == pytest.approx(0.0, abs=1e-9)
    assert k["coverage"] == 1.0 and k["peak_load_kw"] == pytest.approx(8 * 4.0 / 15)  # 8 of 15 minutes on


def test_site_with_an_hourly_meter_nets_per_hour(client: TestClient) -> None:
    # 15-minute load (4 kW in the first quarter of each hour) and an hourly PV meter (1 kW): the finest
    # resolution both have is the hour, over which PV covers the load exactly.
    create_meter(client, "load", site="farm")
    create_meter(client, "pv", site="farm", kind="production")
    ingest(client, series("load", T0, [4.0, 0.0, 0.0, 0.0] * 2))
    ingest(client, series("pv", T0, [None, None], production=[1.0, 1.0], step=HOUR))
    k = _kpis(client, T0, T0 + 2 * HOUR, site="farm")
    assert k["netting_s"] == 3600.0
    assert (k["consumption_kwh"], k["production_kwh"]) == (pytest.approx(2.0), pytest.approx(2.0))
    assert (k["import_kwh"], k["export_kwh"]) == (pytest.approx(0.0, abs=1e-9), pytest.approx(0.0, abs=1e-9))
    # The meter alone nets per reading.
    assert _kpis(client, T0, T0 + 2 * HOUR, meter_id="pv")["netting_s"] is None


def test_site_rollups_follow_meters_that_move_or_go(client: TestClient) -> None:
    create_meter(client, "load", site="plant")
    create_meter(client, "pv", site="plant", kind="production")
    ingest(client, series("load", T0, [4.0] * 4) + series("pv", T0, [None] * 4, production=[3.0] * 4))
    assert _kpis(client, T0, T0 + HOUR, site="plant")["import_kwh"] == pytest.approx(1.0)
    assert client.patch("/meters/pv", json={"site": "roof"}, headers=ADMIN).status_code == 200
    assert _kpis(client, T0, T0 + HOUR, site="plant")["import_kwh"] == pytest.approx(4.0)
    assert _kpis(client, T0, T0 + HOUR, site="roof")["export_kwh"] == pytest.approx(3.0)
    assert client.patch("/meters/pv", json={"site": "plant"}, headers=ADMIN).status_code == 200
    create_meter(client, "other", site="plant")
    ingest(client, series("other", T0, [2.0] * 4))
    assert _kpis(client, T0, T0 + HOUR, site="plant")["import_kwh"] == pytest.approx(3.0)
    assert client.delete("/meters/other", headers=ADMIN).status_code == 204
    k = _kpis(client, T0, T0 + HOUR, site="plant")
    assert (k["scope"]["meters"], k["import_kwh"]) == (2, pytest.approx(1.0))


def _household() -> list[tuple[datetime, float, float, float]]:
    """(hour start, consumption kW, PV kW, measured grid import kWh) from the real cumulative counters."""
    with HOUSEHOLD.open(newline="") as f:
        rows = list(csv.DictReader(f))
    prefix = "DE_KN_residential4_"
    result = []
    for before, after in pairwise(rows):
        delta = {
            k: float(after[prefix + k]) - float(before[prefix + k])
            for k in ("grid_import", "grid_export", "pv")
        }
        consumption = max(delta["grid_import"] + delta["pv"] - delta["grid_export"], 0.0)
        start = datetime.fromisoformat(before["utc_timestamp"].replace("Z", "+00:00"))
        result.append((start, consumption, delta["pv"], delta["grid_import"]))
    return result


def test_real_household_hourly_data(client: TestClient) -> None:
    hours = _household()
    start, end = hours[0][0], hours[-1][0] + HOUR
    create_meter(client, "house-load", site="house", lat=47.66, lon=9.18)
    create_meter(client, "house-pv", site="house", kind="production", lat=47.66, lon=9.18)
    rows = [reading("house-load", ts, consumption_kw=c) for ts, c, _, _ in hours]
    rows += [reading("house-pv", ts, production_kw=p) for ts, _, p, _ in hours]
    ingest(client, rows)
    load = _kpis(client, start, end, meter_id="house-load")
    consumption = [c for _, c, _, _ in hours]
    assert load["peak_load_kw"] == pytest.approx(max(consumption), abs=1e-6)  # the review saw 4x
    assert load["mean_load_kw"] == pytest.approx(sum(consumption) / len(hours), abs=1e-6)
    assert load["coverage"] == 1.0
    site = _kpis(client, start, end, site="house")
    assert site["netting_s"] == 3600.0
    hourly_import = sum(max(c - p, 0.0) for _, c, p, _ in hours)
    assert site["import_kwh"] == pytest.approx(hourly_import, abs=1e-6)
    # The real grid meter nets per instant, so it measured at least what hourly netting can see.
    assert site["import_kwh"] <= sum(m for _, _, _, m in hours) + 1e-6
    # Forecasts read the same durations: the site's mean load per hour is kW, not 4 x kW.
    forecast = client.post(
        "/forecast",
        json={
            "site": "house",
            "target": "load",
            "resolution": "1h",
            "at": iso(end),
            "model": "seasonal_naive",
        },
        headers=ADMIN,
    )
    assert forecast.status_code == 200, forecast.text
    values = [p["value"] for p in forecast.json()["points"]]
    last_day = consumption[-24:]
    assert max(values) <= max(consumption) + 1e-6
    assert sum(values) == pytest.approx(sum(last_day), rel=0.5)
