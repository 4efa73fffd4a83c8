"""Bulk upsert, fenced per dialect: executemany on SQLite, COPY into a temporary table on PostgreSQL.

Rows are tuples in `columns` order with aware datetimes for `UTCDateTime` columns, or, with
`epoch_us=True`, integer microseconds since the epoch (the fast path for generated data).
`upsert_columns` takes the latter as one list per column (the ingest path, which holds columns), so no
tuple is built per row: such tuples cost time to build and, tracked by the garbage collector, time in
its collections. A row whose key already exists is updated (replays never duplicate). Keys must be
unique within one call: callers deduplicate (keeping the last row), because PostgreSQL refuses to
update one row twice in a statement.

Why each path is shaped as it is (measured with benchmarks/ingest.py, see BENCHMARKS.md):
- SQLite: one INSERT of many rows (`VALUES (...), (...), ...`) per statement, run with executemany.
  SQLite's per-statement cost (step, reset, the Python loop of executemany) is paid once per up to
  1,000 rows instead of once per row; the values are bound exactly as before.
- PostgreSQL, tables of text, float and time columns with `epoch_us` (the readings): binary COPY, the
  bytes built by NumPy (no Python call per row). If no stored row can share a key with the batch
  (nothing stored in the batch's time range for its key texts: one index probe), the rows are copied
  straight into the table, grouped by record layout (texts and NULLs). Otherwise they are copied into
  a fixed-width staging table (texts as codes into a per-column list of distinct values, times as
  binary timestamptz, NULL floats as NaN) and upserted from it: staging plus INSERT ... ON CONFLICT
  costs ~1.4x a direct COPY even when nothing conflicts. A key written meanwhile by another transaction
  makes the direct COPY fail; it is rolled back to a savepoint and the upsert runs, so the answer is
  the same as always upserting.
- Other PostgreSQL tables: text COPY (`write_row`) into the staging table, then one upsert.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain, pairwise
from operator import itemgetter
from typing import Any

import numpy as np
from sqlalchemy import Connection, Float, String, Table

from luna_iems.db.base import UTCDateTime, from_epoch_us, to_epoch_us

# SQLite: rows per multi-row INSERT (bounded again by the connection's limit on bound parameters).
_SQLITE_ROWS_PER_STATEMENT = 1000
_PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_PG_COPY_TRAILER = struct.pack(">h", -1)
_PG_EPOCH_US = 946_684_800 * 1_000_000  # 2000-01-01T00:00:00Z, the epoch of binary timestamptz
_SAVEPOINT = "luna_bulk_insert"


def _convert_ts(
    table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], convert: Callable[[Any], Any]
) -> Sequence[tuple[Any, ...]]:
    ts_positions = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, UTCDateTime)]
    if not ts_positions:
        return rows
    out = []
    for row in rows:
        values = list(row)
        for i in ts_positions:
            if values[i] is not None:
                values[i] = convert(values[i])
        out.append(tuple(values))
    return out


def upsert_rows(
    connection: Connection,
    table: Table,
    *,
    columns: Sequence[str],
    key: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    epoch_us: bool = False,
) -> None:
    """Insert `rows` into `table`, updating the non-key columns of rows whose key exists."""
    if not rows:
        return
    sqlite = connection.dialect.name == "sqlite"
    if sqlite and not epoch_us:
        rows = _convert_ts(table, columns, rows, to_epoch_us)  # SQLite stores UTC microseconds
    column_list = ", ".join(columns)
    conflict = ", ".join(key)
    on_conflict = _on_conflict(columns, key)
    if connection.dialect.name == "sqlite":
        on = f"({conflict}) {on_conflict}"
        flat = list(chain.from_iterable(rows))
        _sqlite_upsert(connection, table=table, columns=columns, on_conflict=on, flat=flat)
        return
    if connection.dialect.name == "postgresql":
        encoded = _encode(table, columns, rows) if epoch_us else None
        if encoded is not None:
            _postgres_binary_upsert(
                connection, table=table, columns=columns, key=key, on_conflict=on_conflict, encoded=encoded
            )
            return
        _postgres_copy_upsert(
            connection,
            table=table,
            columns=columns,
            column_list=column_list,
            conflict=conflict,
            on_conflict=on_conflict,
            rows=rows,
            epoch_us=epoch_us,
        )
        return
    raise NotImplementedError(f"bulk upsert for dialect {connection.dialect.name}")


def _on_conflict(columns: Sequence[str], key: Sequence[str]) -> str:
    """The action for a row whose `key` exists: update every other column (or nothing if none)."""
    assignments = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return f"DO UPDATE SET {assignments}" if assignments else "DO NOTHING"


def upsert_columns(
    connection: Connection,
    table: Table,
    *,
    columns: Sequence[str],
    key: Sequence[str],
    values: Sequence[list[Any]],
) -> None:
    """`upsert_rows(..., epoch_us=True)` with the rows given as columns: `values[i]` holds the values of
    `columns[i]` for every row (None = NULL, times as integer microseconds since the epoch)."""
    if not values or not values[0]:
        return
    if connection.dialect.name != "sqlite":
        encoded = _encode_columns(table, columns, values) if connection.dialect.name == "postgresql" else None
        if encoded is None:
            upsert_rows(
                connection,
                table,
                columns=columns,
                key=key,
                rows=list(zip(*values, strict=True)),
                epoch_us=True,
            )
            return
        _postgres_binary_upsert(
            connection,
            table=table,
            columns=columns,
            key=key,
            on_conflict=_on_conflict(columns, key),
            encoded=encoded,
        )
        return
    width, count = len(columns), len(values[0])
    if any(len(column) != count for column in values):
        raise ValueError("columns of different lengths")
    flat: list[Any] = [None] * (width * count)
    for i, column in enumerate(values):
        flat[i::width] = column  # row-major, as executemany binds them
    on_conflict = f"({', '.join(key)}) {_on_conflict(columns, key)}"
    _sqlite_upsert(connection, table=table, columns=columns, on_conflict=on_conflict, flat=flat)


def _sqlite_upsert(
    connection: Connection,
    *,
    table: Table,
    columns: Sequence[str],
    on_conflict: str,
    flat: list[Any],
) -> None:
    """Multi-row INSERT ... ON CONFLICT statements of up to `_SQLITE_ROWS_PER_STATEMENT` rows; `flat`
    holds the rows' values one after another."""
    import sqlite3

    raw: Any = connection.connection.driver_connection
    width = len(columns)
    max_params = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per_statement = max(1, min(_SQLITE_ROWS_PER_STATEMENT, max_params // width))
    row_sql = "(" + ", ".join("?" for _ in columns) + ")"

    def statement(count: int) -> str:
        values = ", ".join([row_sql] * count)
        return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {values} ON CONFLICT {on_conflict}"

    step = per_statement * width
    full = len(flat) // step * step
    cursor = raw.cursor()
    try:
        if full:
            cursor.executemany(statement(per_statement), (flat[i : i + step] for i in range(0, full, step)))
        if full < len(flat):
            cursor.execute(statement((len(flat) - full) // width), flat[full:])
    finally:
        cursor.close()


# --- PostgreSQL -----------------------------------------------------------------------------------
@dataclass
class _Encoded:
    """A batch as fixed-width NumPy columns: text as 1-based codes into its distinct values, float with
    NaN for NULL, time as microseconds since 2000-01-01 UTC (binary timestamptz)."""

    kinds: list[str]  # per column: "text", "float" or "time"
    arrays: list[np.ndarray[Any, Any]]
    texts: dict[int, list[str | None]] = field(default_factory=dict)  # column -> its distinct values
    probe: list[tuple[str, Any]] = field(default_factory=list)  # (column, distinct texts or (min, max))


def _encode(table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> _Encoded | None:
    """None when a column is of another type, or holds what these encodings cannot carry (a NaN float,
    a NULL time)."""
    return _encode_columns(table, columns, [list(map(itemgetter(i), rows)) for i in range(len(columns))])


def _encode_columns(table: Table, columns: Sequence[str], values_of: Sequence[list[Any]]) -> _Encoded | None:
    """`_encode` of the rows given as one list per column."""
    encoded = _Encoded(kinds=[], arrays=[])
    for i, name in enumerate(columns):
        values = values_of[i]
        kind = table.c[name].type
        if isinstance(kind, UTCDateTime):
            try:
                epoch: np.ndarray[Any, Any] = np.array(values, dtype=np.int64)
            except (TypeError, OverflowError):
                return None
            column, tag = epoch - _PG_EPOCH_US, "time"
            encoded.probe.append((name, (from_epoch_us(int(epoch.min())), from_epoch_us(int(epoch.max())))))
        elif isinstance(kind, Float):
            try:
                column, tag = np.array(values, dtype=np.float64), "float"  # None becomes NaN
            except (TypeError, ValueError):
                return None
            if int(np.isnan(column).sum()) != values.count(None):
                return None  # a NaN value would come back as NULL
        elif isinstance(kind, String):
            codes = {value: code for code, value in enumerate(dict.fromkeys(values), start=1)}
            if any(v is not None and type(v) is not str for v in codes):
                return None
            column, tag = (
                np.fromiter(map(codes.__getitem__, values), dtype=np.int32, count=len(values)),
                "text",
            )
            encoded.texts[i] = list(codes)
            encoded.probe.append((name, list(codes)))
        else:
            return None
        encoded.kinds.append(tag)
        encoded.arrays.append(column)
    return encoded


def _staging_payload(encoded: _Encoded) -> bytes:
    """Binary COPY records of the staging table: every field fixed-width, no NULLs."""
    fields = [("count", ">i2")]
    for i, column in enumerate(encoded.arrays):
        fields += [(f"len{i}", ">i4"), (f"c{i}", column.dtype.newbyteorder(">").str)]
    records = np.empty(len(encoded.arrays[0]), dtype=np.dtype(fields))
    records["count"] = len(encoded.arrays)
    for i, column in enumerate(encoded.arrays):
        records[f"len{i}"] = column.dtype.itemsize
        records[f"c{i}"] = column
    return _PG_COPY_HEADER + records.tobytes() + _PG_COPY_TRAILER


def _direct_payload(encoded: _Encoded) -> bytes | None:
    """Binary COPY records of the table itself, or None for a batch of too many shapes.

    Records differ in width only by their texts and NULLs, so rows are grouped by (text codes, NULL
    pattern): within a group every record has the same layout and NumPy writes the group in one go.
    Rows go to the table grouped (by meter, then in batch order): the order of a COPY means nothing.
    """
    n = len(encoded.arrays[0])
    group, radix = np.zeros(n, dtype=np.int64), 1
    for i, (kind, column) in enumerate(zip(encoded.kinds, encoded.arrays, strict=True)):
        if kind == "text":
            group += (column.astype(np.int64) - 1) * radix
            radix *= len(encoded.texts[i])
        elif kind == "float":
            group += np.isnan(column) * radix
            radix *= 2
        if radix > 2**40:
            return None
    order = np.argsort(group, kind="stable")
    ordered = group[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    if len(starts) > max(64, n // 16):
        return None  # many small groups: the fixed-width staging table is cheaper
    bounds = [*starts.tolist(), n]
    parts = [_PG_COPY_HEADER]
    for start, end in pairwise(bounds):
        rows = order[start:end]
        first = int(rows[0])
        fields: list[tuple[str, str]] = [("count", ">i2")]
        fill: dict[str, Any] = {"count": len(encoded.arrays)}
        for i, (kind, column) in enumerate(zip(encoded.kinds, encoded.arrays, strict=True)):
            fields.append((f"len{i}", ">i4"))
            if kind == "text":
                text = encoded.texts[i][int(column[first]) - 1]
                data = b"" if text is None else text.encode()
                fill[f"len{i}"] = -1 if text is None else len(data)
                if data:
                    fields.append((f"c{i}", f"V{len(data)}"))
                    fill[f"c{i}"] = np.frombuffer(data, dtype=f"V{len(data)}")[0]
            elif kind == "float" and np.isnan(column[first]):
                fill[f"len{i}"] = -1
            else:
                fields.append((f"c{i}", column.dtype.newbyteorder(">").str))
                fill[f"len{i}"], fill[f"c{i}"] = 8, column[rows]
        records = np.empty(len(rows), dtype=np.dtype(fields))
        for name, value in fill.items():
            records[name] = value
        parts.append(records.tobytes())
    parts.append(_PG_COPY_TRAILER)
    return b"".join(parts)


_STAGED_TYPES = {
    "text": ("INTEGER", "(%s::text[])[s.c{i}]"),
    "float": ("DOUBLE PRECISION", "NULLIF(s.c{i}, 'NaN'::float8)"),
    "time": ("TIMESTAMPTZ", "s.c{i}"),
}


def _may_conflict(cursor: Any, table: Table, key: Sequence[str], encoded: _Encoded) -> bool:
    """False when no stored row can share a key with the batch: none of its key texts has a row in
    its time range. True when that cannot be told from the key's types."""
    ranges = dict(encoded.probe)
    if not all(k in ranges for k in key):
        return True
    conditions, params = [], []
    for k in key:
        value = ranges[k]
        if isinstance(value, tuple):
            conditions.append(f"{k} BETWEEN %s AND %s")
            params += list(value)
        else:
            conditions.append(f"{k} = ANY(%s)")
            params.append(value)
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table.name} WHERE {' AND '.join(conditions)})", params)
    return bool(cursor.fetchone()[0])


def _postgres_binary_upsert(
    connection: Connection,
    *,
    table: Table,
    columns: Sequence[str],
    key: Sequence[str],
    on_conflict: str,
    encoded: _Encoded,
) -> None:
    """A binary COPY into the table when no stored row can conflict, else (or if one was written
    meanwhile) a binary COPY into a staging table and one upsert from it (see the module docstring)."""
    from psycopg import errors

    column_list = ", ".join(columns)
    raw: Any = connection.connection.driver_connection
    with raw.cursor() as cursor:
        if not _may_conflict(cursor, table, key, encoded):
            payload = _direct_payload(encoded)
            if payload is not None:
                cursor.execute(f"SAVEPOINT {_SAVEPOINT}")
                try:
                    with cursor.copy(f"COPY {table.name} ({column_list}) FROM STDIN (FORMAT BINARY)") as copy:
                        copy.write(payload)
                except errors.UniqueViolation:  # a key written meanwhile by another transaction
                    cursor.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
                    cursor.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
                else:
                    cursor.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
                    return
        definitions = [f"c{i} {_STAGED_TYPES[kind][0]}" for i, kind in enumerate(encoded.kinds)]
        selects = [_STAGED_TYPES[kind][1].format(i=i) for i, kind in enumerate(encoded.kinds)]
        # One staging table per shape: a table written with other columns gets its own.
        staging = f"_stage_{table.name}_{zlib.crc32(';'.join(definitions).encode()):08x}"
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} ({', '.join(definitions)}) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY {staging} FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(_staging_payload(encoded))
        cursor.execute(
            f"INSERT INTO {table.name} ({column_list}) SELECT {', '.join(selects)} FROM {staging} s "
            f"ON CONFLICT ({', '.join(key)}) {on_conflict}",
            [encoded.texts[i] for i, kind in enumerate(encoded.kinds) if kind == "text"],
        )
        cursor.execute(f"TRUNCATE {staging}")


def _postgres_copy_upsert(
    connection: Connection,
    *,
    table: Table,
    columns: Sequence[str],
    column_list: str,
    conflict: str,
    on_conflict: str,
    rows: Sequence[tuple[Any, ...]],
    epoch_us: bool,
) -> None:
    """COPY into a temporary staging table, then one INSERT ... ON CONFLICT from it.

    With `epoch_us`, time columns are staged as BIGINT microseconds and turned into timestamptz in
    SQL (exact integer interval arithmetic), which spares a Python datetime per row.
    """
    ts_columns = {c for c in columns if isinstance(table.c[c].type, UTCDateTime)} if epoch_us else set()
    staging = f"_stage_{table.name}{'_us' if ts_columns else ''}"
    definitions = ", ".join(
        f"{c} BIGINT" if c in ts_columns else f"{c} {table.c[c].type.compile(dialect=connection.dialect)}"
        for c in columns
    )
    select_list = ", ".join(
        f"TIMESTAMPTZ 'epoch' + {c} * INTERVAL '1 microsecond'" if c in ts_columns else c for c in columns
    )
    raw: Any = connection.connection.driver_connection
    with raw.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} ({definitions}) ON COMMIT DELETE ROWS")
        with cursor.copy(f"COPY {staging} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table.name} ({column_list}) SELECT {select_list} FROM {staging} "
            f"ON CONFLICT ({conflict}) {on_conflict}"
        )
        cursor.execute(f"TRUNCATE {staging}")
