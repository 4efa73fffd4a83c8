"""Backups and restore: the database, the vector index and the stored files, with a manifest.

A backup is taken online (the service keeps running) in this order: the database snapshot first,
then the vectors, then the files. Document ingest writes the file and the vectors before it commits
the rows, so every chunk in the snapshot finds its vector and its file in the backup.

A restore replaces everything the configuration points to and runs with the service stopped
(`luna restore`; the API refuses it, see docs/operations.md): a running process keeps the vector
index and the lexical index in memory, holds database connections and runs scheduled jobs that
would write into a half-restored instance.
"""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from luna_iems import __version__
from luna_iems.admin import backup_store
from luna_iems.admin.backup_store import MANIFEST, Manifest
from luna_iems.admin.schemas import BackupRead, BackupRestored, BackupVerified
from luna_iems.db import dump as db_dump
from luna_iems.db import migrate
from luna_iems.db.dump import BackupError
from luna_iems.errors import ConflictError, InvalidInputError, LunaError, NotFoundError
from luna_iems.ports import ObjectStore, VectorStore

log = logging.getLogger("luna_iems.admin.backup")

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_NAME = re.compile(NAME_PATTERN)
_PARTIAL_MAX_AGE = timedelta(days=1)
_RUNNING = threading.Lock()  # one backup at a time per process (the job and the API share it)

__all__ = ["BackupError", "BackupTargets", "create_backup", "list_backups", "restore_backup"]


@dataclass(frozen=True)
class BackupTargets:
    """What a backup reads and a restore writes: the configured database, vector store and files."""

    engine: Engine
    vectors: VectorStore
    objects: ObjectStore


# --- create ------------------------------------------------------------------------------------
def create_backup(
    *, targets: BackupTargets, backup_dir: Path, pg_bin_dir: Path | None = None, now: datetime | None = None
) -> BackupRead:
    """Write a new backup directory under `backup_dir` and return what it holds.

    Safe while the service runs. The directory appears under its final name only when complete (it
    is written as `.<name>.partial` and renamed). Raises `BackupError` when another backup of this
    process is running or a part fails (pg_dump missing, a backend unreachable, ...).
    """
    if not _RUNNING.acquire(blocking=False):
        raise BackupError("a backup is already running; try again when it has finished")
    try:
        return _create(targets, backup_dir, pg_bin_dir, now or datetime.now(tz=UTC))
    finally:
        _RUNNING.release()


def _create(targets: BackupTargets, backup_dir: Path, pg_bin_dir: Path | None, now: datetime) -> BackupRead:
    started = time.perf_counter()
    backup_dir.mkdir(parents=True, exist_ok=True)
    name, partial = _reserve(backup_dir, now)
    try:
        dumped = db_dump.dump(engine=targets.engine, root=partial, pg_bin_dir=pg_bin_dir)
        vectors = backup_store.export_vectors(targets.vectors, partial)
        files = backup_store.export_objects(targets.objects, partial)
        manifest = Manifest(
            name=name,
            created_at=now.astimezone(UTC),
            app_version=__version__,
            alembic_revision=dumped.revision,
            database=backup_store.DatabasePart(
                kind=dumped.kind,
                file=dumped.file,
                row_counts=dumped.row_counts,
                extensions=list(dumped.extensions),
            ),
            vectors=vectors,
            files=files,
            checksums=backup_store.checksum_tree(partial),
            seconds=round(time.perf_counter() - started, 3),
        )
        backup_store.write_manifest(partial, manifest)
        final = backup_dir / name
        partial.rename(final)
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(exc, OSError):  # e.g. the disk is full: say so, not a 500
            raise BackupError(f"backup into {backup_dir} failed: {exc}") from exc
        raise
    log.info(
        "backup created",
        extra={"backup": name, "seconds": manifest.seconds, "vectors": vectors.count, "files": files.count},
    )
    return _read(final, manifest)


def _reserve(backup_dir: Path, now: datetime) -> tuple[str, Path]:
    base = f"luna-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    for attempt in range(1, 1000):
        name = base if attempt == 1 else f"{base}-{attempt}"
        partial = backup_dir / f".{name}.partial"
        if (backup_dir / name).exists():
            continue
        try:
            partial.mkdir()
        except FileExistsError:
            continue
        return name, partial
    raise BackupError(f"no free backup name for {base} in {backup_dir}")


