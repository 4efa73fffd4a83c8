"""POST /learn/export on SQLite and PostgreSQL: refused while the privacy flag is off, the file's schema
and signature, no raw events / ids / document text in it, the ε budget per month (overlapping
periods included) and the bandit ledger, failures that spend nothing, the send to LEARN_EXPORT_URL
(a loopback HTTP server stands in for the receiver: a wire-protocol double), the audit rows."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from luna_iems.admin.models import AuditLog, PrivacyConfig
from luna_iems.main import create_app
from luna_iems.telemetry.export import signing
from tests.conftest import make_settings
from tests.telemetry.events_support import ADMIN, session_of
from tests.telemetry.export_support import NOVEMBER, export, read_export, seed, set_privacy

ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path, database_url: str) -> Iterator[ClientFactory]:
    """The real app on the parametrised database with LEARN_* overrides."""
    with ExitStack() as stack:

        def make(**overrides: Any) -> TestClient:
            settings = make_settings(tmp_path, database_url=database_url, **overrides)
            return stack.enter_context(TestClient(create_app(settings)))

        yield make


def ledgers(client: TestClient) -> dict[str, float]:
    response = client.get("/learn/budget", headers=ADMIN)
    assert response.status_code == 200, response.text
    return {row["ledger"]: row["epsilon_spent"] for row in response.json()["ledgers"]}


def audit_rows(client: TestClient, method: str) -> list[AuditLog]:
    with session_of(client) as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.method == method)))


def test_export_is_refused_while_the_privacy_flag_is_off(make_client: ClientFactory, tmp_path: Path) -> None:
    client = make_client()
    seed(client)
    body = export(client, expect=409)
    assert "privacy flag is off" in body["error"]["message"]
    assert "PUT /admin/privacy" in body["error"]["message"]
    assert body["error"]["details"]["setting"] == "flag_send_aggregates"
    assert ledgers(client) == {}
    assert not (tmp_path / "var" / "learn" / "exports").exists()
    set_privacy(client, True)
    export(client)
    set_privacy(client, False)
    export(client, expect=409)


def test_export_file_schema_and_signature(make_client: ClientFactory) -> None:
    client = make_client()
    seed(client)
    set_privacy(client, True)
    result = export(client)
    path = Path(result["file"])
    assert path.parent == Path(client.app.state.container.settings.resolved_learn_export_dir)  # type: ignore[attr-defined]
    assert result["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    document = read_export(result)
    assert set(document) == {
        "schema",
        "instance_fingerprint",
        "period",
        "metrics",
        "bandit",
        "signature",
        "public_key",
    }
    assert document["schema"] == 1
    assert document["period"] == NOVEMBER
    metrics = document["metrics"]
    assert set(metrics) == {"events", "ctr", "dwell", "rewards", "noise"}
    assert set(metrics["events"]["document"]) == {"view", "click", "like", "dismiss", "solve", "dwell"}
    assert set(metrics["dwell"]["document"]) == {"count", "sum_s", "mean_s"}
    assert metrics["noise"]["library"] == "opendp" and metrics["noise"]["mechanism"] == "laplace"
    bandit = document["bandit"]
    assert {"policy", "features", "arms", "A", "b", "theta", "n", "reward_sum", "noise"} <= set(bandit)
    d = len(bandit["features"])
    assert all(len(bandit["A"][arm]) == d and len(bandit["b"][arm]) == d for arm in bandit["arms"])

    verified = signing.verify(document)
    key = client.get("/learn/public-key", headers=ADMIN).json()
    assert verified.public_key == key["public_key"] == document["public_key"]
    assert verified.key_fingerprint == key["fingerprint"] == result["key_fingerprint"]
    assert verified.digest_sha256 == result["digest_sha256"]
    key_file = signing.key_path(client.app.state.container.settings.data_dir)  # type: ignore[attr-defined]
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600

    # The fingerprint is a salted hash, not the instance's raw random id.
    with session_of(client) as session:
        raw = session.scalars(select(PrivacyConfig)).one().instance_fingerprint
    assert raw not in json.dumps(document)
    assert (
        document["instance_fingerprint"]
        == hashlib.sha256(b"luna-iems/learn-export/v1\x00" + raw.encode()).hexdigest()
    )

    rows = audit_rows(client, "EXPORT")
    assert len(rows) == 1 and result["digest_sha256"] in rows[0].path and rows[0].status == 200


def test_export_contains_no_raw_events_ids_or_document_text(make_client: ClientFactory) -> None:
    client = make_client()
    seeded = seed(client)
    set_privacy(client, True)
    result = export(client)
    text = Path(result["file"]).read_text(encoding="utf-8")
    secrets = seeded.secrets()
    assert len(secrets) > 70  # every event, user, item, chunk text, page and recommendation
    leaked = [s for s in secrets if s in text]
    assert leaked == []
    # Only the fixed vocabulary appears as keys: item kinds, event types, arm ids, feature names.
    document = read_export(result)
    assert set(document["metrics"]["events"]) == {
        "document",
        "recommendation",
        "rule",
        "alert",
        "playbook_step",
        "answer",
    }

    # No per-event list anywhere: every list in the file is a vector or matrix row of numbers/names.
    def lists(value: Any) -> Iterator[list[Any]]:
        if isinstance(value, dict):
            for v in value.values():
                yield from lists(v)
        elif isinstance(value, list):
            yield value
            for v in value:
                yield from lists(v)

    for found in lists(document):
        assert len(found) <= 20


def test_budget_is_tracked_per_month_and_refused_when_spent(make_client: ClientFactory) -> None:
    client = make_client(learn_epsilon=1.0, learn_epsilon_budget=2.0)
    seed(client)
    set_privacy(client, True)
    first = export(client, include_bandit=False)
    assert first["ledgers"] == [{"ledger": "2026-11", "epsilon_spent": 1.0, "epsilon_remaining": 1.0}]
    export(client, include_bandit=False, **{"from": "2026-11-20T00:00:00+00:00"})
    assert ledgers(client) == {"2026-11": 2.0}
    files_before = sorted(Path(first["file"]).parent.iterdir())

    # A period that overlaps November (and touches October) cannot escape November's ledger, and the
    # refusal charges October nothing either (all ledgers or none).
    refused = export(
        client,
        expect=409,
        include_bandit=False,
        **{"from": "2026-10-15T00:00:00+00:00", "to": "2026-11-15T00:00:00+00:00"},
    )
    error = refused["error"]
    assert "2026-11" in error["message"] and "2 of 2 used, 0 left" in error["message"]
    assert error["details"] == {
        "ledger": "2026-11",
        "epsilon_spent": 2.0,
        "epsilon_remaining": 0.0,
        "epsilon_requested": 1.0,
        "epsilon_budget": 2.0,
    }
    assert ledgers(client) == {"2026-11": 2.0, "2026-10": 0.0}
    assert sorted(Path(first["file"]).parent.iterdir()) == files_before

    # October alone still has its budget; the bandit ledger is charged half of ε per export.
    october = {"from": "2026-10-01T00:00:00+00:00", "to": "2026-11-01T00:00:00+00:00"}
    export(client, **october)
    assert ledgers(client) == {"2026-10": 0.5, "2026-11": 2.0, "bandit": 0.5}
    for _ in range(3):
        export(client, **october)
    refused = export(client, expect=409, **october)
    assert refused["error"]["details"]["ledger"] == "2026-10"
    assert ledgers(client) == {"2026-10": 2.0, "2026-11": 2.0, "bandit": 2.0}


def test_the_bandit_ledger_refusal_names_the_way_out(make_client: ClientFactory) -> None:
    client = make_client(learn_epsilon=2.0, learn_epsilon_budget=1.0)
    seed(client, rewards=2)
    set_privacy(client, True)
    export(client, **{"from": "2026-01-01T00:00:00+00:00", "to": "2026-02-01T00:00:00+00:00"})
    refused = export(
        client, expect=409, **{"from": "2026-03-01T00:00:00+00:00", "to": "2026-04-01T00:00:00+00:00"}
    )
    assert refused["error"]["details"]["ledger"] == "bandit"
    assert "include_bandit false" in refused["error"]["message"]


def test_an_empty_or_too_long_period_is_422(make_client: ClientFactory) -> None:
    client = make_client()
    set_privacy(client, True)
    body = export(client, expect=422, **{"from": NOVEMBER["to"], "to": NOVEMBER["from"]})
    assert body["error"]["details"]["field"] == "to"
    body = export(client, expect=422, **{"from": "2024-01-01T00:00:00+00:00"})
    assert "366 days" in body["error"]["message"]
    assert ledgers(client) == {}


def test_a_failed_write_spends_nothing_and_leaves_nothing(make_client: ClientFactory, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the export directory should be")
    client = make_client(learn_export_dir=blocked / "exports")
    seed(client, rewards=2)
    set_privacy(client, True)
    body = export(client, expect=503)
    assert body["error"]["details"] == {"component": "learn_export_dir"}
    assert "nothing was spent" in body["error"]["message"]
    assert ledgers(client) == {"2026-11": 0.0, "bandit": 0.0}  # rows exist, nothing charged
    assert audit_rows(client, "EXPORT") == []


class Receiver:
    """A loopback HTTP server standing in for LEARN_EXPORT_URL: records each request's headers and
    body, answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.requests.append((dict(self.headers.items()), self.rfile.read(length)))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/ingest/aggregates"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def test_send_posts_the_signed_file_with_the_token(make_client: ClientFactory) -> None:
    """The receiver is a loopback HTTP server (wire-protocol double)."""
    with Receiver() as receiver:
        client = make_client(learn_export_url=receiver.url, learn_export_token="s3cret-token")
        seed(client, rewards=2)
        set_privacy(client, True)
        result = export(client, send=True)
        assert result["sent"] is True
        assert len(receiver.requests) == 1
        headers, body = receiver.requests[0]
        assert headers["Authorization"] == "Bearer s3cret-token"
        assert headers["Content-Type"] == "application/json"
        assert body == Path(result["file"]).read_bytes()
        assert signing.verify(json.loads(body)).digest_sha256 == result["digest_sha256"]
        rows = audit_rows(client, "EXPORT")
        assert len(rows) == 1 and "send=ok" in rows[0].path
        assert "s3cret-token" not in rows[0].path


