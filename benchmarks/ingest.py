"""Ingest rows/s through `POST /ingest/meter-readings` (JSON and CSV) against a raw bulk insert.

Per database, one `luna serve` process (empty: SEED_DEMO_DATA=false, ENABLE_SCHEDULER=false, so no
rollup job competes) and one sequential client (httpx, one keep-alive connection). The rows are
10 meters x quarter-hours, interleaved by time, sent as batches of 10,000 rows, once as JSON
(`{"rows": [...]}`) and once as CSV (`text/csv`, header + 10,000 lines, the same values); the bodies are
encoded before the clock starts. One round, in this order, on an empty readings table each time:

  raw bulk insert      baseline, into `bench_raw_readings`, a copy of `smart_meter_readings` in the same
                       database: same primary key (meter_id, ts), same ts index, same foreign key to
                       `meters`; all rows in one transaction, prepared before the clock starts.
                       SQLite (service pragmas: WAL, synchronous=NORMAL, foreign_keys=ON): `executemany`
                       of plain INSERTs of one row, and again of 1,000 rows per INSERT (the technique the
                       ingest path itself uses). PostgreSQL: psycopg 3 binary `COPY ... FROM STDIN`
                       (`write_row` with the types set; the ingest path stages with a binary COPY too).
  JSON insert          every JSON batch once: new rows
  JSON replay          the same batches again: every row is an update (idempotent replay)
  CSV insert           (readings emptied first) every CSV batch once: new rows
  CSV replay           the same CSV batches again
The round runs `repeats` times (3; 1 with --quick) and each figure is the median over the rounds; each
ratio is taken against the fastest raw insert of its own round, then the median of those ratios is
reported (the machines are shared and noisy: rounds interleave the two sides).
Last, `refresh_rollups` runs in process after the server stopped: the work the scheduler's rollup job
does later for the last round's rows (not part of the API rate).
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from benchmarks.common import ADMIN_KEY, EMPTY_SERVICE, databases, in_process_container, serve_process

BATCH = 10_000
METERS = 10
ROWS, QUICK_ROWS = 200_000, 40_000
REPEATS, QUICK_REPEATS = 3, 1
MULTI_ROW = 1000  # rows per INSERT of the second SQLite baseline: as many as the ingest path's own
START = datetime(2026, 1, 1, tzinfo=UTC)
RAW_TABLE = "bench_raw_readings"
CSV_HEADER = "meter_id,ts,consumption_kw,production_kw,voltage\n"
COLUMNS = [
    "database",
    "scenario",
    "rows",
    "inserted",
    "updated",
    "seconds",
    "rows_per_s",
    "ratio_vs_raw",
    "ratios",
    "ratio_vs_first_raw",
]


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


def _text_rows(rows: dict[str, Any]) -> list[tuple[str, str, float, float, float]]:
    stamps = np.datetime_as_string(rows["ts_us"].astype("datetime64[us]"), unit="s")
    return list(
        zip(
            rows["meter_id"].tolist(),
            [f"{t}+00:00" for t in stamps.tolist()],
            rows["consumption_kw"].tolist(),
            rows["production_kw"].tolist(),
            rows["voltage"].tolist(),
            strict=True,
        )
    )


def json_batches(rows: dict[str, Any], batch: int = BATCH) -> list[bytes]:
    docs = [
        {"meter_id": m, "ts": t, "consumption_kw": c, "production_kw": p, "voltage": v}
        for m, t, c, p, v in _text_rows(rows)
    ]
    return [orjson.dumps({"rows": docs[i : i + batch]}) for i in range(0, len(docs), batch)]


def csv_batches(rows: dict[str, Any], batch: int = BATCH) -> list[bytes]:
    """The same rows as CSV documents (floats in Python's shortest repr, as orjson writes them)."""
    lines = [f"{m},{t},{c!r},{p!r},{v!r}\n" for m, t, c, p, v in _text_rows(rows)]
    return [(CSV_HEADER + "".join(lines[i : i + batch])).encode() for i in range(0, len(lines), batch)]


def post_batches(client: httpx.Client, bodies: list[bytes], content_type: str) -> tuple[float, int, int]:
    """Send every body in order; (seconds, rows inserted, rows updated). Any non-2xx is an error."""
    inserted = updated = 0
    headers = {"Content-Type": content_type}
    start = time.perf_counter()
    for body in bodies:
        response = client.post("/ingest/meter-readings", content=body, headers=headers)
        if not response.is_success:
            raise RuntimeError(f"ingest failed: HTTP {response.status_code} {response.text[:500]}")
        result = response.json()
        inserted += result["rows_inserted"]
        updated += result["rows_updated"]
    return time.perf_counter() - start, inserted, updated


def _raw_tuples(rows: dict[str, Any], *, as_datetime: bool) -> list[tuple[Any, ...]]:
    stamps: list[Any] = rows["ts_us"].tolist()
    if as_datetime:
        stamps = [datetime.fromtimestamp(t / 1e6, tz=UTC) for t in stamps]
    columns = (rows["consumption_kw"], rows["production_kw"], rows["voltage"])
    values = zip(rows["meter_id"].tolist(), stamps, *(c.tolist() for c in columns), strict=True)
    return [(m, t, c, p, v, "ok") for m, t, c, p, v in values]


def _sqlite_connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def _pg_connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))