# --- read --------------------------------------------------------------------------------------
def _read(root: Path, manifest: Manifest) -> BackupRead:
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return BackupRead(
        name=root.name,
        path=str(root),
        created_at=manifest.created_at,
        app_version=manifest.app_version,
        alembic_revision=manifest.alembic_revision,
        database_kind=manifest.database.kind,
        row_counts=manifest.database.row_counts,
        vectors=manifest.vectors.count,
        files=manifest.files.count,
        size_bytes=size,
        seconds=manifest.seconds,
    )


def _complete(backup_dir: Path) -> list[tuple[Path, Manifest]]:
    """Every backup in `backup_dir` with a readable manifest, newest first."""
    if not backup_dir.is_dir():
        return []
    found = []
    for root in backup_dir.iterdir():
        if root.name.startswith(".") or not (root / MANIFEST).is_file():
            continue
        try:
            found.append((root, backup_store.read_manifest(root)))
        except BackupError as exc:
            log.warning("not a readable backup", extra={"path": str(root), "reason": exc.message})
    return sorted(found, key=lambda pair: (pair[1].created_at, pair[0].name), reverse=True)


def list_backups(*, backup_dir: Path) -> list[BackupRead]:
    """The backups in `backup_dir`, newest first (read from their manifests, not verified)."""
    return [_read(root, manifest) for root, manifest in _complete(backup_dir)]


def locate(*, backup_dir: Path, name_or_path: str) -> Path:
    """A backup by name (in `backup_dir`) or by path to its directory; raises NotFoundError."""
    candidate = Path(name_or_path)
    if _NAME.match(name_or_path) and (backup_dir / name_or_path / MANIFEST).is_file():
        return backup_dir / name_or_path
    if ("/" in name_or_path or candidate.is_absolute()) and (candidate / MANIFEST).is_file():
        return candidate
    raise NotFoundError(
        f"no backup {name_or_path!r} in {backup_dir} (and no backup directory at that path)",
        details={"backup": name_or_path},
    )


def get_backup(*, backup_dir: Path, name: str) -> BackupRead:
    if not _NAME.match(name):
        raise InvalidInputError(f"{name!r} is not a backup name", details={"field": "name"})
    root = locate(backup_dir=backup_dir, name_or_path=name)
    return _read(root, backup_store.read_manifest(root))


def verify_backup(*, root: Path) -> BackupVerified:
    """Check the manifest and every file's SHA-256; `problem` names the first file that fails."""
    try:
        manifest = backup_store.read_manifest(root)
        checked = backup_store.verify_checksums(root, manifest)
        _check_revision_known(manifest)
    except BackupError as exc:
        return BackupVerified(name=root.name, ok=False, files_checked=0, problem=exc.message)
    return BackupVerified(name=root.name, ok=True, files_checked=checked, problem=None)


# --- retention ---------------------------------------------------------------------------------
def prune_backups(*, backup_dir: Path, keep: int) -> list[str]:
    """Delete all but the newest `keep` backups (and partial ones left by a crash a day ago or more).

    Only directories with a Luna-IEMS manifest count; returns the names deleted.
    """
    if keep < 1:
        raise InvalidInputError("keep at least one backup", details={"field": "keep"})
    deleted = []
    for root, _ in _complete(backup_dir)[keep:]:
        shutil.rmtree(root)
        deleted.append(root.name)
    cutoff = time.time() - _PARTIAL_MAX_AGE.total_seconds()
    if backup_dir.is_dir():
        for stale in backup_dir.glob(".*.partial"):
            if stale.is_dir() and stale.stat().st_mtime < cutoff:
                shutil.rmtree(stale, ignore_errors=True)
    if deleted:
        log.info("old backups deleted", extra={"deleted": deleted, "keep": keep})
    return deleted


# --- restore -----------------------------------------------------------------------------------
def _check_revision_known(manifest: Manifest) -> None:
    revision = manifest.alembic_revision
    if revision is None:
        return
    script = ScriptDirectory.from_config(migrate.alembic_config())
    if revision not in {r.revision for r in script.walk_revisions()}:
        raise BackupError(
            f"backup {manifest.name} is at schema revision {revision}, which this Luna-IEMS {__version__} "
            f"does not know (newest shipped: {migrate.head_revision()}); nothing was restored. Restore it "
            f"with Luna-IEMS {manifest.app_version} or newer"
        )


