"""Schemathesis over the whole OpenAPI document against a real `luna serve` (issue 9, "Fuzzing in CI").

Run it alone with `pytest -m fuzz`. Two passes against one server on a temporary SQLite data dir:

1. contract: every check schemathesis has (status codes, content types, response schemas and headers,
   auth, negative and positive data, Allow headers, use-after-free, resource availability), a few
   hundred cases with a fixed seed, no NUL characters (the API refuses U+0000 in every string with
   a 422, which JSON Schema cannot say);
2. hostile: NUL characters and all, only "no 5xx" and the documented status codes and shapes.

Exclusions and per-operation settings are below, each with its reason; nothing is left out silently.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(600)]

ADMIN_KEY = "fuzz-admin-key-0123456789abcdef0123"
SEED = 20261205

# Valid data the schema cannot describe: these operations reject some schema-valid requests by design,
# so `positive_data_acceptance` is off for them (every other check stays on).
CROSS_FIELD = (
    "validity depends on fields together (`to` after `from`; exactly one of meter_id/site, of "
    "inputs/stored), which JSON Schema cannot state"
)
CONTENT = "the body must be a real document, telegram, frame, CSV/XML file or rule expression"
STRICT_NUMBERS = (
    "tariff numbers are strict JSON types (an hour is written 10, not 10.0; a price never as text), "
    "which JSON Schema's integer type does not distinguish"
)
CALENDAR = "timestamps must lie in 1970-2200, which the date-time format cannot state"
TIME_ZONE = (
    "a time zone must exist in the IANA database; the document states only the form of a name (listing "
    "the names would tie it to the machine's tzdata)"
)
PRIVACY = (
    "strings that look like e-mail addresses or phone numbers, keys naming personal data, timestamps more "
    "than 5 minutes ahead and dwell's duration rule are refused (issue 13), which JSON Schema cannot state"
)
POSITIVE_DATA_EXEMPT: dict[tuple[str, str], str] = {
    ("POST", "/ingest/telemetry"): PRIVACY,
    ("POST", "/feedback"): PRIVACY,
    ("PUT", "/memory"): PRIVACY,
    ("GET", "/kpis"): CROSS_FIELD,
    ("GET", "/timeseries/readings"): CROSS_FIELD,
    ("GET", "/timeseries/readings/columns"): CROSS_FIELD,
    ("GET", "/tariffs/{site}/prices"): CROSS_FIELD,
    ("PUT", "/tariffs/{site}"): STRICT_NUMBERS,
    ("GET", "/timeseries/battery-states"): CROSS_FIELD,
    ("GET", "/timeseries/prices"): CROSS_FIELD,
    ("POST", "/sim/meter/generate"): CROSS_FIELD,
    ("POST", "/sim/market/generate"): CROSS_FIELD,
    ("POST", "/anomalies/detect"): CROSS_FIELD,
    ("POST", "/rules/evaluate"): CROSS_FIELD,
    ("POST", "/scenarios/whatif"): CROSS_FIELD,
    ("POST", "/forecast"): CROSS_FIELD,
    ("POST", "/forecast/backtest"): CROSS_FIELD,
    ("POST", "/optimize/schedule"): CROSS_FIELD,
    ("POST", "/ingest/doc"): CONTENT,
    ("POST", "/ingest/dsmr"): CONTENT,
    ("POST", "/ingest/sml"): CONTENT,
    ("POST", "/ingest/meter-readings"): CONTENT,
    ("POST", "/ingest/market-prices"): CONTENT,
    ("POST", "/rules"): CONTENT,
    ("POST", "/rules/import"): CONTENT,
    ("PATCH", "/rules/{rule_id}"): CONTENT,
    ("POST", "/ingest/battery-states"): CALENDAR,
    ("POST", "/recommend"): CALENDAR,
    ("POST", "/learn/export"): CROSS_FIELD + "; refused (409) while the privacy flag is off or ε is spent",
    ("POST", "/learn/priors"): "the body must be a signed export file (Ed25519 over its canonical JSON)",
    ("POST", "/meters"): TIME_ZONE,
    ("PATCH", "/meters/{meter_id}"): TIME_ZONE,
}
# Operations that are slow by nature get fewer examples (never none).
FEW_EXAMPLES: dict[tuple[str, str], str] = {
    ("POST", "/forecast/backtest"): "fits up to 60 models per request",
    ("POST", "/scenarios/whatif"): "an optimiser run per variation",
    ("POST", "/optimize/schedule"): "a MILP per request",
    ("POST", "/admin/backups"): "copies the database, vectors and files",
    ("POST", "/sim/meter/generate"): "simulates up to 1,000 meters",
}
# Left out of the run, with the reason.
EXCLUDED: dict[tuple[str, str], str] = {
    ("POST", "/sim/start"): (
        "starts a scheduler job that keeps writing after the request (covered by tests/simulation)"
    ),
    ("GET", "/stream/readings"): (
        "an open event stream that ends only when the client leaves (covered by tests/integrations/stream)"
    ),
}
# Pinned parameters: the fuzzer reads key ids from GET /admin/keys (which lists its own key) and would
# revoke the key it authenticates with; revocation itself is covered by tests/api/test_admin.py.
PINNED: dict[tuple[str, str], dict[str, str]] = {
    ("DELETE", "/admin/keys/{key_id}"): {"key_id": "00000000-0000-4000-8000-000000000000"},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `luna serve` on SQLite, started once for both passes."""
    data = tmp_path_factory.mktemp("fuzz")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "DATABASE_", "LUNA_"))}
    env |= {
        "API_PORT": str(port),
        "DATA_DIR": str(data / "var"),
        "BACKUP_DIR": str(data / "backups"),  # POST /admin/backups is fuzzed too
        "DATABASE_URL": f"sqlite:///{data / 'luna.db'}",
        "LUNA_ADMIN_KEY": ADMIN_KEY,
        "SEED_DEMO_DATA": "false",
        "ENABLE_SCHEDULER": "false",
        "EMBEDDING_WARMUP": "false",
        "LOG_LEVEL": "WARNING",
        "OMP_NUM_THREADS": "1",
    }
    log = (data / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "luna_iems", "serve"], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (data / "server.log").read_text()
            try:
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (data / "server.log").read_text()
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        log.close()


