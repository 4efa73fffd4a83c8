"""The shipped Alembic migrations on SQLite and on a real PostgreSQL: schema, seed, idempotence."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from luna_iems.admin.models import PrivacyConfig
from luna_iems.db import migrate
from luna_iems.db.base import to_epoch_us
from luna_iems.db.engine import build_engine, build_session_factory
from luna_iems.timeseries.models import MarketPrice, Meter, SmartMeterReading

CORE_TABLES = {
    "items": {"item_id", "kind", "source", "title", "tags", "url", "sha256", "version", "created_at"},
    "item_chunks": {"chunk_id", "item_id", "chunk_idx", "text", "metadata", "created_at"},
    "events": {"event_id", "ts", "type", "item_kind", "item_id", "user_hash", "duration_ms", "page", "meta"},
    "labels": {"label_id", "dedup_key", "kind", "target", "target_id", "key_id", "reward", "created_at"},
    "smart_meter_readings": {"meter_id", "ts", "consumption_kw", "production_kw", "voltage", "quality"},
    "market_prices": {"market", "product", "ts", "price_eur_mwh", "volume"},
    "privacy_config": {"flag_send_aggregates", "instance_fingerprint"},
    "meters": {"meter_id", "site", "kind", "lat", "lon", "timezone", "obis_map"},
    "api_keys": {"key_id", "name", "role", "prefix", "secret_sha256", "revoked_at"},
    "audit_log": {"ts", "key_id", "role", "method", "path", "status", "request_id"},
}


@pytest.fixture
def empty_url(db_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all (unlike `database_url`, which is migrated)."""
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server = request.getfixturevalue("pg_server")
    server.create_database("empty_for_migrations")
    yield str(server.url("empty_for_migrations"))
    server.drop_database("empty_for_migrations")


def test_upgrade_creates_core_schema_and_is_safe_to_run_twice(empty_url: str) -> None:
    engine = build_engine(empty_url)
    assert migrate.current_revision(engine) is None
    assert migrate.upgrade(engine) == migrate.head_revision()
    with engine.connect() as connection:
        fingerprint_before = connection.execute(text("SELECT instance_fingerprint FROM privacy_config")).all()
    assert migrate.upgrade(engine) == migrate.head_revision()  # second run: no error, no change

    inspector = inspect(engine)
    for table, columns in CORE_TABLES.items():
        present = {c["name"] for c in inspector.get_columns(table)}
        assert columns <= present, f"{table} lacks {columns - present}"
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT flag_send_aggregates, instance_fingerprint FROM privacy_config")
        ).all()
    assert len(rows) == 1, "privacy_config is seeded exactly once"
    assert not rows[0][0], "aggregate export is off by default"
    assert len(rows[0][1]) == 64 and int(rows[0][1], 16) >= 0
    assert [(rows[0][1],)] == [tuple(r) for r in fingerprint_before]
    engine.dispose()


def test_time_series_tables_have_series_ts_key_and_time_index(empty_url: str) -> None:
    engine = build_engine(empty_url)
    migrate.upgrade(engine)
    inspector = inspect(engine)
    assert inspector.get_pk_constraint("smart_meter_readings")["constrained_columns"] == ["meter_id", "ts"]
    assert inspector.get_pk_constraint("market_prices")["constrained_columns"] == ["market", "product", "ts"]
    for table in ("smart_meter_readings", "market_prices", "events"):
        indexed = [ix["column_names"] for ix in inspector.get_indexes(table)]
        assert ["ts"] in indexed, f"{table} has no time index: {indexed}"
    engine.dispose()


def test_downgrade_to_base_and_back(empty_url: str) -> None:
    from alembic import command

    engine = build_engine(empty_url)
    migrate.upgrade(engine)
    config = migrate.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert "meters" not in inspect(engine).get_table_names()
    assert migrate.upgrade(engine) == migrate.head_revision()
    engine.dispose()


