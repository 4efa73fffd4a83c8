"""The `luna` command as a user runs it: a real subprocess, real exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from luna_iems.db import migrate


def luna(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "DATABASE_", "LUNA_"))}
    full_env |= {"COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, "-m", "luna_iems", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    return lines[0]


@pytest.fixture
def env(db_kind: str, fresh_database_url: Callable[[str], str], tmp_path: Path) -> dict[str, str]:
    return {"DATA_DIR": str(tmp_path / "var"), "DATABASE_URL": fresh_database_url(db_kind)}


def test_db_upgrade_is_safe_twice_and_current_reports_it(env: dict[str, str]) -> None:
    for _ in range(2):
        result = luna("db", "upgrade", env=env)
        assert result.returncode == 0, result.stderr
        assert f"schema at revision {migrate.head_revision()}" in result.stdout
    current = luna("db", "current", env=env)
    head = migrate.head_revision()
    assert f"database: {head}" in current.stdout and f"shipped head: {head}" in current.stdout


def test_keys_create_list_revoke(env: dict[str, str]) -> None:
    created = luna("keys", "create", "--name", "grafana", "--role", "analyst", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("luna_") and len(token) == 54

    listed = luna("keys", "list", env=env)
    assert "grafana" in listed.stdout and "analyst" in listed.stdout and token not in listed.stdout
    key_id = next(line.split()[1] for line in listed.stdout.splitlines() if "grafana" in line)
    revoked = luna("keys", "revoke", key_id, env=env)
    assert revoked.returncode == 0 and f"revoked {key_id}" in revoked.stdout

    assert "not a key_id" in one_line_error(luna("keys", "revoke", "nope", env=env))
    assert "does not exist" in one_line_error(
        luna("keys", "revoke", "00000000-0000-0000-0000-000000000001", env=env)
    )
    bad_role = luna("keys", "create", "--name", "x", "--role", "root", env=env)
    assert bad_role.returncode == 2 and "Traceback" not in bad_role.stderr


def test_status_json(env: dict[str, str], db_kind: str) -> None:
    luna("db", "upgrade", env=env)
    result = luna("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["database"]["kind"] == db_kind
    assert summary["database"]["schema_revision"] == migrate.head_revision()
    table = luna("status", env=env)
    assert "time series stored as plain tables" in table.stdout


def test_expected_failures_are_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    env = {"DATA_DIR": str(tmp_path), "DATABASE_URL": f"postgresql://luna:x@127.0.0.1:{closed}/luna"}
    assert "database not reachable" in one_line_error(luna("status", env=env))
    assert "invalid settings" in one_line_error(luna("db", "upgrade", env={"API_PORT": "not-a-port"}))
    unsafe = {"ENVIRONMENT": "production", "DATABASE_URL": "postgresql://luna:luna@127.0.0.1:9/luna"}
    assert "development password" in one_line_error(luna("status", env=unsafe))


def test_preflight_names_a_busy_port_and_suggests_a_free_one(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = luna("preflight", "--scope", "local", env={"DATA_DIR": str(tmp_path), "API_PORT": str(port)})
        assert result.returncode == 1
        assert f"port {port} for service 'api' is in use; set API_PORT=18" in result.stdout
        serve = luna("serve", env={"DATA_DIR": str(tmp_path), "API_PORT": str(port)})
        assert serve.returncode == 1 and f"port {port}" in serve.stderr and "Traceback" not in serve.stderr
    free = luna("preflight", "--scope", "local", env={"DATA_DIR": str(tmp_path), "API_PORT": str(port)})
    assert free.returncode == 0, free.stdout


def test_sim_backfill_and_seed(tmp_path: Path, fresh_database_url: Callable[[str], str]) -> None:
    env = {"DATA_DIR": str(tmp_path / "var"), "DATABASE_URL": fresh_database_url("sqlite")}
    result = luna("sim", "backfill", "--days", "2", "--meters", "6", env=env)
    assert result.returncode == 0, result.stderr
    assert f"wrote {6 * 2 * 96} readings" in result.stdout and "day-ahead prices" in result.stdout
    summary = json.loads(luna("status", "--json", env=env).stdout)["database"]["row_counts"]
    assert summary["meters"] == 6 and summary["smart_meter_readings"] == 6 * 2 * 96
    seeded = luna("seed", "--days", "1", env=env)
    assert seeded.returncode == 0 and "demo data: 4 simulated meters" in seeded.stdout
    assert luna("sim", "backfill", "--days", "0", env=env).returncode == 2


def test_forecast_backtest_prints_a_table(tmp_path: Path, fresh_database_url: Callable[[str], str]) -> None:
    env = {"DATA_DIR": str(tmp_path / "var"), "DATABASE_URL": fresh_database_url("sqlite")}
    assert "meter 'x' does not exist" in one_line_error(
        luna("forecast", "backtest", "--meter-id", "x", env=env)
    )
    assert luna("sim", "backfill", "--days", "20", "--meters", "1", "--no-prices", env=env).returncode == 0
    result = luna("forecast", "backtest", "--meter-id", "sim-household-001", "--origins", "2", env=env)
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") >= 5}
    assert {"seasonal_naive", "gbm"} <= set(rows), result.stdout
    assert "1.000" in rows["seasonal_naive"]  # MASE of the baseline against itself
    assert "pv forecast needs exactly one of meter_id or site" in one_line_error(
        luna("forecast", "backtest", "--target", "pv", env=env)
    )
