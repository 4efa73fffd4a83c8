"""Scheduled decisions work: the jobs are registered, and repeated runs extend alerts instead of
adding duplicates."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from luna_iems.bootstrap import Container
from luna_iems.decisions import jobs
from luna_iems.main import create_app
from tests.conftest import ADMIN_TOKEN, auth, make_settings

ADMIN = auth(ADMIN_TOKEN)


def _rows(meter_id: str, start: datetime, count: int) -> list[dict[str, object]]:
    return [
        {
            "meter_id": meter_id,
            "ts": (start + timedelta(minutes=15 * i)).isoformat(),
            "consumption_kw": round(4 + 2 * math.sin(i / 96 * 2 * math.pi), 3),
        }
        for i in range(count)
    ]


def test_jobs_are_registered_with_the_scheduler(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"), enable_scheduler=True)
    with TestClient(create_app(settings)) as client:
        ids = client.app.state.scheduler.job_ids()  # type: ignore[attr-defined]
    assert {"decisions.rules", "decisions.anomalies"} <= set(ids)


def test_a_silent_meter_gets_one_growing_gap_alert(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    """Readings stop three hours ago: the job reports one gap; the next run extends that alert."""
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"), anomaly_window_h=24)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now.replace(minute=0) - timedelta(days=29)
    steps = int((now.replace(minute=0) - timedelta(hours=3) - start) / timedelta(minutes=15))
    with TestClient(create_app(settings)) as client:
        body = {"rows": _rows("silent-1", start, steps)}
        response = client.post(
            "/ingest/meter-readings", json=body, params={"create_meters": True}, headers=ADMIN
        )
        assert response.status_code == 200, response.text
        container: Container = client.app.state.container  # type: ignore[attr-defined]
        assert jobs.detect_anomalies(container.decisions_deps) == 1
        first = client.get("/alerts", params={"meter_id": "silent-1"}, headers=ADMIN).json()
        assert first["total"] == 1 and first["items"][0]["kind"] == "gap"
        assert jobs.detect_anomalies(container.decisions_deps) == 0  # the same gap again: no new alert
        again = client.get("/alerts", params={"meter_id": "silent-1"}, headers=ADMIN).json()
        assert again["total"] == 1 and again["items"][0]["alert_id"] == first["items"][0]["alert_id"]
        assert again["items"][0]["end_at"] >= first["items"][0]["end_at"]
