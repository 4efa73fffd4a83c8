"""GET /timeseries/readings/columns answers what GET /timeseries/readings answers, as arrays.

Two meters over a DST change (Europe/Berlin, clocks forward 2026-03-29): "q" reads every 15 minutes
with a voltage, some missing values and a gap of two hours; "h" reads hourly (interval 3600 s), so
three of every four quarter-hour buckets hold energy but no sample (their voltage is empty, as in the
grouped query). Every bucket and aggregate, and raw readings with paging, are compared entry by entry,
on SQLite and PostgreSQL; the answer also validates against its documented schema (ReadingColumns).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from luna_iems.timeseries.schemas import ReadingColumns
from luna_iems.timeseries.series import iso_utc
from tests.timeseries.factories import ADMIN, create_meter, error_of, ingest, iso, parse_ts, series, utc

START = utc(2026, 3, 27, 23)  # local 2026-03-28 00:00 CET
END = utc(2026, 3, 31, 22)  # local 2026-04-01 00:00 CEST
FIELDS = (
    "consumption_kw",
    "production_kw",
    "consumption_kwh",
    "production_kwh",
    "voltage",
    "samples",
    "coverage",
)


@pytest.fixture
def two_meters(client: TestClient) -> TestClient:
    create_meter(client, "q")
    create_meter(client, "h", interval_s=3600)
    quarter = [None if i % 37 == 5 else 1.0 + (i % 7) * 0.37 for i in range(4 * 96)]
    rows = series("q", START, quarter, production=[max(0.0, 2.0 - (i % 96) * 0.03) for i in range(4 * 96)])
    for row in rows:
        row["voltage"] = 229.5 + (hash(row["ts"]) % 7) * 0.25
    rows = [row for row in rows if not utc(2026, 3, 29, 10) <= parse_ts(row["ts"]) < utc(2026, 3, 29, 12)]
    hourly = series("h", START, [0.4 + (i % 24) * 0.11 for i in range(4 * 24)], step=timedelta(hours=1))
    ingest(client, rows)
    ingest(client, hourly)
    return client


def _points(client: TestClient, meter_id: str, **params: Any) -> dict[str, Any]:
    response = client.get(
        "/timeseries/readings",
        params={"meter_id": meter_id, "from": iso(START), "to": iso(END), **params},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _columns(client: TestClient, meter_id: str, **params: Any) -> dict[str, Any]:
    response = client.get(
        "/timeseries/readings/columns",
        params={"meter_id": meter_id, "from": iso(START), "to": iso(END), **params},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    ReadingColumns.model_validate(body)
    return body  # type: ignore[no-any-return]


def _as_points(columns: dict[str, Any]) -> list[dict[str, Any]]:
    """Rebuild the points from the arrays, leaving out empty values as the points answer does."""
    arrays = {name: columns[name] for name in (*FIELDS, "quality") if name in columns}
    assert all(len(values) == len(columns["ts"]) for values in arrays.values())
    return [
        {"ts": ts} | {name: values[i] for name, values in arrays.items() if values[i] is not None}
        for i, ts in enumerate(columns["ts"])
    ]


def _same(points: list[dict[str, Any]], rebuilt: list[dict[str, Any]]) -> None:
    assert len(points) == len(rebuilt)
    for point, other in zip(points, rebuilt, strict=True):
        assert parse_ts(point.pop("ts")) == parse_ts(other.pop("ts"))
        assert point == other


@pytest.mark.parametrize("meter_id", ["q", "h"])
@pytest.mark.parametrize("bucket", ["15m", "1h", "1d", "1w", "1mo"])
@pytest.mark.parametrize("agg", ["avg", "sum", "min", "max", "last"])
def test_bucketed_columns_equal_the_points(
    two_meters: TestClient, meter_id: str, bucket: str, agg: str
) -> None:
    points = _points(two_meters, meter_id, bucket=bucket, agg=agg)
    columns = _columns(two_meters, meter_id, bucket=bucket, agg=agg)
    assert {k: columns[k] for k in ("meter_id", "bucket", "agg", "timezone")} == {
        k: points[k] for k in ("meter_id", "bucket", "agg", "timezone")
    }
    assert points["points"], "the fixture has data in every bucket size"
    _same(points["points"], _as_points(columns))
    unit = "kwh" if agg == "sum" else "kw"
    assert (
        f"consumption_{unit}" in columns and f"consumption_{'kw' if unit == 'kwh' else 'kwh'}" not in columns
    )


def test_quarter_hours_of_an_hourly_meter_hold_energy_without_samples(two_meters: TestClient) -> None:
    columns = _columns(two_meters, "h", bucket="15m", agg="avg")
    assert len(columns["ts"]) == 4 * 95  # 95 local hours (one lost to DST) x 4 quarter-hours
    assert columns["samples"][:4] == [1, 0, 0, 0]
    assert columns["coverage"][:4] == [1.0, 1.0, 1.0, 1.0]
    assert columns["consumption_kw"][:4] == [0.4, 0.4, 0.4, 0.4]


def test_raw_columns_equal_the_points_with_paging(two_meters: TestClient) -> None:
    points = _points(two_meters, "q", limit=100)
    columns = _columns(two_meters, "q", limit=100)
    assert columns["truncated"] is True and points["truncated"] is True
    assert parse_ts(columns["next_from"]) == parse_ts(points["next_from"])
    _same(points["points"], _as_points(columns))
    assert "bucket" not in columns and "agg" not in columns and "samples" not in columns


def test_errors_name_what_was_wrong(two_meters: TestClient) -> None:
    missing = error_of(
        two_meters.get(
            "/timeseries/readings/columns",
            params={"meter_id": "nope", "from": iso(START), "to": iso(END)},
            headers=ADMIN,
        ),
        404,
    )
    assert "nope" in missing["message"]
    backwards = two_meters.get(
        "/timeseries/readings/columns",
        params={"meter_id": "q", "from": iso(END), "to": iso(START)},
        headers=ADMIN,
    )
    assert backwards.status_code == 422 and "from" in backwards.text
    assert two_meters.get("/timeseries/readings/columns", params={"meter_id": "q"}).status_code == 401


def test_iso_texts_carry_a_fraction_only_where_needed() -> None:
    stamps = [0, 900_000_000, 900_500_000]
    assert iso_utc(stamps[:2]) == ["1970-01-01T00:00:00Z", "1970-01-01T00:15:00Z"]
    assert iso_utc(stamps) == ["1970-01-01T00:00:00Z", "1970-01-01T00:15:00Z", "1970-01-01T00:15:00.500000Z"]
    assert iso_utc([]) == []
