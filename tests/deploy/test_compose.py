"""Static checks of the deployment files in deploy/ (compose stack, Dockerfile, observability configs).

The stack is resolved with the official Compose binary (`docker compose config`, see stack.py) and
the resolved model is checked for properties: what the API container receives, pinned images,
published ports, passwords, healthchecks and dependencies. Scripts and configs that can run here
(the containers' start wrappers, Mosquitto, the Grafana database role and dashboard SQL) are run
by test_stack_runtime.py.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from luna_iems.ops.preflight import PORT_ENV_VARS
from luna_iems.settings import Settings
from tests.deploy.stack import (
    API_DASHBOARD,
    DOCKERFILE,
    DOCKERIGNORE,
    ENERGY_DASHBOARD,
    GRAFANA_DASHBOARD_PROVIDERS,
    GRAFANA_DASHBOARDS,
    GRAFANA_DATASOURCES,
    LOKI_CONFIG,
    MAKEFILE,
    PROMETHEUS_CONFIG,
    PROMTAIL_CONFIG,
    PYPROJECT,
    REPO,
    api_env_files,
    container_text,
    dashboard_panels,
    env_file_with,
    load_yaml,
    read_env_file,
    resolved_config,
    run_compose,
    strings,
)

CORE_SERVICES = frozenset({"api", "postgres", "qdrant", "tika", "ollama", "ollama-init", "mosquitto"})
PROFILE_SERVICES: dict[str, frozenset[str]] = {
    "observability": frozenset({"prometheus", "grafana", "grafana-db-init", "loki", "promtail"}),
    "minio": frozenset({"minio"}),
}
ALL_SERVICES = CORE_SERVICES.union(*PROFILE_SERVICES.values())
# Run to completion once per `up` (restart "no", no healthcheck, no port).
ONE_SHOT = frozenset({"ollama-init", "grafana-db-init"})

# The host-port variables agreed for the stack; each must be listed in .env.example.
PORT_VARIABLES = frozenset(
    {
        "API_PORT",
        "POSTGRES_PORT",
        "QDRANT_HTTP_PORT",
        "QDRANT_GRPC_PORT",
        "MINIO_API_PORT",
        "MINIO_CONSOLE_PORT",
        "OLLAMA_PORT",
        "TIKA_PORT",
        "MQTT_PORT",
        "GRAFANA_PORT",
        "LOKI_PORT",
        "PROMETHEUS_PORT",
    }
)
MUST_HAVE_LIMITS = frozenset({"api", "postgres", "qdrant", "ollama", "mosquitto"})
API_METRICS = (
    "luna_http_requests_total",
    "luna_http_request_duration_seconds_bucket",
    "luna_build_info",
    "luna_job_duration_seconds_count",
    "luna_job_failures_total",
)
# Settings the stack sets for the API container instead of taking them from .env: addresses inside
# the stack's network and the container's own layout. Values as resolved from .env.example.
API_OVERRIDES = {
    "API_HOST": "0.0.0.0",
    "API_PORT": "8001",
    "DATA_DIR": "/app/var",
    "DATABASE_URL": "postgresql://luna:luna@postgres:5432/luna",
    "QDRANT_URL": "http://qdrant:6333",
    "OLLAMA_URL": "http://ollama:11434",
    "TIKA_URL": "http://tika:9998",
    "MQTT_URL": "mqtt://luna:luna@mosquitto:1883",
}
# Every password-like variable of the stack: compose gives none of them a default.
SECRET_VARIABLES = frozenset(
    {"POSTGRES_PASSWORD", "MQTT_BROKER_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "GRAFANA_DB_PASSWORD"}
    | {"S3_ACCESS_KEY", "S3_SECRET_KEY", "LUNA_ADMIN_KEY", "QDRANT_API_KEY", "OPENAI_API_KEY"}
)

PORT_ENTRY = re.compile(
    r"^(?P<host>127\.0\.0\.1|\$\{API_HOST:-127\.0\.0\.1\}):"
    r"\$\{(?P<name>[A-Z][A-Z0-9_]*):-(?P<default>[0-9]+)\}:(?P<target>[0-9]+)(?:/tcp|/udp)?$"
)
# An explicit version: a digit in the tag, and not a floating `latest*` tag.
PINNED_TAG = re.compile(r"^(?!latest)[A-Za-z0-9_.-]*[0-9][A-Za-z0-9_.-]*$")


def _project_version() -> str:
    version: str = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]
    return version


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


def test_makefile_profiles_are_the_compose_profiles(raw_compose: dict[str, Any]) -> None:
    """`make up` turns on a profile per ENABLE_* flag of .env: one flag per profile, each a setting."""
    profiles = {p for service in raw_compose["services"].values() for p in service.get("profiles", [])}
    assert profiles == set(PROFILE_SERVICES)
    match = re.search(r"^PROFILES :=(?:.*\\\n)*.*$", MAKEFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert match is not None, "no PROFILES line in the Makefile"
    line = match[0]
    flags = dict(re.findall(r"\$\(filter true,\$\((ENABLE_[A-Z_]+)\)\),--profile ([a-z-]+)\)", line))
    assert set(flags.values()) == profiles, line
    for flag in flags:
        assert flag.lower() in Settings.model_fields, f"{flag} is not a setting"
    assert {name for name in Settings.model_fields if name.startswith("enable_")} - {"enable_scheduler"} == {
        flag.lower() for flag in flags
    }


# --- 2. the API container receives every setting -------------------------------------------------


def test_api_reads_the_project_env_file(raw_compose: dict[str, Any]) -> None:
    """env_file: .env.example (always there: the defaults) under the project's .env (optional, wins)."""
    entries = raw_compose["services"]["api"]["env_file"]
    assert entries == [
        {"path": "../.env.example", "required": True},
        {"path": "../.env", "required": False},
    ]


