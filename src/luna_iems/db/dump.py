"""Dump and restore the whole database (the relational part of a backup, `admin/backup.py`):
SQLite through its online backup API, PostgreSQL through pg_dump / pg_restore.

Both dumps are consistent snapshots taken while the service keeps running: SQLite copies the pages in
one step under a read transaction (WAL contents included); pg_dump runs in a snapshot exported by a
REPEATABLE READ transaction, and the row counts are taken in that same snapshot. Knows no domain.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import URL

from luna_iems.errors import LunaError

SQLITE_FILE = "database/luna.sqlite"
POSTGRES_FILE = "database/luna.pgdump"
# Tables a fresh, migrated database already fills: they do not make a restore target "not empty".
SEEDED_TABLES = frozenset({"alembic_version", "privacy_config"})


class BackupError(LunaError):
    """A backup or restore cannot go on; the message says why and what to do."""

    status_code = 409
    code = "backup_failed"


@dataclass(frozen=True)
class DatabaseDump:
    kind: str  # "sqlite" | "postgresql"
    file: str  # path of the dump inside the backup
    revision: str | None
    row_counts: dict[str, int]
    extensions: tuple[str, ...] = ()  # PostgreSQL extensions installed in the dumped database


def kind_of(engine: Engine) -> str:
    kind = engine.dialect.name
    if kind not in {"sqlite", "postgresql"}:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {kind}")
    return kind


def row_counts(connection: Connection) -> dict[str, int]:
    """Rows per table (every table of the schema except `alembic_version`), by table name."""
    quote = connection.dialect.identifier_preparer.quote
    names = sorted(set(inspect(connection).get_table_names()) - {"alembic_version"})
    return {
        name: int(connection.execute(text(f"SELECT count(*) FROM {quote(name)}")).scalar_one())
        for name in names
    }


def non_empty_tables(engine: Engine) -> dict[str, int]:
    """Tables holding rows that a fresh, migrated database would not hold (empty: a restore target)."""
    with engine.connect() as connection:
        counts = row_counts(connection)
    return {name: n for name, n in counts.items() if n and name not in SEEDED_TABLES}


def dump(*, engine: Engine, root: Path, pg_bin_dir: Path | None) -> DatabaseDump:
    """Write a consistent copy of the database under `root` (the backup directory)."""
    if kind_of(engine) == "sqlite":
        return _dump_sqlite(engine, root)
    return _dump_postgres(engine, root, pg_bin_dir)


def check_restorable(*, engine: Engine, dumped: DatabaseDump) -> None:
    """Raise `BackupError` (before anything changes) when `restore` could not restore this dump here."""
    target = kind_of(engine)
    if target != dumped.kind:
        raise BackupError(
            f"the backup holds a {dumped.kind} database but DATABASE_URL points to {target}: "
            f"restore it into {dumped.kind}"
        )
    if "timescaledb" in dumped.extensions:
        # A TimescaleDB restore needs timescaledb_pre_restore()/post_restore() around pg_restore and
        # the same extension version; not automated (no TimescaleDB on our test machines).
        raise BackupError(
            "the backup holds a TimescaleDB database: restore it by hand as docs/operations.md "
            "describes (timescaledb_pre_restore, pg_restore, timescaledb_post_restore)"
        )


def restore(*, engine: Engine, root: Path, dumped: DatabaseDump, pg_bin_dir: Path | None) -> None:
    """Replace the database's contents with the dump (the caller checked the target is empty or forced)."""
    check_restorable(engine=engine, dumped=dumped)
    engine.dispose()  # no pooled connection may outlive the old contents
    if engine.dialect.name == "sqlite":
        _restore_sqlite(engine, root / dumped.file)
    else:
        _restore_postgres(engine, root / dumped.file, pg_bin_dir)
    engine.dispose()


