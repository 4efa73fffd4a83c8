"""Data quality of ingest batches: over HTTP (the ingest response and GET /quality) and unit tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from luna_iems.timeseries.quality import OUTLIER_Z, assess_batch, assess_series, robust_z
from tests.timeseries.factories import ADMIN, QUARTER, create_meter, error_of, ingest, reading, utc

T0 = utc(2026, 2, 2)
US = 1_000_000
Q_US = 900 * US


def _quality_batch() -> list[dict[str, Any]]:
    """Quarter-hours 0..11 of meter "q": 5 and 6 absent, 3 flagged missing, 7 after 8 (out of order),
    10 sent twice, and a 50 kW spike at 9 among values of 1.0-1.2 kW.

    Hand computation: 11 rows, 10 distinct times, typical step 900 s, expected 12 rows (0..11);
    missing = 2 absent + 1 flagged = 3 -> 0.25. Finite values: four 1.0, four 1.1, one 1.2, one 50:
    median 1.1, MAD 0.1, z(50) = 0.6745 x 48.9 / 0.1 = 329.83; z(1.2) = 0.6745: one outlier.
    """

    def at(i: int, **values: Any) -> dict[str, Any]:
        return reading("q", T0 + i * QUARTER, **values)

    return [
        at(0, consumption_kw=1.0),
        at(1, consumption_kw=1.1),
        at(2, consumption_kw=1.0),
        at(3, quality="missing"),
        at(4, consumption_kw=1.2),
        at(8, consumption_kw=1.1),
        at(7, consumption_kw=1.0),
        at(9, consumption_kw=50.0),
        at(10, consumption_kw=1.1),
        at(10, consumption_kw=1.1),
        at(11, consumption_kw=1.0),
    ]


def _check_report(report: dict[str, Any]) -> None:
    assert report["series"] == "q"
    assert (report["rows"], report["expected_rows"]) == (11, 12)
    assert report["missing_rate"] == 0.25
    assert report["outliers"] == 1
    assert report["max_robust_z"] > 3.5
    assert report["max_robust_z"] == pytest.approx(0.6745 * 48.9 / 0.1, rel=1e-3)
    assert (report["duplicates"], report["out_of_order"]) == (1, 1)
    assert report["step_s"] == 900.0


def test_batch_quality_in_ingest_response_and_quality_endpoint(client: TestClient) -> None:
    create_meter(client, "q")
    create_meter(client, "clean")
    result = ingest(client, _quality_batch())
    (report,) = result["quality"]
    _check_report(report)
    assert result["rows_written"] == 10  # the duplicate collapsed

    stored = client.get("/quality", params={"meter_id": "q"}, headers=ADMIN)
    assert stored.status_code == 200, stored.text
    (record,) = stored.json()["items"]
    _check_report(record)
    assert record["batch_id"] == result["batch_id"] and record["created_at"]

    clean = ingest(client, [reading("clean", T0 + i * QUARTER, consumption_kw=2.0) for i in range(8)])
    (ok,) = clean["quality"]
    assert (ok["rows"], ok["expected_rows"], ok["missing_rate"], ok["outliers"]) == (8, 8, 0.0, 0)
    assert (ok["duplicates"], ok["out_of_order"], ok["max_robust_z"]) == (0, 0, 0.0)
    # newest first, across series; the filter keeps one series
    everything = client.get("/quality", headers=ADMIN).json()["items"]
    assert [r["series"] for r in everything] == ["clean", "q"]
    assert [
        r["series"]
        for r in client.get("/quality", params={"meter_id": "clean"}, headers=ADMIN).json()["items"]
    ] == ["clean"]
    assert client.get("/quality", params={"meter_id": "nobody"}, headers=ADMIN).json() == {"items": []}
    assert len(client.get("/quality", params={"limit": 1}, headers=ADMIN).json()["items"]) == 1
    error_of(client.get("/quality", params={"limit": 0}, headers=ADMIN), 422)


def test_quality_is_reported_per_series_of_a_multi_meter_batch(client: TestClient) -> None:
    create_meter(client, "a")
    create_meter(client, "b")
    rows = [reading("b", T0 + i * QUARTER, consumption_kw=1.0) for i in (0, 1, 2, 4)]
    rows += [reading("a", T0 + i * QUARTER, consumption_kw=1.0) for i in (1, 0)]
    result = ingest(client, rows)
    reports = {q["series"]: q for q in result["quality"]}
    assert [q["series"] for q in result["quality"]] == ["b", "a"]  # order of first appearance
    assert (reports["b"]["expected_rows"], reports["b"]["missing_rate"]) == (5, 0.2)
    assert (reports["a"]["out_of_order"], reports["a"]["missing_rate"]) == (1, 0.0)
    prices = client.post(
        "/ingest/market-prices",
        json={"rows": [{"ts": (T0 + i * QUARTER).isoformat(), "price_eur_mwh": 50.0} for i in (0, 2)]},
        headers=ADMIN,
    ).json()
    assert prices["quality"][0]["series"] == "DE-LU/day_ahead"
    stored = client.get("/quality", params={"meter_id": "DE-LU/day_ahead"}, headers=ADMIN).json()["items"]
    assert [(r["rows"], r["expected_rows"], r["missing_rate"]) for r in stored] == [(2, 2, 0.0)]


# --------------------------------------------------------------------------- units


def test_robust_z_constant_series_is_zero_and_nan_is_kept() -> None:
    values = np.array([5.0, 5.0, np.nan, 5.0])
    z = robust_z(values)
    assert z[[0, 1, 3]].tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(z[2])
    assert np.isnan(robust_z(np.array([np.nan, np.nan]))).all()
    assert robust_z(np.array([], dtype=np.float64)).size == 0


def test_robust_z_values() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0, 100.0, np.nan])
    z = robust_z(values)
    # median 3, absolute deviations 2, 1, 0, 1, 97 -> MAD 1
    assert z[:5] == pytest.approx([-1.349, -0.6745, 0.0, 0.6745, 0.6745 * 97])
    assert np.isnan(z[5])
    # the fallback when more than half the values are equal (MAD 0): mean absolute deviation
    mostly_equal = np.array([2.0, 2.0, 2.0, 2.0, 12.0])
    assert robust_z(mostly_equal)[4] == pytest.approx(10 / (1.253314 * 2.0))
    assert robust_z(mostly_equal)[4] > OUTLIER_Z


def test_assess_series_gap_and_single_row() -> None:
    ts = np.array([0, 1, 2, 6, 7], dtype=np.int64) * Q_US
    report = assess_series("s", ts, np.ones(5), np.zeros(5, dtype=bool))
    assert (report.expected_rows, report.missing_rate, report.step_s) == (8, 3 / 8, 900.0)
    single = assess_series("s", np.array([0], dtype=np.int64), np.array([1.0]), np.array([False]))
    assert (single.rows, single.expected_rows, single.step_s, single.missing_rate) == (1, 1, None, 0.0)
    flagged = assess_series("s", np.array([0], dtype=np.int64), np.array([np.nan]), np.array([False]))
    assert flagged.missing_rate == 1.0 and flagged.max_robust_z is None


def test_assess_batch_splits_series() -> None:
    series = np.array(["x", "y", "x", "y"])
    ts = np.array([0, 0, Q_US, 2 * Q_US], dtype=np.int64)
    reports = assess_batch(series, ts, np.ones(4), np.zeros(4, dtype=bool))
    assert [(r.series, r.rows, r.expected_rows) for r in reports] == [("x", 2, 2), ("y", 2, 2)]
    assert reports[1].step_s == 1800.0
