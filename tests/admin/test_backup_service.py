"""Backups and restore through the service, on the real adapters (SQLite file, NumPy index, local
files): the manifest, refusals that change nothing, restore with --force, older schemas, retention
and the scheduled job. The round trip on both databases with real documents is in
test_backup_roundtrip.py."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine

from luna_iems import __version__
from luna_iems.admin import backup as backup_service
from luna_iems.admin import jobs as admin_jobs
from luna_iems.admin.backup import BackupError
from luna_iems.admin.backup_store import read_manifest, sha256_file
from luna_iems.db import dump as db_dump
from luna_iems.db import migrate
from luna_iems.db.engine import build_engine
from luna_iems.scheduler import Scheduler
from luna_iems.settings import Settings
from tests.admin.backup_support import (
    app_on,
    at,
    backup_dirs,
    built,
    seed_energy,
    seed_vectors_and_files,
    state,
    targets,
)
from tests.conftest import make_settings

Fresh = Callable[[str], str]


@pytest.fixture
def source(tmp_path: Path, fresh_database_url: Fresh) -> Settings:
    """A SQLite instance with meters, readings, prices, 40 vectors and 5 stored files."""
    settings = make_settings(tmp_path / "source", database_url=fresh_database_url("sqlite"))
    with built(settings) as container:
        with app_on(container) as client:
            seed_energy(client)
        seed_vectors_and_files(container)
    return settings


@pytest.fixture
def target(tmp_path: Path, fresh_database_url: Fresh, source: Settings) -> Settings:
    """An empty instance (migrated, no data) that reads the source's backups."""
    return make_settings(
        tmp_path / "target", database_url=fresh_database_url("sqlite"), backup_dir=source.resolved_backup_dir
    )


def _backup(settings: Settings, **kwargs: object) -> Path:
    with built(settings) as container:
        created = backup_service.create_backup(
            targets=targets(container),
            backup_dir=settings.resolved_backup_dir,
            **kwargs,  # type: ignore[arg-type]
        )
    return Path(created.path)


def _restore(settings: Settings, root: Path, *, force: bool = False) -> None:
    with built(settings) as container:
        backup_service.restore_backup(targets=targets(container), root=root, force=force)


def _assert_untouched(settings: Settings) -> None:
    with built(settings) as container:
        now = state(container)
    data = {t: n for t, n in now.rows.items() if n and t not in db_dump.SEEDED_TABLES}
    assert data == {} and now.vectors == {} and now.files == {}


def test_manifest_lists_counts_revision_and_a_checksum_for_every_file(source: Settings) -> None:
    with built(source) as container:
        before = state(container)
    root = _backup(source)
    manifest = read_manifest(root)
    assert root.parent == source.data_dir / "backups" and root.name == manifest.name
    assert (
        manifest.created_at.utcoffset() is not None and manifest.created_at.utcoffset().total_seconds() == 0
    )
    raw = json.loads((root / "manifest.json").read_text())
    assert raw["created_at"].endswith("Z") and raw["format_version"] == 1
    assert manifest.app_version == __version__ and manifest.alembic_revision == migrate.head_revision()
    assert manifest.database.kind == "sqlite" and manifest.database.row_counts == before.rows
    assert before.rows["smart_meter_readings"] == 2 * 96 and before.rows["market_prices"] == 24
    assert manifest.vectors.count == 40 and manifest.files.count == 5
    assert {o.key for o in manifest.files.objects} == set(before.files)
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest.checksums) == on_disk
    assert len([p for p in on_disk if p.startswith("files/")]) == 4  # the duplicate content once
    assert all(sha256_file(root / name) == digest for name, digest in manifest.checksums.items())
    assert backup_service.verify_backup(root=root).ok
    assert not list(root.parent.glob(".*.partial"))


def test_restore_into_an_empty_target_reproduces_everything(source: Settings, target: Settings) -> None:
    root = _backup(source)
    with built(source) as container:
        before = state(container)
    with built(target) as container:
        result = backup_service.restore_backup(targets=targets(container), root=root)
        after = state(container)
    assert after == before
    assert result.vectors == 40 and result.files == 5 and result.schema_revision == migrate.head_revision()


@pytest.mark.parametrize(
    "part", ["database/luna.sqlite", "vectors/vectors.npy", "vectors/points.jsonl", "files"]
)
def test_a_corrupted_file_is_refused_naming_it_and_nothing_changes(
    source: Settings, target: Settings, part: str
) -> None:
    root = _backup(source)
    victim = next((root / "files").iterdir()) if part == "files" else root / part
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    name = victim.relative_to(root).as_posix()
    with pytest.raises(BackupError, match=f"checksum mismatch for {name}"):
        _restore(target, root)
    _assert_untouched(target)
    verified = backup_service.verify_backup(root=root)
    assert not verified.ok and name in (verified.problem or "")


