"""POST /ingest/meter-readings (JSON, CSV, multipart), /ingest/dsmr and /ingest/sml over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.timeseries.factories import (
    ADMIN,
    create_meter,
    error_of,
    ingest,
    latest,
    parse_ts,
    raw_points,
    reading,
    row_count,
    sample_bytes,
    series,
    utc,
)

T0 = utc(2026, 2, 2)
T1 = utc(2026, 2, 3)


def _post(client: TestClient, content: bytes, content_type: str, **params: Any) -> Any:
    return client.post(
        "/ingest/meter-readings",
        content=content,
        params=params,
        headers=ADMIN | {"Content-Type": content_type},
    )


# --------------------------------------------------------------------------- JSON


def test_json_batch_counts_and_stored_values(client: TestClient) -> None:
    create_meter(client, "m1")
    rows = series("m1", T0, [1.25, 2.5, None], production=[0.0, 0.75, None], voltage=230.1)
    result = ingest(client, rows)
    assert result["kind"] == "readings" and result["source"] == "json"
    assert (result["rows_received"], result["rows_written"]) == (3, 3)
    assert (result["rows_inserted"], result["rows_updated"]) == (3, 0)
    assert result["meters_created"] == []
    assert parse_ts(result["ts_from"]) == T0 and parse_ts(result["ts_to"]) == utc(2026, 2, 2, 0, 30)
    assert [q["series"] for q in result["quality"]] == ["m1"]

    points = raw_points(client, "m1", T0, T1)
    assert [(parse_ts(p["ts"]), p["consumption_kw"], p["production_kw"]) for p in points] == [
        (utc(2026, 2, 2, 0, 0), 1.25, 0.0),
        (utc(2026, 2, 2, 0, 15), 2.5, 0.75),
        (utc(2026, 2, 2, 0, 30), None, None),
    ]
    assert {p["voltage"] for p in points} == {230.1} and {p["quality"] for p in points} == {"ok"}


def test_timestamps_with_offsets_are_stored_in_utc(client: TestClient) -> None:
    create_meter(client, "m1")
    ingest(client, [reading("m1", "2026-02-02T01:00:00+01:00", consumption_kw=1.0)])
    ingest(client, [reading("m1", "2026-07-01T02:15:00+02:00", consumption_kw=2.0)])
    points = raw_points(client, "m1", T0, utc(2026, 8, 1))
    assert [p["ts"] for p in points] == ["2026-02-02T00:00:00Z", "2026-07-01T00:15:00Z"]


def test_replaying_a_batch_three_times_updates_and_never_duplicates(client: TestClient) -> None:
    create_meter(client, "m1")
    create_meter(client, "m2")
    rows = series("m1", T0, [1.0, 2.0, 3.0, 4.0]) + series("m2", T0, [5.0, 6.0])
    first = ingest(client, rows)
    assert (first["rows_inserted"], first["rows_updated"]) == (6, 0)
    assert row_count(client, "smart_meter_readings") == 6
    for _ in range(2):
        replay = ingest(client, rows)
        assert (replay["rows_written"], replay["rows_inserted"], replay["rows_updated"]) == (6, 0, 6)
        assert row_count(client, "smart_meter_readings") == 6

    # A replay with changed values updates them; a partly new batch counts both kinds.
    changed = series("m1", T0, [10.0, 20.0, 30.0, 40.0, 50.0])
    result = ingest(client, changed)
    assert (result["rows_inserted"], result["rows_updated"]) == (1, 4)
    assert row_count(client, "smart_meter_readings") == 7
    assert [p["consumption_kw"] for p in raw_points(client, "m1", T0, T1)] == [10.0, 20.0, 30.0, 40.0, 50.0]
    assert row_count(client, "ingest_batches") == 4


def test_unknown_meter_is_404_naming_it_and_writes_nothing(client: TestClient) -> None:
    create_meter(client, "known")
    rows = series("known", T0, [1.0]) + series("ghost-7", T0, [2.0])
    error = error_of(client.post("/ingest/meter-readings", json={"rows": rows}, headers=ADMIN), 404)
    assert "'ghost-7'" in error["message"] and "'known'" not in error["message"]
    assert error["details"] == {"unknown_meters": ["ghost-7"]}
    assert row_count(client, "smart_meter_readings") == 0
    assert row_count(client, "ingest_batches") == 0
    error_of(client.get("/meters/ghost-7", headers=ADMIN), 404)


def test_create_meters_by_query_parameter_or_body_field(client: TestClient) -> None:
    by_query = ingest(client, series("q-1", T0, [1.0]), create_meters="true")
    assert by_query["meters_created"] == ["q-1"]
    body = {"rows": series("b-1", T0, [1.0]) + series("b-2", T0, [2.0]), "create_meters": True}
    response = client.post("/ingest/meter-readings", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["meters_created"] == ["b-1", "b-2"]
    meters = client.get("/meters", headers=ADMIN).json()
    assert [m["meter_id"] for m in meters["items"]] == ["b-1", "b-2", "q-1"]
    assert {m["site"] for m in meters["items"]} == {"default"}
    # a second batch for the same meters creates nothing new
    assert ingest(client, series("q-1", T0, [1.0]), create_meters="true")["meters_created"] == []


def test_body_create_meters_must_be_a_boolean(client: TestClient) -> None:
    body = {"rows": series("ghost", T0, [1.0]), "create_meters": "false"}
    response = client.post("/ingest/meter-readings", json=body, headers=ADMIN)
    assert row_count(client, "meters") == 0
    assert response.status_code in (404, 422), response.text


def test_bare_list_body_is_accepted(client: TestClient) -> None:
    create_meter(client, "m1")
    response = client.post("/ingest/meter-readings", json=series("m1", T0, [1.0, 2.0]), headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["rows_written"] == 2


def test_in_batch_duplicate_last_one_wins_and_is_counted(client: TestClient) -> None:
    create_meter(client, "m1")
    rows = [
        reading("m1", T0, consumption_kw=1.0),
        reading("m1", utc(2026, 2, 2, 0, 15), consumption_kw=2.0),
        reading("m1", "2026-02-02T01:00:00+01:00", consumption_kw=9.0),  # same instant as T0
    ]
    result = ingest(client, rows)
    assert (result["rows_received"], result["rows_written"], result["rows_inserted"]) == (3, 2, 2)
    assert result["rows_updated"] == 0
    assert result["quality"][0]["duplicates"] == 1
    assert [p["consumption_kw"] for p in raw_points(client, "m1", T0, T1)] == [9.0, 2.0]
    assert row_count(client, "smart_meter_readings") == 2


# --------------------------------------------------------------------------- invalid batches

_BAD_ROWS: list[tuple[dict[str, Any], str]] = [
    (reading("m1", "2026-02-02T00:15:00", consumption_kw=1.0), "ts"),  # naive
    (reading("m1", "2026-02-02T00:30:00Z", consumption_kw=-0.5), "consumption_kw"),
    (reading("m1", "2026-02-02T00:45:00Z", voltage=0), "voltage"),
    (reading("m1", "2026-02-02T01:00:00Z", power_kw=1.0), "power_kw"),  # unknown field
    (reading("m1", "2026-02-02T01:15:00Z", production_kw=100_000.5), "production_kw"),
]


def test_invalid_rows_are_listed_by_number_and_field_and_nothing_is_written(client: TestClient) -> None:
    create_meter(client, "m1")
    ingest(client, series("m1", utc(2026, 1, 1), [1.0]))
    good = reading("m1", T0, consumption_kw=1.0)
    rows = [good] + [row for row, _ in _BAD_ROWS]  # rows 2..6 are bad
    response = client.post("/ingest/meter-readings", json={"rows": rows}, headers=ADMIN)
    error = error_of(response, 422)
    assert error["code"] == "invalid_input"
    assert error["details"]["invalid_rows"] == 5
    listed = [(e["row"], e["field"]) for e in error["details"]["errors"]]
    assert listed == [(i + 2, field) for i, (_, field) in enumerate(_BAD_ROWS)]
    assert "row 2" in error["message"] and "nothing was written" in error["message"]
    assert row_count(client, "smart_meter_readings") == 1


@pytest.mark.parametrize(("bad", "field"), _BAD_ROWS, ids=[f for _, f in _BAD_ROWS])
def test_each_invalid_row_kind_is_refused_even_with_create_meters(
    sqlite_client: TestClient, bad: dict[str, Any], field: str
) -> None:
    client = sqlite_client
    rows = [reading("new-meter", T0, consumption_kw=1.0), {**bad, "meter_id": "new-meter"}]
    response = client.post(
        "/ingest/meter-readings", json={"rows": rows, "create_meters": True}, headers=ADMIN
    )
    error = error_of(response, 422)
    assert [(e["row"], e["field"]) for e in error["details"]["errors"]] == [(2, field)]
    assert row_count(client, "smart_meter_readings") == 0
    assert row_count(client, "meters") == 0  # no meter created for a rejected batch


def test_invalid_batch_on_both_databases_creates_no_meter(client: TestClient) -> None:
    rows = [reading("new-meter", T0, consumption_kw=1.0), reading("new-meter", T1, consumption_kw=-1)]
    error_of(
        client.post(
            "/ingest/meter-readings", json={"rows": rows}, params={"create_meters": True}, headers=ADMIN
        ),
        422,
    )
    assert row_count(client, "meters") == 0
    assert row_count(client, "smart_meter_readings") == 0


# One validation, two speeds (issue 10, item 3): the JSON fast path answers as the models do.


def test_a_meter_id_with_a_trailing_newline_is_refused_as_post_meters_refuses_it(client: TestClient) -> None:
    error_of(client.post("/meters", json={"meter_id": "m1\n"}, headers=ADMIN), 422)
    rows = series("m1\n", T0, [1.0, 2.0])
    response = client.post(
        "/ingest/meter-readings", json={"rows": rows, "create_meters": True}, headers=ADMIN
    )
    error = error_of(response, 422)
    assert [(e["row"], e["field"]) for e in error["details"]["errors"]] == [(1, "meter_id"), (2, "meter_id")]
    assert row_count(client, "meters") == 0
    assert row_count(client, "smart_meter_readings") == 0


@pytest.mark.parametrize("others", ["valid", "invalid"])
def test_a_compact_timestamp_is_refused_whatever_the_rest_of_the_batch(
    client: TestClient, others: str
) -> None:
    create_meter(client, "m1")
    rows = series("m1", T0, [1.0, 2.0, -1.0 if others == "invalid" else 3.0])
    rows.insert(1, reading("m1", "20260202T011500Z", consumption_kw=1.0))
    error = error_of(client.post("/ingest/meter-readings", json={"rows": rows}, headers=ADMIN), 422)
    listed = [(e["row"], e["field"]) for e in error["details"]["errors"]]
    assert listed == ([(2, "ts")] if others == "valid" else [(2, "ts"), (4, "consumption_kw")])
    assert row_count(client, "smart_meter_readings") == 0


def test_a_batch_the_fast_path_declines_stores_the_same_values(client: TestClient) -> None:
    create_meter(client, "fast")
    create_meter(client, "slow")
    stamps = ["2026-02-02T01:15:00.5+01:00", "2026-02-02T00:30:00Z", "2026-02-01T19:15:00-05:30"]
    ingest(client, [reading("fast", ts, consumption_kw=0.1 * i, voltage=230) for i, ts in enumerate(stamps)])
    slow = [reading("slow", ts, consumption_kw=0.1 * i, voltage=230) for i, ts in enumerate(stamps)]
    slow.append(
        reading("slow", "2026-02-02 00:30:00z", consumption_kw=0.1, voltage=230)
    )  # models only; a duplicate
    ingest(client, slow)

    def stored(meter_id: str) -> list[tuple[Any, ...]]:
        return [(p["ts"], p["consumption_kw"], p["voltage"]) for p in raw_points(client, meter_id, T0, T1)]

    assert stored("fast") == stored("slow") != []


def test_more_than_50_invalid_rows_lists_50_and_counts_all(sqlite_client: TestClient) -> None:
    rows = [reading("m1", T0, consumption_kw=1.0)] + [
        reading("m1", utc(2026, 2, 2, 0, 15 * (i % 4), i // 4), consumption_kw=-1.0) for i in range(70)
    ]
    error = error_of(sqlite_client.post("/ingest/meter-readings", json={"rows": rows}, headers=ADMIN), 422)
    assert error["details"]["invalid_rows"] == 70
    listed = error["details"]["errors"]
    assert len(listed) == 50
    assert [e["row"] for e in listed] == list(range(2, 52))
    assert {e["field"] for e in listed} == {"consumption_kw"}


def test_more_than_100000_rows_is_413_naming_the_limit(sqlite_client: TestClient) -> None:
    row = reading("m1", T0, consumption_kw=1.0)
    body = json.dumps({"rows": [row] * 100_001}).encode()
    error = error_of(_post(sqlite_client, body, "application/json"), 413)
    assert error["code"] == "payload_too_large"
    assert "100000" in error["message"] and error["details"] == {"rows": 100_001, "limit": 100_000}
    assert row_count(sqlite_client, "smart_meter_readings") == 0


def test_a_csv_past_the_row_limit_is_refused_while_streaming(sqlite_client: TestClient) -> None:
    """Regression (issue 9, item 6): the whole CSV was parsed before the row limit was checked.

    Row 150,000 is broken: parsing everything first reports it (422); counting while reading stops at
    row 100,001 and never sees it (413)."""
    line = b"m1,2026-02-02T00:00:00Z,1.0\n"
    body = b"meter_id,ts,consumption_kw\n" + line * 149_999 + b"m1,broken\n" + line * 10
    error = error_of(_post(sqlite_client, body, "text/csv"), 413)
    assert error["code"] == "payload_too_large" and "more than 100000 rows" in error["message"]
    assert error["details"] == {"rows_read": 100_001, "limit": 100_000}
    assert row_count(sqlite_client, "smart_meter_readings") == 0


def test_a_nul_character_in_a_csv_is_422_naming_the_row(client: TestClient) -> None:
    create_meter(client, "m1")
    body = b"meter_id,ts,consumption_kw\nm1,2026-02-02T00:00:00Z,1.0\nm\x001,2026-02-02T00:15:00Z,1.0\n"
    error = error_of(_post(client, body, "text/csv"), 422)
    assert "CSV row 2" in error["message"] and "NUL" in error["message"]
    assert row_count(client, "smart_meter_readings") == 0


def test_empty_and_malformed_bodies_are_422(client: TestClient) -> None:
    create_meter(client, "m1")
    empty = error_of(client.post("/ingest/meter-readings", json={"rows": []}, headers=ADMIN), 422)
    assert empty["details"] == {"field": "rows"}
    malformed = error_of(_post(client, b'{"rows": [', "application/json"), 422)
    assert "JSON" in malformed["message"] and malformed["details"] == {"field": "body"}
    no_rows = error_of(client.post("/ingest/meter-readings", json={"data": []}, headers=ADMIN), 422)
    assert no_rows["details"] == {"field": "body.rows"}
    assert row_count(client, "smart_meter_readings") == 0


# --------------------------------------------------------------------------- CSV

CSV = (
    "meter_id,ts,consumption_kw,production_kw,voltage,quality\n"
    "c1,2026-02-02T01:00:00+01:00,1.25,0,230.1,ok\n"
    "c1,2026-02-02T00:15:00Z,2.5,,,\n"
    "c1,2026-02-02T00:30:00Z,,0.5,229.5,estimated\n"
)
EXPECTED_CSV_POINTS = [
    ("2026-02-02T00:00:00Z", 1.25, 0.0, 230.1, "ok"),
    ("2026-02-02T00:15:00Z", 2.5, None, None, "ok"),
    ("2026-02-02T00:30:00Z", None, 0.5, 229.5, "estimated"),
]


def _stored(client: TestClient, meter_id: str) -> list[tuple[Any, ...]]:
    return [
        (p["ts"], p["consumption_kw"], p["production_kw"], p["voltage"], p["quality"])
        for p in raw_points(client, meter_id, T0, T1)
    ]


def test_csv_body_and_multipart_upload_store_the_same_values(client: TestClient) -> None:
    raw = _post(client, CSV.encode(), "text/csv", create_meters="true")
    assert raw.status_code == 200, raw.text
    assert raw.json()["source"] == "csv" and raw.json()["rows_inserted"] == 3
    from_body = _stored(client, "c1")
    assert from_body == EXPECTED_CSV_POINTS  # empty cells are nulls

    multipart = client.post(
        "/ingest/meter-readings",
        files={"file": ("r.csv", CSV.replace("c1", "c2").encode(), "text/csv")},
        params={"create_meters": "true"},
        headers=ADMIN,
    )
    assert multipart.status_code == 200, multipart.text
    assert multipart.json()["source"] == "csv" and multipart.json()["meters_created"] == ["c2"]
    assert _stored(client, "c2") == from_body


def test_csv_with_bom_crlf_and_column_subset(client: TestClient) -> None:
    create_meter(client, "c1")
    body = "\ufeffts,meter_id,consumption_kw\r\n2026-02-02T00:00:00Z,c1,3.5\r\n".encode()
    assert _post(client, body, "text/csv").status_code == 200
    assert _stored(client, "c1") == [("2026-02-02T00:00:00Z", 3.5, None, None, "ok")]


def test_csv_unknown_column_is_422_naming_it(client: TestClient) -> None:
    body = b"meter_id,ts,consumption_kw,temperature_c\nc1,2026-02-02T00:00:00Z,1,20\n"
    error = error_of(_post(client, body, "text/csv", create_meters="true"), 422)
    assert "temperature_c" in error["message"]
    assert error["details"] == {"missing": [], "unknown": ["temperature_c"]}
    missing = error_of(_post(client, b"meter_id,consumption_kw\nc1,1\n", "text/csv"), 422)
    assert missing["details"]["missing"] == ["ts"]
    assert row_count(client, "smart_meter_readings") == 0 and row_count(client, "meters") == 0


def test_csv_nan_and_bad_cells_are_422_with_row_numbers(client: TestClient) -> None:
    body = (
        b"meter_id,ts,consumption_kw\n"
        b"c1,2026-02-02T00:00:00Z,1\n"
        b"c1,2026-02-02T00:15:00Z,nan\n"
        b"c1,2026-02-02T00:30:00Z,inf\n"
        b"c1,2026-02-02T00:45:00Z,one\n"
    )
    error = error_of(_post(client, body, "text/csv", create_meters="true"), 422)
    assert [(e["row"], e["field"]) for e in error["details"]["errors"]] == [
        (2, "consumption_kw"),
        (3, "consumption_kw"),
        (4, "consumption_kw"),
    ]
    assert row_count(client, "smart_meter_readings") == 0 and row_count(client, "meters") == 0


def test_csv_row_with_too_few_cells_is_not_a_server_error(sqlite_client: TestClient) -> None:
    """A short row (fewer cells than the header) must be a client error (or nulls), never a 500."""
    body = b"meter_id,ts,consumption_kw,voltage\nc1,2026-02-02T00:00:00Z,1,230\nc1,2026-02-02T00:15:00Z\n"
    response = _post(sqlite_client, body, "text/csv", create_meters="true")
    assert response.status_code in (200, 422), response.text
    assert row_count(sqlite_client, "smart_meter_readings") == (2 if response.status_code == 200 else 0)


def test_csv_row_with_more_cells_than_the_header_is_refused(client: TestClient) -> None:
    create_meter(client, "c1")
    body = b"meter_id,ts,consumption_kw\nc1,2026-02-02T00:00:00Z,1,25\n"
    response = _post(client, body, "text/csv")
    assert row_count(client, "smart_meter_readings") == 0, _stored(client, "c1")
    error = error_of(response, 422)
    assert error["details"]["errors"][0]["row"] == 1


def test_wrong_content_type_is_415(client: TestClient) -> None:
    for content_type in ("application/xml", "text/plain", "application/octet-stream"):
        error = error_of(_post(client, CSV.encode(), content_type, create_meters="true"), 415)
        assert error["code"] == "unsupported_media_type"
        assert content_type in error["message"] and error["details"] == {"content_type": content_type}
    missing_file = client.post(
        "/ingest/meter-readings", files={"upload": ("r.csv", CSV.encode(), "text/csv")}, headers=ADMIN
    )
    assert error_of(missing_file, 422)["details"] == {"field": "file"}
    assert row_count(client, "smart_meter_readings") == 0


# --------------------------------------------------------------------------- DSMR and SML

DSMR_METER = "dsmr-K8EG004046395507"


def test_dsmr_telegram_becomes_one_reading(client: TestClient) -> None:
    telegram = sample_bytes("dsmr_v5_telegram.txt")
    response = client.post(
        "/ingest/dsmr",
        content=telegram,
        params={"create_meters": "true"},
        headers=ADMIN | {"Content-Type": "text/plain"},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["source"] == "dsmr" and result["meters_created"] == [DSMR_METER]
    assert result["rows_inserted"] == 1
    point = latest(client, DSMR_METER)
    assert parse_ts(point["ts"]) == utc(2017, 1, 2, 18, 20, 2)
    assert (point["consumption_kw"], point["production_kw"], point["voltage"]) == (0.244, 0.0, 230.0)
    # the same telegram again is a replay
    again = client.post("/ingest/dsmr", content=telegram, headers=ADMIN | {"Content-Type": "text/plain"})
    assert again.status_code == 200 and again.json()["rows_updated"] == 1
    assert row_count(client, "smart_meter_readings") == 1


def test_dsmr_unknown_meter_is_404_and_corrupt_telegram_is_422(client: TestClient) -> None:
    telegram = sample_bytes("dsmr_v5_telegram.txt")
    headers = ADMIN | {"Content-Type": "text/plain"}
    error = error_of(client.post("/ingest/dsmr", content=telegram, headers=headers), 404)
    assert DSMR_METER in error["message"]
    corrupt = telegram.replace(b"1-0:1.7.0(00.244*kW)", b"1-0:1.7.0(09.244*kW)")
    assert corrupt != telegram
    bad = error_of(
        client.post("/ingest/dsmr", content=corrupt, params={"create_meters": True}, headers=headers), 422
    )
    assert "CRC" in bad["message"]
    assert row_count(client, "smart_meter_readings") == 0 and row_count(client, "meters") == 0


def test_dsmr_meter_id_parameter_and_obis_map(client: TestClient) -> None:
    # A meter whose OBIS map takes phase L2 voltage instead of L1 (52.7.0 is 230.0, 72.7.0 is 229.0).
    create_meter(client, "p1", obis_map={"1-0:1.7.0": "consumption_kw", "1-0:72.7.0": "voltage"})
    response = client.post(
        "/ingest/dsmr",
        content=sample_bytes("dsmr_v5_telegram.txt"),
        params={"meter_id": "p1"},
        headers=ADMIN | {"Content-Type": "text/plain"},
    )
    assert response.status_code == 200, response.text
    point = latest(client, "p1")
    assert (point["consumption_kw"], point["production_kw"], point["voltage"]) == (0.244, None, 229.0)


def test_sml_hex_and_binary_bodies_give_the_same_reading(client: TestClient) -> None:
    hex_text = sample_bytes("sml_frame_hly_meter.hex").decode("ascii").strip()
    as_text = client.post(
        "/ingest/sml",
        content=hex_text.encode(),
        params={"meter_id": "sml-text", "create_meters": True},
        headers=ADMIN | {"Content-Type": "text/plain"},
    )
    assert as_text.status_code == 200, as_text.text
    assert as_text.json()["meters_created"] == ["sml-text"]  # meter_id overrides the default id
    as_binary = client.post(
        "/ingest/sml",
        content=bytes.fromhex(hex_text),
        params={"meter_id": "sml-bin", "create_meters": True},
        headers=ADMIN | {"Content-Type": "application/octet-stream"},
    )
    assert as_binary.status_code == 200, as_binary.text
    for meter_id in ("sml-text", "sml-bin"):
        point = latest(client, meter_id)
        assert (point["consumption_kw"], point["production_kw"], point["voltage"]) == (0.137, 0.0, 234.4)
    meters = [m["meter_id"] for m in client.get("/meters", headers=ADMIN).json()["items"]]
    assert meters == ["sml-bin", "sml-text"]


def test_sml_default_meter_id_and_garbage(client: TestClient) -> None:
    hex_text = sample_bytes("sml_frame_hly_meter.hex")
    response = client.post(
        "/ingest/sml",
        content=hex_text,
        params={"create_meters": True},
        headers=ADMIN | {"Content-Type": "text/plain"},
    )
    assert response.status_code == 200, response.text
    (created,) = response.json()["meters_created"]
    assert created.startswith("sml-") and len(created) > 4
    garbage = client.post(
        "/ingest/sml", content=b"\x00\x01\x02", headers=ADMIN | {"Content-Type": "application/octet-stream"}
    )
    error_of(garbage, 422)
    assert row_count(client, "smart_meter_readings") == 1
