"""`luna learn` as a user runs it (a real subprocess): `verify` exits 0 for a valid signature and 1 with
one line for a tampered, unsigned or unreadable file; `export` refuses while the privacy flag is off
and otherwise writes a file that `verify` accepts; `public-key` prints the key and its fingerprint."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from luna_iems.admin import service as admin_service
from luna_iems.admin.schemas import PrivacyUpdate
from luna_iems.bootstrap import build_container
from luna_iems.telemetry.export import signing
from tests.cli.test_cli import luna, one_line_error
from tests.conftest import make_settings

PAYLOAD = {
    "schema": 1,
    "instance_fingerprint": "f" * 64,
    "period": {"from": "2026-11-01T00:00:00+00:00", "to": "2026-12-01T00:00:00+00:00"},
    "metrics": {"events": {"document": {"view": 12, "click": 3}}, "ctr": {"document": 0.25}},
    "bandit": None,
}


def write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def test_verify_exit_codes(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    signed = signing.sign(PAYLOAD, key)
    env = {"DATA_DIR": str(tmp_path / "var")}

    ok = luna("learn", "verify", str(write(tmp_path / "ok.json", signed)), env=env)
    assert ok.returncode == 0, ok.stderr
    assert signing.fingerprint(signed["public_key"]) in ok.stdout and "valid" in ok.stdout

    tampered = json.loads(json.dumps(signed))
    tampered["metrics"]["events"]["document"]["view"] = 13
    result = luna("learn", "verify", str(write(tmp_path / "tampered.json", tampered)), env=env)
    assert result.returncode == 1 and "does not verify" in one_line_error(result)

    unsigned = {k: v for k, v in signed.items() if k != "signature"}
    result = luna("learn", "verify", str(write(tmp_path / "unsigned.json", unsigned)), env=env)
    assert result.returncode == 1 and "signature" in one_line_error(result)

    (tmp_path / "garbage.json").write_text("{not json", encoding="utf-8")
    result = luna("learn", "verify", str(tmp_path / "garbage.json"), env=env)
    assert result.returncode == 1 and "not a JSON file" in one_line_error(result)

    result = luna("learn", "verify", str(tmp_path / "missing.json"), env=env)
    assert result.returncode == 1 and "missing.json" in one_line_error(result)


def test_export_then_verify(db_kind: str, fresh_database_url: Callable[[str], str], tmp_path: Path) -> None:
    database_url = fresh_database_url(db_kind)
    env = {"DATA_DIR": str(tmp_path / "var"), "DATABASE_URL": database_url}
    assert luna("db", "upgrade", env=env).returncode == 0
    period = ["--from", "2026-11-01T00:00:00+00:00", "--to", "2026-12-01T00:00:00+00:00"]

    refused = luna("learn", "export", *period, env=env)
    assert refused.returncode == 1 and "privacy flag is off" in one_line_error(refused)

    container = build_container(make_settings(tmp_path, database_url=database_url))
    try:
        with container.session_factory() as session:
            admin_service.update_privacy(session=session, privacy_in=PrivacyUpdate(flag_send_aggregates=True))
    finally:
        container.close()

    made = luna("learn", "export", *period, "--no-bandit", env=env)
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.strip().splitlines()[-1])
    assert path.parent == tmp_path / "var" / "learn" / "exports"
    assert json.loads(path.read_text())["bandit"] is None
    verified = luna("learn", "verify", str(path), env=env)
    assert verified.returncode == 0, verified.stderr

    key = luna("learn", "public-key", env=env)
    assert key.returncode == 0, key.stderr
    public, fingerprint = key.stdout.split()
    assert json.loads(path.read_text())["public_key"] == public
    assert fingerprint in verified.stdout

    bad = luna("learn", "export", "--from", "yesterday", "--to", "2026-12-01T00:00:00+00:00", env=env)
    assert bad.returncode == 1 and "from" in one_line_error(bad)


@pytest.mark.parametrize("args", [["learn"], ["learn", "verify"]])
def test_usage_errors_exit_2(args: list[str], tmp_path: Path) -> None:
    result = luna(*args, env={"DATA_DIR": str(tmp_path / "var")})
    assert result.returncode == 2 and "Traceback" not in result.stderr