def raw_sqlite(db_path: Path, rows: dict[str, Any], *, per_statement: int = 1) -> float:
    """Seconds for one executemany of plain INSERTs (`per_statement` rows each) into a fresh copy of
    the readings table, in one transaction; the parameters are prepared before the clock starts."""
    tuples = _raw_tuples(rows, as_datetime=False)
    width = len(tuples[0])
    statement = f"INSERT INTO {RAW_TABLE} VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?)"] * per_statement)
    flat = list(chain.from_iterable(tuples))
    full = len(tuples) // per_statement * per_statement * width
    params = [flat[i : i + per_statement * width] for i in range(0, full, per_statement * width)]
    rest = tuples[full // width :]
    conn = _sqlite_connect(db_path)
    try:
        conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        ddl = conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'smart_meter_readings' AND sql IS NOT NULL"
        ).fetchall()
        for (sql,) in ddl:  # the table (with its primary key and foreign key) and the ts index
            conn.execute(sql.replace("smart_meter_readings", RAW_TABLE))
        start = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(statement, params)
        conn.executemany(f"INSERT INTO {RAW_TABLE} VALUES (?, ?, ?, ?, ?, ?)", rest)
        conn.execute("COMMIT")
        seconds = time.perf_counter() - start
        conn.execute(f"DROP TABLE {RAW_TABLE}")
        return seconds
    finally:
        conn.close()


