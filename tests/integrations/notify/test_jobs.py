"""The notification job is registered with the scheduler, and not at all with NOTIFY_INTERVAL_S=0."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from luna_iems.integrations.notify import jobs as notify_jobs
from luna_iems.main import create_app
from tests.conftest import make_settings


@pytest.mark.parametrize(("interval_s", "registered"), [(5.0, True), (0.0, False)])
def test_notify_job_follows_its_interval_setting(
    tmp_path: Path, fresh_database_url: Callable[[str], str], interval_s: float, registered: bool
) -> None:
    settings = make_settings(
        tmp_path,
        database_url=fresh_database_url("sqlite"),
        enable_scheduler=True,
        notify_interval_s=interval_s,
    )
    with TestClient(create_app(settings)) as client:
        ids = client.app.state.scheduler.job_ids()  # type: ignore[attr-defined]
    assert (notify_jobs.JOB_ID in ids) is registered
