"""Peak memory of the server while 1 M readings arrive through `POST /ingest/meter-readings`.

One `luna serve` process per database (empty: SEED_DEMO_DATA=false, ENABLE_SCHEDULER=false), its meters
created first; then one sequential client sends 100 JSON batches of 10,000 rows (10 meters, time-ordered,
each body encoded just before it is sent). Read from /proc/<server pid>/status:
  VmRSS before   resident memory of the idle, started server: the baseline
  VmHWM before   the peak so far (startup)
  VmHWM after    the peak over the whole run: the figure (target < 1 GB)
  VmRSS after    resident memory once the last batch is answered (growth = what stays)
plus VmRSS after the first 10 % of the batches, to tell a plateau from steady growth.

The main rows start the server with EMBEDDING_WARMUP=false (the ingest path alone). One more SQLite row
keeps the default (warm-up on: the embedding model is loaded in the background at start, as in a
deployment); its baseline is read once the server's RSS has settled (< 1 MB change over 5 s).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import ADMIN_KEY, EMPTY_SERVICE, databases, proc_status_kb, serve_process
from benchmarks.ingest import BATCH, json_batches, make_rows

ROWS, QUICK_ROWS = 1_000_000, 200_000
TARGET_MB = 1024


def _mb(kb: int) -> float:
    return round(kb / 1024, 1)


def _settle(pid: int, timeout_s: float = 180) -> None:
    """Wait until VmRSS changes by less than 1 MB over 5 s (background loading has finished)."""
    history = [proc_status_kb(pid, "VmRSS")]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and (len(history) < 6 or history[-1] - history[-6] > 1024):
        time.sleep(1)
        history.append(proc_status_kb(pid, "VmRSS"))


def measure(database_url: str | None, total: int, *, warmup: bool = False) -> dict[str, Any]:
    rows = make_rows(total)
    batches = total // BATCH
    headers = {"X-API-Key": ADMIN_KEY, "Content-Type": "application/json"}
    env = {k: v for k, v in EMPTY_SERVICE.items() if not (warmup and k == "EMBEDDING_WARMUP")}
    with (
        tempfile.TemporaryDirectory(prefix="luna-bench-") as tmp,
        serve_process(database_url, Path(tmp) / "var", env) as server,
        httpx.Client(base_url=server.base, headers=headers, timeout=600) as client,
    ):
        if warmup:
            _settle(server.pid)
        for meter in sorted(set(rows["meter_id"].tolist())):
            client.post("/meters", json={"meter_id": meter, "site": "bench"}).raise_for_status()
        rss_before = proc_status_kb(server.pid, "VmRSS")
        hwm_before = proc_status_kb(server.pid, "VmHWM")
        rss_early = 0
        start = time.perf_counter()
        for n in range(batches):
            part = {k: v[n * BATCH : (n + 1) * BATCH] for k, v in rows.items()}
            response = client.post("/ingest/meter-readings", content=json_batches(part)[0])
            if not response.is_success:
                raise RuntimeError(f"ingest failed: HTTP {response.status_code} {response.text[:500]}")
            if n + 1 == max(1, batches // 10):
                rss_early = proc_status_kb(server.pid, "VmRSS")
        seconds = time.perf_counter() - start
        hwm_after = proc_status_kb(server.pid, "VmHWM")
        rss_after = proc_status_kb(server.pid, "VmRSS")
    return {
        "rows": total,
        "batches": batches,
        "seconds": round(seconds, 1),
        "rows_per_s": round(total / seconds),
        "rss_before_mb": _mb(rss_before),
        "hwm_before_mb": _mb(hwm_before),
        "rss_after_10pct_mb": _mb(rss_early),
        "rss_after_mb": _mb(rss_after),
        "peak_hwm_mb": _mb(hwm_after),
        "peak_vs_rss_before": round(hwm_after / rss_before, 2),
        "target_mb": TARGET_MB,
        "met": hwm_after / 1024 < TARGET_MB,
    }


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    total = QUICK_ROWS if quick else ROWS
    rows = [{"database": name, **measure(url, total)} for name, url in databases(postgres)]
    rows.append({"database": "sqlite, embedding warm-up on", **measure(None, total, warmup=True)})
    return {
        "title": f"Server memory while ingesting {total} rows in batches of {BATCH} (one client)",
        "params": {"rows": total, "batch": BATCH, "quick": quick},
        "columns": [
            "database",
            "rows",
            "seconds",
            "rows_per_s",
            "rss_before_mb",
            "hwm_before_mb",
            "rss_after_10pct_mb",
            "rss_after_mb",
            "peak_hwm_mb",
            "peak_vs_rss_before",
            "met",
        ],
        "rows": rows,
        "notes": ["VmRSS/VmHWM of the uvicorn process (`python -m luna_iems serve`, one worker)"],
    }
