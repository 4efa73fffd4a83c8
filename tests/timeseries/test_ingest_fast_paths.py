"""The fast ingest paths (issue 10, item 4): the CSV columnar reader, multi-row SQLite upserts and the
binary-COPY PostgreSQL write give the same answers as the row-by-row validation and the plain upsert."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from luna_iems.db import bulk
from luna_iems.db.base import from_epoch_us, to_epoch_us
from luna_iems.errors import InvalidInputError
from luna_iems.timeseries import repository
from luna_iems.timeseries.columnar import csv_reading_columns
from luna_iems.timeseries.models import SmartMeterReading
from luna_iems.timeseries.parsing import reading_rows_from_csv
from tests.timeseries.factories import (
    ADMIN,
    QUARTER,
    create_meter,
    error_of,
    iso,
    raw_points,
    row_count,
    utc,
)

T0 = utc(2026, 2, 2)
HEADER = "meter_id,ts,consumption_kw,production_kw,voltage,quality"


def _csv(rows: list[tuple[Any, ...]], header: str = HEADER, newline: str = "\n") -> bytes:
    lines = [header, *(",".join("" if v is None else str(v) for v in row) for row in rows)]
    return (newline.join(lines) + newline).encode()


def _post_csv(client: TestClient, body: bytes, **params: Any) -> Any:
    headers = ADMIN | {"Content-Type": "text/csv"}
    return client.post("/ingest/meter-readings", content=body, params=params, headers=headers)


def _quarters(meter_id: str, count: int, *, start: int = 0, value: float = 1.0) -> list[tuple[Any, ...]]:
    return [
        (meter_id, iso(T0 + (start + i) * QUARTER), value + i % 7, i % 3 * 0.5 or None, 230.5, "ok")
        for i in range(count)
    ]


# ------------------------------------------------------------------ CSV: one validation, two speeds
_CELLS = {
    "meter_id": st.sampled_from(["m1", "m.2", "a:b_c", "", " m1", "m 1", "mé", '"m1"', "x" * 101]),
    "ts": st.sampled_from(
        [
            "2026-01-01T00:15:00Z",
            "2026-01-01T01:15:00+01:00",
            "2026-01-01T00:15:00.5-05:30",
            "2026-01-01T00:15:00",
            " 2026-01-01T00:15:00Z",
            "2026-02-30T00:00:00Z",
            "20260101T001500Z",
            "1767226500",
            "",
        ]
    ),
    "number": st.one_of(
        st.sampled_from(
            ["", "0", "1.5", "-0", "-1", "007", "1e3", "1E-2", "1.", ".5", "+1", " 1", "1_0", "nan", "inf"]
        ),
        st.sampled_from(["100000", "100000.0001", "1000", "1000.5", "0.0", "1e999", "1e", "1.2.3", "\u0661"]),
        st.floats(min_value=0, max_value=2e5).map(repr),
    ),
    "quality": st.sampled_from(["", "ok", "missing", "estimated", "suspect", "OK", "great", " ok"]),
}
_CSV_ROW = st.tuples(
    _CELLS["meter_id"], _CELLS["ts"], _CELLS["number"], _CELLS["number"], _CELLS["number"], _CELLS["quality"]
)
_GOOD_CSV_ROW = st.tuples(
    st.sampled_from(["m1", "m.2", "a:b_c"]),
    st.sampled_from(["2026-01-01T00:15:00Z", "2026-01-01T01:15:00+01:00", "2026-06-01T00:15:00.25Z"]),
    st.sampled_from(["", "0", "1.5", "12.25", "1e2"]),
    st.sampled_from(["", "0", "3.5"]),
    st.sampled_from(["", "230.1", "1000"]),
    st.sampled_from(["", "ok", "missing"]),
)


def _slow(body: bytes) -> list[Any] | None:
    try:
        return reading_rows_from_csv(body)
    except InvalidInputError:
        return None


def _same(a: float, b: float | None) -> bool:
    return (math.isnan(a) and b is None) or a == b


@settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(st.one_of(_GOOD_CSV_ROW, _GOOD_CSV_ROW, _CSV_ROW), min_size=1, max_size=6),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
@example([("m1", "2026-01-01T00:15:00Z", "1_0", "", "", "")], "\n", False)
@example([("m1", "2026-01-01T00:15:00Z", "nan", "", "", "")], "\n", False)
@example([("m1", "2026-01-01T00:15:00Z", "\u0661", "", "", "")], "\n", False)
def test_the_csv_fast_path_takes_only_what_the_models_accept(
    rows: list[tuple[str, ...]], newline: str, quoted: bool
) -> None:
    cells = [[f'"{c}"' if quoted and i == 0 else c for i, c in enumerate(row)] for row in rows]
    body = _csv([tuple(r) for r in cells], newline=newline)
    columns = csv_reading_columns(body)
    models = _slow(body)
    if columns is None:
        return  # the row-by-row path decides, as the caller does
    assert models is not None, "the CSV fast path took a document the models refuse"
    assert columns.meter_ids.tolist() == [m.meter_id for m in models]
    assert columns.ts_us.tolist() == [to_epoch_us(m.ts) for m in models]
    for name in ("consumption_kw", "production_kw", "voltage"):
        got = getattr(columns, name).tolist()
        assert all(_same(a, getattr(m, name)) for a, m in zip(got, models, strict=True)), name
    assert columns.quality.tolist() == [m.quality.value for m in models]


def test_common_csv_documents_take_the_fast_path() -> None:
    rows = _quarters("m1", 50)
    for newline in ("\n", "\r\n"):
        columns = csv_reading_columns(b"\xef\xbb\xbf" + _csv(rows, newline=newline))  # with a BOM
        assert columns is not None and len(columns.ts_us) == 50
    subset = csv_reading_columns(b"ts,meter_id,consumption_kw\n2026-02-02T00:00:00Z,m1,3.5\n")
    assert subset is not None and subset.production_kw.tolist() != subset.production_kw.tolist()  # NaN
    quoted = csv_reading_columns(b'meter_id,ts,consumption_kw\n"m1","2026-02-02T00:00:00Z","3.5"\n')
    assert quoted is not None and quoted.consumption_kw.tolist() == [3.5]


@pytest.mark.parametrize(
    "body",
    [
        b"meter_id,ts,consumption_kw\nm1,2026-02-02T00:00:00Z,1\n\nm1,2026-02-02T00:15:00Z,2\n",  # blank
        b"meter_id,ts,consumption_kw\nm1,2026-02-02T00:00:00Z,1,2\n",  # ragged
        b"meter_id,ts,consumption_kw\rm1,2026-02-02T00:00:00Z,1\r",  # CR line ends
        b'meter_id,ts,consumption_kw\nm1,2026-02-02T00:00:00Z,"1\n2"\n',  # quoted line break
        b"meter_id,ts,ts\nm1,2026-02-02T00:00:00Z,2026-02-02T00:15:00Z\n",  # a column twice
        b"meter_id,ts\n",  # no rows
        b"meter_id,ts,consumption_kw\nm1,2026-02-02T00:00:00Z,\xff\n",  # not UTF-8
    ],
)
def test_unusual_csv_documents_go_to_the_row_by_row_path(body: bytes) -> None:
    assert csv_reading_columns(body) is None


def test_a_bad_csv_header_is_refused_by_the_fast_path_as_by_the_slow_one() -> None:
    body = b"meter_id,ts,temperature_c\nm1,2026-02-02T00:00:00Z,20\n"
    with pytest.raises(InvalidInputError) as fast:
        csv_reading_columns(body)
    with pytest.raises(InvalidInputError) as slow:
        reading_rows_from_csv(body)
    assert str(fast.value) == str(slow.value) and fast.value.details == slow.value.details


# ------------------------------------------------------------------ over HTTP, on both databases
def test_a_csv_with_an_error_at_row_n_names_row_n_and_writes_nothing(client: TestClient) -> None:
    create_meter(client, "m1")
    rows = _quarters("m1", 5_000)
    rows[4_320] = ("m1", iso(T0), "-1", None, None, "ok")  # row 4,321: negative consumption
    error = error_of(_post_csv(client, _csv(rows)), 422)
    assert error["details"]["errors"] == [
        {"row": 4_321, "field": "consumption_kw", "message": "Input should be greater than or equal to 0"}
    ]
    assert "row 4321" in error["message"] and "nothing was written" in error["message"]
    assert row_count(client, "smart_meter_readings") == 0 and row_count(client, "ingest_batches") == 0


def test_csv_and_json_of_the_same_rows_store_the_same_values(client: TestClient) -> None:
    for meter in ("csv", "json"):
        create_meter(client, meter)
    rows = _quarters("csv", 2_345)
    assert _post_csv(client, _csv(rows)).json()["rows_inserted"] == 2_345
    json_rows = [
        {k: v for k, v in zip(HEADER.split(","), ("json", *row[1:]), strict=True) if v is not None}
        for row in rows
    ]
    response = client.post("/ingest/meter-readings", json={"rows": json_rows}, headers=ADMIN)
    assert response.status_code == 200 and response.json()["rows_inserted"] == 2_345
    end = T0 + 2_345 * QUARTER
    assert raw_points(client, "csv", T0, end) == raw_points(client, "json", T0, end)
    assert row_count(client, "rollup_pending") == 2  # one pending range per meter and batch


def test_partial_replays_update_the_old_rows_and_insert_the_new_ones(client: TestClient) -> None:
    """The write checks whether any stored row can share a key; half old, half new rows take the
    upsert, all-new rows the plain insert: the counts and the stored values are the same."""
    create_meter(client, "m1")
    first = _post_csv(client, _csv(_quarters("m1", 1_500))).json()
    assert (first["rows_inserted"], first["rows_updated"]) == (1_500, 0)
    second = _post_csv(client, _csv(_quarters("m1", 1_500, start=750, value=50.0))).json()
    assert (second["rows_inserted"], second["rows_updated"]) == (750, 750)
    later = _post_csv(client, _csv(_quarters("m1", 10, start=5_000))).json()
    assert (later["rows_inserted"], later["rows_updated"]) == (10, 0)
    assert row_count(client, "smart_meter_readings") == 2_260
    points = raw_points(client, "m1", T0, T0 + 2_250 * QUARTER)
    assert [p["consumption_kw"] for p in points[748:752]] == [1.0 + 748 % 7, 1.0 + 749 % 7, 50.0, 51.0]
    assert points[750]["production_kw"] is None and points[751]["production_kw"] == 0.5


# ------------------------------------------------------------------ the upsert helper itself
def _stored(session: Any) -> list[tuple[Any, ...]]:
    query = select(
        SmartMeterReading.meter_id,
        SmartMeterReading.ts,
        SmartMeterReading.consumption_kw,
        SmartMeterReading.production_kw,
        SmartMeterReading.voltage,
        SmartMeterReading.quality,
    ).order_by(SmartMeterReading.meter_id, SmartMeterReading.ts)
    return [tuple(r) for r in session.execute(query).all()]


def _reading_tuples(count: int, *, value: float) -> list[tuple[Any, ...]]:
    start = to_epoch_us(T0)
    step = int(QUARTER / timedelta(microseconds=1))
    return [
        (
            f"m{i % 3}",
            start + i // 3 * step,
            value + i,
            None if i % 4 else 0.5,
            230.0,
            "ok" if i % 5 else "missing",
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("direct_copy", [True, False])
def test_the_fast_upserts_store_what_the_row_by_row_upsert_stores(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, direct_copy: bool
) -> None:
    """Multi-row statements (with a remainder) on SQLite; on PostgreSQL the binary COPY into the table
    (new rows) and through the staging table (updates, or a batch of too many shapes) against the
    reference: one `INSERT ... ON CONFLICT` per row through SQLAlchemy."""
    monkeypatch.setattr(bulk, "_SQLITE_ROWS_PER_STATEMENT", 7)
    if not direct_copy:
        monkeypatch.setattr(bulk, "_direct_payload", lambda encoded: None)
    for meter in ("m0", "m1", "m2"):
        create_meter(client, meter)
    container: Any = client.app.state.container  # type: ignore[attr-defined]
    fresh, replay = _reading_tuples(100, value=1.0), _reading_tuples(130, value=100.0)
    with container.session_factory() as session:
        repository.upsert_readings(session=session, rows=fresh)
        repository.upsert_readings(session=session, rows=replay)  # 100 updates, 30 new rows
        fast = _stored(session)
        session.rollback()
    with container.session_factory() as session:
        table: Any = SmartMeterReading.__table__
        for rows in (fresh, replay):
            for row in rows:
                values = dict(zip(repository.READING_COLUMNS, row, strict=True))
                values["ts"] = from_epoch_us(values["ts"])
                insert = _dialect_insert(session, table).values(**values)
                updates = {c: insert.excluded[c] for c in repository.READING_COLUMNS[2:]}
                session.execute(insert.on_conflict_do_update(index_elements=["meter_id", "ts"], set_=updates))
        reference = _stored(session)
        assert session.scalar(select(func.count()).select_from(table)) == 130
    assert fast == reference


def _dialect_insert(session: Any, table: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    return pg_insert(table)


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_a_key_written_after_the_check_falls_back_to_the_upsert(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: when the check said "no stored row can conflict" but one does (written meanwhile by
    another transaction), the plain INSERT fails, is rolled back to its savepoint and the upsert runs:
    the same rows, and the transaction stays usable."""
    for meter in ("m0", "m1", "m2"):
        create_meter(client, meter)
    container: Any = client.app.state.container  # type: ignore[attr-defined]
    with container.session_factory() as session:
        repository.upsert_readings(session=session, rows=_reading_tuples(30, value=1.0))
        session.commit()
    monkeypatch.setattr(bulk, "_may_conflict", lambda *args: False)
    with container.session_factory() as session:
        repository.upsert_readings(session=session, rows=_reading_tuples(60, value=100.0))
        session.commit()
        stored = _stored(session)
    assert len(stored) == 60
    assert sorted(r[2] for r in stored) == [100.0 + i for i in range(60)]


def test_a_cell_over_the_csv_field_limit_is_a_422_naming_the_row(client: TestClient) -> None:
    # The csv module refuses fields over 131,072 characters; that used to escape as a 500.
    huge = '"' + "x" * 200_000 + '"'
    body = _csv([*_quarters("m1", 2), ("m1", "2026-01-01T01:00:00Z", huge, "", "")])
    response = _post_csv(client, body, create_meters=True)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"]["row"] == 3 and "row 3" in error["message"]
