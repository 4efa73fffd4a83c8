"""The backup directory: its manifest, its checksums, and the vector and file parts.

Layout of one backup (a directory; `tar` it to move it as one file):

    manifest.json            what is inside, row counts, and the SHA-256 of every other file
    database/luna.sqlite     SQLite: a copy made by the online backup API
    database/luna.pgdump     PostgreSQL: pg_dump custom format
    vectors/vectors.npy      float32 matrix, one row per point, as the vector store returns them
    vectors/points.jsonl     one line per row of the matrix: {"id": ..., "payload": {...}}
    files/<sha256>           every stored object once, named by its content hash

Vectors and files go through the `VectorStore` and `ObjectStore` protocols, so the same code backs up
the embedded index and Qdrant, a local directory and S3/MinIO.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import AwareDatetime, BaseModel, Field, ValidationError

from luna_iems.db.dump import BackupError
from luna_iems.ports import ObjectStore, VectorPoint, VectorStore

FORMAT = "luna-iems-backup"
FORMAT_VERSION = 1  # bump when the layout changes; restore refuses versions it does not know
MANIFEST = "manifest.json"
VECTORS_FILE = "vectors/vectors.npy"
POINTS_FILE = "vectors/points.jsonl"
FILES_DIR = "files"
_BATCH = 512
_UPSERT_BATCH = 2048  # ~3 MB of vectors per request to a Qdrant server; fewer transactions when embedded
_BLOCK = 1 << 20


class DatabasePart(BaseModel):
    kind: str
    file: str
    row_counts: dict[str, int]
    extensions: list[str] = []  # PostgreSQL extensions of the dumped database (e.g. plpgsql)


class VectorsPart(BaseModel):
    collection: str
    dimension: int
    count: int
    vectors_file: str = VECTORS_FILE
    points_file: str = POINTS_FILE


class StoredObject(BaseModel):
    key: str
    file: str
    size_bytes: int
    content_type: str


class FilesPart(BaseModel):
    count: int
    objects: list[StoredObject]


class Manifest(BaseModel):
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    name: str
    created_at: AwareDatetime  # UTC
    app_version: str
    alembic_revision: str | None
    database: DatabasePart
    vectors: VectorsPart
    files: FilesPart
    checksums: dict[str, str] = Field(description="SHA-256 (hex) of every file, by path in the backup")
    seconds: float = 0.0


# --- checksums and the manifest -------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def checksum_tree(root: Path) -> dict[str, str]:
    """SHA-256 of every file under `root` but the manifest, by POSIX path relative to `root`."""
    return {
        path.relative_to(root).as_posix(): sha256_file(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def write_manifest(root: Path, manifest: Manifest) -> None:
    (root / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")


def read_manifest(root: Path) -> Manifest:
    """The manifest of the backup in `root`; refuses a format or version this code does not know."""
    path = root / MANIFEST
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{root} is not a backup: {MANIFEST} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"backup {root.name}: {MANIFEST} is unreadable ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BackupError(f"{root} is not a Luna-IEMS backup ({MANIFEST} has no format '{FORMAT}')")
    version = raw.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BackupError(
            f"backup {root.name} has format version {version}; this Luna-IEMS reads up to "
            f"{FORMAT_VERSION}: upgrade Luna-IEMS to restore it"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        raise BackupError(f"backup {root.name}: {MANIFEST} is invalid: {exc.errors()[0]['msg']}") from None


def verify_checksums(root: Path, manifest: Manifest) -> int:
    """Check every file the manifest lists; raises naming the first missing or changed file.

    Also refuses a manifest whose parts name a file it has no checksum for. Returns files checked.
    """
    needed = {manifest.database.file, manifest.vectors.vectors_file, manifest.vectors.points_file}
    needed |= {entry.file for entry in manifest.files.objects}
    unlisted = sorted(needed - manifest.checksums.keys())
    if unlisted:
        raise BackupError(f"backup {root.name}: {unlisted[0]} has no checksum in {MANIFEST}")
    for relative, expected in sorted(manifest.checksums.items()):
        path = (root / relative).resolve()
        if not path.is_relative_to(root.resolve()):
            raise BackupError(f"backup {root.name}: {MANIFEST} names a file outside the backup: {relative}")
        if not path.is_file():
            raise BackupError(f"backup {root.name}: {relative} is missing")
        if sha256_file(path) != expected:
            raise BackupError(
                f"backup {root.name}: checksum mismatch for {relative} "
                "(changed or corrupted since the backup was made); nothing was restored"
            )
    return len(manifest.checksums)


# --- vectors -------------------------------------------------------------------------------------
def export_vectors(store: VectorStore, root: Path) -> VectorsPart:
    """Every point of the store: the vectors into one .npy matrix, ids and payloads as JSON lines."""
    target = root / VECTORS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = target.with_suffix(".f32")  # rows streamed here first: the .npy header needs the count
    count = 0
    with raw.open("wb") as vectors, (root / POINTS_FILE).open("w", encoding="utf-8") as points:
        for batch in store.scroll(batch_size=_BATCH):
            matrix = np.asarray([np.asarray(p.vector, dtype=np.float32) for p in batch], dtype="<f4")
            if matrix.shape != (len(batch), store.dimension):
                raise BackupError(
                    f"the vector store returned vectors of shape {matrix.shape[1:]}, "
                    f"expected ({store.dimension},)"
                )
            vectors.write(matrix.tobytes())
            for point in batch:
                points.write(json.dumps({"id": point.point_id, "payload": dict(point.payload)}) + "\n")
            count += len(batch)
    with target.open("wb") as out, raw.open("rb") as rows:
        header = {"descr": "<f4", "fortran_order": False, "shape": (count, store.dimension)}
        np.lib.format.write_array_header_1_0(out, header)
        shutil.copyfileobj(rows, out, _BLOCK)
    raw.unlink()
    return VectorsPart(collection=store.collection, dimension=store.dimension, count=count)


def read_points(root: Path, part: VectorsPart) -> Iterator[list[VectorPoint]]:
    """The backed-up points in batches, checked against the manifest's count and dimension."""
    matrix = np.load(root / part.vectors_file, mmap_mode="r", allow_pickle=False)
    if matrix.shape != (part.count, part.dimension):
        raise BackupError(
            f"{part.vectors_file} holds a {matrix.shape} matrix, "
            f"the manifest says ({part.count}, {part.dimension})"
        )
    entries: list[dict[str, Any]] = []
    done = 0
    with (root / part.points_file).open(encoding="utf-8") as lines:
        for line in lines:
            entries.append(json.loads(line))
            if len(entries) == _UPSERT_BATCH or done + len(entries) > part.count:
                yield _batch(matrix, done, entries, part)
                done += len(entries)
                entries = []
    if entries:
        yield _batch(matrix, done, entries, part)
        done += len(entries)
    if done != part.count:
        raise BackupError(f"{part.points_file} has {done} lines for {part.count} vectors")


