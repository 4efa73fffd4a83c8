"""The parts of the compose stack that can run without Docker, run for real:

* the start wrappers of the containers (Grafana, MinIO, grafana-db-init, Mosquitto) under /bin/sh:
  each refuses to start without its password, before the real program would pick a default;
* deploy/ollama/pull-models.sh with a stand-in `ollama` CLI on PATH (a shell script that records its
  arguments: the Ollama server cannot run here; the script's own logic is what is tested);
* deploy/mosquitto/ with Debian's mosquitto: anonymous clients are refused, the .env account works;
* deploy/postgres/grafana-reader.sql with psql against the test PostgreSQL, then every SQL query of the
  energy dashboard as that read-only role, with Grafana's macros replaced by literal SQL.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.deploy.stack import (
    ENERGY_DASHBOARD,
    GRAFANA_READER_SQL,
    MOSQUITTO_CONFIG,
    MOSQUITTO_START,
    OLLAMA_PULL,
    container_text,
    dashboard_panels,
)
from tests.support.mosquitto import free_port


def _shell_wrapper(service: dict[str, Any]) -> str:
    """The script of an `entrypoint: [/bin/sh, -c, SCRIPT, NAME]` wrapper, as the container runs it."""
    entrypoint = service["entrypoint"]
    assert entrypoint[:2] == ["/bin/sh", "-c"], entrypoint
    return container_text(entrypoint[2])


def _run_wrapper(script: str, environment: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", os.defpath), **environment}
    return subprocess.run(
        ["/bin/sh", "-c", script, "wrapper", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


# --- start wrappers refuse missing passwords -----------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "refused"),
    [
        pytest.param({"GF_SECURITY_ADMIN_PASSWORD": ""}, "GRAFANA_ADMIN_PASSWORD is not set", id="no-admin"),
        pytest.param({"GRAFANA_DB_PASSWORD": ""}, "GRAFANA_DB_PASSWORD is not set", id="no-db"),
        pytest.param(
            {"GF_SECURITY_ADMIN_PASSWORD": "admin", "LUNA_ENVIRONMENT": "production"},
            "Grafana's default 'admin'",
            id="default-in-production",
        ),
        pytest.param(
            {"GF_SECURITY_ADMIN_PASSWORD": "admin", "LUNA_ENVIRONMENT": "development"}, None, id="dev"
        ),
        pytest.param(
            {"GF_SECURITY_ADMIN_PASSWORD": "s3cret-Grafana", "LUNA_ENVIRONMENT": "production"}, None, id="set"
        ),
    ],
)
def test_grafana_refuses_to_start_without_a_real_password(
    full_config: dict[str, Any], changes: dict[str, str], refused: str | None
) -> None:
    grafana = full_config["services"]["grafana"]
    assert grafana["command"] == ["/run.sh"]  # the image's own entrypoint, run by the wrapper
    result = _run_wrapper(_shell_wrapper(grafana), grafana["environment"] | changes, "echo", "started")
    if refused is None:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "started"
    else:
        assert result.returncode == 1
        assert refused in result.stderr
        assert "started" not in result.stdout


@pytest.mark.parametrize("missing", ["MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"])
def test_minio_refuses_to_start_without_credentials(full_config: dict[str, Any], missing: str) -> None:
    """Without MINIO_ROOT_USER/PASSWORD MinIO would start with minioadmin/minioadmin."""
    minio = full_config["services"]["minio"]
    assert minio["command"][0] == "/usr/bin/docker-entrypoint.sh"
    credentials = {"MINIO_ROOT_USER": "luna-minio", "MINIO_ROOT_PASSWORD": "luna-minio-secret"}
    script = _shell_wrapper(minio)
    started = _run_wrapper(script, credentials, "echo", "started")
    assert started.returncode == 0 and started.stdout.strip() == "started", started.stderr
    refused = _run_wrapper(script, credentials | {missing: ""}, "echo", "started")
    assert refused.returncode == 1
    assert "S3_ACCESS_KEY and S3_SECRET_KEY must be set in .env" in refused.stderr


def test_grafana_db_init_refuses_an_empty_password(full_config: dict[str, Any]) -> None:
    init = full_config["services"]["grafana-db-init"]
    result = _run_wrapper(_shell_wrapper(init), init["environment"] | {"GRAFANA_DB_PASSWORD": ""})
    assert result.returncode == 1
    assert "GRAFANA_DB_PASSWORD is not set" in result.stderr


@pytest.mark.parametrize("missing", ["MQTT_BROKER_USER", "MQTT_BROKER_PASSWORD"])
def test_mosquitto_start_refuses_a_missing_account(tmp_path: Path, missing: str) -> None:
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "MQTT_BROKER_USER": "luna",
        "MQTT_BROKER_PASSWORD": "broker-secret",
        "MOSQUITTO_PASSWORD_FILE": str(tmp_path / "passwd"),
        missing: "",
    }
    result = subprocess.run(
        ["/bin/sh", str(MOSQUITTO_START)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 1
    assert "MQTT_BROKER_USER and MQTT_BROKER_PASSWORD must be set in .env" in result.stderr
    assert not (tmp_path / "passwd").exists()


# --- the Ollama init step ------------------------------------------------------------------------


def _fake_ollama(tmp_path: Path, *, fail_on: str = "") -> Path:
    """A stand-in `ollama` CLI: records each call; `pull <fail_on>` fails like a missing model."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "ollama"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{tmp_path}/calls"\n'
        f'if [ "$1" = pull ] && [ "$2" = "{fail_on}" ]; then echo "Error: pull model manifest: file does not exist" >&2; exit 1; fi\n'
    )
    script.chmod(0o755)
    return bin_dir