def test_every_setting_reaches_the_api_container(full_config: dict[str, Any]) -> None:
    environment = full_config["services"]["api"]["environment"]
    from_files = api_env_files()
    problems = []
    for field in Settings.model_fields:
        name = field.upper()
        if name not in environment:
            problems.append(f"{name}: not in the API container's environment")
        elif name in API_OVERRIDES:
            if environment[name] != API_OVERRIDES[name]:
                problems.append(
                    f"{name}: {environment[name]!r}, expected the override {API_OVERRIDES[name]!r}"
                )
        elif name not in from_files:
            problems.append(f"{name}: not in .env.example")
        elif environment[name] != from_files[name]:
            problems.append(
                f"{name}: {environment[name]!r} in the container, {from_files[name]!r} in the env file"
            )
    assert not problems, "\n".join(problems)
    assert set(API_OVERRIDES) <= {field.upper() for field in Settings.model_fields}


def test_api_environment_selects_the_stack_backends(
    full_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The container's environment, read by the real Settings, gives the in-network backends."""
    for field in Settings.model_fields:
        monkeypatch.delenv(field.upper(), raising=False)
    for name, value in full_config["services"]["api"]["environment"].items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.resolved_database_url == "postgresql+psycopg://luna:luna@postgres:5432/luna"
    assert settings.qdrant_url == "http://qdrant:6333"
    assert settings.ollama_url == "http://ollama:11434"
    assert settings.tika_url == "http://tika:9998"
    assert settings.mqtt_url == "mqtt://luna:luna@mosquitto:1883"
    assert settings.data_dir == Path("/app/var")
    assert settings.environment == read_env_file(REPO / ".env.example")["ENVIRONMENT"]


def test_api_urls_use_the_services_credentials(full_config: dict[str, Any]) -> None:
    services = full_config["services"]
    api = services["api"]["environment"]
    postgres = services["postgres"]["environment"]
    assert api["DATABASE_URL"] == (
        f"postgresql://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{postgres['POSTGRES_DB']}"
    )
    mosquitto = services["mosquitto"]["environment"]
    assert api["MQTT_URL"] == (
        f"mqtt://{mosquitto['MQTT_BROKER_USER']}:{mosquitto['MQTT_BROKER_PASSWORD']}@mosquitto:1883"
    )
    # The models the init step pulls are the ones the API is configured with.
    init = services["ollama-init"]["environment"]
    for name in ("OLLAMA_EMBED_MODEL", "OLLAMA_CHAT_MODEL", "EMBEDDING_BACKEND", "GENERATOR_BACKEND"):
        assert init[name] == api[name], name
    assert init["OLLAMA_HOST"] == api["OLLAMA_URL"]


def test_api_build_volumes_and_image(full_config: dict[str, Any]) -> None:
    api = full_config["services"]["api"]
    assert Path(api["build"]["context"]) == REPO
    assert (REPO / api["build"]["dockerfile"]) == DOCKERFILE
    assert api["image"].endswith(f"-api:{_project_version()}")
    volumes = {v["target"]: v for v in api["volumes"]}
    assert volumes["/app/var"]["type"] == "volume"
    # SIM_CONFIG_PATH=config/sim.yml is relative to the image's working directory /app.
    assert volumes["/app/config"]["read_only"] and Path(volumes["/app/config"]["source"]) == REPO / "config"


# --- 3. images ----------------------------------------------------------------------------------


def test_every_image_is_pinned_to_a_version(full_config: dict[str, Any]) -> None:
    problems = []
    for name, service in full_config["services"].items():
        image = service.get("image")
        if not image:
            problems.append(f"{name}: no image")
            continue
        reference = image.split("@", 1)[0]
        repository, _, tag = reference.rpartition(":")
        if not repository or "/" in tag or not PINNED_TAG.match(tag):
            problems.append(f"{name}: {image!r} is not pinned to a version tag")
    assert not problems, "\n".join(problems)


# --- 4. published ports -------------------------------------------------------------------------


def test_published_ports_come_from_env_example_variables(
    raw_compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    used: dict[str, str] = {}
    problems: list[str] = []
    for service_name, service in raw_compose["services"].items():
        for entry in service.get("ports", []):
            match = PORT_ENTRY.match(entry) if isinstance(entry, str) else None
            if match is None:
                problems.append(f'{service_name}: {entry!r} is not "127.0.0.1:${{NAME:-default}}:container"')
                continue
            if match["host"] != "127.0.0.1" and service_name != "api":
                problems.append(f"{service_name}: only the API's host address comes from API_HOST")
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
    for service in raw_compose["services"].values():
        for entry in service.get("ports", []):
            match = PORT_ENTRY.match(entry)
            assert match is not None, entry
            field = Settings.model_fields[match["name"].lower()]
            assert field.default == int(match["default"]), (match["name"], field.default)


@pytest.mark.parametrize(
    "profiles", [[], ["minio"], ["observability"], ["minio", "observability"]], ids="+".join
)
def test_preflight_checks_exactly_the_published_ports(
    compose_bin: Path, compose_home: Path, profiles: list[str]
) -> None:
    config = resolved_config(compose_bin, compose_home, profiles)
    published = sorted(
        int(port["published"]) for service in config["services"].values() for port in service.get("ports", [])
    )
    settings = Settings(
        _env_file=None,
        enable_minio="minio" in profiles,
        enable_observability="observability" in profiles,
    )
    assert sorted(settings.published_ports().values()) == published
    assert set(settings.published_ports()) <= set(PORT_ENV_VARS)
    for service, variable in PORT_ENV_VARS.items():
        assert variable in PORT_VARIABLES, service


def test_only_the_api_is_published_beyond_this_host(full_config: dict[str, Any]) -> None:
    problems = []
    for name, service in full_config["services"].items():
        for port in service.get("ports", []):
            expected = "127.0.0.1"  # API_HOST of .env.example, and every internal service
            if port.get("host_ip") != expected:
                problems.append(f"{name}: port {port['published']} published on {port.get('host_ip')!r}")
    assert not problems, "\n".join(problems)


def test_api_host_decides_where_the_api_is_published(
    compose_bin: Path, compose_home: Path, tmp_path: Path
) -> None:
    env_file = env_file_with(tmp_path, API_HOST="0.0.0.0", API_PORT="18001")
    config = resolved_config(compose_bin, compose_home, ["*"], env_file=env_file)
    hosts = {
        (name, port["host_ip"])
        for name, service in config["services"].items()
        for port in service.get("ports", [])
    }
    assert ("api", "0.0.0.0") in hosts
    assert {host for name, host in hosts if name != "api"} == {"127.0.0.1"}
    (api_port,) = config["services"]["api"]["ports"]
    assert (api_port["published"], api_port["target"]) == ("18001", 8001)
    # Inside the container the API always listens on all its interfaces at 8001.
    assert config["services"]["api"]["environment"]["API_HOST"] == "0.0.0.0"
    assert config["services"]["api"]["environment"]["API_PORT"] == "8001"


# --- 5. passwords -------------------------------------------------------------------------------


def test_compose_has_no_default_passwords(raw_compose: dict[str, Any]) -> None:
    defaulted = re.compile(r"\$\{(?P<name>[A-Z0-9_]+):?-(?P<default>[^}]*)\}")
    offending = [
        f"{match['name']} defaults to {match['default']!r}"
        for text in strings(raw_compose)
        for match in defaulted.finditer(text)
        if match["name"] in SECRET_VARIABLES and match["default"]
    ]
    assert not offending, offending


def test_unset_passwords_stay_empty(compose_bin: Path, compose_home: Path, tmp_path: Path) -> None:
    """An .env without passwords gives the containers empty ones (and they refuse to start, see
    test_stack_runtime.py), never a default."""
    missing = {name: None for name in SECRET_VARIABLES}
    env_file = env_file_with(tmp_path, **missing)
    services = resolved_config(compose_bin, compose_home, ["*"], env_file=env_file)["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == ""
    assert services["mosquitto"]["environment"]["MQTT_BROKER_PASSWORD"] == ""
    assert services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == ""
    assert services["grafana"]["environment"]["GRAFANA_DB_PASSWORD"] == ""
    assert services["grafana-db-init"]["environment"]["GRAFANA_DB_PASSWORD"] == ""
    assert services["minio"]["environment"]["MINIO_ROOT_PASSWORD"] == ""
    assert services["api"]["environment"]["DATABASE_URL"] == "postgresql://luna:@postgres:5432/luna"


def test_no_required_variable_syntax(raw_compose: dict[str, Any]) -> None:
    # `${VAR:?err}` / `${VAR?err}` are evaluated even for services whose profile is off.
    required = re.compile(r"\$\{[A-Za-z0-9_]+:?\?")
    offending = [text for text in strings(raw_compose) if required.search(text)]
    assert not offending, offending


# --- 6. healthchecks, network, restart policy, dependency conditions ----------------------------


def test_every_service_has_healthcheck_network_and_restart(full_config: dict[str, Any]) -> None:
    problems: list[str] = []
    for name, service in full_config["services"].items():
        networks = sorted(service.get("networks") or {})
        if networks != ["luna-net"]:
            problems.append(f"{name}: networks {networks}, expected only luna-net")
        for volume in service.get("volumes", []):
            # Named volumes only for state (binds are read-only configs and the Docker socket).
            if volume["type"] == "bind" and not volume.get("read_only"):
                problems.append(f"{name}: writable bind mount {volume['source']}")
        if name in ONE_SHOT:
            if service.get("restart") != "no":
                problems.append(f"{name}: a one-shot step must not restart ({service.get('restart')!r})")
            if service.get("ports"):
                problems.append(f"{name}: a one-shot step publishes ports")
            continue
        healthcheck = service.get("healthcheck") or {}
        test = healthcheck.get("test") or []
        if healthcheck.get("disable") or not test or test == ["NONE"]:
            problems.append(f"{name}: no healthcheck")
        if service.get("restart") != "unless-stopped":
            problems.append(f"{name}: restart {service.get('restart')!r}")
    assert not problems, "\n".join(problems)


def test_dependencies_wait_for_health_or_completion(full_config: dict[str, Any]) -> None:
    services = full_config["services"]
    api_deps = services["api"]["depends_on"]
    for dependency in ("postgres", "qdrant", "tika", "mosquitto"):
        assert api_deps[dependency] == {"condition": "service_healthy", "required": True}, dependency
    # The API starts only once its models are on the Ollama server.
    assert api_deps["ollama-init"] == {"condition": "service_completed_successfully", "required": True}
    assert services["ollama-init"]["depends_on"]["ollama"]["condition"] == "service_healthy"
    # MinIO only exists with its profile.
    assert api_deps["minio"] == {"condition": "service_healthy", "required": False}
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            assert spec["condition"] == expected, f"{name} -> {dependency}"


def test_bind_mounted_configs_exist(full_config: dict[str, Any]) -> None:
    # compose config does not check bind sources (the engine would create empty directories).
    for name, service in full_config["services"].items():
        for volume in service.get("volumes", []):
            source = Path(volume["source"])
            if volume["type"] == "bind" and source.is_relative_to(REPO):
                assert source.exists(), f"{name}: {source} does not exist"


def test_ollama_init_runs_the_pull_script(full_config: dict[str, Any]) -> None:
    init = full_config["services"]["ollama-init"]
    assert init["image"] == full_config["services"]["ollama"]["image"]  # the same CLI as the server
    mounts = {v["target"]: Path(v["source"]) for v in init["volumes"]}
    (script,) = [arg for arg in init["entrypoint"] if arg.endswith(".sh")]
    assert mounts[script] == REPO / "deploy" / "ollama" / "pull-models.sh"


def test_mosquitto_uses_the_repository_config(full_config: dict[str, Any]) -> None:
    mosquitto = full_config["services"]["mosquitto"]
    mounts = {v["target"]: Path(v["source"]) for v in mosquitto["volumes"] if v["type"] == "bind"}
    assert mounts["/mosquitto/config/mosquitto.conf"] == REPO / "deploy" / "mosquitto" / "mosquitto.conf"
    (script,) = [arg for arg in mosquitto["command"] if arg.endswith(".sh")]
    assert mounts[script] == REPO / "deploy" / "mosquitto" / "start.sh"
    data = [v for v in mosquitto["volumes"] if v["target"] == "/mosquitto/data"]
    assert data and data[0]["type"] == "volume"  # the password file and persistence


# --- 7. resource limits -------------------------------------------------------------------------


@pytest.mark.parametrize("service_name", sorted(MUST_HAVE_LIMITS))
def test_resource_limits(full_config: dict[str, Any], service_name: str) -> None:
    limits = full_config["services"][service_name].get("deploy", {}).get("resources", {}).get("limits", {})
    assert int(limits.get("memory", 0)) > 0, f"{service_name}: no memory limit"
    assert float(limits.get("cpus", 0)) > 0, f"{service_name}: no cpu limit"


# --- 8. observability configs and the Grafana dashboards ------------------------------------------


def test_grafana_api_dashboard_uses_api_metrics() -> None:
    dashboard = json.loads(API_DASHBOARD.read_text(encoding="utf-8"))
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


def test_grafana_energy_dashboard_covers_readings_prices_soc_and_kpis() -> None:
    dashboard = json.loads(ENERGY_DASHBOARD.read_text(encoding="utf-8"))
    panels = list(dashboard_panels(dashboard["panels"]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    sql = "\n".join(t["rawSql"] for panel in panels for t in panel.get("targets", []))
    for table in ("smart_meter_readings", "market_prices", "battery_states", "reading_rollups"):
        assert f"FROM {table}" in sql, f"no panel reads {table}"
    for column in ("consumption_kw", "price_eur_mwh", "soc_pct", "import_kwh", "export_kwh"):
        assert column in sql, f"no panel shows {column}"
    units = {panel["fieldConfig"]["defaults"].get("unit") for panel in panels}
    assert {"kwatt", "kwatth", "percent", "percentunit"} <= units
    assert any("EUR/MWh" in str(unit) for unit in units)
    titles = " ".join(panel["title"].lower() for panel in panels)
    for word in ("self-consumption", "autarky", "peak", "daily energy"):
        assert word in titles, word


def test_grafana_provisioning_matches_dashboards_and_compose(full_config: dict[str, Any]) -> None:
    datasources = load_yaml(GRAFANA_DATASOURCES)["datasources"]
    by_type = {ds["type"]: ds for ds in datasources}
    assert by_type["prometheus"]["url"] == "http://prometheus:9090"
    assert by_type["loki"]["url"] == "http://loki:3100"
    uids = {ds["uid"] for ds in datasources}

    dashboards = sorted(GRAFANA_DASHBOARDS.glob("*.json"))
    assert {API_DASHBOARD, ENERGY_DASHBOARD} <= set(dashboards)
    for path in dashboards:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        refs = [v.get("datasource") for v in dashboard.get("templating", {}).get("list", [])]
        for panel in dashboard_panels(dashboard["panels"]):
            refs += [panel.get("datasource"), *(t.get("datasource") for t in panel.get("targets", []))]
        for ref in refs:
            if isinstance(ref, dict):
                assert ref["uid"] in uids, f"{path.name} uses unknown datasource {ref}"

    grafana = full_config["services"]["grafana"]
    providers = load_yaml(GRAFANA_DASHBOARD_PROVIDERS)["providers"]
    grafana_mounts = {Path(v["source"]): v["target"] for v in grafana["volumes"]}
    assert grafana_mounts[GRAFANA_DASHBOARDS] == providers[0]["options"]["path"]
    assert grafana_mounts[GRAFANA_DATASOURCES.parents[1]] == "/etc/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{providers[0]['options']['path']}/{ENERGY_DASHBOARD.name}"


def test_grafana_database_datasource_uses_the_read_only_role(full_config: dict[str, Any]) -> None:
    services = full_config["services"]
    grafana_env = services["grafana"]["environment"]
    (database,) = [ds for ds in load_yaml(GRAFANA_DATASOURCES)["datasources"] if "postgres" in ds["type"]]
    assert database["url"] == "postgres:5432"
    # Grafana expands ${NAME} from its environment in provisioning files: each must be set there.
    text = GRAFANA_DATASOURCES.read_text(encoding="utf-8")
    for name in re.findall(r"\$\{([A-Z0-9_]+)\}", text):
        assert name in grafana_env, f"{name} is not in Grafana's environment"
    assert database["jsonData"]["database"] == "${POSTGRES_DB}"
    assert grafana_env["POSTGRES_DB"] == services["postgres"]["environment"]["POSTGRES_DB"]
    assert database["secureJsonData"]["password"] == "${GRAFANA_DB_PASSWORD}"
    assert "password" not in database  # only in secureJsonData
    # The role name is the one grafana-db-init creates, with the same password.
    init = services["grafana-db-init"]
    script = container_text(init["entrypoint"][-1])
    assert f"-v reader={database['user']} " in script
    assert init["environment"]["GRAFANA_DB_PASSWORD"] == grafana_env["GRAFANA_DB_PASSWORD"]
    assert init["environment"]["PGHOST"] == "postgres"
    assert init["environment"]["PGUSER"] == services["postgres"]["environment"]["POSTGRES_USER"]
    assert init["depends_on"]["api"]["condition"] == "service_healthy"  # after the migrations


def test_prometheus_scrapes_api_metrics_with_their_job_labels() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api_jobs = [
        job
        for job in jobs.values()
        if any("api:8001" in group["targets"] for group in job.get("static_configs", []))
    ]
    assert len(api_jobs) == 1
    assert api_jobs[0].get("metrics_path", "/metrics") == "/metrics"
    # luna_job_* metrics carry their own `job` label; without this it would become `exported_job`.
    assert api_jobs[0].get("honor_labels") is True


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
    # s3: the API needs boto3 when S3_ENDPOINT_URL is set (the minio profile).
    project = text.index('pip install ".[postgres,qdrant,embeddings,s3]"')
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
    assert re.search(r"^WORKDIR /app$", text, flags=re.MULTILINE)  # relative paths of .env resolve here
    # The web app: built by Node from the committed lock in its own stage, served by the API (WEB_DIR).
    web = text.split("AS web", 1)[1].split("AS build", 1)[0]
    assert "npm ci" in web and "npm run build" in web and "package-lock.json" in web
    runtime = text.split("AS runtime", 1)[1]
    assert "COPY --from=web /web/dist /app/web" in runtime and "WEB_DIR=/app/web" in runtime

    ignored = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    assert {".venv", "var", ".git", ".pytest_cache", ".mypy_cache", "benchmarks/results", ".env"} <= ignored
    assert {"frontend/node_modules", "frontend/dist"} <= ignored  # the image builds its own


def test_api_image_can_back_up_its_database(raw_compose: dict[str, Any]) -> None:
    """`luna backup` on PostgreSQL runs pg_dump: the runtime image must carry a client of the server's
    major version (the stack's TimescaleDB image is PostgreSQL 15)."""
    runtime = DOCKERFILE.read_text().split("AS runtime", 1)[1]
    assert "postgresql-client-15" in runtime
    image: str = raw_compose["services"]["postgres"]["image"]
    assert "timescaledb" in image and "pg15" in image
