"""Shared fixtures: a real PostgreSQL server the suite starts itself, per-test databases on SQLite and
PostgreSQL (both migrated by the real Alembic migrations), settings, apps and API keys.
"""

from __future__ import annotations

import os

# Before numpy/torch load anywhere: threaded numeric code on 2 shared cores is far slower.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["HF_HUB_OFFLINE"] = "1"

import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from luna_iems.admin import service as admin_service
from luna_iems.admin.schemas import ApiKeyCreate, Role
from luna_iems.bootstrap import Container, build_container
from luna_iems.db import migrate
from luna_iems.db.engine import build_engine
from luna_iems.main import create_app
from luna_iems.settings import Settings
from tests.support.postgres import PostgresServer, start_postgres

ADMIN_TOKEN = "test-admin-key-0123456789abcdef"  # registered through LUNA_ADMIN_KEY
DATABASES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A real PostgreSQL 15 on a free loopback port, started once for the whole run."""
    server = start_postgres(tmp_path_factory.mktemp("pg"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    """A migrated database that each test clones (CREATE DATABASE … TEMPLATE is far faster than migrating)."""
    pg_server.create_database("luna_template")
    engine = build_engine(pg_server.url("luna_template"))
    migrate.upgrade(engine)
    engine.dispose()
    return "luna_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "luna.db"
    engine = build_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return path


_db_counter = itertools.count()


@pytest.fixture
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Factory: a new, migrated, empty database of the given kind ("sqlite" or "postgresql")."""
    created: list[tuple[PostgresServer, str]] = []

    def make(kind: str) -> str:
        if kind == "sqlite":
            template: Path = request.getfixturevalue("sqlite_template")
            target = tmp_path / f"luna-{next(_db_counter)}.db"
            shutil.copyfile(template, target)
            return f"sqlite:///{target}"
        server: PostgresServer = request.getfixturevalue("pg_server")
        template_name: str = request.getfixturevalue("pg_template")
        name = f"t_{os.getpid()}_{next(_db_counter)}"
        server.create_database(name, template=template_name)
        created.append((server, name))
        return server.url(name)

    yield make
    for server, name in created:
        server.drop_database(name)


@pytest.fixture(params=DATABASES)
def db_kind(request: pytest.FixtureRequest) -> str:
    """Parametrises a test over both databases: the contract every repository must keep."""
    kind: str = request.param
    return kind


@pytest.fixture
def database_url(db_kind: str, fresh_database_url: Callable[[str], str]) -> str:
    return fresh_database_url(db_kind)


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "var",
        "luna_admin_key": ADMIN_TOKEN,
        "log_json": True,
        "enable_scheduler": False,
        "seed_demo_data": False,
        "embedding_warmup": False,  # model-loading tests load it themselves  # tests build their own data; tests/e2e checks the demo seed  # jobs are called directly in tests; one test runs the scheduler
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = build_container(settings)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The real app (lifespan, middleware, migrations) on the parametrised database."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def sqlite_client(tmp_path: Path, fresh_database_url: Callable[[str], str]) -> Iterator[TestClient]:
    """The app on SQLite only, for HTTP-behaviour tests that do not depend on the database."""
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


KeyFactory = Callable[[Role], str]


@pytest.fixture
def make_key() -> Callable[[TestClient, Role], str]:
    """Create a key of a role in the client's database; returns the token."""

    def make(test_client: TestClient, role: Role) -> str:
        container: Container = test_client.app.state.container  # type: ignore[attr-defined]
        with container.session_factory() as session:
            created = admin_service.create_key(
                session=session, key_in=ApiKeyCreate(name=f"{role}-key", role=role)
            )
        return created.token

    return make


def auth(token: str) -> dict[str, str]:
    return {"X-API-Key": token}