def _pull_models(tmp_path: Path, env: dict[str, str], *, fail_on: str = "") -> tuple[int, list[str], str]:
    bin_dir = _fake_ollama(tmp_path, fail_on=fail_on)
    result = subprocess.run(
        ["/bin/sh", str(OLLAMA_PULL)],
        env={"PATH": f"{bin_dir}:{os.environ.get('PATH', os.defpath)}", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    calls_file = tmp_path / "calls"
    calls = calls_file.read_text().splitlines() if calls_file.exists() else []
    return result.returncode, calls, result.stderr


def test_ollama_init_pulls_the_configured_models(full_config: dict[str, Any], tmp_path: Path) -> None:
    env = full_config["services"]["ollama-init"]["environment"]
    code, calls, stderr = _pull_models(tmp_path, env)
    assert code == 0, stderr
    assert calls == [
        f"pull {env['OLLAMA_EMBED_MODEL']}",
        f"pull {env['OLLAMA_CHAT_MODEL']}",
        "list",
    ]


@pytest.mark.parametrize(
    ("backends", "pulled"),
    [
        pytest.param({"EMBEDDING_BACKEND": "local"}, ["pull llama3.1:8b"], id="local-embeddings"),
        pytest.param({"GENERATOR_BACKEND": "extractive"}, ["pull nomic-embed-text"], id="extractive"),
        pytest.param({"GENERATOR_BACKEND": "openai"}, ["pull nomic-embed-text"], id="openai"),
        pytest.param(
            {"EMBEDDING_BACKEND": "ollama", "GENERATOR_BACKEND": "ollama"},
            ["pull nomic-embed-text", "pull llama3.1:8b"],
            id="ollama",
        ),
    ],
)
def test_ollama_init_pulls_only_what_the_backends_use(
    tmp_path: Path, backends: dict[str, str], pulled: list[str]
) -> None:
    env = {"OLLAMA_EMBED_MODEL": "nomic-embed-text", "OLLAMA_CHAT_MODEL": "llama3.1:8b"} | backends
    code, calls, stderr = _pull_models(tmp_path, env)
    assert code == 0, stderr
    assert calls == [*pulled, "list"]


def test_ollama_init_fails_when_a_pull_fails(tmp_path: Path) -> None:
    """The API waits for service_completed_successfully: a failed pull must be a non-zero exit."""
    env = {"OLLAMA_EMBED_MODEL": "no-such-model", "OLLAMA_CHAT_MODEL": "llama3.1:8b"}
    code, calls, stderr = _pull_models(tmp_path, env, fail_on="no-such-model")
    assert code != 0
    assert calls == ["pull no-such-model"]
    assert "file does not exist" in stderr


def test_ollama_init_refuses_an_empty_model_name(tmp_path: Path) -> None:
    code, calls, stderr = _pull_models(tmp_path, {"OLLAMA_EMBED_MODEL": "", "OLLAMA_CHAT_MODEL": "x"})
    assert code != 0 and calls == []
    assert "OLLAMA_EMBED_MODEL is empty" in stderr


# --- Mosquitto: the repository's config with Debian's broker ---------------------------------------


def _mqtt_connect(port: int, username: str | None = None, password: str | None = None) -> Any:
    """The broker's CONNACK reason code for a connection attempt."""
    import paho.mqtt.client as mqtt

    result: list[Any] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    if username is not None:
        client.username_pw_set(username, password)
    client.on_connect = lambda _c, _u, _f, reason_code, _p: result.append(reason_code)
    client.connect("127.0.0.1", port)
    deadline = time.monotonic() + 5
    while not result and time.monotonic() < deadline:
        client.loop(timeout=0.1)
    client.disconnect()
    assert result, "no CONNACK from the broker"
    return result[0]


@pytest.fixture
def stack_broker(tmp_path: Path) -> Iterator[int]:
    """deploy/mosquitto/start.sh + mosquitto.conf, with only the port and the data paths moved."""
    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    config_text = MOSQUITTO_CONFIG.read_text(encoding="utf-8")
    assert re.search(r"^listener 1883$", config_text, flags=re.MULTILINE)
    config = tmp_path / "mosquitto.conf"
    config.write_text(
        re.sub(r"^listener 1883$", f"listener {port} 127.0.0.1", config_text, flags=re.MULTILINE).replace(
            "/mosquitto/data/", f"{data}/"
        )
    )
    env = {
        "PATH": f"{os.environ.get('PATH', os.defpath)}:/usr/sbin",
        "MQTT_BROKER_USER": "luna",
        "MQTT_BROKER_PASSWORD": "broker-secret",
        "MOSQUITTO_CONFIG": str(config),
        "MOSQUITTO_PASSWORD_FILE": str(data / "passwd"),
    }
    if os.geteuid() == 0:
        env["USER"] = "root"  # mosquitto as root drops to user `mosquitto` unless told otherwise
        config.write_text(config.read_text() + "\nuser root\n")
    log = tmp_path / "mosquitto.log"
    with log.open("wb") as output:
        process = subprocess.Popen(["/bin/sh", str(MOSQUITTO_START)], env=env, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"mosquitto exited with {process.returncode}: {log.read_text()}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.02)
        else:
            pytest.fail("mosquitto did not listen")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_mosquitto_config_refuses_anonymous_clients(stack_broker: int, tmp_path: Path) -> None:
    assert _mqtt_connect(stack_broker).is_failure
    assert _mqtt_connect(stack_broker, "luna", "wrong").is_failure
    assert not _mqtt_connect(stack_broker, "luna", "broker-secret").is_failure
    passwd = tmp_path / "data" / "passwd"
    assert passwd.stat().st_mode & 0o077 == 0, "the password file is readable by others"
    assert "broker-secret" not in passwd.read_text()  # hashed


# --- the Grafana database role and the energy dashboard's SQL --------------------------------------

READER_TABLES = (
    "meters",
    "smart_meter_readings",
    "reading_rollups",
    "market_prices",
    "battery_states",
)


def _expand_grafana_macros(sql: str, ts_from: datetime, ts_to: datetime, meters: list[str]) -> str:
    """Grafana's PostgreSQL macros (and the dashboard's $meter variable) as literal SQL."""
    start, end = ts_from.isoformat(), ts_to.isoformat()
    sql = re.sub(
        r"\$__timeFilter\((\w+)\)", rf"\1 BETWEEN '{start}'::timestamptz AND '{end}'::timestamptz", sql
    )
    sql = re.sub(
        r"\$__timeGroupAlias\((\w+),\s*\$__interval\)",
        r'to_timestamp(floor(extract(epoch FROM \1) / 900) * 900) AS "time"',
        sql,
    )
    sql = re.sub(r"\$\{?meter\}?", ", ".join(f"'{m}'" for m in meters), sql)
    assert "$" not in sql, f"a Grafana macro this test does not know: {sql}"
    return sql


def _seed_energy_data(conninfo: str, now: datetime) -> None:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO meters (meter_id, site, kind, timezone, obis_map, created_at) "
            "VALUES ('m1', 'sim', 'consumption', 'Europe/Berlin', '{}', %s), "
            "('m2', 'sim', 'production', 'Europe/Berlin', '{}', %s)",
            (now, now),
        )
        for step in range(8):
            ts = now - timedelta(minutes=15 * step)
            for meter, consumption, production in (("m1", 2.0 + step, 0.5), ("m2", 0.1, 3.0)):
                conn.execute(
                    "INSERT INTO smart_meter_readings (meter_id, ts, consumption_kw, production_kw, voltage, quality)"
                    " VALUES (%s, %s, %s, %s, 230.0, 'ok')",
                    (meter, ts, consumption, production),
                )
            conn.execute(
                "INSERT INTO market_prices (market, product, ts, price_eur_mwh) VALUES ('DE-LU', 'day_ahead', %s, %s)",
                (ts, 80.0 + step),
            )
            conn.execute(
                "INSERT INTO battery_states (battery_id, ts, site, soc_pct, power_kw) VALUES ('b1', %s, 'sim', %s, -1.5)",
                (ts, 40.0 + step),
            )
        rollups = [("15m", now - timedelta(minutes=15), 0.25), ("1h", now - timedelta(hours=1), 1.0)]
        for resolution, ts, hours in [*rollups, ("1d", day, 24.0)]:
            for meter in ("m1", "m2"):
                conn.execute(
                    "INSERT INTO reading_rollups (meter_id, resolution, ts, samples, covered_s, consumption_kwh,"
                    " production_kwh, import_kwh, export_kwh) VALUES (%s, %s, %s, 4, %s, %s, %s, %s, %s)",
                    (meter, resolution, ts, hours * 3600, 2.0 * hours, 1.0 * hours, 1.5 * hours, 0.5 * hours),
                )


def _psql(conninfo: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "PGHOST": str(conninfo["host"]),
        "PGPORT": str(conninfo["port"]),
        "PGUSER": str(conninfo["user"]),
        "PGDATABASE": str(conninfo["dbname"]),
    }
    return subprocess.run(["psql", *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_energy_dashboard_queries_run_as_the_read_only_role(
    full_config: dict[str, Any], fresh_database_url: Callable[[str], str]
) -> None:
    url = make_url(fresh_database_url("postgresql"))
    admin = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    _seed_energy_data(psycopg.conninfo.make_conninfo(**admin), now)

    # The command grafana-db-init runs (the reader's name from compose), twice: it is idempotent.
    script = _shell_wrapper(full_config["services"]["grafana-db-init"])
    reader = re.search(r"-v reader=(\S+)", script)
    assert reader is not None, script
    for _ in range(2):
        result = _psql(
            admin,
            "-v", "ON_ERROR_STOP=1", "-v", f"reader={reader[1]}", "-v", "reader_password=reader-secret",
            "-f", str(GRAFANA_READER_SQL),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"role {reader[1]} can read the energy tables" in result.stdout

    dashboard = json.loads(ENERGY_DASHBOARD.read_text(encoding="utf-8"))
    queries = [(v["name"], v["query"]) for v in dashboard["templating"]["list"] if v["type"] == "query"]
    queries += [
        (panel["title"], target["rawSql"])
        for panel in dashboard_panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]
    assert len(queries) >= 10
    as_reader = psycopg.conninfo.make_conninfo(**(admin | {"user": reader[1]}))
    with psycopg.connect(as_reader) as conn:
        for title, sql in queries:
            expanded = _expand_grafana_macros(
                sql, now - timedelta(days=2), now + timedelta(minutes=1), ["m1", "m2"]
            )
            try:
                rows = conn.execute(expanded).fetchall()  # type: ignore[call-overload]
            except psycopg.Error as exc:
                pytest.fail(f"panel {title!r}: {exc}\n{expanded}")
            assert rows, f"panel {title!r} returned no rows:\n{expanded}"
            assert any(value is not None for row in rows for value in row), title
            conn.rollback()

        kpis = _expand_grafana_macros(
            next(sql for title, sql in queries if title == "Self-consumption and autarky"),
            now - timedelta(days=2), now + timedelta(minutes=1), ["m1", "m2"],
        )  # fmt: skip
        self_consumption, autarky = conn.execute(kpis).fetchone()  # type: ignore[call-overload,misc]
        assert self_consumption == pytest.approx(0.5)  # 1 - export 0.5 / production 1.0
        assert autarky == pytest.approx(0.25)  # 1 - import 1.5 / consumption 2.0
        conn.rollback()

        # Read-only: no writes, and nothing beyond the energy tables.
        with pytest.raises(psycopg.Error, match=r"read-only transaction|permission denied"):
            conn.execute(
                "INSERT INTO meters (meter_id, site, kind, timezone, obis_map, created_at) "
                "VALUES ('x', 's', 'k', 'UTC', '{}', now())"
            )
        conn.rollback()
        with pytest.raises(psycopg.Error, match="permission denied"):
            conn.execute("SELECT count(*) FROM api_keys")
        conn.rollback()
        granted = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.role_table_grants "
                "WHERE grantee = current_user AND privilege_type = 'SELECT'"
            )
        }
    assert set(READER_TABLES) <= granted
    assert "api_keys" not in granted and "audit_log" not in granted
