"""Bulk upsert, fenced per dialect: executemany on SQLite, COPY into a temporary table on PostgreSQL.

Rows are tuples in `columns` order with aware datetimes for `UTCDateTime` columns, or, with
`epoch_us=True`, integer microseconds since the epoch (the fast path for generated data). A row whose key
already exists is updated (replays never duplicate). Keys must be unique within one call: callers
deduplicate (keeping the last row), because PostgreSQL refuses to update one row twice in a statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table

from luna_iems.db.base import UTCDateTime, to_epoch_us


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
    updates = [c for c in columns if c not in key]
    column_list = ", ".join(columns)
    conflict = ", ".join(key)
    assignments = ", ".join(f"{c} = excluded.{c}" for c in updates) if updates else ""
    on_conflict = f"DO UPDATE SET {assignments}" if assignments else "DO NOTHING"
    if connection.dialect.name == "sqlite":
        placeholders = ", ".join("?" for _ in columns)
        sql = (
            f"INSERT INTO {table.name} ({column_list}) VALUES ({placeholders}) "
            f"ON CONFLICT ({conflict}) {on_conflict}"
        )
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, rows)
        finally:
            cursor.close()
        return
    if connection.dialect.name == "postgresql":
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
