"""`luna preflight`: checks run before `make run` (scope "local") and `make up` (scope "stack").

Pure logic, no CLI framework: the command layer renders the `PreflightReport`.

* every published port (only the API port for "local") must be bindable; a conflict names the service
  and suggests a free port in the fallback range plus the environment variable to set;
* `settings.data_dir` must be creatable and writable;
* for "stack": no running containers may already belong to the same compose project
  (`PROJECT_NAME`); a missing docker binary or unreachable engine only skips that check.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import subprocess
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from luna_iems.settings import Settings

Scope = Literal["local", "stack"]

FALLBACK_PORT_RANGE: tuple[int, int] = (18000, 18999)
"""Inclusive range searched for a replacement when a published port is taken."""

BIND_HOSTS: tuple[str, ...] = ("0.0.0.0", "127.0.0.1")  # noqa: S104 - probing, the socket is closed at once
DOCKER_TIMEOUT_S = 5.0
DOCKER_SKIPPED_MESSAGE = "docker engine not reachable: skipped running-stack check"

PORT_ENV_VARS: dict[str, str] = {
    "api": "API_PORT",
    "postgres": "POSTGRES_PORT",
    "qdrant-http": "QDRANT_HTTP_PORT",
    "qdrant-grpc": "QDRANT_GRPC_PORT",
    "ollama": "OLLAMA_PORT",
    "tika": "TIKA_PORT",
    "mqtt": "MQTT_PORT",
    "minio-api": "MINIO_API_PORT",
    "minio-console": "MINIO_CONSOLE_PORT",
    "grafana": "GRAFANA_PORT",
    "loki": "LOKI_PORT",
    "prometheus": "PROMETHEUS_PORT",
}
"""Environment variable that sets the published port of each compose service."""


@dataclass(frozen=True)
class PreflightCheck:
    name: str
    ok: bool
    message: str


@dataclass(frozen=True)
class PreflightReport:
    checks: list[PreflightCheck]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[PreflightCheck]:
        return [check for check in self.checks if not check.ok]


def port_env_var(service: str) -> str:
    """The environment variable for `service`'s port (derived from the name for unknown services)."""
    return PORT_ENV_VARS.get(service, re.sub(r"[^A-Z0-9]", "_", service.upper()) + "_PORT")


def _bind_error(port: int) -> OSError | None:
    """The error binding a TCP socket to `port` raises on any probe host, or None if it is free."""
    for host in BIND_HOSTS:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                # SO_REUSEADDR as uvicorn sets it: connections of a crashed predecessor left in
                # TIME_WAIT do not block a restart, while a port that another socket listens on (or
                # holds bound without SO_REUSEADDR) still fails here.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
        except OSError as exc:
            return exc
    return None


def is_port_free(port: int) -> bool:
    """True if a TCP socket can bind to `port` on 0.0.0.0 and on 127.0.0.1."""
    return 1 <= port <= 65535 and _bind_error(port) is None


def find_free_port(
    *,
    start: int = FALLBACK_PORT_RANGE[0],
    end: int = FALLBACK_PORT_RANGE[1],
    exclude: Collection[int] = (),
) -> int | None:
    """The first free port in `start..end` (inclusive) not in `exclude`, or None if there is none."""
    excluded = set(exclude)
    for port in range(max(start, 1), min(end, 65535) + 1):
        if port not in excluded and is_port_free(port):
            return port
    return None


def _check_ports(ports: dict[str, int]) -> list[PreflightCheck]:
    checks: list[PreflightCheck] = []
    # Never suggest a port that is configured for another service or already suggested.
    taken: set[int] = set(ports.values())
    claimed: dict[int, str] = {}
    lo, hi = FALLBACK_PORT_RANGE
    for service, port in ports.items():
        name = f"port:{service}"
        if not 1 <= port <= 65535:
            problem = f"port {port} for service '{service}' is not a valid TCP port"
        elif port in claimed:
            problem = f"port {port} for service '{service}' is also configured for service '{claimed[port]}'"
        else:
            claimed[port] = service
            error = _bind_error(port)
            if error is None:
                checks.append(PreflightCheck(name, True, f"port {port} for service '{service}' is free"))
                continue
            if error.errno == errno.EADDRINUSE:
                problem = f"port {port} for service '{service}' is in use"
            else:
                reason = error.strerror or str(error)
                problem = f"port {port} for service '{service}' cannot be bound ({reason})"
        suggestion = find_free_port(start=lo, end=hi, exclude=taken)
        env_var = port_env_var(service)
        if suggestion is None:
            hint = f"set {env_var} to a free port (no free port in {lo}-{hi})"
        else:
            taken.add(suggestion)
            hint = f"set {env_var}={suggestion} (next free port in {lo}-{hi})"
        checks.append(PreflightCheck(name, False, f"{problem}; {hint}"))
    return checks


def _check_data_dir(data_dir: Path) -> PreflightCheck:
    path = data_dir.expanduser().absolute()
    probe = path / f".preflight-{os.getpid()}-{uuid.uuid4().hex}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return PreflightCheck(
            "data_dir", False, f"data directory {path} is not writable ({reason}); fix it or set DATA_DIR"
        )
    return PreflightCheck("data_dir", True, f"data directory {path} is writable")


def compose_project_name(name: str) -> str:
    """`name` as docker compose normalizes it for the `com.docker.compose.project` label."""
    return re.sub(r"^[^a-z0-9]+", "", re.sub(r"[^a-z0-9_-]", "", name.lower()))


def _check_running_stack(project_name: str, docker_bin: str) -> PreflightCheck:
    name = "running_stack"
    project = compose_project_name(project_name)
    executable = shutil.which(docker_bin)
    if executable is None:
        return PreflightCheck(name, True, DOCKER_SKIPPED_MESSAGE)
    command = [
        executable,
        "ps",
        "--filter",
        f"label=com.docker.compose.project={project}",
        "--format",
        "{{.Names}}",
    ]
    try:
        result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
            command, capture_output=True, text=True, timeout=DOCKER_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return PreflightCheck(name, True, DOCKER_SKIPPED_MESSAGE)
    if result.returncode != 0:
        return PreflightCheck(name, True, DOCKER_SKIPPED_MESSAGE)
    containers = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    if containers:
        return PreflightCheck(
            name,
            False,
            f"compose project '{project}' is already running (containers: {', '.join(containers)}); "
            "run `make down` or set a different PROJECT_NAME",
        )
    return PreflightCheck(name, True, f"no running containers for compose project '{project}'")


def run_preflight(
    *, settings: Settings, scope: Scope = "stack", docker_bin: str = "docker"
) -> PreflightReport:
    """Run every check for `scope` and collect the results (never raises for a failed check)."""
    ports = {"api": settings.api_port} if scope == "local" else settings.published_ports()
    checks = _check_ports(ports)
    checks.append(_check_data_dir(settings.data_dir))
    if scope == "stack":
        # For "local" another Luna process on the API port is already caught by the port check.
        checks.append(_check_running_stack(settings.project_name, docker_bin))
    return PreflightReport(checks)