def test_a_failed_send_is_502_the_file_stays_and_the_budget_is_spent(make_client: ClientFactory) -> None:
    """The receiver is a loopback HTTP server (wire-protocol double) that answers 500."""
    with Receiver(status=500) as receiver:
        client = make_client(learn_export_url=receiver.url, learn_export_token="s3cret-token")
        seed(client, rewards=2)
        set_privacy(client, True)
        body = export(client, expect=502, send=True)
        assert "HTTP 500" in body["error"]["message"] and "send the file again" in body["error"]["message"]
        assert "s3cret-token" not in json.dumps(body)
        assert len(receiver.requests) == 1
    exports_dir = Path(client.app.state.container.settings.resolved_learn_export_dir)  # type: ignore[attr-defined]
    files = [p for p in exports_dir.iterdir() if p.suffix == ".json"]
    assert len(files) == 1 and not any(p.name.startswith(".tmp-") for p in exports_dir.iterdir())
    signing.verify(json.loads(files[0].read_bytes()))
    assert ledgers(client) == {"2026-11": 0.5, "bandit": 0.5}
    rows = audit_rows(client, "EXPORT")
    assert len(rows) == 1 and rows[0].status == 502 and "send=failed" in rows[0].path


def test_send_without_a_url_is_502_and_names_the_setting(make_client: ClientFactory) -> None:
    client = make_client()
    set_privacy(client, True)
    body = export(client, expect=502, send=True)
    assert body["error"]["details"] == {"setting": "LEARN_EXPORT_URL"}
