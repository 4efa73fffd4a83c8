"""GET /integrations/prices/sources and POST /integrations/prices/fetch through the real app, against the loopback ENTSO-E double
(see test_price_fetch.py: the ENTSO-E API cannot run here; the double speaks its wire protocol)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from luna_iems.admin.schemas import Role
from luna_iems.main import create_app
from tests.conftest import ADMIN_TOKEN, auth, make_settings
from tests.integrations.prices.test_price_fetch import AREA, TOKEN, EntsoeDouble
from tests.support.loopback import loopback_server

ADMIN = auth(ADMIN_TOKEN)


def test_sources_status_and_a_manual_fetch(
    tmp_path: Path,
    fresh_database_url: Callable[[str], str],
    make_key: Callable[[TestClient, Role], str],
) -> None:
    double = EntsoeDouble()
    with loopback_server({("GET", "/api"): double}) as server:
        settings = make_settings(
            tmp_path,
            database_url=fresh_database_url("sqlite"),
            entsoe_token=TOKEN,
            entsoe_url=f"{server.url}/api",
            entsoe_area=AREA,
        )
        with TestClient(create_app(settings)) as client:
            viewer = auth(make_key(client, Role.VIEWER))
            listed = client.get("/integrations/prices/sources", headers=viewer)
            assert listed.status_code == 200
            [idle] = listed.json()["items"]
            assert idle["source"] == "entsoe" and idle["status"] == "idle" and idle["market"] == "DE-LU"
            assert TOKEN not in listed.text
            assert listed.json()["schedule"]["fetch_after"] == "13:00"

            assert client.post("/integrations/prices/fetch", headers=viewer).status_code == 403
            fetched = client.post("/integrations/prices/fetch", params={"day": "2026-02-02"}, headers=ADMIN)
            assert fetched.status_code == 200, fetched.text
            [item] = fetched.json()["items"]
            assert item["status"] == "complete" and item["target_day"] == "2026-02-02"
            assert item["last_attempt_at"] is not None and item["last_success_at"] is not None
            assert double.params[0]["periodStart"] == "202602012300"

            prices = client.get(
                "/timeseries/prices",
                params={"from": "2026-02-02T00:00:00+01:00", "to": "2026-02-03T00:00:00+01:00"},
                headers=viewer,
            )
            assert prices.status_code == 200 and len(prices.json()["points"]) == 96

            double.token = "another"  # a refused token shows in the status
            refused = client.post(
                "/integrations/prices/fetch", params={"day": "2026-02-02"}, headers=ADMIN
            ).json()
            assert refused["items"][0]["status"] == "blocked" and "401" in refused["items"][0]["last_error"]


def test_fetch_without_a_source_is_a_conflict(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"))
    with TestClient(create_app(settings)) as client:
        assert client.get("/integrations/prices/sources", headers=ADMIN).json()["items"] == []
        response = client.post("/integrations/prices/fetch", headers=ADMIN)
        assert response.status_code == 409
        assert "ENTSOE_TOKEN" in response.json()["error"]["message"]