# --- SQLite ------------------------------------------------------------------------------------
def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _dump_sqlite(engine: Engine, root: Path) -> DatabaseDump:
    out = root / SQLITE_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(_sqlite_path(engine), timeout=30)
    try:
        target = sqlite3.connect(out)
        try:
            source.backup(target)  # all pages in one step: one consistent snapshot
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            target.close()
    finally:
        source.close()
    copy = create_engine(f"sqlite:///{out.as_posix()}")
    try:
        with copy.connect() as connection:
            counts = row_counts(connection)
            revision = MigrationContext.configure(connection).get_current_revision()
    finally:
        copy.dispose()
    return DatabaseDump(kind="sqlite", file=SQLITE_FILE, revision=revision, row_counts=counts)


def _restore_sqlite(engine: Engine, dump_file: Path) -> None:
    path = _sqlite_path(engine)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{dump_file.as_posix()}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(path)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


# --- PostgreSQL --------------------------------------------------------------------------------
def pg_tool(name: str, bin_dir: Path | None) -> Path:
    """`pg_dump` or `pg_restore`: from PG_BIN_DIR, else the newest /usr/lib/postgresql/*/bin, else PATH.

    Debian's wrappers on PATH pick a version by cluster configuration; the versioned directory is
    explicit, and pg_dump must be at least as new as the server.
    """
    if bin_dir is not None:
        candidate = bin_dir / name
        if candidate.is_file():
            return candidate
        raise BackupError(f"{name} not found in PG_BIN_DIR={bin_dir}")
    versioned = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
        reverse=True,
    )
    found = versioned[0] if versioned else shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} not found (PATH, /usr/lib/postgresql/*/bin): install the PostgreSQL client "
            "(Debian: postgresql-client) or set PG_BIN_DIR"
        )
    return Path(found)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment that carries it."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)  # never on the command line (visible in `ps`)
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    except OSError as exc:
        raise BackupError(f"{what} could not start: {exc}") from exc
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise BackupError(f"{what} failed (exit {result.returncode}): {lines[-1] if lines else 'no output'}")


def _dump_postgres(engine: Engine, root: Path, bin_dir: Path | None) -> DatabaseDump:
    out = root / POSTGRES_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    tool = pg_tool("pg_dump", bin_dir)
    uri, env = _libpq(engine.url)
    with engine.connect() as plain:
        connection = plain.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            # pg_dump joins this transaction's snapshot: the counts below describe exactly the dump.
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counts = row_counts(connection)
            revision = MigrationContext.configure(connection).get_current_revision()
            extensions = tuple(
                sorted(str(n) for n in connection.execute(text("SELECT extname FROM pg_extension")).scalars())
            )
            _run(
                [str(tool), "--format=custom", f"--snapshot={snapshot}", f"--file={out}", f"--dbname={uri}"],
                env,
                "pg_dump",
            )
    return DatabaseDump(
        kind="postgresql", file=POSTGRES_FILE, revision=revision, row_counts=counts, extensions=extensions
    )


def _restore_postgres(engine: Engine, dump_file: Path, bin_dir: Path | None) -> None:
    tool = pg_tool("pg_restore", bin_dir)
    # `--clean` drops only what the dump creates: a table of a newer migration would survive, and
    # the migration that creates it would then fail. The target is empty (or forced): drop them all.
    with engine.begin() as connection:
        quote = connection.dialect.identifier_preparer.quote
        for name in inspect(connection).get_table_names():
            connection.execute(text(f"DROP TABLE IF EXISTS {quote(name)} CASCADE"))
    uri, env = _libpq(engine.url)
    command = [
        str(tool),
        "--clean",  # drop what the dump creates (the migrated, empty tables of a fresh database)
        "--if-exists",
        "--no-owner",  # the restoring user owns everything: the database user may differ
        "--no-privileges",
        "--single-transaction",  # all or nothing
        f"--dbname={uri}",
        str(dump_file),
    ]
    _run(command, env, "pg_restore")