def _batch(matrix: Any, first: int, entries: list[dict[str, Any]], part: VectorsPart) -> list[VectorPoint]:
    if first + len(entries) > part.count:
        raise BackupError(f"{part.points_file} has more lines than the {part.count} vectors")
    block = np.array(matrix[first : first + len(entries)], dtype=np.float32)  # one read from the file
    return [VectorPoint(str(e["id"]), block[i], e["payload"]) for i, e in enumerate(entries)]


def import_vectors(store: VectorStore, root: Path, part: VectorsPart) -> int:
    done = 0
    for batch in read_points(root, part):
        store.upsert(batch)
        done += len(batch)
    return done


def clear_vectors(store: VectorStore) -> None:
    ids = [p.point_id for batch in store.scroll(batch_size=_BATCH * 4) for p in batch]
    for start in range(0, len(ids), _BATCH * 4):
        store.delete(ids[start : start + _BATCH * 4])


# --- stored files --------------------------------------------------------------------------------
def _content_type(key: str) -> str:
    # The ObjectStore protocol keeps no media type to read back; guess it from the name as uploads
    # were named by their sniffed type (items/<id>/v<n>/<name>.<ext>).
    guessed, _ = mimetypes.guess_type(key)
    return guessed or "application/octet-stream"


def export_objects(store: ObjectStore, root: Path) -> FilesPart:
    """Copy every object; identical contents are stored once (files/<sha256>)."""
    folder = root / FILES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    objects = []
    for key in store.keys():  # noqa: SIM118 - ObjectStore.keys(), not a dict
        data = store.get(key)
        digest = hashlib.sha256(data).hexdigest()
        path = folder / digest
        if not path.exists():
            path.write_bytes(data)
        objects.append(
            StoredObject(
                key=key, file=f"{FILES_DIR}/{digest}", size_bytes=len(data), content_type=_content_type(key)
            )
        )
    return FilesPart(count=len(objects), objects=objects)


def import_objects(store: ObjectStore, root: Path, part: FilesPart) -> int:
    for entry in part.objects:
        store.put(entry.key, (root / entry.file).read_bytes(), content_type=entry.content_type)
    return len(part.objects)


def clear_objects(store: ObjectStore) -> None:
    for key in list(store.keys()):
        store.delete(key)


def created_at_of(root: Path) -> datetime | None:
    """When the backup in `root` was made, or None when it has no readable manifest."""
    try:
        return read_manifest(root).created_at
    except BackupError:
        return None