def test_duplicate_reading_is_refused_by_the_key(database_url: str) -> None:
    engine = build_engine(database_url)
    sessions = build_session_factory(engine)
    ts = datetime(2026, 2, 2, 12, 0, tzinfo=UTC)
    with sessions() as session:
        session.add(Meter(meter_id="m1"))
        session.add(SmartMeterReading(meter_id="m1", ts=ts, consumption_kw=1.5))
        session.commit()
        session.add(SmartMeterReading(meter_id="m1", ts=ts, consumption_kw=2.0))
        with pytest.raises(IntegrityError):
            session.commit()
    engine.dispose()


def test_timestamps_round_trip_as_aware_utc(database_url: str) -> None:
    """Offsets are normalised to UTC; microseconds survive; naive datetimes are refused."""
    engine = build_engine(database_url)
    sessions = build_session_factory(engine)
    cet = timezone(timedelta(hours=1))
    local = datetime(2026, 2, 2, 0, 15, 0, 123456, tzinfo=cet)
    with sessions() as session:
        session.add(MarketPrice(market="DE-LU", product="da-15m", ts=local, price_eur_mwh=-12.5))
        session.commit()
    with sessions() as session:
        stored = session.scalars(select(MarketPrice)).one()
    assert stored.ts == local
    assert stored.ts.utcoffset() == timedelta(0)
    assert stored.ts.isoformat() == "2026-02-01T23:15:00.123456+00:00"
    with sessions() as session:
        session.add(MarketPrice(market="DE-LU", product="x", ts=datetime(2026, 1, 1), price_eur_mwh=1))
        with pytest.raises(Exception, match="naive datetime"):
            session.commit()
    engine.dispose()


def test_privacy_config_is_a_singleton(database_url: str) -> None:
    engine = build_engine(database_url)
    sessions = build_session_factory(engine)
    with sessions() as session:
        session.add(PrivacyConfig(config_id=2, instance_fingerprint="x"))
        with pytest.raises(IntegrityError):
            session.commit()
    engine.dispose()


def test_fresh_database_factory_gives_isolated_databases(fresh_database_url: Callable[[str], str]) -> None:
    first, second = fresh_database_url("postgresql"), fresh_database_url("postgresql")
    assert first != second
    engine = build_engine(first)
    with build_session_factory(engine)() as session:
        session.add(Meter(meter_id="only-in-first"))
        session.commit()
    engine.dispose()
    other = build_engine(second)
    with other.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM meters")).scalar_one() == 0
    other.dispose()


def test_0017_moves_a_stored_reward_to_the_top_action_and_back(empty_url: str) -> None:
    """Rewards stored before per-action rewards (one column set on `recommendations`) become the reward
    of the list's top action; the downgrade puts the latest action reward back."""
    from alembic import command

    engine = build_engine(empty_url)
    config = migrate.alembic_config()

    def to(revision: str, *, down: bool = False) -> None:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)

    to("0016")
    sqlite = engine.dialect.name == "sqlite"  # UTCDateTime is epoch microseconds there, UUIDs hex
    rid = "5b1c0000-0000-4000-8000-000000000001"
    at = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
    items = '[{"kind": "document", "id": "d1"}, {"kind": "action", "id": "check_tariff"}]'
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO recommendations (recommendation_id, created_at, policy, context, items, reward,"
                " reward_source, rewarded_at) VALUES (:rid, :at, 'linucb', '{}', :items, -0.5, 'feedback', :at)"
            ),
            {
                "rid": rid.replace("-", "") if sqlite else rid,
                "at": to_epoch_us(at) if sqlite else at,
                "items": items,
            },
        )
    to("0017")
    with engine.connect() as connection:
        moved = connection.execute(text("SELECT arm_id, reward, source FROM recommendation_rewards")).all()
    assert [tuple(r) for r in moved] == [("check_tariff", -0.5, "feedback")]
    assert "reward" not in {c["name"] for c in inspect(engine).get_columns("recommendations")}
    to("0016", down=True)
    with engine.connect() as connection:
        back = connection.execute(text("SELECT reward, reward_source FROM recommendations")).all()
    assert [tuple(r) for r in back] == [(-0.5, "feedback")]
    engine.dispose()
