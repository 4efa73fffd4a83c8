"""Scheduled work: the rollup job keeps queries current, retention drops raw rows but keeps rollups."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from luna_iems.bootstrap import build_container
from luna_iems.main import create_app
from luna_iems.timeseries import jobs
from luna_iems.timeseries.models import ReadingRollup, RollupPending, SmartMeterReading
from tests.conftest import ADMIN_TOKEN, auth, make_settings


def _rows(meter_id: str, start: datetime, count: int, kw: float = 2.0) -> list[dict[str, object]]:
    return [
        {"meter_id": meter_id, "ts": (start + timedelta(minutes=15 * i)).isoformat(), "consumption_kw": kw}
        for i in range(count)
    ]


def test_scheduler_runs_the_rollup_job(tmp_path: Path, fresh_database_url: Callable[[str], str]) -> None:
    settings = make_settings(
        tmp_path, database_url=fresh_database_url("sqlite"), enable_scheduler=True, rollup_interval_s=0.2
    )
    with TestClient(create_app(settings)) as client:
        start = datetime(2026, 5, 4, tzinfo=UTC)
        body = {"rows": _rows("m1", start, 8), "create_meters": True}
        assert client.post("/ingest/meter-readings", json=body, headers=auth(ADMIN_TOKEN)).status_code == 200
        container = client.app.state.container  # type: ignore[attr-defined]

        def pending() -> int:
            with container.session_factory() as session:
                return int(session.scalar(select(func.count()).select_from(RollupPending)) or 0)

        deadline = time.monotonic() + 10
        while pending() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pending() == 0, "the scheduled rollup job did not run"
        with container.session_factory() as session:
            hourly = session.scalars(select(ReadingRollup).where(ReadingRollup.resolution == "1h")).all()
        assert [round(r.consumption_kwh, 6) for r in hourly] == [2.0, 2.0]
        assert "timeseries.rollups" in client.app.state.scheduler.job_ids()  # type: ignore[attr-defined]


def test_retention_drops_old_raw_rows_and_keeps_rollups(
    tmp_path: Path, fresh_database_url: Callable[[str], str], db_kind: str
) -> None:
    settings = make_settings(tmp_path, database_url=fresh_database_url(db_kind))
    now = datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0)
    old, recent = now - timedelta(days=40), now - timedelta(days=2)
    with TestClient(create_app(settings)) as client:
        for start in (old, recent):
            body = {"rows": _rows("m1", start, 4), "create_meters": True}
            assert (
                client.post("/ingest/meter-readings", json=body, headers=auth(ADMIN_TOKEN)).status_code == 200
            )

    container = build_container(settings.model_copy(update={"raw_retention_days": 30}))
    try:
        assert jobs.apply_retention(container.timeseries_deps) == 4
        with container.session_factory() as session:
            raw = session.scalars(select(SmartMeterReading.ts)).all()
            daily = session.scalars(select(ReadingRollup.ts).where(ReadingRollup.resolution == "1h")).all()
        assert len(raw) == 4 and min(raw) >= recent
        assert min(daily) <= old, "rollups of the dropped range must stay"
        assert jobs.apply_retention(container.timeseries_deps) == 0
    finally:
        container.close()


def test_ingest_older_than_retention_is_refused(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"), raw_retention_days=30)
    with TestClient(create_app(settings)) as client:
        old = datetime.now(tz=UTC) - timedelta(days=45)
        response = client.post(
            "/ingest/meter-readings",
            json={"rows": _rows("m1", old, 2), "create_meters": True},
            headers=auth(ADMIN_TOKEN),
        )
        assert response.status_code == 422
        assert "RAW_RETENTION_DAYS" in response.json()["error"]["message"]
        summary = client.get("/status/summary", headers=auth(ADMIN_TOKEN)).json()["database"]["row_counts"]
        assert summary["smart_meter_readings"] == 0 and summary["meters"] == 0


@pytest.mark.parametrize("retention_days", [0])
def test_no_retention_job_without_retention(
    tmp_path: Path, fresh_database_url: Callable[[str], str], retention_days: int
) -> None:
    settings = make_settings(
        tmp_path,
        database_url=fresh_database_url("sqlite"),
        enable_scheduler=True,
        raw_retention_days=retention_days,
    )
    with TestClient(create_app(settings)) as client:
        ids = client.app.state.scheduler.job_ids()  # type: ignore[attr-defined]
    assert "timeseries.rollups" in ids and "timeseries.retention" not in ids
