"""`luna serve` as `make run` starts it: a real uvicorn process on a free port.

The first start prints the docs URL and an admin key once; a restart prints no key; logs are JSON.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[str]:
    port = _free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "DATABASE_", "LUNA_"))}
    full_env |= {**env, "API_PORT": str(port)}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "luna_iems", "serve"], stdout=out, stderr=subprocess.STDOUT, env=full_env
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            yield base
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_first_start_prints_docs_and_key_once(
    kind: str, fresh_database_url: Callable[[str], str], tmp_path: Path
) -> None:
    env = {"DATA_DIR": str(tmp_path / "var"), "DATABASE_URL": fresh_database_url(kind)}
    first_log = tmp_path / "first.log"
    with serving(env, first_log) as base:
        text = first_log.read_text()
        assert f"API docs:   http://localhost:{base.rsplit(':', 1)[1]}/docs" in text
        match = re.search(r"^\s+(luna_\w{8}_\w{40})$", text, re.MULTILINE)
        assert match, text
        token = match.group(1)
        assert httpx.get(f"{base}/health/ready", timeout=10).status_code == 200
        summary = httpx.get(f"{base}/status/summary", headers={"X-API-Key": token}, timeout=10)
        assert summary.status_code == 200 and summary.json()["database"]["kind"] == kind
        assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
        # Something useful at once: four simulated weeks of meters and prices, example rules ...
        assert "Demo data: 4 simulated meters" in text and "5 example rules" in text
        counts = summary.json()["database"]["row_counts"]
        assert counts["meters"] == 4 and counts["smart_meter_readings"] == 4 * 28 * 96
        assert counts["market_prices"] > 28 * 96 and counts["rules"] == 5
        assert counts["battery_states"] == 28 * 96 and "a simulated home battery" in text
        # ... enough history for the learned forecast.
        body = {"meter_id": "sim-commercial-001", "target": "load", "horizon_h": 24}
        forecast = httpx.post(f"{base}/forecast", json=body, headers={"X-API-Key": token}, timeout=60)
        assert forecast.status_code == 200 and forecast.json()["model"] == "gbm", forecast.text
        # ... and sample documents, indexed in the background, that Luna answers from.
        assert "sample documents are being indexed" in text
        headers = {"X-API-Key": token}
        deadline = time.monotonic() + 120
        while httpx.get(f"{base}/documents", headers=headers, timeout=10).json()["total"] < 4:
            assert time.monotonic() < deadline, first_log.read_text()[-3000:]
            time.sleep(0.5)
        question = {"question": "What is the peak-shaving limit at the Lunaburg depot?"}
        answer = httpx.post(f"{base}/rag/ask", json=question, headers=headers, timeout=60).json()
        assert "380 kW" in answer["answer"] and answer["citations"]
    text = first_log.read_text()
    assert text.count(token) == 2  # the key line and the curl hint, nowhere else (not in logs)
    access = [json.loads(line) for line in text.splitlines() if line.startswith("{") and '"request"' in line]
    assert any(r["path"] == "/status/summary" and r["status"] == 200 and r["request_id"] for r in access)

    second_log = tmp_path / "second.log"
    with serving(env | {"EMBEDDING_WARMUP": "false"}, second_log) as base:
        assert (
            httpx.get(f"{base}/status/summary", headers={"X-API-Key": token}, timeout=10).status_code == 200
        )
    assert "shown ONCE" not in second_log.read_text()
    assert "demo data" not in second_log.read_text().lower()  # seeded once, never mixed into existing data
