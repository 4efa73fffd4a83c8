"""`luna preflight` logic: real sockets, real directories and a fake `docker` script."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from luna_iems.ops.preflight import (
    DOCKER_SKIPPED_MESSAGE,
    PORT_ENV_VARS,
    PreflightCheck,
    PreflightReport,
    find_free_port,
    is_port_free,
    port_env_var,
    run_preflight,
)
from luna_iems.settings import Settings

PORT_FIELDS = (
    "api_port",
    "postgres_port",
    "qdrant_http_port",
    "qdrant_grpc_port",
    "ollama_port",
    "tika_port",
    "minio_api_port",
    "minio_console_port",
    "grafana_port",
    "loki_port",
    "prometheus_port",
    "mqtt_port",
)
SUGGESTION = re.compile(r"set (?P<var>[A-Z_]+)=(?P<port>\d+) \(next free port in 18000-18999\)")


def _free_ports(count: int) -> list[int]:
    """`count` distinct ports that are free right now (ephemeral, so outside 18000-18999)."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("0.0.0.0", 0))
            ports.append(sock.getsockname()[1])
    assert all(is_port_free(port) for port in ports)
    return ports


@contextmanager
def _hold(port: int, host: str = "127.0.0.1") -> Iterator[None]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, port))
        sock.listen()
        yield


