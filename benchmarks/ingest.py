"""Ingest rows/s through `POST /ingest/meter-readings` against a raw bulk insert into the same database.

Per database, one `luna serve` process (empty: SEED_DEMO_DATA=false, ENABLE_SCHEDULER=false, so no
rollup job competes) and one sequential client (httpx, one keep-alive connection). The rows are
10 meters x quarter-hours, interleaved by time, sent as JSON batches of 10,000 rows; the bodies are
encoded before the clock starts. Rows of the table (in order):

  raw bulk insert      baseline, into `bench_raw_readings`, a copy of `smart_meter_readings` in the same
                       database: same primary key (meter_id, ts), same ts index, same foreign key to
                       `meters`; all rows in one transaction. SQLite: `executemany` of plain INSERTs
                       with the service's pragmas (WAL, synchronous=NORMAL, foreign_keys=ON). PostgreSQL:
                       psycopg 3 `COPY ... FROM STDIN` (`write_row`). Rows prepared before timing.
  API insert           every batch once: new rows
  API replay           the same batches again: every row is an update (idempotent replay)
  rollups (deferred)   `refresh_rollups` in process after the server stopped: the work the scheduler's
                       rollup job does later for these rows (not part of the API rate)
  raw bulk insert      the baseline again, last: how much the machine drifted
Ratios are against the first raw insert.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from benchmarks.common import ADMIN_KEY, EMPTY_SERVICE, databases, in_process_container, serve_process

BATCH = 10_000
METERS = 10
ROWS, QUICK_ROWS = 200_000, 40_000
START = datetime(2026, 1, 1, tzinfo=UTC)
RAW_TABLE = "bench_raw_readings"
COLUMNS = ["database", "scenario", "rows", "inserted", "updated", "seconds", "rows_per_s", "ratio_vs_raw"]


def make_rows(total: int, meters: int = METERS, seed: int = 1) -> dict[str, Any]:
    """`total` readings: meter i % meters at quarter-hour i // meters (time-ordered, all distinct)."""
    rng = np.random.default_rng(seed)
    index = np.arange(total)
    ts_us = int(START.timestamp()) * 1_000_000 + (index // meters) * 900_000_000
    return {
        "meter_id": np.array([f"bench-m{m:02d}" for m in range(meters)])[index % meters],
        "ts_us": ts_us.astype(np.int64),
        "consumption_kw": np.round(rng.uniform(0, 5, total), 3),
        "production_kw": np.round(rng.uniform(0, 3, total), 3),
        "voltage": np.round(rng.normal(230, 2, total), 2),
    }


def json_batches(rows: dict[str, Any], batch: int = BATCH) -> list[bytes]:
    stamps = np.datetime_as_string(rows["ts_us"].astype("datetime64[us]"), unit="s")
    docs = [
        {"meter_id": m, "ts": f"{t}+00:00", "consumption_kw": c, "production_kw": p, "voltage": v}
        for m, t, c, p, v in zip(
            rows["meter_id"].tolist(),
            stamps.tolist(),
            rows["consumption_kw"].tolist(),
            rows["production_kw"].tolist(),
            rows["voltage"].tolist(),
            strict=True,
        )
    ]
    return [orjson.dumps({"rows": docs[i : i + batch]}) for i in range(0, len(docs), batch)]


def post_batches(client: httpx.Client, bodies: list[bytes]) -> tuple[float, int, int]:
    """Send every body in order; (seconds, rows inserted, rows updated). Any non-2xx is an error."""
    inserted = updated = 0
    start = time.perf_counter()
    for body in bodies:
        response = client.post("/ingest/meter-readings", content=body)
        if not response.is_success:
            raise RuntimeError(f"ingest failed: HTTP {response.status_code} {response.text[:500]}")
        inserted += response.json()["rows_inserted"]
        updated += response.json()["rows_updated"]
    return time.perf_counter() - start, inserted, updated


def _raw_tuples(rows: dict[str, Any], *, as_datetime: bool) -> list[tuple[Any, ...]]:
    stamps: list[Any] = rows["ts_us"].tolist()
    if as_datetime:
        stamps = [datetime.fromtimestamp(t / 1e6, tz=UTC) for t in stamps]
    columns = (rows["consumption_kw"], rows["production_kw"], rows["voltage"])
    values = zip(rows["meter_id"].tolist(), stamps, *(c.tolist() for c in columns), strict=True)
    return [(m, t, c, p, v, "ok") for m, t, c, p, v in values]


def raw_sqlite(db_path: Path, rows: dict[str, Any]) -> float:
    """Seconds for one executemany of plain INSERTs into a fresh copy of the readings table."""
    tuples = _raw_tuples(rows, as_datetime=False)
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        ddl = conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'smart_meter_readings' AND sql IS NOT NULL"
        ).fetchall()
        for (sql,) in ddl:  # the table (with its primary key and foreign key) and the ts index
            conn.execute(sql.replace("smart_meter_readings", RAW_TABLE))
        start = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO {RAW_TABLE} VALUES (?, ?, ?, ?, ?, ?)", tuples)
        conn.execute("COMMIT")
        seconds = time.perf_counter() - start
        conn.execute(f"DROP TABLE {RAW_TABLE}")
        return seconds
    finally:
        conn.close()


