"""One contract for every VectorStore that runs here: the embedded NumPy index and Qdrant
(in-memory mode, which speaks the same client API as the Qdrant server)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from luna_iems.adapters.numpy_vectors import NumpyVectorStore
from luna_iems.adapters.qdrant_vectors import QdrantVectorStore
from luna_iems.errors import DimensionMismatchError
from luna_iems.ports import VectorFilter, VectorPoint, VectorStore

DIM = 16
StoreFactory = Callable[[], VectorStore]


@pytest.fixture(params=["numpy", "qdrant-memory"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    made: list[VectorStore] = []

    def factory() -> VectorStore:
        if request.param == "numpy":
            store: VectorStore = NumpyVectorStore(path=tmp_path / "vectors.db", collection="c", dimension=DIM)
        else:
            store = QdrantVectorStore(location=":memory:", collection="c", dimension=DIM)
        made.append(store)
        return store

    yield factory
    for store in made:
        store.close()  # type: ignore[attr-defined]


def _points(n: int, seed: int = 0) -> list[VectorPoint]:
    rng = np.random.default_rng(seed)
    points = []
    for i in range(n):
        points.append(
            VectorPoint(
                point_id=str(uuid.UUID(int=i + 1)),
                vector=rng.normal(size=DIM).astype(np.float32),
                payload={
                    "item_id": f"item-{i % 3}",
                    "chunk_idx": i,
                    "tags": ["law", "de"] if i % 2 else ["manual"],
                    "ts": datetime(2026, 1, 1 + i % 28, tzinfo=UTC).isoformat(),
                    "source": "test",
                },
            )
        )
    return points


def _brute_force(
    points: list[VectorPoint], query: np.ndarray, keep: Callable[[VectorPoint], bool]
) -> list[str]:
    def cos(v: np.ndarray) -> float:
        return float(np.dot(v, query) / (np.linalg.norm(v) * np.linalg.norm(query)))

    ranked = sorted((p for p in points if keep(p)), key=lambda p: -cos(np.asarray(p.vector)))
    return [p.point_id for p in ranked]


def test_search_returns_exact_cosine_ranking(make_store: StoreFactory) -> None:
    store = make_store()
    points = _points(60)
    store.upsert(points)
    assert store.count() == 60
    query = np.random.default_rng(42).normal(size=DIM).astype(np.float32)
    hits = store.search(query, top_k=5)
    assert [h.point_id for h in hits] == _brute_force(points, query, lambda _: True)[:5]
    assert all(-1.0 <= h.score <= 1.0 for h in hits)
    assert hits[0].score >= hits[-1].score
    assert hits[0].payload["source"] == "test"


def test_filters_by_value_tags_and_time(make_store: StoreFactory) -> None:
    store = make_store()
    points = _points(60)
    store.upsert(points)
    query = np.random.default_rng(7).normal(size=DIM).astype(np.float32)

    by_item = store.search(query, top_k=100, flt=VectorFilter(equals={"item_id": "item-1"}))
    assert [h.point_id for h in by_item] == _brute_force(
        points, query, lambda p: p.payload["item_id"] == "item-1"
    )

    by_tag = store.search(query, top_k=100, flt=VectorFilter(any_of={"tags": ["law", "nothing"]}))
    assert {h.point_id for h in by_tag} == {p.point_id for p in points if "law" in p.payload["tags"]}

    start, end = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 9, tzinfo=UTC)
    by_time = store.search(query, top_k=100, flt=VectorFilter(ts_from=start, ts_to=end))
    expected = {p.point_id for p in points if start <= datetime.fromisoformat(p.payload["ts"]) <= end}
    assert {h.point_id for h in by_time} == expected and expected

    none = store.search(query, top_k=5, flt=VectorFilter(equals={"item_id": "missing"}))
    assert none == []


def test_upsert_replaces_and_delete_removes(make_store: StoreFactory) -> None:
    store = make_store()
    points = _points(10)
    store.upsert(points)
    target = np.ones(DIM, dtype=np.float32)
    replaced = VectorPoint(points[3].point_id, target, {"item_id": "new", "tags": [], "chunk_idx": 3})
    store.upsert([replaced])
    assert store.count() == 10
    top = store.search(target, top_k=1)[0]
    assert top.point_id == points[3].point_id and top.payload["item_id"] == "new"
    assert top.score == pytest.approx(1.0, abs=1e-5)
    assert store.search(target, top_k=10, flt=VectorFilter(equals={"item_id": "item-0"})) != []
    store.delete([p.point_id for p in points[:5]])
    assert store.count() == 5
    remaining = {h.point_id for h in store.search(target, top_k=10)}
    assert remaining == {p.point_id for p in points[5:]}
    store.delete([str(uuid.uuid4())])  # unknown ids are ignored
    assert store.count() == 5


def test_scroll_returns_every_point_once_with_its_vector_and_payload(make_store: StoreFactory) -> None:
    store = make_store()
    assert list(store.scroll()) == []
    points = _points(530)
    store.upsert(points)
    store.delete([points[0].point_id])
    batches = list(store.scroll(batch_size=100))
    assert [len(b) for b in batches] == [100] * 5 + [29]
    got = {p.point_id: p for batch in batches for p in batch}
    assert set(got) == {p.point_id for p in points[1:]}
    for point in points[1:]:
        stored = got[point.point_id]
        assert dict(stored.payload) == dict(point.payload)
        # Qdrant keeps cosine vectors normalised, the NumPy index as given: the same direction.
        unit = np.asarray(point.vector) / np.linalg.norm(point.vector)
        assert np.asarray(stored.vector) / np.linalg.norm(stored.vector) == pytest.approx(unit, abs=1e-6)


def test_scroll_without_vectors_lists_ids_and_payloads(make_store: StoreFactory) -> None:
    """What the orphan check (knowledge/reconcile.py) reads at start: no vectors transferred."""
    store = make_store()
    points = _points(25)
    store.upsert(points)
    store.delete([points[3].point_id])
    batches = list(store.scroll(batch_size=10, with_vectors=False))
    assert [len(b) for b in batches] == [10, 10, 4]
    got = {p.point_id: p for batch in batches for p in batch}
    assert set(got) == {p.point_id for p in points} - {points[3].point_id}
    assert all(len(p.vector) == 0 for p in got.values())
    assert {pid: dict(p.payload) for pid, p in got.items()} == {
        p.point_id: dict(p.payload) for p in points if p.point_id != points[3].point_id
    }


def test_wrong_dimension_is_refused(make_store: StoreFactory) -> None:
    store = make_store()
    with pytest.raises(DimensionMismatchError, match="expected 16"):
        store.upsert([VectorPoint(str(uuid.uuid4()), [0.1] * (DIM + 1), {})])
    assert store.count() == 0


def test_numpy_index_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "vectors.db"
    points = _points(2500)
    first = NumpyVectorStore(path=path, collection="c", dimension=DIM)
    first.upsert(points)
    first.delete([p.point_id for p in points[:1200]])  # past the compaction threshold
    query = np.asarray(points[2001].vector)  # odd index: tagged "law"
    before = [h.point_id for h in first.search(query, top_k=10, flt=VectorFilter(any_of={"tags": ["law"]}))]
    first.close()

    second = NumpyVectorStore(path=path, collection="c", dimension=DIM)
    assert second.count() == 1300
    after = [h.point_id for h in second.search(query, top_k=10, flt=VectorFilter(any_of={"tags": ["law"]}))]
    assert after == before and after[0] == points[2001].point_id
    second.close()
    with pytest.raises(DimensionMismatchError, match="luna reindex"):
        NumpyVectorStore(path=path, collection="c", dimension=DIM * 2)
