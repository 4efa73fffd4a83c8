"""POST /ingest/market-prices (ENTSO-E XML, JSON, CSV) and GET /timeseries/prices."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.timeseries.factories import (
    ADMIN,
    QUARTER,
    error_of,
    ingest_prices,
    iso,
    parse_ts,
    price,
    row_count,
    sample_bytes,
    utc,
)

ENTSOE = "entsoe_A44_DE-LU_2026-02-02_PT15M.xml"
DOC_START, DOC_END = utc(2026, 2, 1, 23), utc(2026, 2, 3, 23)


def _post_xml(client: TestClient, **params: Any) -> Any:
    return client.post(
        "/ingest/market-prices",
        content=sample_bytes(ENTSOE),
        params=params,
        headers=ADMIN | {"Content-Type": "application/xml"},
    )


def _prices(client: TestClient, start: Any, end: Any, **params: Any) -> dict[str, Any]:
    response = client.get(
        "/timeseries/prices", params={"from": iso(start), "to": iso(end), **params}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_entsoe_upload_stores_192_quarter_hours_in_order(client: TestClient) -> None:
    response = _post_xml(client)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["kind"], result["source"]) == ("prices", "entsoe")
    assert (result["rows_received"], result["rows_inserted"], result["rows_updated"]) == (192, 192, 0)
    assert parse_ts(result["ts_from"]) == DOC_START and parse_ts(result["ts_to"]) == utc(2026, 2, 3, 22, 45)
    assert [q["series"] for q in result["quality"]] == ["DE-LU/day_ahead"]
    assert result["quality"][0]["step_s"] == 900.0 and result["quality"][0]["missing_rate"] == 0.0
    assert row_count(client, "market_prices") == 192

    body = _prices(client, DOC_START, DOC_END)  # market and product default to DE-LU / day_ahead
    assert (body["market"], body["product"], body["bucket"]) == ("DE-LU", "day_ahead", None)
    points = body["points"]
    assert len(points) == 192
    assert [(p["ts"], p["price_eur_mwh"]) for p in points[:2]] == [
        ("2026-02-01T23:00:00Z", 100.41),
        ("2026-02-01T23:15:00Z", 101.91),
    ]
    stamps = [parse_ts(p["ts"]) for p in points]
    assert stamps == [DOC_START + i * QUARTER for i in range(192)]
    assert points[95]["price_eur_mwh"] == 85.61 and points[96]["price_eur_mwh"] == 97.41
    # the range is half-open: [from, to)
    window = _prices(client, utc(2026, 2, 1, 23, 15), utc(2026, 2, 1, 23, 45))["points"]
    assert [p["ts"] for p in window] == ["2026-02-01T23:15:00Z", "2026-02-01T23:30:00Z"]


def test_entsoe_replay_updates_and_all_sequences_keep_the_second_auction_apart(client: TestClient) -> None:
    assert _post_xml(client).status_code == 200
    replay = _post_xml(client).json()
    assert (replay["rows_inserted"], replay["rows_updated"]) == (0, 192)
    assert row_count(client, "market_prices") == 192

    every = _post_xml(client, classification_sequence=0)
    assert every.status_code == 200, every.text
    result = every.json()
    assert result["rows_received"] == 384
    assert (result["rows_inserted"], result["rows_updated"]) == (192, 192)
    assert [q["series"] for q in result["quality"]] == ["DE-LU/day_ahead", "DE-LU/day_ahead_seq2"]
    assert row_count(client, "market_prices") == 384
    seq2 = _prices(client, DOC_START, DOC_END, product="day_ahead_seq2")["points"]
    assert len(seq2) == 192
    assert [p["price_eur_mwh"] for p in seq2[:2]] == [102.1, seq2[1]["price_eur_mwh"]]
    # the omitted A03 point (day 2, 18:30Z) was forward-filled from 18:15Z
    filled = {p["ts"]: p["price_eur_mwh"] for p in seq2}
    assert filled["2026-02-03T18:30:00Z"] == filled["2026-02-03T18:15:00Z"] == 121.59
    # the SDAC series is untouched by the second auction
    assert _prices(client, DOC_START, DOC_START + QUARTER)["points"][0]["price_eur_mwh"] == 100.41

    only2 = _post_xml(client, classification_sequence=2)
    assert only2.status_code == 200
    # an explicit sequence is stored under the plain product (overwriting it)
    assert _prices(client, DOC_START, DOC_START + QUARTER)["points"][0]["price_eur_mwh"] == 102.1
    error_of(_post_xml(client, classification_sequence=3), 422)


def test_entsoe_malformed_document_is_422_and_writes_nothing(client: TestClient) -> None:
    truncated = sample_bytes(ENTSOE)[:3000]
    response = client.post(
        "/ingest/market-prices", content=truncated, headers=ADMIN | {"Content-Type": "text/xml"}
    )
    error_of(response, 422)
    upload = {"file": ("prices.xml", sample_bytes(ENTSOE), "application/octet-stream")}
    multipart = client.post("/ingest/market-prices", files=upload, headers=ADMIN)
    assert multipart.status_code == 200, multipart.text  # the .xml name selects the ENTSO-E parser
    assert multipart.json()["rows_inserted"] == 192


def test_json_prices_hourly_and_15_minute_and_replay(client: TestClient) -> None:
    rows = [price(utc(2026, 2, 2, h), 50.0 + h, product="hourly") for h in range(3)]
    rows += [price(utc(2026, 2, 2) + i * QUARTER, -5.5 * i, market="AT") for i in range(4)]
    result = ingest_prices(client, rows)
    assert (result["source"], result["rows_inserted"], result["rows_updated"]) == ("json", 7, 0)
    assert {q["series"]: q["step_s"] for q in result["quality"]} == {
        "DE-LU/hourly": 3600.0,
        "AT/day_ahead": 900.0,
    }
    hourly = _prices(client, utc(2026, 2, 2), utc(2026, 2, 3), product="hourly")["points"]
    assert [p["price_eur_mwh"] for p in hourly] == [50.0, 51.0, 52.0]
    at = _prices(client, utc(2026, 2, 2), utc(2026, 2, 3), market="AT")["points"]
    assert [p["price_eur_mwh"] for p in at] == [0.0, -5.5, -11.0, -16.5]

    changed = [price(utc(2026, 2, 2, 1), 99.0, product="hourly")]
    replay = ingest_prices(client, changed)
    assert (replay["rows_inserted"], replay["rows_updated"]) == (0, 1)
    hourly = _prices(client, utc(2026, 2, 2), utc(2026, 2, 3), product="hourly")["points"]
    assert [p["price_eur_mwh"] for p in hourly] == [50.0, 99.0, 52.0]
    assert row_count(client, "market_prices") == 7


def test_csv_prices_default_market_and_product(client: TestClient) -> None:
    body = (
        b"market,product,ts,price_eur_mwh,volume\n"
        b"DE-LU,day_ahead,2026-02-02T00:00:00+01:00,100.41,\n"
        b",,2026-02-01T23:15:00Z,101.91,12.5\n"
        b"FR,,2026-02-01T23:00:00Z,-3,\n"
    )
    response = client.post(
        "/ingest/market-prices", content=body, headers=ADMIN | {"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["source"] == "csv" and response.json()["rows_inserted"] == 3
    de = _prices(client, DOC_START, DOC_END)["points"]
    assert [(p["ts"], p["price_eur_mwh"]) for p in de] == [
        ("2026-02-01T23:00:00Z", 100.41),
        ("2026-02-01T23:15:00Z", 101.91),
    ]
    assert [p["price_eur_mwh"] for p in _prices(client, DOC_START, DOC_END, market="FR")["points"]] == [-3.0]


def test_price_out_of_range_is_422_and_writes_nothing(client: TestClient) -> None:
    rows = [
        price(utc(2026, 2, 2), 80.0),
        price(utc(2026, 2, 2, 0, 15), 20_000.0),
        price(utc(2026, 2, 2, 0, 30), -10_001),
    ]
    error = error_of(client.post("/ingest/market-prices", json={"rows": rows}, headers=ADMIN), 422)
    assert [(e["row"], e["field"]) for e in error["details"]["errors"]] == [
        (2, "price_eur_mwh"),
        (3, "price_eur_mwh"),
    ]
    assert row_count(client, "market_prices") == 0
    error_of(client.post("/ingest/market-prices", json={"rows": []}, headers=ADMIN), 422)
    error_of(
        client.post("/ingest/market-prices", content=b"x", headers=ADMIN | {"Content-Type": "text/plain"}),
        415,
    )


def test_bucketed_prices_and_sum_refused(client: TestClient) -> None:
    assert _post_xml(client).status_code == 200
    raw = [p["price_eur_mwh"] for p in _prices(client, DOC_START, DOC_END)["points"]]

    hourly = _prices(client, DOC_START, DOC_END, bucket="1h", agg="avg")
    assert (hourly["bucket"], hourly["agg"], hourly["timezone"]) == ("1h", "avg", "Europe/Berlin")
    assert len(hourly["points"]) == 48
    first = hourly["points"][0]
    assert first["ts"] == "2026-02-01T23:00:00Z" and first["samples"] == 4
    assert abs(first["price_eur_mwh"] - (100.41 + 101.91 + 100.04 + 96.01) / 4) < 1e-6

    for agg, expected in (("min", min), ("max", max), ("last", lambda xs: xs[-1])):
        daily = _prices(client, DOC_START, DOC_END, bucket="1d", agg=agg)["points"]
        # local days of Europe/Berlin: 2026-02-02 starts at 2026-02-01T23:00Z
        assert [p["ts"] for p in daily] == ["2026-02-01T23:00:00Z", "2026-02-02T23:00:00Z"]
        assert [p["samples"] for p in daily] == [96, 96]
        assert [p["price_eur_mwh"] for p in daily] == [expected(raw[:96]), expected(raw[96:])], agg
    daily_avg = _prices(client, DOC_START, DOC_END, bucket="1d")["points"]
    assert abs(daily_avg[0]["price_eur_mwh"] - sum(raw[:96]) / 96) < 1e-5
    utc_days = _prices(client, DOC_START, DOC_END, bucket="1d", agg="max", tz="UTC")["points"]
    assert [(p["ts"], p["samples"]) for p in utc_days] == [
        ("2026-02-01T00:00:00Z", 4),
        ("2026-02-02T00:00:00Z", 96),
        ("2026-02-03T00:00:00Z", 92),
    ]

    error = error_of(
        client.get(
            "/timeseries/prices",
            params={"from": iso(DOC_START), "to": iso(DOC_END), "bucket": "1h", "agg": "sum"},
            headers=ADMIN,
        ),
        422,
    )
    assert error["details"] == {"field": "agg"}
    bad_range = client.get(
        "/timeseries/prices", params={"from": iso(DOC_END), "to": iso(DOC_START)}, headers=ADMIN
    )
    assert error_of(bad_range, 422)["details"] == {"field": "to"}