def _bindable(port: int) -> bool:
    for host in ("0.0.0.0", "127.0.0.1"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, port))
        except OSError:
            return False
    return True


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings whose every published port is free, with the data dir under `tmp_path`."""
    values: dict[str, object] = dict(zip(PORT_FIELDS, _free_ports(len(PORT_FIELDS)), strict=True))
    values |= {
        "data_dir": tmp_path / "data",
        "project_name": "luna-preflight-test",
        "enable_minio": False,
        "enable_observability": False,
    }
    values |= overrides
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def _check(report: PreflightReport, name: str) -> PreflightCheck:
    matches = [check for check in report.checks if check.name == name]
    assert len(matches) == 1, report.checks
    return matches[0]


def _fake_docker(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-docker"
    script.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/docker-args"\n{body}\n')
    script.chmod(0o755)
    return script


def _missing_docker(tmp_path: Path) -> str:
    return str(tmp_path / "no-such-dir" / "docker")


# --- ports ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_api_port_in_use_fails_and_suggests_a_free_fallback_port(tmp_path: Path, host: str) -> None:
    (port,) = _free_ports(1)
    settings = _settings(tmp_path, api_port=port)
    with _hold(port, host):
        report = run_preflight(settings=settings, scope="local")
        assert not report.ok
        check = _check(report, "port:api")
        assert not check.ok
        assert "'api'" in check.message
        assert f"port {port} " in check.message
        assert "in use" in check.message
        match = SUGGESTION.search(check.message)
        assert match is not None, check.message
        assert match["var"] == "API_PORT"
        suggested = int(match["port"])
        assert 18000 <= suggested <= 18999
        assert _bindable(suggested)
    assert report.failures == [check]
    assert _check(report, "data_dir").ok


def test_time_wait_connections_do_not_block_a_restart(tmp_path: Path) -> None:
    """Regression (issue 9, item 4): after a crash, the server side of its connections sits in
    TIME_WAIT for ~60 s; the probe saw the port as in use although uvicorn (SO_REUSEADDR) could bind."""
    (port,) = _free_ports(1)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen()
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the side that closes first keeps the port in TIME_WAIT
    client.close()
    listener.close()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # what the old probe did: refused while TIME_WAIT lasts
    report = run_preflight(settings=_settings(tmp_path, api_port=port), scope="local")
    assert _check(report, "port:api").ok, _check(report, "port:api").message


def test_all_free_is_ok_for_both_scopes(tmp_path: Path) -> None:
    settings = _settings(tmp_path, enable_minio=True, enable_observability=True)
    stack = run_preflight(settings=settings, scope="stack", docker_bin=_missing_docker(tmp_path))
    assert stack.ok, stack.failures
    assert {check.name for check in stack.checks} == {
        *(f"port:{service}" for service in settings.published_ports()),
        "data_dir",
        "running_stack",
    }
    local = run_preflight(settings=settings, scope="local", docker_bin=_missing_docker(tmp_path))
    assert local.ok, local.failures
    assert [check.name for check in local.checks] == ["port:api", "data_dir"]


def test_local_scope_only_checks_the_api_port(tmp_path: Path) -> None:
    postgres_port, api_port = _free_ports(2)
    settings = _settings(tmp_path, postgres_port=postgres_port, api_port=api_port)
    with _hold(postgres_port):
        assert run_preflight(settings=settings, scope="local").ok
        stack = run_preflight(settings=settings, scope="stack", docker_bin=_missing_docker(tmp_path))
    assert [check.name for check in stack.failures] == ["port:postgres"]
    assert "set POSTGRES_PORT=" in stack.failures[0].message


def test_two_conflicting_services_get_different_suggestions(tmp_path: Path) -> None:
    api_port, postgres_port = _free_ports(2)
    settings = _settings(tmp_path, api_port=api_port, postgres_port=postgres_port)
    with _hold(api_port), _hold(postgres_port, "0.0.0.0"):
        report = run_preflight(settings=settings, docker_bin=_missing_docker(tmp_path))
    assert {check.name for check in report.failures} == {"port:api", "port:postgres"}
    suggestions = {}
    for check in report.failures:
        match = SUGGESTION.search(check.message)
        assert match is not None, check.message
        suggestions[match["var"]] = int(match["port"])
    assert set(suggestions) == {"API_PORT", "POSTGRES_PORT"}
    assert suggestions["API_PORT"] != suggestions["POSTGRES_PORT"]
    assert all(18000 <= port <= 18999 for port in suggestions.values())


def test_same_port_configured_for_two_services_fails(tmp_path: Path) -> None:
    (port,) = _free_ports(1)
    settings = _settings(tmp_path, api_port=port, tika_port=port)
    report = run_preflight(settings=settings, docker_bin=_missing_docker(tmp_path))
    assert [check.name for check in report.failures] == ["port:tika"]
    assert "also configured for service 'api'" in report.failures[0].message
    assert "set TIKA_PORT=" in report.failures[0].message


def test_find_free_port_skips_excluded_and_taken_ports() -> None:
    first = find_free_port(start=18000, end=18999)
    assert first is not None
    assert 18000 <= first <= 18999
    second = find_free_port(start=18000, end=18999, exclude={first})
    assert second is not None
    assert second != first
    with _hold(first):
        assert find_free_port(start=first, end=first) is None
    assert find_free_port(start=18001, end=18000) is None


def test_env_var_names() -> None:
    assert port_env_var("qdrant-grpc") == "QDRANT_GRPC_PORT"
    assert port_env_var("minio-console") == "MINIO_CONSOLE_PORT"
    assert port_env_var("some-new-thing") == "SOME_NEW_THING_PORT"
    assert set(PORT_ENV_VARS) >= set(
        Settings(_env_file=None, enable_minio=True, enable_observability=True).published_ports()
    )


# --- data directory ------------------------------------------------------------------------------


def test_missing_data_dir_is_created(tmp_path: Path) -> None:
    data_dir = tmp_path / "a" / "b" / "data"
    report = run_preflight(settings=_settings(tmp_path, data_dir=data_dir), scope="local")
    assert _check(report, "data_dir").ok
    assert data_dir.is_dir()
    assert list(data_dir.iterdir()) == []


def test_data_dir_below_a_regular_file_fails_naming_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    data_dir = blocker / "data"
    report = run_preflight(settings=_settings(tmp_path, data_dir=data_dir), scope="local")
    assert not report.ok
    check = _check(report, "data_dir")
    assert not check.ok
    assert str(data_dir) in check.message
    assert "not writable" in check.message


# --- running stack -------------------------------------------------------------------------------


def test_missing_docker_skips_the_running_stack_check(tmp_path: Path) -> None:
    report = run_preflight(settings=_settings(tmp_path), docker_bin=_missing_docker(tmp_path))
    check = _check(report, "running_stack")
    assert check.ok
    assert check.message == DOCKER_SKIPPED_MESSAGE
    assert "skipped" in check.message


def test_unreachable_engine_skips_the_running_stack_check(tmp_path: Path) -> None:
    docker = _fake_docker(tmp_path, "echo 'Cannot connect to the Docker daemon' >&2\nexit 1")
    check = _check(run_preflight(settings=_settings(tmp_path), docker_bin=str(docker)), "running_stack")
    assert check.ok
    assert "skipped" in check.message


def test_running_stack_with_the_same_project_name_fails(tmp_path: Path) -> None:
    docker = _fake_docker(tmp_path, "echo luna-preflight-test-api-1\necho luna-preflight-test-postgres-1")
    report = run_preflight(settings=_settings(tmp_path), docker_bin=str(docker))
    assert not report.ok
    check = _check(report, "running_stack")
    assert not check.ok
    assert "luna-preflight-test-api-1" in check.message
    assert "luna-preflight-test-postgres-1" in check.message
    assert "make down" in check.message
    assert "PROJECT_NAME" in check.message
    args = (tmp_path / "docker-args").read_text().split()
    assert args == [
        "ps",
        "--filter",
        "label=com.docker.compose.project=luna-preflight-test",
        "--format",
        "{{.Names}}",
    ]


def test_no_running_stack_is_ok(tmp_path: Path) -> None:
    docker = _fake_docker(tmp_path, "exit 0")
    check = _check(run_preflight(settings=_settings(tmp_path), docker_bin=str(docker)), "running_stack")
    assert check.ok
    assert "skipped" not in check.message


def test_local_scope_does_not_ask_docker(tmp_path: Path) -> None:
    docker = _fake_docker(tmp_path, "echo luna-preflight-test-api-1")
    report = run_preflight(settings=_settings(tmp_path), scope="local", docker_bin=str(docker))
    assert report.ok
    assert "running_stack" not in {check.name for check in report.checks}
    assert not (tmp_path / "docker-args").exists()