def _operations(settings: dict[tuple[str, str], str], body: str) -> list[str]:
    # `include-name` ("POST /forecast"): separate include-method and include-path filters match either.
    return [f'[[operations]]\ninclude-name = "{method} {path}"\n{body}\n' for method, path in settings]


def _config(*, contract: bool) -> str:
    """schemathesis.toml for one pass (see the module docstring)."""
    checks = (
        [
            "not_a_server_error",
            "status_code_conformance",
            "content_type_conformance",
            "response_schema_conformance",
            "response_headers_conformance",
            "positive_data_acceptance",
            "negative_data_rejection",
            "use_after_free",
            "ensure_resource_availability",
            "missing_required_header",
            "ignored_auth",
            "unsupported_method",
            "allow_header_conformance",
        ]
        if contract
        else ["not_a_server_error", "status_code_conformance", "response_schema_conformance"]
    )
    lines = [
        f"seed = {SEED}",
        "workers = 2",
        "request-timeout = 120",
        f'headers = {{ "X-API-Key" = "{ADMIN_KEY}" }}',
        "[generation]",
        "deterministic = true",
        f"allow-x00 = {'false' if contract else 'true'}",
        f"max-examples = {8 if contract else 10}",
        "[phases]",
        # The hostile pass is random data only: NUL characters, huge numbers, odd unicode.
        *([] if contract else ["examples.enabled = false", "coverage.enabled = false"]),
        f"stateful.enabled = {'true' if contract else 'false'}",
        "[checks]",
        "enabled = false",
        *(f"{check}.enabled = true" for check in checks),
        # A body over a documented size limit is refused with 413: a rejection, as it should be.
        'negative_data_rejection.expected-statuses = ["400", "401", "403", "404", "405", "409", "413", '
        '"415", "422"]',
    ]
    operations = _operations(EXCLUDED, "enabled = false")
    operations += _operations(FEW_EXAMPLES, "generation.max-examples = 3")
    if contract:
        operations += _operations(POSITIVE_DATA_EXEMPT, "checks.positive_data_acceptance.enabled = false")
    operations += [
        f'[[operations]]\ninclude-name = "{method} {path}"\n'
        + "".join(f'parameters."path.{name}" = "{value}"\n' for name, value in values.items())
        for (method, path), values in PINNED.items()
    ]
    return "\n".join([*lines, "", *operations])


def _schemathesis(base: str, config: Path, report: Path) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{base}/openapi.json",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    env = os.environ | {"SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=540, check=False)


@pytest.mark.parametrize("contract", [True, False], ids=["contract", "hostile"])
def test_schemathesis_finds_nothing(server: str, tmp_path: Path, contract: bool) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(contract=contract))
    result = _schemathesis(server, config, tmp_path / "junit.xml")
    summary = result.stdout[-12_000:]
    assert result.returncode == 0, f"{summary}\n{result.stderr[-3000:]}\nconfig:\n{config.read_text()}"
    assert "No issues found" in result.stdout or " passed" in result.stdout, summary
    # The stateful pitfalls stayed away: the fuzzer's own key still works.
    keys = httpx.get(f"{server}/admin/keys", headers={"X-API-Key": ADMIN_KEY}, timeout=30)
    assert keys.status_code == 200, keys.text