def restore_refused(name: str) -> ConflictError:
    """The answer of the API to a restore request: it runs with the service stopped, from the CLI."""
    return ConflictError(
        f"a restore replaces the database, vectors and files under the running service: stop Luna-IEMS, "
        f"then run `luna restore {name}` on its host (see docs/operations.md, Backups and restore)",
        details={"command": f"luna restore {name}"},
    )


def occupied(targets: BackupTargets) -> list[str]:
    """What already lives in the target ([] when the database, vector store and files are empty)."""
    found = [f"table {t} holds {n} rows" for t, n in db_dump.non_empty_tables(targets.engine).items()]
    if (points := targets.vectors.count()) > 0:
        found.append(f"the vector store holds {points} points")
    if (key := next(iter(targets.objects.keys()), None)) is not None:
        found.append(f"the object store holds files (e.g. {key})")
    return found


def restore_backup(
    *, targets: BackupTargets, root: Path, pg_bin_dir: Path | None = None, force: bool = False
) -> BackupRestored:
    """Restore the backup in `root` into the configured database, vector store and object store.

    Checks first and changes nothing when a check fails (`BackupError`): the manifest and every
    checksum, a schema revision this code knows, the database kind, the vector collection, and an
    empty target (unless `force`, which replaces what is there). Afterwards the row counts per
    table and the vector and file counts equal the manifest's, and the schema is migrated to the
    shipped head. Run it with the service stopped.
    """
    started = time.perf_counter()
    manifest = backup_store.read_manifest(root)
    backup_store.verify_checksums(root, manifest)
    _check_revision_known(manifest)
    dumped = db_dump.DatabaseDump(
        kind=manifest.database.kind,
        file=manifest.database.file,
        revision=manifest.alembic_revision,
        row_counts=manifest.database.row_counts,
        extensions=tuple(manifest.database.extensions),
    )
    db_dump.check_restorable(engine=targets.engine, dumped=dumped)
    _check_collection(targets.vectors, manifest)
    if not force and (found := occupied(targets)):
        raise BackupError(
            f"the restore target is not empty: {'; '.join(found[:3])}. Restore into an empty DATA_DIR "
            "and database, or pass --force to replace what is there"
        )
    try:
        if force:
            backup_store.clear_objects(targets.objects)
            backup_store.clear_vectors(targets.vectors)
        db_dump.restore(engine=targets.engine, root=root, dumped=dumped, pg_bin_dir=pg_bin_dir)
        _check_counts(targets.engine, manifest)
        revision = migrate.upgrade(targets.engine)
        vectors = backup_store.import_vectors(targets.vectors, root, manifest.vectors)
        files = backup_store.import_objects(targets.objects, root, manifest.files)
    except (LunaError, SQLAlchemyError, sqlite3.Error, OSError) as exc:
        reason = exc.message if isinstance(exc, LunaError) else str(exc).strip().splitlines()[0]
        raise BackupError(
            f"restore of {root.name} stopped after changing the target: {reason}. "
            "Fix the cause and run it again with --force"
        ) from exc
    if targets.vectors.count() != manifest.vectors.count:
        raise BackupError(
            f"restore of {root.name}: the vector store holds {targets.vectors.count()} points, "
            f"the backup {manifest.vectors.count}"
        )
    log.info("backup restored", extra={"backup": root.name, "revision": revision})
    return BackupRestored(
        name=root.name,
        database_kind=manifest.database.kind,
        backup_revision=manifest.alembic_revision,
        schema_revision=revision,
        row_counts=manifest.database.row_counts,
        vectors=vectors,
        files=files,
        seconds=round(time.perf_counter() - started, 3),
    )


def _check_collection(store: VectorStore, manifest: Manifest) -> None:
    part = manifest.vectors
    if (part.collection, part.dimension) != (store.collection, store.dimension):
        raise BackupError(
            f"backup {manifest.name} holds vectors of collection {part.collection!r} ({part.dimension} "
            f"dimensions) but this configuration uses {store.collection!r} ({store.dimension}): set the "
            "embedding settings the backup was made with, restore, then change them and run `luna reindex`"
        )


def _check_counts(engine: Engine, manifest: Manifest) -> None:
    with engine.connect() as connection:
        restored = db_dump.row_counts(connection)
    for table, expected in manifest.database.row_counts.items():
        if restored.get(table) != expected:
            raise BackupError(
                f"table {table} holds {restored.get(table)} rows after the restore, the backup {expected}"
            )
