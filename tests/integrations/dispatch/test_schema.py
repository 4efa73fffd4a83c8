"""Migration 0010 creates exactly the tables the dispatch models describe (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from luna_iems.db.base import Base
from luna_iems.db.engine import build_engine
from luna_iems.integrations.dispatch import models  # noqa: F401 - registers the tables

TABLES = {"dispatch_plans", "dispatch_setpoints"}


def _ours(diff: object) -> bool:
    text = repr(diff)
    return any(name in text for name in TABLES)


def test_migration_matches_the_models(database_url: str) -> None:
    engine = build_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = [d for d in compare_metadata(context, Base.metadata) if _ours(d)]
    finally:
        engine.dispose()
    assert differences == []
