"""The web app in a real browser: Playwright (node, frontend/e2e/) drives Debian's Chromium against a
real `luna serve` on a temporary data dir with the demo data, as `make run` starts it.

This test starts the server (the same `serving` as test_serve.py), creates a viewer key, and runs
`npx playwright test` with the address and the keys. Screenshots go to frontend/test-results/screenshots/ (`make screenshots`: docs/screenshots/), the first-load
timing of Home to frontend/test-results/first-load.json. Needs `make web` (npm ci + build) first: `make
test` does it; without a build the test is skipped with that reason (and fails under CI=true).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_serve import serving

pytestmark = pytest.mark.timeout(600)

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "frontend"
ADMIN_KEY = "web-ui-admin-key-0123456789abcdef0123"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _missing() -> str | None:
    if not (FRONTEND / "dist" / "index.html").is_file():
        return "the web app is not built: run `make web`"
    if not (FRONTEND / "node_modules" / ".bin" / "playwright").exists():
        return "frontend/node_modules lacks Playwright: run `make web`"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def test_web_ui_in_chromium(tmp_path: Path) -> None:
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    env = {
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'luna.db'}",
        "LUNA_ADMIN_KEY": ADMIN_KEY,
        "WEB_DIR": str(FRONTEND / "dist"),
        "SEED_DEMO_DATA": "true",
        "ENABLE_SCHEDULER": "true",
        "EMBEDDING_WARMUP": "false",
        "LOG_LEVEL": "WARNING",
    }
    with serving(env, tmp_path / "server.log") as base:
        created = httpx.post(
            f"{base}/admin/keys",
            json={"name": "web-viewer", "role": "viewer"},
            headers={"X-API-Key": ADMIN_KEY},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        run_env = {
            **os.environ,
            "LUNA_BASE_URL": base,
            "LUNA_ADMIN_KEY": ADMIN_KEY,
            "LUNA_VIEWER_KEY": created.json()["token"],
            "CHROMIUM": CHROMIUM,
            "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
        }
        npx = shutil.which("npx") or "npx"
        result = subprocess.run(
            [npx, "playwright", "test"],
            cwd=FRONTEND,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=540,
            check=False,
        )
    print(result.stdout[-6000:])
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
