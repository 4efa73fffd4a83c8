"""Per-dialect capabilities, in one place: TimescaleDB detection and hypertables."""

from __future__ import annotations

from sqlalchemy import Connection, text

# Time-series tables that become hypertables when TimescaleDB is available: table -> time column.
HYPERTABLES: dict[str, str] = {
    "events": "ts",
    "smart_meter_readings": "ts",
    "market_prices": "ts",
}


def is_postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def timescaledb_available(connection: Connection) -> bool:
    """True when the server can load the `timescaledb` extension (installed or installable)."""
    if not is_postgres(connection):
        return False
    row = connection.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")).first()
    return row is not None


def hypertables(connection: Connection) -> list[str]:
    """Names of the tables that are TimescaleDB hypertables (empty without TimescaleDB)."""
    if not is_postgres(connection):
        return []
    installed = connection.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).first()
    if installed is None:
        return []
    rows = connection.execute(text("SELECT hypertable_name FROM timescaledb_information.hypertables"))
    return sorted(str(r[0]) for r in rows)


def create_hypertables(connection: Connection, tables: dict[str, str] | None = None) -> list[str]:
    """Turn time-series tables (default: `HYPERTABLES`; table -> time column) into hypertables if
    TimescaleDB exists; returns those converted. Later migrations pass the tables they create."""
    if not timescaledb_available(connection):
        return []
    chosen = HYPERTABLES if tables is None else tables
    connection.execute(text("CREATE EXTENSION IF NOT EXISTS timescaledb"))
    for table, column in chosen.items():
        connection.execute(
            text(
                f"SELECT create_hypertable('{table}', '{column}', "
                "if_not_exists => TRUE, migrate_data => TRUE)"
            )
        )
    return list(chosen)
