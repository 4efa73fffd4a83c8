"""Web app speed in a real browser: first load of Home and a year of one meter's 15-min readings.

Runs the two measuring Playwright tests (frontend/e2e/ui.spec.ts "first load of Home", energy.spec.ts
"a year of 15-minute readings") through tests/e2e/test_web_ui.py — Debian's Chromium against a real
`luna serve` on a temporary data dir with the demo data — and reads what they write to
frontend/test-results/. Needs `make web` (npm ci + build) first.

Baselines in the same run: Home's DOMContentLoaded (the HTML and the entry bundle, before any API
data) for the first load, and for the year chart the columns request alone as the browser timed it
(Resource Timing), against the time from choosing the bucket to the chart drawn (both clocks are this
machine's: the test's and the page's). Targets from issue 11: Home with data < 2 s; the year's chart
interactive < 1 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "frontend" / "test-results"
GREP = "first load of Home|a year of 15-minute readings"


def run(*, quick: bool = False, postgres: bool = False) -> dict[str, Any]:
    del quick, postgres  # one size; the browser test runs on the embedded default (SQLite)
    env = {**os.environ, "LUNA_E2E_GREP": GREP, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/e2e/test_web_ui.py", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"browser test failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    home = json.loads((RESULTS / "first-load.json").read_text())
    year = json.loads((RESULTS / "year-render.json").read_text())
    dom = float(home["domContentLoadedMs"])
    rows = [
        {
            "measure": f"Home with data, load {i + 1}" + (" (cold cache)" if i == 0 else ""),
            "ms": ms,
            "baseline": "DOMContentLoaded",
            "baseline_ms": dom,
            "ratio": round(ms / dom, 1),
        }
        for i, ms in enumerate(home["homeWithDataMs"])
    ]
    rows += [
        {
            "measure": f"a year, {r['points']} points: bucket chosen -> chart drawn, run {i + 1}",
            "ms": r["requestToRenderedMs"],
            "baseline": "the columns request (Resource Timing)",
            "baseline_ms": r["fetchMs"],
            "ratio": round(r["requestToRenderedMs"] / r["fetchMs"], 2),
            "data_to_drawn_ms": r["renderMs"],
        }
        for i, r in enumerate(year["runs"])
    ]
    return {
        "title": "Web app in Chromium: Home first load and a year of one meter (issue 11)",
        "params": {"grep": GREP},
        "columns": ["measure", "ms", "baseline", "baseline_ms", "ratio", "data_to_drawn_ms"],
        "rows": rows,
        "notes": [home["note"], year["note"]],
    }