def test_a_missing_file_is_refused_naming_it(source: Settings, target: Settings) -> None:
    root = _backup(source)
    (root / "vectors/points.jsonl").unlink()
    with pytest.raises(BackupError, match=re.escape("vectors/points.jsonl is missing")):
        _restore(target, root)
    _assert_untouched(target)


def test_a_newer_schema_revision_is_refused(source: Settings, target: Settings) -> None:
    root = _backup(source)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["alembic_revision"] = "9999_from_the_future"
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="schema revision 9999_from_the_future, which this Luna-IEMS"):
        _restore(target, root)
    manifest["alembic_revision"], manifest["format_version"] = migrate.head_revision(), 2
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="format version 2; this Luna-IEMS reads up to 1"):
        _restore(target, root)
    _assert_untouched(target)


def test_another_vector_collection_is_refused(source: Settings, target: Settings) -> None:
    root = _backup(source)
    other = target.model_copy(update={"vector_collection_prefix": "other"})
    with pytest.raises(BackupError, match="luna reindex"):
        _restore(other, root)


def test_a_non_empty_target_is_refused_unless_forced(source: Settings, target: Settings) -> None:
    root = _backup(source)
    with built(target) as container:
        with app_on(container) as client:
            seed_energy(client, meters=1, steps=4)
        container.object_store.put("items/stale/v1/old.txt", b"old", content_type="text/plain")
        squatter = state(container)
    with pytest.raises(BackupError, match=r"the restore target is not empty: table .* rows.*--force"):
        _restore(target, root)
    with built(target) as container:
        assert state(container) == squatter  # nothing changed
    _restore(target, root, force=True)
    with built(source) as container:
        before = state(container)
    with built(target) as container:
        assert state(container) == before  # replaced: the stale file and meter are gone


def test_each_kind_of_content_makes_the_target_non_empty(source: Settings, target: Settings) -> None:
    root = _backup(source)
    with built(target) as container:
        seed_vectors_and_files(container, points=1, files=0)
        container.object_store.delete("items/dup/v1/a.bin")
        container.object_store.delete("items/dup/v2/b.bin")
        assert backup_service.occupied(targets(container)) == ["the vector store holds 1 points"]
    with pytest.raises(BackupError, match="vector store holds 1 points"):
        _restore(target, root)


def test_a_backup_of_an_older_schema_is_migrated_after_the_restore(tmp_path: Path) -> None:
    old = make_settings(tmp_path / "old", database_url=f"sqlite:///{tmp_path / 'old.db'}")
    engine = build_engine(old.resolved_database_url)
    migrate.upgrade(engine, "0004")
    engine.dispose()
    root = _backup(old)
    assert read_manifest(root).alembic_revision == "0004"
    new = make_settings(
        tmp_path / "new", database_url=f"sqlite:///{tmp_path / 'new.db'}", backup_dir=root.parent
    )
    with built(new) as container:
        result = backup_service.restore_backup(targets=targets(container), root=root)
        assert migrate.current_revision(container.engine) == migrate.head_revision()
    assert result.backup_revision == "0004" and result.schema_revision == migrate.head_revision()


def test_pg_tools_missing_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="pg_dump not found in PG_BIN_DIR"):
        db_dump.pg_tool("pg_dump", tmp_path)
    assert db_dump.pg_tool("pg_restore", None).name == "pg_restore"


def test_retention_keeps_the_newest_and_old_partial_backups_go(source: Settings) -> None:
    backup_dir = source.resolved_backup_dir
    for day in (3, 1, 4, 2):
        _backup(source, now=at(day))
    stale, fresh = backup_dir / ".luna-stale.partial", backup_dir / ".luna-running.partial"
    stale.mkdir()
    fresh.mkdir()
    os.utime(stale, (time.time() - 2 * 86400,) * 2)
    (backup_dir / "not-a-backup").mkdir()  # no manifest: never touched
    deleted = backup_service.prune_backups(backup_dir=backup_dir, keep=2)
    assert sorted(deleted) == ["luna-20261201T030000Z", "luna-20261202T030000Z"]
    assert backup_dirs(backup_dir) == [
        ".luna-running.partial",
        "luna-20261203T030000Z",
        "luna-20261204T030000Z",
        "not-a-backup",
    ]
    assert [b.name for b in backup_service.list_backups(backup_dir=backup_dir)] == [
        "luna-20261204T030000Z",
        "luna-20261203T030000Z",
    ]


