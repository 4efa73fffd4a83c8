"""Qdrant through qdrant-client: the production vector store (`QDRANT_URL`).

The same class runs against Qdrant's in-memory mode (`location=":memory:"`) in the contract tests,
which speaks the same client API as the server.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from luna_iems.errors import BackendUnavailableError, DimensionMismatchError
from luna_iems.ports import ComponentHealth, Vector, VectorFilter, VectorHit, VectorPoint


def _qdrant() -> Any:
    try:
        import qdrant_client
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise BackendUnavailableError(
            "vector_store", "QDRANT_URL is set but qdrant-client is missing: pip install 'luna-iems[qdrant]'"
        ) from exc
    return qdrant_client


class QdrantVectorStore:
    def __init__(
        self,
        *,
        collection: str,
        dimension: int,
        url: str | None = None,
        location: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        qdrant_client = _qdrant()
        self._models = qdrant_client.models
        self._client = qdrant_client.QdrantClient(
            url=url, location=location, api_key=api_key, timeout=int(max(1, timeout_s))
        )
        self._collection = collection
        self._dimension = dimension
        self._kind = "qdrant" if url else "qdrant-memory"
        self._ensured = False

    @property
    def collection(self) -> str:
        return self._collection

    @property
    def dimension(self) -> int:
        return self._dimension

    def _ensure(self) -> None:
        if self._ensured:
            return
        m = self._models
        if not self._client.collection_exists(self._collection):
            self._client.create_collection(
                self._collection,
                vectors_config=m.VectorParams(size=self._dimension, distance=m.Distance.COSINE),
            )
            if self._kind != "qdrant":  # payload indexes exist on the server only
                self._ensured = True
                return
            for field, schema in (
                ("item_id", m.PayloadSchemaType.KEYWORD),
                ("tags", m.PayloadSchemaType.KEYWORD),
            ):
                self._client.create_payload_index(self._collection, field_name=field, field_schema=schema)
        else:
            info = self._client.get_collection(self._collection)
            size = info.config.params.vectors.size
            if size != self._dimension:
                raise BackendUnavailableError(
                    "vector_store",
                    f"Qdrant collection {self._collection!r} holds {size}-dimensional vectors, "
                    f"the embedder makes {self._dimension}; run `luna reindex`",
                )
        self._ensured = True

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        if not points:
            return
        for p in points:
            if len(p.vector) != self._dimension:
                raise DimensionMismatchError(
                    f"point {p.point_id}: vector has {len(p.vector)} dimensions, expected {self._dimension}"
                )
        self._ensure()
        m = self._models
        self._client.upsert(
            self._collection,
            points=[
                m.PointStruct(id=p.point_id, vector=list(p.vector), payload=dict(p.payload)) for p in points
            ],
            wait=True,
        )

    def delete(self, point_ids: Sequence[str]) -> None:
        if not point_ids:
            return
        self._ensure()
        self._client.delete(
            self._collection, points_selector=self._models.PointIdsList(points=list(point_ids)), wait=True
        )

    def search(self, vector: Vector, *, top_k: int, flt: VectorFilter | None = None) -> list[VectorHit]:
        self._ensure()
        if top_k <= 0:
            return []
        result = self._client.query_points(
            self._collection,
            query=list(vector),
            limit=top_k,
            query_filter=self._filter(flt),
            with_payload=True,
        )
        return [
            VectorHit(point_id=str(p.id), score=float(p.score), payload=p.payload or {})
            for p in result.points
        ]

    def _filter(self, flt: VectorFilter | None) -> Any:
        if flt is None:
            return None
        m = self._models
        must: list[Any] = [
            m.FieldCondition(key=k, match=m.MatchValue(value=v)) for k, v in flt.equals.items()
        ]
        must += [m.FieldCondition(key=k, match=m.MatchAny(any=list(v))) for k, v in flt.any_of.items()]
        if flt.ts_from is not None or flt.ts_to is not None:
            must.append(m.FieldCondition(key="ts", range=m.DatetimeRange(gte=flt.ts_from, lte=flt.ts_to)))
        return m.Filter(must=must) if must else None

    def count(self) -> int:
        self._ensure()
        return int(self._client.count(self._collection, exact=True).count)

    def scroll(self, *, batch_size: int = 1000, with_vectors: bool = True) -> Iterator[list[VectorPoint]]:
        self._ensure()
        offset: Any = None
        while True:
            records, offset = self._client.scroll(
                self._collection,
                limit=max(1, batch_size),
                offset=offset,
                with_payload=True,
                with_vectors=with_vectors,
            )
            if records:
                yield [
                    VectorPoint(
                        point_id=str(r.id),
                        vector=np.asarray(r.vector, dtype=np.float32) if with_vectors else (),
                        payload=r.payload or {},
                    )
                    for r in records
                ]
            if offset is None:
                return

    def health(self) -> ComponentHealth:
        try:
            self._client.get_collections()
        except Exception as exc:  # any transport error means "not reachable"
            return ComponentHealth(
                name="vector_store", kind=self._kind, ok=False, detail=f"unreachable: {exc}"
            )
        return ComponentHealth(
            name="vector_store",
            kind=self._kind,
            ok=True,
            info={"collection": self._collection, "dimension": self._dimension},
        )

    def close(self) -> None:
        self._client.close()