def raw_postgres(url: str, rows: dict[str, Any]) -> float:
    """Seconds for one binary COPY (psycopg 3, `write_row` of prepared tuples, types set) into a fresh
    same-shaped table, committed. Binary, as the ingest path's own COPY."""
    tuples = _raw_tuples(rows, as_datetime=True)
    with _pg_connect(url) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        conn.execute(f"CREATE TABLE {RAW_TABLE} (LIKE smart_meter_readings INCLUDING ALL)")  # key, index
        conn.execute(f"ALTER TABLE {RAW_TABLE} ADD FOREIGN KEY (meter_id) REFERENCES meters")
        conn.commit()
        start = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(f"COPY {RAW_TABLE} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "timestamptz", "float8", "float8", "float8", "text"])
            for row in tuples:
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - start
        conn.execute(f"DROP TABLE {RAW_TABLE}")
        conn.commit()
        return seconds


def empty_readings(data_dir: Path, url: str | None) -> None:
    """Empty the readings and the pending rollup ranges (the server is idle between requests)."""
    tables = ("smart_meter_readings", "rollup_pending")
    if url is None:
        conn = _sqlite_connect(data_dir / "luna.db")
        try:
            for table in tables:
                conn.execute(f"DELETE FROM {table}")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        return
    with _pg_connect(url) as conn:
        conn.execute(f"TRUNCATE {', '.join(tables)}")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE smart_meter_readings")


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


Timing = tuple[float, int | None, int | None]  # seconds, rows inserted, rows updated


def one_round(
    client: httpx.Client,
    baselines: dict[str, Callable[[], float]],
    empty: Callable[[], None],
    bodies: dict[str, list[bytes]],
) -> dict[str, Timing]:
    timings: dict[str, Timing] = {}
    for name, raw in baselines.items():
        empty()
        timings[name] = (raw(), None, None)
    for fmt, content_type in (("JSON", "application/json"), ("CSV", "text/csv")):
        empty()
        timings[f"{fmt} insert"] = post_batches(client, bodies[fmt], content_type)
        timings[f"{fmt} replay (updates)"] = post_batches(client, bodies[fmt], content_type)
    return timings


def baselines_of(
    database_url: str | None, data_dir: Path, rows: dict[str, Any]
) -> dict[str, Callable[[], float]]:
    """The raw bulk inserts of a database: the ratios are taken against the fastest of them."""
    if database_url is None:
        db = data_dir / "luna.db"
        return {
            "raw insert: executemany, 1 row per INSERT": lambda: raw_sqlite(db, rows),
            f"raw insert: executemany, {MULTI_ROW} rows per INSERT": lambda: raw_sqlite(
                db, rows, per_statement=MULTI_ROW
            ),
        }
    url = database_url
    return {"raw insert: binary COPY (write_row)": lambda: raw_postgres(url, rows)}


def measure(database_url: str | None, total: int, repeats: int) -> list[dict[str, Any]]:
    rows = make_rows(total)
    bodies = {"JSON": json_batches(rows), "CSV": csv_batches(rows)}
    rounds: list[dict[str, Timing]] = []
    with tempfile.TemporaryDirectory(prefix="luna-bench-") as tmp:
        data_dir = Path(tmp) / "var"
        baselines = baselines_of(database_url, data_dir, rows)
        with serve_process(database_url, data_dir, EMPTY_SERVICE) as server:
            headers = {"X-API-Key": ADMIN_KEY}
            with httpx.Client(base_url=server.base, headers=headers, timeout=600) as client:
                for meter in sorted(set(rows["meter_id"].tolist())):
                    client.post("/meters", json={"meter_id": meter, "site": "bench"}).raise_for_status()
                post_batches(client, bodies["JSON"][:1], "application/json")  # warm-up
                post_batches(client, bodies["CSV"][:1], "text/csv")
                empty = partial(empty_readings, data_dir, database_url)
                for _ in range(repeats):
                    rounds.append(one_round(client, baselines, empty, bodies))
        rollups = deferred_rollups(data_dir, database_url)
    out = []
    for scenario in rounds[0]:
        seconds = [r[scenario][0] for r in rounds]
        # against the fastest raw insert of the same round, and against the first (classic) one
        ratios = [min(r[b][0] for b in baselines) / r[scenario][0] for r in rounds]
        first = next(iter(baselines))
        classic = [r[first][0] / r[scenario][0] for r in rounds]
        _, inserted, updated = rounds[-1][scenario]
        median_s = statistics.median(seconds)
        out.append(
            {
                "scenario": scenario,
                "rows": total,
                "inserted": total if inserted is None else inserted,
                "updated": 0 if updated is None else updated,
                "seconds": round(median_s, 3),
                "rows_per_s": round(total / median_s),
                "ratio_vs_raw": round(statistics.median(ratios), 3),
                "ratios": " ".join(f"{r:.3f}" for r in ratios),
                "ratio_vs_first_raw": round(statistics.median(classic), 3),
            }
        )
    out.append(
        {
            "scenario": "rollups of the last CSV rows (deferred)",
            "rows": total,
            "seconds": round(rollups, 3),
            "rows_per_s": round(total / rollups),
        }
    )
    return out


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    total, repeats = (QUICK_ROWS, QUICK_REPEATS) if quick else (ROWS, REPEATS)
    rows = []
    for name, url in databases(postgres):
        rows += [{"database": name, **row} for row in measure(url, total, repeats)]
    return {
        "title": f"Ingest: {total} rows in JSON and CSV batches of {BATCH} ({METERS} meters), one client, "
        f"median of {repeats} round(s)",
        "params": {"rows": total, "batch": BATCH, "meters": METERS, "repeats": repeats, "quick": quick},
        "columns": COLUMNS,
        "rows": rows,
        "notes": [
            "client and server share the cores; the client only sends pre-encoded bodies",
            "PostgreSQL is the throwaway test server (fsync=off, synchronous_commit=off) for both sides",
            "ratio_vs_raw: the median of the per-round ratios (listed in `ratios`) against the fastest raw "
            "insert of the same round; ratio_vs_first_raw: the same against the first raw insert listed "
            "(SQLite: one row per INSERT, the baseline of the earlier figures)",
        ],
    }
