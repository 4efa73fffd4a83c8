"""The embedded vector index: exact cosine search on a NumPy matrix, persisted in SQLite.

Why this and not Qdrant's local mode: measured here, Qdrant local mode upserts ~300 points/s and needs
0.6-0.7 s for a filtered top-10 over 20,000 points, while one float32 matrix product over
100,000 x 384 vectors takes ~12 ms. Exact search also means no recall loss to tune away.

Durability: every upsert/delete is one SQLite transaction (WAL) before the in-memory matrix changes,
so a crash never leaves the two disagreeing, and a restart reloads the matrix from the file.
Filters use inverted indexes over payload values (tags, item ids) and a float column for `ts`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from luna_iems.errors import DimensionMismatchError
from luna_iems.ports import ComponentHealth, Vector, VectorFilter, VectorHit, VectorPoint

_SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (name TEXT PRIMARY KEY, dimension INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    collection TEXT NOT NULL,
    point_id TEXT NOT NULL,
    vector BLOB NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (collection, point_id)
);
"""

_SCROLL = (
    "SELECT point_id, vector, payload FROM points WHERE collection = ? AND point_id > ?"
    " ORDER BY point_id LIMIT ?"
)
_SCROLL_WITHOUT_VECTORS = _SCROLL.replace(", vector,", ", NULL,")


