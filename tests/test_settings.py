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
    assert settings.api_port == 8001 and settings.postgres_port == 8301 and settings.mqtt_port == 1883


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
    with pytest.raises(ValidationError, match="development password"):
        Settings(_env_file=None, environment="production", database_url="postgresql://luna:luna@db/luna")
    with pytest.raises(ValidationError, match="POSTGRES_PASSWORD still has the development default"):
        Settings(_env_file=None, environment="production", database_url="postgresql://luna:strong@db/luna")
    ok = Settings(
        _env_file=None,
        environment="production",
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
    assert listed <= expected, sorted(listed - expected)
    example = Settings(_env_file=ENV_EXAMPLE)  # every value in it parses
    assert example.api_port == 8001


def test_secret_key_is_gone_and_an_old_env_file_still_loads(tmp_path: Path) -> None:
    """SECRET_KEY was required in production but used by nothing (issue 9, item 9): it is dropped, and
    an existing .env that still sets it keeps working (unknown variables are ignored)."""
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=whatever\nENVIRONMENT=production\n")
    settings = Settings(_env_file=env_file)
    assert settings.environment == "production"
    assert "secret_key" not in Settings.model_fields


def test_production_refuses_the_stacks_development_passwords() -> None:
    """.env.example's broker and Grafana passwords are for development (deploy/compose.yml has none)."""
    strong = {"database_url": "postgresql://luna:strong@db/luna", "postgres_password": "strong"}
    with pytest.raises(ValidationError, match="MQTT_URL uses the development password"):
        Settings(
            _env_file=None, environment="production", mqtt_url="mqtt://luna:luna@mosquitto:1883", **strong
        )
    with pytest.raises(ValidationError, match="GRAFANA_ADMIN_PASSWORD is Grafana's default") as info:
        Settings(_env_file=None, environment="production", enable_observability=True, **strong)
    assert "GRAFANA_DB_PASSWORD still has the development default" in str(info.value)
    ok = Settings(
        _env_file=None,
        environment="production",
        mqtt_url="mqtt://luna:broker-secret@mosquitto:1883",
        enable_observability=True,
        grafana_admin_password="grafana-secret",
        grafana_db_password="reader-secret",
        **strong,
    )
    assert ok.grafana_admin_password.get_secret_value() == "grafana-secret"
    # Without the observability profile Grafana's passwords are not used, so not refused.
    assert Settings(_env_file=None, environment="production", **strong).enable_observability is False
    # Development keeps the .env.example values.
    assert Settings(_env_file=None, enable_observability=True, mqtt_url="mqtt://luna:luna@mosquitto:1883")
