"""The variables rules see, built from stored data: local days (also on DST days), the month's peak
before the step, next-hour prices, seasonal-naive forecasts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from luna_iems.bootstrap import Container
from luna_iems.decisions import rule_service
from luna_iems.main import create_app
from tests.conftest import ADMIN_TOKEN, auth, make_settings

ADMIN = auth(ADMIN_TOKEN)
BERLIN = ZoneInfo("Europe/Berlin")
QUARTER = timedelta(minutes=15)


def test_contexts_on_a_dst_day(tmp_path: Path, fresh_database_url: Callable[[str], str]) -> None:
    """2026-03-29 has 92 local quarter-hours; its price average covers exactly those."""
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"))
    day = datetime(2026, 3, 29, tzinfo=BERLIN)
    start, end = day.astimezone(UTC), (day + timedelta(days=1)).astimezone(UTC)
    steps = int((end - start) / QUARTER)
    assert steps == 92
    readings = [
        {"meter_id": "m1", "ts": (start + i * QUARTER).isoformat(), "consumption_kw": 1.0 + (i == 40) * 9}
        for i in range(steps)
    ]
    prices = [
        {
            "market": "DE-LU",
            "product": "day_ahead",
            "ts": (start + i * QUARTER).isoformat(),
            "price_eur_mwh": i,
        }
        for i in range(steps)
    ]
    with TestClient(create_app(settings)) as client:
        body = {"rows": readings}
        assert client.post("/meters", json={"meter_id": "m1", "site": "s1"}, headers=ADMIN).status_code == 201
        assert client.post("/ingest/meter-readings", json=body, headers=ADMIN).status_code == 200
        assert client.post("/ingest/market-prices", json={"rows": prices}, headers=ADMIN).status_code == 200
        container: Container = client.app.state.container  # type: ignore[attr-defined]
        with container.session_factory() as session:
            contexts = rule_service.site_contexts(
                session=session, settings=container.settings, site="s1", ts_from=start, ts_to=end
            )
    assert len(contexts) == 92
    first_ts, first = contexts[0]
    assert first_ts == start and first["hour"] == 0 and first["weekday"] == 6 and first["is_weekend"] is True
    assert all(c["price_day_avg_eur_mwh"] == pytest.approx(45.5) for _, c in contexts)  # mean of 0..91
    assert contexts[10][1]["price_next_h_eur_mwh"] == pytest.approx(12.5)  # mean of 11..14
    assert contexts[-1][1]["price_next_h_eur_mwh"] is None  # the next day has no prices
    assert first["peak_month_kw"] is None  # nothing earlier this month
    assert contexts[41][1]["peak_month_kw"] == pytest.approx(10.0)  # the spike at step 40, before 41
    assert contexts[40][1]["peak_month_kw"] == pytest.approx(1.0)  # the peak *before* the step
    assert contexts[3][1]["hour"] == 0 and contexts[8][1]["hour"] == 3  # 02:00-03:00 does not exist
    assert first["forecast_load_kw"] is None and first["soc_pct"] is None  # no week before; no battery


def test_soc_comes_from_reported_battery_states(tmp_path: Path, database_url: str) -> None:
    """Each battery's newest state before the step's end counts while at most an hour old; the site's
    soc_pct is the mean over the batteries that qualify. Replays update; bad rows are named."""
    settings = make_settings(tmp_path, database_url=database_url)  # SQLite and PostgreSQL
    start = datetime(2026, 6, 1, tzinfo=UTC)
    readings = [
        {"meter_id": "m1", "ts": (start + i * QUARTER).isoformat(), "consumption_kw": 1.0} for i in range(16)
    ]

    def state(battery: str, step: int, soc: float) -> dict[str, object]:
        return {
            "battery_id": battery,
            "site": "s1",
            "ts": (start + step * QUARTER).isoformat(),
            "soc_pct": soc,
        }

    states = [state("b1", 0, 50), state("b2", 2, 30), state("b1", 10, 15)]
    with TestClient(create_app(settings)) as client:
        assert client.post("/meters", json={"meter_id": "m1", "site": "s1"}, headers=ADMIN).status_code == 201
        assert (
            client.post("/ingest/meter-readings", json={"rows": readings}, headers=ADMIN).status_code == 200
        )
        for _ in range(2):  # a replay updates, never duplicates
            written = client.post("/ingest/battery-states", json={"rows": states}, headers=ADMIN)
            assert written.status_code == 200 and written.json() == {"rows_received": 3, "rows_written": 3}
        bad = client.post("/ingest/battery-states", json={"rows": [state("b1", 1, 120)]}, headers=ADMIN)
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "body.rows[0].soc_pct"
        listed = client.get(
            "/timeseries/battery-states",
            params={"site": "s1", "from": start.isoformat(), "to": (start + timedelta(hours=4)).isoformat()},
            headers=ADMIN,
        ).json()
        assert [s["soc_pct"] for s in listed["items"]] == [50, 30, 15] and listed["truncated"] is False
        container: Container = client.app.state.container  # type: ignore[attr-defined]
        with container.session_factory() as session:
            contexts = rule_service.site_contexts(
                session=session,
                settings=container.settings,
                site="s1",
                ts_from=start,
                ts_to=start + 16 * QUARTER,
            )
        rules = [{"name": "low", "when": "soc_pct < 20", "then": "hold_battery", "site": "s1"}]
        body = {"from": start.isoformat(), "to": (start + 16 * QUARTER).isoformat(), "rules": rules}
        dry = client.post("/rules/evaluate", json=body, headers=ADMIN).json()
    soc = [c["soc_pct"] for _, c in contexts]
    # b1 reports at step 0, b2 at step 2 (not before the end of step 1), b1 again at step 10;
    # a state counts until it is an hour older than the end of the step.
    assert soc[:7] == [50, 50, 40, 40, 30, 30, None]
    assert soc[7:10] == [None, None, None] and soc[10:14] == [15, 15, 15, 15] and soc[14:] == [None, None]
    assert [f["ts"] for f in dry["firings"]][:1] == [
        (start + 10 * QUARTER).isoformat().replace("+00:00", "Z")
    ]
    assert dry["summary"][0]["missing"] == {"soc_pct": 6}
