"""Make the vector store, the stored files and the lexical index agree with the committed database.

An ingest writes the upload and the vectors before its SQL commit; a process that dies in between
leaves vector points no committed chunk owns and files no item or version refers to. This finds and
(with `fix`) removes them. It runs at start (`RECONCILE_ON_START`) and in `luna reindex --check`.

Safe beside a running ingest, in this process or another: the points and keys are listed *first* and
the database is read *after*. An ingest records its item as `queued`/`processing` (with its upload's
key) before it writes anything, so whatever the listing saw is either committed, or belongs to an
in-flight item (left alone), or is an orphan by the time the database is read. What an ingest writes
after the listing is not judged at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select

from luna_iems.knowledge.deps import KnowledgeDeps
from luna_iems.knowledge.models import IN_FLIGHT, Item, ItemChunk, ItemVersion

_KEY_PREFIX = "items/"  # every original is stored under items/<item id>/v<version>/<name>
_DELETE_BATCH = 1000


@dataclass(frozen=True)
class ReconcileReport:
    vector_points: int  # points listed in the collection
    orphan_vectors: int  # of which no committed chunk nor in-flight ingest owns
    files: int  # stored keys listed under items/
    orphan_files: int  # of which no item, version nor in-flight ingest refers to
    lexical_extra: int  # lexical index entries without a committed chunk
    lexical_missing: int  # committed chunks missing from the (loaded) lexical index
    in_flight: int  # documents queued or processing, whose points and upload were left alone
    fixed: bool  # the orphans were removed (and the lexical index repaired)

    @property
    def clean(self) -> bool:
        return not (self.orphan_vectors or self.orphan_files or self.lexical_extra or self.lexical_missing)

    def counts(self) -> dict[str, int | bool]:
        return asdict(self)

    def summary(self) -> str:
        verb = "removed" if self.fixed else "found"
        repaired = ", repaired" if self.fixed and (self.lexical_extra or self.lexical_missing) else ""
        return (
            f"{verb} {self.orphan_vectors} orphan vector points (of {self.vector_points}) and "
            f"{self.orphan_files} orphan files (of {self.files}); lexical index: {self.lexical_extra} "
            f"extra and {self.lexical_missing} missing entries{repaired}; "
            f"{self.in_flight} documents being ingested left alone"
        )


def reconcile(deps: KnowledgeDeps, *, fix: bool) -> ReconcileReport:
    """Compare the vector points and stored files with the committed chunks, items and versions;
    with `fix`, delete the orphans and repair the lexical index. Returns the counts (in either case).

    Raises the backends' errors (e.g. `BackendUnavailableError` when the vector store is down).
    """
    # 1. List first (see the module docstring for why the order matters).
    points = [
        (point.point_id, str(point.payload.get("item_id") or ""))
        for batch in deps.vector_store.scroll(with_vectors=False)
        for point in batch
    ]
    keys = list(deps.object_store.keys(prefix=_KEY_PREFIX))
    # 2. Then what the database has committed.
    with deps.session_factory() as session:
        committed = {str(c) for c in session.scalars(select(ItemChunk.chunk_id))}
        referenced = {k for k in session.scalars(select(ItemVersion.storage_key)) if k}
        referenced |= {k for k in session.scalars(select(Item.storage_key)) if k}
        in_flight: set[str] = set()
        for item_id, job in session.execute(
            select(Item.item_id, Item.ingest_job).where(Item.ingest_status.in_(IN_FLIGHT))
        ):
            in_flight.add(str(item_id))
            if job and job.get("storage_key"):
                referenced.add(str(job["storage_key"]))
    orphan_points = [pid for pid, owner in points if pid not in committed and owner not in in_flight]
    orphan_keys = [key for key in keys if key not in referenced]
    if fix:
        for start in range(0, len(orphan_points), _DELETE_BATCH):
            deps.vector_store.delete(orphan_points[start : start + _DELETE_BATCH])
        for key in orphan_keys:
            deps.object_store.delete(key)
    extra, missing = deps.knowledge_index.reconcile(deps.session_factory, fix=fix)
    return ReconcileReport(
        vector_points=len(points),
        orphan_vectors=len(orphan_points),
        files=len(keys),
        orphan_files=len(orphan_keys),
        lexical_extra=extra,
        lexical_missing=missing,
        in_flight=len(in_flight),
        fixed=fix,
    )
