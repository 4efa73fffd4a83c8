"""Row factories and HTTP helpers for the energy-data API tests (no big literal fixtures)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ADMIN_TOKEN, auth

ADMIN = auth(ADMIN_TOKEN)
SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "samples"
QUARTER = timedelta(minutes=15)


def sample_bytes(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def iso(ts: datetime) -> str:
    return ts.isoformat()


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def reading(meter_id: str, ts: datetime | str, **values: Any) -> dict[str, Any]:
    """One JSON reading row; `values` are consumption_kw, production_kw, voltage, quality, ..."""
    return {"meter_id": meter_id, "ts": ts if isinstance(ts, str) else iso(ts), **values}


def series(
    meter_id: str,
    start: datetime,
    consumption: Sequence[float | None],
    *,
    step: timedelta = QUARTER,
    production: Sequence[float | None] | None = None,
    **common: Any,
) -> list[dict[str, Any]]:
    """Regular readings from `start` every `step`, one per consumption value."""
    rows = []
    for i, value in enumerate(consumption):
        row = reading(meter_id, start + i * step, consumption_kw=value, **common)
        if production is not None:
            row["production_kw"] = production[i]
        rows.append(row)
    return rows


def price(ts: datetime, value: float, *, market: str = "DE-LU", product: str = "day_ahead") -> dict[str, Any]:
    return {"market": market, "product": product, "ts": iso(ts), "price_eur_mwh": value}


def create_meter(client: TestClient, meter_id: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/meters", json={"meter_id": meter_id, **fields}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def ingest(
    client: TestClient, rows: list[dict[str, Any]], *, expect: int = 200, **params: Any
) -> dict[str, Any]:
    response = client.post("/ingest/meter-readings", json={"rows": rows}, params=params, headers=ADMIN)
    assert response.status_code == expect, response.text
    return response.json()  # type: ignore[no-any-return]


def ingest_prices(client: TestClient, rows: list[dict[str, Any]], *, expect: int = 200) -> dict[str, Any]:
    response = client.post("/ingest/market-prices", json={"rows": rows}, headers=ADMIN)
    assert response.status_code == expect, response.text
    return response.json()  # type: ignore[no-any-return]


def row_count(client: TestClient, table: str) -> int:
    response = client.get("/status/summary", headers=ADMIN)
    assert response.status_code == 200, response.text
    return int(response.json()["database"]["row_counts"][table])


POINT_FIELDS = (
    "ts", "consumption_kw", "production_kw", "consumption_kwh", "production_kwh", "voltage", "samples",
    "coverage", "quality",
)  # fmt: skip
SERIES_FIELDS = ("meter_id", "bucket", "agg", "timezone", "points", "truncated", "next_from")


def _point(body: dict[str, Any]) -> dict[str, Any]:
    """A reading point with every field present (the API may leave null fields out)."""
    assert set(body) <= set(POINT_FIELDS), body
    return {name: body.get(name) for name in POINT_FIELDS}


def readings_query(client: TestClient, meter_id: str, start: datetime, end: datetime, **params: Any) -> Any:
    response = client.get(
        "/timeseries/readings",
        params={"meter_id": meter_id, "from": iso(start), "to": iso(end), **params},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) <= set(SERIES_FIELDS), body
    series = {name: body.get(name) for name in SERIES_FIELDS}
    series["points"] = [_point(p) for p in body["points"]]
    return series


def latest(client: TestClient, meter_id: str) -> dict[str, Any]:
    response = client.get("/timeseries/readings/latest", params={"meter_id": meter_id}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return _point(response.json())


def raw_points(client: TestClient, meter_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    return readings_query(client, meter_id, start, end)["points"]  # type: ignore[no-any-return]


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The `{"error": {...}}` body of a failed response, after checking its status."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]


def by_ts(points: Iterable[dict[str, Any]]) -> dict[datetime, dict[str, Any]]:
    return {parse_ts(p["ts"]): p for p in points}
