"""The one settings object: defaults, URL normalisation, refusal of unsafe defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from luna_iems.settings import Settings

ENV_EXAMPLE = Path(__file__).parents[1] / ".env.example"


def test_defaults_select_the_embedded_backends(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.as_posix()}/luna.db"
    assert settings.qdrant_url is None and settings.tika_url is None and settings.ollama_url is None
    assert settings.api_port == 8001 and settings.postgres_port == 8301 and settings.redis_port == 8302


def test_postgres_urls_use_psycopg3() -> None:
    for url in ("postgres://u:p@h/db", "postgresql://u:p@h/db"):
        assert (
            Settings(_env_file=None, database_url=url).resolved_database_url
            == "postgresql+psycopg://u:p@h/db"
        )


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_PORT", "18001")
    monkeypatch.setenv("QDRANT_URL", "http://qdrant:6333")
    monkeypatch.setenv("ENABLE_OBSERVABILITY", "true")
    settings = Settings(_env_file=None)
    assert settings.api_port == 18001 and settings.qdrant_url == "http://qdrant:6333"
    assert settings.published_ports()["grafana"] == 3000


def test_production_refuses_unsafe_defaults() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY still has the development default"):
        Settings(_env_file=None, environment="production")
    with pytest.raises(ValidationError, match="development password"):
        Settings(
            _env_file=None,
            environment="production",
            secret_key="s" * 40,
            database_url="postgresql://luna:luna@db/luna",
        )
    ok = Settings(
        _env_file=None,
        environment="production",
        secret_key="s" * 40,
        database_url="postgresql://luna:strong@db/luna",
        postgres_password="strong",
    )
    assert ok.environment == "production"


def test_bad_values_name_the_setting() -> None:
    with pytest.raises(ValidationError, match="api_port"):
        Settings(_env_file=None, api_port=70000)


def test_env_example_lists_every_setting() -> None:
    listed = {
        line.split("=", 1)[0].strip()
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    expected = {name.upper() for name in Settings.model_fields}
    assert expected <= listed, f".env.example lacks {sorted(expected - listed)}"
    assert listed <= expected | {"GRAFANA_ADMIN_USER", "GRAFANA_ADMIN_PASSWORD"}, sorted(listed - expected)
    example = Settings(_env_file=ENV_EXAMPLE)  # every value in it parses
    assert example.api_port == 8001