def test_the_scheduled_job_backs_up_and_prunes(source: Settings) -> None:
    settings = source.model_copy(update={"backup_keep": 2, "backup_interval_h": 6.0})
    with built(settings) as container:
        names = [admin_jobs.scheduled_backup(container.admin_deps)[0].name for _ in range(3)]
        scheduler = Scheduler()
        admin_jobs.register(scheduler, container.admin_deps)
        assert scheduler.has(admin_jobs.JOB_ID)
        off = Scheduler()
        container.settings = settings.model_copy(update={"backup_interval_h": 0.0})
        admin_jobs.register(off, container.admin_deps)
        assert not off.has(admin_jobs.JOB_ID)
    assert len(set(names)) == 3  # within one second too: distinct names
    kept = backup_service.list_backups(backup_dir=settings.resolved_backup_dir)
    assert [b.name for b in kept] == [names[2], names[1]]


def test_one_backup_at_a_time(source: Settings) -> None:
    assert backup_service._RUNNING.acquire(blocking=False)
    try:
        with pytest.raises(BackupError, match="already running"):
            _backup(source)
    finally:
        backup_service._RUNNING.release()
    assert not [n for n in backup_dirs(source.resolved_backup_dir) if n.endswith(".partial")]


def test_backup_dir_setting(tmp_path: Path) -> None:
    assert Settings(_env_file=None, data_dir=tmp_path).resolved_backup_dir == tmp_path / "backups"
    assert (
        Settings(_env_file=None, data_dir=tmp_path, backup_dir="").resolved_backup_dir == tmp_path / "backups"
    )
    assert Settings(_env_file=None, backup_dir=tmp_path / "b").resolved_backup_dir == tmp_path / "b"


def test_a_backup_of_the_embedded_stores_restores_into_qdrant_and_s3(
    source: Settings, target: Settings
) -> None:
    """The same code on the production backends: Qdrant (in-memory mode, the client API of the server)
    and S3 (moto's S3 server on loopback, which speaks the S3 wire protocol: MinIO cannot run here)."""
    from moto.server import ThreadedMotoServer

    from luna_iems.adapters.qdrant_vectors import QdrantVectorStore
    from luna_iems.adapters.s3_files import S3ObjectStore

    root = _backup(source)
    with built(source) as container:
        before = state(container)
        query = np.asarray(next(iter(before.vectors.values()))[0], dtype=np.float32)
        expected = [(h.point_id, round(h.score, 5)) for h in container.vector_store.search(query, top_k=10)]
        collection, dimension = container.vector_store.collection, container.vector_store.dimension
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    qdrant = QdrantVectorStore(location=":memory:", collection=collection, dimension=dimension)
    s3 = S3ObjectStore(
        endpoint_url=f"http://{host}:{port}",
        bucket="luna-restore",
        access_key="k",
        secret_key="s",
        timeout_s=5,
    )
    try:
        with built(target) as container:
            production = backup_service.BackupTargets(engine=container.engine, vectors=qdrant, objects=s3)
            backup_service.restore_backup(targets=production, root=root)
            files = {key: s3.get(key) for key in s3.keys()}  # noqa: SIM118 - ObjectStore.keys()
            assert files == before.files
            got = {p.point_id: (np.asarray(p.vector), dict(p.payload)) for b in qdrant.scroll() for p in b}
            assert got.keys() == before.vectors.keys()
            for point_id, (vector, payload) in got.items():
                original = np.asarray(before.vectors[point_id][0])
                assert payload == before.vectors[point_id][1]
                assert vector == pytest.approx(original / np.linalg.norm(original), abs=1e-6)
            assert [(h.point_id, round(h.score, 5)) for h in qdrant.search(query, top_k=10)] == expected
            # ... and backs up from there: the Qdrant and S3 side of the same code.
            again = backup_service.create_backup(targets=production, backup_dir=target.data_dir / "again")
            assert (again.vectors, again.files, again.row_counts) == (40, 5, before.rows)
    finally:
        qdrant.close()
        s3.close()
        server.stop()


def test_another_database_kind_or_timescaledb_is_refused_before_anything_changes() -> None:
    postgres = create_engine("postgresql+psycopg://luna@127.0.0.1:1/luna")  # never connects
    sqlite_dump = db_dump.DatabaseDump(kind="sqlite", file=db_dump.SQLITE_FILE, revision=None, row_counts={})
    with pytest.raises(BackupError, match="holds a sqlite database but DATABASE_URL points to postgresql"):
        db_dump.check_restorable(engine=postgres, dumped=sqlite_dump)
    timescale = db_dump.DatabaseDump(
        kind="postgresql",
        file=db_dump.POSTGRES_FILE,
        revision=None,
        row_counts={},
        extensions=("plpgsql", "timescaledb"),
    )
    with pytest.raises(BackupError, match="TimescaleDB database: restore it by hand"):
        db_dump.check_restorable(engine=postgres, dumped=timescale)
    postgres.dispose()