def _ts_seconds(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return float("nan")
    return float("nan")


class NumpyVectorStore:
    """One collection of an embedded index file. Several collections may share the file."""

    def __init__(self, *, path: Path, collection: str, dimension: int) -> None:
        self._path = path
        self._collection = collection
        self._dimension = dimension
        self._lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._register_collection()
        self._reset_memory(capacity=1024)
        self._load()

    # --- bookkeeping ---------------------------------------------------------------------------
    def _register_collection(self) -> None:
        row = self._db.execute(
            "SELECT dimension FROM collections WHERE name = ?", (self._collection,)
        ).fetchone()
        if row is None:
            self._db.execute(
                "INSERT INTO collections (name, dimension) VALUES (?, ?)", (self._collection, self._dimension)
            )
        elif int(row[0]) != self._dimension:
            raise DimensionMismatchError(
                f"collection {self._collection!r} holds {row[0]}-dimensional vectors, "
                f"the embedder makes {self._dimension}; run `luna reindex`"
            )

    def _reset_memory(self, capacity: int) -> None:
        self._matrix: npt.NDArray[np.float32] = np.zeros((capacity, self._dimension), dtype=np.float32)
        self._ts: npt.NDArray[np.float64] = np.full(capacity, np.nan)
        self._alive: npt.NDArray[np.bool_] = np.zeros(capacity, dtype=bool)
        self._ids: list[str] = []
        self._payloads: list[Mapping[str, Any]] = []
        self._row_of: dict[str, int] = {}
        self._inverted: dict[str, dict[Any, set[int]]] = defaultdict(lambda: defaultdict(set))

    def _load(self) -> None:
        cursor = self._db.execute(
            "SELECT point_id, vector, payload FROM points WHERE collection = ? ORDER BY rowid",
            (self._collection,),
        )
        while batch := cursor.fetchmany(10_000):
            points = [
                VectorPoint(pid, np.frombuffer(blob, dtype=np.float32), json.loads(payload))
                for pid, blob, payload in batch
            ]
            self._apply_upsert(points)

    # --- VectorStore ---------------------------------------------------------------------------
    @property
    def collection(self) -> str:
        return self._collection

    @property
    def dimension(self) -> int:
        return self._dimension

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        if not points:
            return
        rows = []
        for point in points:
            vector = np.asarray(point.vector, dtype=np.float32)
            if vector.shape != (self._dimension,):
                raise DimensionMismatchError(
                    f"point {point.point_id}: vector has {vector.size} dimensions, expected {self._dimension}"
                )
            rows.append((self._collection, point.point_id, vector.tobytes(), json.dumps(dict(point.payload))))
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._apply_upsert(points)

    def delete(self, point_ids: Sequence[str]) -> None:
        if not point_ids:
            return
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "DELETE FROM points WHERE collection = ? AND point_id = ?",
                    [(self._collection, pid) for pid in point_ids],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            for pid in point_ids:
                self._remove_row(pid)
            self._maybe_compact()

    def search(self, vector: Vector, *, top_k: int, flt: VectorFilter | None = None) -> list[VectorHit]:
        query = np.asarray(vector, dtype=np.float32)
        if query.shape != (self._dimension,):
            raise DimensionMismatchError(
                f"query has {query.size} dimensions, collection {self._collection!r} has {self._dimension}"
            )
        norm = float(np.linalg.norm(query))
        if norm > 0:
            query = query / norm
        with self._lock:
            n = len(self._ids)
            candidates = self._candidates(flt, n)
            if candidates.size == 0 or top_k <= 0:
                return []
            scores = self._matrix[candidates] @ query
            k = min(top_k, candidates.size)
            best = np.argpartition(-scores, k - 1)[:k]
            best = best[np.argsort(-scores[best], kind="stable")]
            return [
                VectorHit(
                    point_id=self._ids[int(candidates[i])],
                    score=float(scores[i]),
                    payload=self._payloads[int(candidates[i])],
                )
                for i in best
            ]

    def count(self) -> int:
        with self._lock:
            return int(self._alive[: len(self._ids)].sum())

    def scroll(self, *, batch_size: int = 1000, with_vectors: bool = True) -> Iterator[list[VectorPoint]]:
        # From the file, not the matrix: the vectors exactly as upserted (the matrix holds them
        # normalised). Keyset pages by point id, so an upsert between two pages is not a problem.
        after = ""
        query = _SCROLL if with_vectors else _SCROLL_WITHOUT_VECTORS
        while True:
            with self._lock:
                rows = self._db.execute(
                    query,
                    (self._collection, after, max(1, batch_size)),
                ).fetchall()
            if not rows:
                return
            yield [
                VectorPoint(
                    pid, np.frombuffer(blob, dtype=np.float32).copy() if blob else (), json.loads(payload)
                )
                for pid, blob, payload in rows
            ]
            after = rows[-1][0]

    def health(self) -> ComponentHealth:
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            return ComponentHealth(name="vector_store", kind="numpy-sqlite", ok=False, detail=str(exc))
        return ComponentHealth(
            name="vector_store",
            kind="numpy-sqlite",
            ok=True,
            info={"collection": self._collection, "dimension": self._dimension, "points": self.count()},
        )

    def close(self) -> None:
        self._db.close()

    # --- in-memory index ---------------------------------------------------------------------
    def _candidates(self, flt: VectorFilter | None, n: int) -> npt.NDArray[np.intp]:
        mask = self._alive[:n].copy()
        if flt is not None:
            for key, value in flt.equals.items():
                mask &= self._rows_mask(self._inverted[key].get(value, set()), n)
            for key, values in flt.any_of.items():
                rows: set[int] = set()
                for value in values:
                    rows |= self._inverted[key].get(value, set())
                mask &= self._rows_mask(rows, n)
            ts = self._ts[:n]
            if flt.ts_from is not None:
                mask &= ts >= flt.ts_from.timestamp()
            if flt.ts_to is not None:
                mask &= ts <= flt.ts_to.timestamp()
        return np.flatnonzero(mask)

    @staticmethod
    def _rows_mask(rows: set[int], n: int) -> npt.NDArray[np.bool_]:
        mask = np.zeros(n, dtype=bool)
        if rows:
            mask[np.fromiter(rows, dtype=np.intp, count=len(rows))] = True
        return mask

    def _apply_upsert(self, points: Sequence[VectorPoint]) -> None:
        for point in points:
            self._remove_row(point.point_id)
            row = len(self._ids)
            if row >= self._matrix.shape[0]:
                self._grow()
            vector = np.asarray(point.vector, dtype=np.float32)
            norm = float(np.linalg.norm(vector))
            self._matrix[row] = vector / norm if norm > 0 else vector
            self._ts[row] = _ts_seconds(point.payload.get("ts"))
            self._alive[row] = True
            self._ids.append(point.point_id)
            self._payloads.append(dict(point.payload))
            self._row_of[point.point_id] = row
            self._index_payload(row, point.payload, add=True)

    def _index_payload(self, row: int, payload: Mapping[str, Any], *, add: bool) -> None:
        for key, value in payload.items():
            values = value if isinstance(value, list) else [value]
            for v in values:
                if isinstance(v, str | int) and not isinstance(v, bool):
                    if add:
                        self._inverted[key][v].add(row)
                    else:
                        self._inverted[key][v].discard(row)

    def _remove_row(self, point_id: str) -> None:
        row = self._row_of.pop(point_id, None)
        if row is None:
            return
        self._alive[row] = False
        self._index_payload(row, self._payloads[row], add=False)

    def _grow(self) -> None:
        capacity = self._matrix.shape[0] * 2
        self._matrix = np.resize(self._matrix, (capacity, self._dimension))
        self._ts = np.concatenate([self._ts, np.full(capacity - self._ts.size, np.nan)])
        self._alive = np.concatenate([self._alive, np.zeros(capacity - self._alive.size, dtype=bool)])

    def _maybe_compact(self) -> None:
        dead = len(self._ids) - len(self._row_of)
        if dead < 1024 or dead * 2 < len(self._ids):
            return
        keep = [i for i in range(len(self._ids)) if self._alive[i]]
        points = [VectorPoint(self._ids[i], self._matrix[i].copy(), self._payloads[i]) for i in keep]
        self._reset_memory(capacity=max(1024, len(points) * 2))
        self._apply_upsert(points)
