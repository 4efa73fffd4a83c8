"""Migration 0006 on SQLite and PostgreSQL: documents stored before it are `ready`, with their chunk
count as progress, and a downgrade removes the columns again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Integer, String, Text, Uuid, column, inspect, select, table

from luna_iems.db import migrate
from luna_iems.db.base import JSONType, UTCDateTime
from luna_iems.db.engine import build_engine

INGEST_COLUMNS = {"ingest_status", "ingest_error", "chunks_done", "chunks_total", "ingest_job"}
# The tables as revision 0005 has them (the models already carry the new columns).
ITEMS = table(
    "items",
    column("item_id", Uuid), column("kind", String), column("title", String), column("tags", JSONType),
    column("sha256", String), column("version", Integer), column("created_at", UTCDateTime),
)  # fmt: skip
CHUNKS = table(
    "item_chunks",
    column("chunk_id", Uuid), column("item_id", Uuid), column("chunk_idx", Integer), column("text", Text),
    column("metadata", JSONType), column("created_at", UTCDateTime),
)  # fmt: skip


@pytest.fixture
def empty_url(db_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server = request.getfixturevalue("pg_server")
    server.create_database("empty_for_0006")
    yield str(server.url("empty_for_0006"))
    server.drop_database("empty_for_0006")


def test_existing_documents_become_ready_with_their_chunk_count(empty_url: str) -> None:
    engine = build_engine(empty_url)
    migrate.upgrade(engine, "0005")
    now = datetime.now(tz=UTC)
    with_chunks, without = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as connection:
        for item_id in (with_chunks, without):
            connection.execute(
                ITEMS.insert().values(
                    item_id=item_id,
                    kind="text",
                    title="t",
                    tags=[],
                    sha256=item_id.hex,
                    version=1,
                    created_at=now,
                )
            )
        for idx in range(3):
            connection.execute(
                CHUNKS.insert().values(
                    chunk_id=uuid.uuid4(),
                    item_id=with_chunks,
                    chunk_idx=idx,
                    text="x",
                    metadata={},
                    created_at=now,
                )
            )

    assert migrate.upgrade(engine) == migrate.head_revision()
    items = table(
        "items", column("item_id", Uuid), column("chunks_done", Integer), column("chunks_total", Integer),
        column("ingest_status", String), column("ingest_error", Text), column("ingest_job", JSONType),
    )  # fmt: skip
    with engine.connect() as connection:
        rows = connection.execute(select(items).order_by(items.c.chunks_done)).all()
    assert [tuple(r) for r in rows] == [
        (without, 0, 0, "ready", None, None),
        (with_chunks, 3, 3, "ready", None, None),
    ]

    config = migrate.alembic_config()
    with engine.begin() as connection:  # as `migrate.upgrade` does: alembic uses our connection
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    assert not INGEST_COLUMNS & {c["name"] for c in inspect(engine).get_columns("items")}
    engine.dispose()