def raw_postgres(url: str, rows: dict[str, Any]) -> float:
    """Seconds for one COPY (psycopg 3, write_row) into a fresh same-shaped table, committed."""
    import psycopg

    tuples = _raw_tuples(rows, as_datetime=True)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        conn.execute(f"CREATE TABLE {RAW_TABLE} (LIKE smart_meter_readings INCLUDING ALL)")  # key, index
        conn.execute(f"ALTER TABLE {RAW_TABLE} ADD FOREIGN KEY (meter_id) REFERENCES meters")
        conn.commit()
        start = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(f"COPY {RAW_TABLE} FROM STDIN") as copy:
            for row in tuples:
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - start
        conn.execute(f"DROP TABLE {RAW_TABLE}")
        conn.commit()
        return seconds


def deferred_rollups(data_dir: Path, url: str | None) -> float:
    from luna_iems.timeseries.service import refresh_rollups

    container = in_process_container(data_dir, url)
    try:
        start = time.perf_counter()
        with container.session_factory() as session:
            refresh_rollups(session=session)
        return time.perf_counter() - start
    finally:
        container.close()


def measure(database_url: str | None, total: int) -> list[dict[str, Any]]:
    rows = make_rows(total)
    bodies = json_batches(rows)
    with tempfile.TemporaryDirectory(prefix="luna-bench-") as tmp:
        data_dir = Path(tmp) / "var"

        def raw() -> float:
            if database_url is None:
                return raw_sqlite(data_dir / "luna.db", rows)
            return raw_postgres(database_url, rows)

        with serve_process(database_url, data_dir, EMPTY_SERVICE) as server:
            headers = {"X-API-Key": ADMIN_KEY, "Content-Type": "application/json"}
            with httpx.Client(base_url=server.base, headers=headers, timeout=600) as client:
                for meter in sorted(set(rows["meter_id"].tolist())):
                    client.post("/meters", json={"meter_id": meter, "site": "bench"}).raise_for_status()
                raw_before = raw()
                insert = post_batches(client, bodies)
                replay = post_batches(client, bodies)
        rollups = deferred_rollups(data_dir, database_url)
        raw_after = raw()
    results = [
        ("raw bulk insert (baseline)", raw_before, total, 0),
        ("API insert", *insert),
        ("API replay (updates)", *replay),
        ("rollups of these rows (deferred)", rollups, None, None),
        ("raw bulk insert (repeat)", raw_after, total, 0),
    ]
    return [
        {
            "scenario": scenario,
            "rows": total,
            "inserted": inserted,
            "updated": updated,
            "seconds": round(seconds, 3),
            "rows_per_s": round(total / seconds),
            "ratio_vs_raw": round(raw_before / seconds, 3),
        }
        for scenario, seconds, inserted, updated in results
    ]


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    total = QUICK_ROWS if quick else ROWS
    rows = []
    for name, url in databases(postgres):
        rows += [{"database": name, **row} for row in measure(url, total)]
    return {
        "title": f"Ingest: {total} rows in JSON batches of {BATCH} ({METERS} meters), one client",
        "params": {"rows": total, "batch": BATCH, "meters": METERS, "quick": quick},
        "columns": COLUMNS,
        "rows": rows,
        "notes": [
            "client and server share the cores; the client only sends pre-encoded bodies",
            "PostgreSQL is the throwaway test server (fsync=off, synchronous_commit=off) for both sides",
        ],
    }
