"""Hardening (issue 9): what an abusive or large request costs a real `luna serve` now.

Against one `luna serve` on SQLite (empty: no demo data, no scheduler), one sequential client:

- csv_over_limit: a 49 MB CSV of ~940,000 readings (over the 100,000-row limit) to
  `POST /ingest/meter-readings`: seconds until the 413 and the server's peak-RSS growth (VmHWM). Baseline
  in the same run: an accepted CSV of 100,000 rows (the limit) to the same route. The refusal reads only
  the first 100,001 rows, so it should cost about as much as parsing an accepted batch, not 9x more.
- rule_width: `POST /rules/evaluate` with `{soc_pct:100000000}` in a message (the request that grew the
  server to 16 GB): seconds until the 422 and the RSS growth. Baseline: the same dry run with an allowed
  `{soc_pct:.1f}`.
- document_ingest: a 1 MB plain-text document to `POST /ingest/doc`: seconds until the 202 (the upload
  is queued; the worker extracts, chunks and embeds in the background) against `?wait=true` (the request
  holds a worker until the document is searchable), on separate copies of the text.
"""

from __future__ import annotations

import io
import time
from typing import Any

import httpx

from benchmarks.common import ADMIN_KEY, EMPTY_SERVICE, proc_status_kb, serve_process

CSV_LINE = b"meter-0001,2026-02-02T00:00:00+00:00,1.234,0.5,230.1\n"
CSV_HEADER = b"meter_id,ts,consumption_kw,production_kw,voltage\n"
LIMIT_ROWS = 100_000


def _csv(rows: int) -> bytes:
    # Distinct timestamps keep the accepted batch realistic (no duplicate keys).
    out = io.BytesIO()
    out.write(CSV_HEADER)
    base = 1_767_225_600  # 2026-01-01T00:00:00Z
    for i in range(rows):
        ts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(base + 60 * i))
        out.write(f"meter-0001,{ts},1.234,0.5,230.1\n".encode())
    return out.getvalue()


def _timed(client: httpx.Client, pid: int, method: str, path: str, **kw: Any) -> dict[str, Any]:
    before = proc_status_kb(pid, "VmHWM")
    start = time.perf_counter()
    response = client.request(method, path, **kw)
    seconds = time.perf_counter() - start
    return {
        "status": response.status_code,
        "s": round(seconds, 3),
        "peak_growth_mb": round((proc_status_kb(pid, "VmHWM") - before) / 1024, 1),
    }


COLUMNS = [
    "case",
    "status",
    "s",
    "peak_growth_mb",
    "baseline",
    "baseline_status",
    "baseline_s",
    "baseline_peak_growth_mb",
    "ratio_s",
]


def _row(case: str, measured: dict[str, Any], baseline: str, base: dict[str, Any]) -> dict[str, Any]:
    return {
        "case": case,
        **measured,
        "baseline": baseline,
        "baseline_status": base["status"],
        "baseline_s": base["s"],
        "baseline_peak_growth_mb": base["peak_growth_mb"],
        "ratio_s": f"{measured['s'] / max(base['s'], 1e-6):.3g}",
    }


def _csv_case(client: httpx.Client, pid: int, quick: bool) -> dict[str, Any]:
    client.post("/meters", json={"meter_id": "meter-0001", "site": "bench"}).raise_for_status()
    headers = {"Content-Type": "text/csv"}
    # The refusal first: VmHWM only grows, so the run's first request shows its own peak growth.
    over_rows = 300_000 if quick else 49 * 1024 * 1024 // len(CSV_LINE) - 1
    refused = _timed(client, pid, "POST", "/ingest/meter-readings", content=_csv(over_rows), headers=headers)
    accepted = _timed(
        client, pid, "POST", "/ingest/meter-readings", content=_csv(LIMIT_ROWS), headers=headers
    )
    return _row(f"csv_over_limit ({over_rows:,} rows)", refused, "accepted CSV, 100,000 rows", accepted)


def _rule_case(client: httpx.Client, pid: int) -> dict[str, Any]:
    def body(message: str) -> dict[str, Any]:
        then = {"action": "notify", "message": message}
        rule = {"name": "r", "when": "consumption_kw >= 0", "site": "bench", "then": then}
        return {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "rules": [rule]}

    refused = _timed(client, pid, "POST", "/rules/evaluate", json=body("{consumption_kw:100000000}"))
    allowed = _timed(client, pid, "POST", "/rules/evaluate", json=body("{consumption_kw:40.1f}"))
    return _row("rule_width {consumption_kw:100000000}", refused, "{consumption_kw:40.1f}", allowed)


def _document_case(client: httpx.Client, pid: int, quick: bool) -> dict[str, Any]:
    paragraph = (
        "The battery storage at the municipal depot is charged from the photovoltaic roof when the "
        "day-ahead price is low and discharged during the evening peak to reduce the grid import. "
    )
    size = 200_000 if quick else 1_000_000
    text = (paragraph * (size // len(paragraph) + 1))[:size]

    def upload(name: str, wait: bool) -> dict[str, Any]:
        files = {"file": (f"{name}.txt", f"{name}\n{text}".encode(), "text/plain")}
        params = {"wait": "true"} if wait else {}
        return _timed(client, pid, "POST", "/ingest/doc", files=files, params=params)

    queued = upload("queued-copy", wait=False)
    waited = upload("waited-copy", wait=True)
    return _row(f"document_ingest ({size:,} bytes): 202", queued, "?wait=true", waited)


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    del postgres  # SQLite only: what is measured is the request path, not the database
    headers = {"X-API-Key": ADMIN_KEY}
    with (
        serve_process(None, None, EMPTY_SERVICE) as server,
        httpx.Client(base_url=server.base, headers=headers, timeout=1800) as client,
    ):
        rows = [
            _csv_case(client, server.pid, quick),
            _rule_case(client, server.pid),
            _document_case(client, server.pid, quick),
        ]
    return {
        "title": "abusive and large requests against a real server (SQLite)",
        "rows": rows,
        "columns": COLUMNS,
    }
