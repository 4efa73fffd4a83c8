"""The tariffs API and its three consumers on SQLite and PostgreSQL: `/kpis` cost, the what-if baseline
and the optimiser's price vectors all come from the site's stored tariff, and agree.

Site "plant" over 2026-02-02 00:00-02:00Z (eight quarter-hours; the fixture of tests/timeseries/test_kpis.py):

    quarter-hour      0     1     2     3     4     5     6     7
    import kWh        1   0.5     1     0     0   0.5   1.5     0    -> 4.5 kWh, peak 6 kW (q6)
    export kWh        0     0     0     1   0.5     0     0   0.5    -> 2.0 kWh
    spot EUR/MWh    100   110   120   130   140   150   160   170

Tariff: dynamic import spot x 1 + 0.02, grid fee 0.10, VAT 19 %; feed-in spot x 1 - 0.01; peak charge
10 EUR/kW/month.
    import EUR/kWh = (0.10 + 0.01 i + 0.02 + 0.10) x 1.19 -> cost = 1.19 x (0.22 + 0.115 + 0.24 + 0.135
                     + 0.42) = 1.19 x 1.13 = 1.3447
    export EUR/kWh = 0.09 + 0.01 i -> revenue = 0.12 + 0.065 + 0.08 = 0.265
    peak charge    = 10 x 1.19 x 6 kW x 2 h / 672 h (February) = 0.2125
    net            = 1.3447 + 0.2125 - 0.265 = 1.2922
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from luna_iems.admin.schemas import Role
from tests.conftest import auth
from tests.timeseries.factories import (
    ADMIN,
    QUARTER,
    create_meter,
    ingest,
    ingest_prices,
    iso,
    price,
    series,
    utc,
)

T0, T2 = utc(2026, 2, 2, 0), utc(2026, 2, 2, 2)
LOAD_KW = [4.0, 4.0, 8.0, 6.0, 2.0, 2.0, 6.0, 6.0]
PV_KW = [0.0, 2.0, 4.0, 10.0, 4.0, 0.0, 0.0, 8.0]
DYNAMIC = {
    "valid_from": "2026-01-01",
    "import_price": {"kind": "dynamic", "spot_factor": 1.0, "markup_eur_kwh": 0.02},
    "grid_fee_eur_kwh": 0.10,
    "vat_pct": 19,
    "feed_in": {"kind": "spot", "spot_factor": 1.0, "markup_eur_kwh": -0.01},
    "peak_charge_eur_kw_month": 10,
}
WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
TOU = {
    "valid_from": "2026-02-02",
    "import_price": {
        "kind": "tou",
        "zones": [
            {"name": "night", "days": WEEK, "from_hour": 0, "to_hour": 2, "price_eur_kwh": 0.10},
            {"name": "day", "days": WEEK, "from_hour": 2, "to_hour": 24, "price_eur_kwh": 0.30},
        ],
    },
    "feed_in": {"kind": "fixed", "price_eur_kwh": 0.08},
}


@pytest.fixture
def plant(client: TestClient) -> TestClient:
    create_meter(client, "load", site="plant", kind="consumption")
    create_meter(client, "pv", site="plant", kind="production")
    ingest(client, series("load", T0, LOAD_KW) + series("pv", T0, [None] * 8, production=PV_KW))
    ingest_prices(client, [price(T0 + i * QUARTER, 100.0 + 10 * i) for i in range(8)])
    return client


def put(client: TestClient, site: str, body: dict[str, Any], headers: dict[str, str] = ADMIN) -> Any:
    return client.put(f"/tariffs/{site}", json=body, headers=headers)


def kpis(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/kpis", params={"from": iso(T0), "to": iso(T2), **params}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def whatif_baseline(client: TestClient, **scope: Any) -> dict[str, Any]:
    body = {"from": iso(T0), "to": iso(T2), **scope, "variations": [{"name": "more pv", "pv_scale": 2.0}]}
    response = client.post("/scenarios/whatif", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    result = response.json()
    return {"kpis": result["why"]["baseline"], "how": result["how"][0], "notes": result["why"]["notes"]}


def test_kpis_and_whatif_baseline_agree_with_a_stored_tariff(plant: TestClient) -> None:
    assert put(plant, "plant", DYNAMIC).status_code == 200
    k = kpis(plant, site="plant")
    assert k["tariff"] == "site"
    assert k["import_cost_eur"] == pytest.approx(1.3447, abs=1e-4)
    assert k["export_revenue_eur"] == pytest.approx(0.265, abs=1e-4)
    assert k["peak_charge_eur"] == pytest.approx(0.2125, abs=1e-4)
    assert k["net_cost_eur"] == pytest.approx(1.2922, abs=1e-4)
    base = whatif_baseline(plant, site="plant")
    assert base["kpis"]["cost_eur"] == round(k["net_cost_eur"], 2)
    assert base["how"]["peak_charge_eur"] == round(k["peak_charge_eur"], 2)
    assert (base["kpis"]["import_kwh"], base["kpis"]["export_kwh"]) == (k["import_kwh"], k["export_kwh"])
    assert any("stored tariff of site 'plant'" in n for n in base["notes"])
    # one meter is priced with its site's tariff, in both
    meter = kpis(plant, meter_id="load")
    assert whatif_baseline(plant, meter_id="load")["kpis"]["cost_eur"] == round(meter["net_cost_eur"], 2)


def test_without_a_tariff_kpis_and_whatif_agree_on_the_default_tariff(plant: TestClient) -> None:
    """No stored version: KPIs, optimiser and what-if all price with the settings' default tariff,
    import = spot + IMPORT_MARKUP_EUR_KWH (0.15), feed-in = spot (EXPORT_TARIFF_EUR_KWH unset).
    The spot parts are tests/timeseries/test_kpis.py's: import 0.59 EUR, export 0.285 EUR, 4.5 kWh in."""
    k = kpis(plant, site="plant")
    assert (k["tariff"], k["peak_charge_eur"]) == ("default", 0.0)
    assert k["import_cost_eur"] == pytest.approx(0.59 + 0.15 * 4.5, abs=1e-9)
    assert (k["export_revenue_eur"], k["net_cost_eur"]) == (0.285, round(0.59 + 0.675 - 0.285, 4))
    assert whatif_baseline(plant, site="plant")["kpis"]["cost_eur"] == round(k["net_cost_eur"], 2)


def test_a_period_spanning_two_versions_uses_each_for_its_part(plant: TestClient) -> None:
    # 2 February from 00:00 Berlin (= 1 February 23:00Z): every quarter-hour of the fixture lies at
    # 01:00-03:00 local: 01:00-02:00 local is "night" 0.10, 02:00-03:00 local "day" 0.30.
    assert put(plant, "plant", DYNAMIC).status_code == 200
    assert put(plant, "plant", TOU).status_code == 200
    k = kpis(plant, site="plant")
    assert k["import_cost_eur"] == pytest.approx(0.10 * 2.5 + 0.30 * 2.0, abs=1e-4)
    assert k["export_revenue_eur"] == pytest.approx(0.08 * 2.0, abs=1e-4)
    assert k["peak_charge_eur"] == 0.0
    start = utc(2026, 2, 1, 22)  # 23:00 local on 1 February: still the dynamic version
    steps = plant.get(
        "/tariffs/plant/prices", params={"from": iso(start), "to": iso(T2)}, headers=ADMIN
    ).json()["steps"]
    assert [s["valid_from"] for s in steps[::4]] == ["2026-01-01", "2026-02-02", "2026-02-02", "2026-02-02"]
    # 00:00Z and 01:00Z are 01:00 (night) and 02:00 (day) local
    assert [s["import_price_eur_kwh"] for s in steps[8::4]] == [0.10, 0.30]
    assert steps[0]["import_price_eur_kwh"] is None  # dynamic, and no spot price stored at 22:00Z
    whatif = whatif_baseline(plant, site="plant")["kpis"]["cost_eur"]
    assert whatif == round(k["net_cost_eur"], 2)


def test_crud_roles_and_errors_name_the_field(
    client: TestClient, make_key: Callable[[TestClient, Role], str]
) -> None:
    viewer, analyst = auth(make_key(client, Role.VIEWER)), auth(make_key(client, Role.ANALYST))
    unknown = put(client, "works", DYNAMIC, analyst)  # no meter belongs to "works" yet: a typo, say
    assert unknown.status_code == 404 and unknown.json()["error"]["details"]["site"] == "works"
    create_meter(client, "hall", site="works", kind="consumption")
    assert put(client, "works", DYNAMIC, viewer).status_code == 403
    created = put(client, "works", DYNAMIC, analyst)
    assert created.status_code == 200, created.text
    again = put(client, "works", DYNAMIC, analyst).json()
    assert again["version_id"] == created.json()["version_id"]  # the same valid_from: replaced, not added
    assert put(client, "works", TOU, analyst).status_code == 200
    listed = client.get("/tariffs/works", headers=viewer).json()
    assert [v["valid_from"] for v in listed["versions"]] == ["2026-01-01", "2026-02-02"]
    assert listed["versions"][0]["vat_pct"] == 19 and listed["timezone"] == "Europe/Berlin"
    assert client.get("/tariffs/nowhere", headers=viewer).status_code == 404
    create_meter(client, "shed", site="nowhere", kind="consumption")
    assert client.get("/tariffs/nowhere", headers=viewer).json()["versions"] == []

    assert client.delete("/tariffs/works/versions/2026-02-02", headers=analyst).status_code == 403
    assert client.delete("/tariffs/works/versions/2026-02-02", headers=ADMIN).status_code == 204
    missing = client.delete("/tariffs/works/versions/2026-02-02", headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["error"]["details"]["field"] == "valid_from"

    gappy = TOU | {"import_price": {"kind": "tou", "zones": [TOU["import_price"]["zones"][1]]}}  # type: ignore[index]
    response = put(client, "works", gappy)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"]["field"] == "import_price.zones"
    assert "mon 00:00-02:00" in error["message"] and error["details"]["gaps"][0] == "mon 00:00-02:00"
    zones = TOU["import_price"]["zones"] + [  # type: ignore[index]
        {"name": "peak", "days": ["fri"], "from_hour": 17, "to_hour": 19, "price_eur_kwh": 0.5}
    ]
    response = put(client, "works", TOU | {"import_price": {"kind": "tou", "zones": zones}})
    assert (
        response.status_code == 422 and "fri 17:00-19:00 (day, peak)" in response.json()["error"]["message"]
    )
    backwards = {"name": "x", "days": WEEK, "from_hour": 20, "to_hour": 4, "price_eur_kwh": 0.1}
    response = put(client, "works", TOU | {"import_price": {"kind": "tou", "zones": [backwards]}})
    assert response.status_code == 422 and "to_hour" in response.text
    response = put(client, "works", DYNAMIC | {"vat_pct": 120})
    assert response.status_code == 422 and "vat_pct" in response.text
    response = client.get("/tariffs/works/prices", params={"from": iso(T2), "to": iso(T0)}, headers=viewer)
    assert response.status_code == 422 and response.json()["error"]["details"]["field"] == "to"


def test_optimiser_prices_come_from_the_stored_tariff(client: TestClient) -> None:
    """The plan's import/export price vectors are the tariff's (as charted by /tariffs/{site}/prices),
    and the capacity charge enters the objective above the month's measured peak."""
    create_meter(client, "hall", site="works", kind="consumption")
    history_start = utc(2026, 3, 1, 0)
    load = [5.0 + (i % 96 == 40) * 15.0 for i in range(96 * 4)]  # 5 kW, one 20 kW quarter-hour a day
    ingest(client, series("hall", history_start, load))
    start = history_start + timedelta(days=4)
    ingest_prices(client, [price(start + i * QUARTER, 50.0 + i) for i in range(96)])
    assert put(client, "works", DYNAMIC).status_code == 200
    body = {"start": iso(start), "horizon_h": 24, "stored": {"site": "works"}}
    response = client.post("/optimize/schedule", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    plan = response.json()
    charted = client.get(
        "/tariffs/works/prices",
        params={"from": iso(start), "to": iso(start + timedelta(hours=24))},
        headers=ADMIN,
    ).json()["steps"]
    assert [s["import_price_eur_kwh"] for s in plan["steps"]] == [
        pytest.approx(c["import_price_eur_kwh"], abs=1e-6) for c in charted
    ]
    assert plan["steps"][0]["import_price_eur_kwh"] == pytest.approx((0.05 + 0.02 + 0.10) * 1.19, abs=1e-6)
    assert plan["steps"][0]["export_price_eur_kwh"] == pytest.approx(0.05 - 0.01, abs=1e-6)
    assert any(n.startswith("peak charge: 11.9 EUR/kW above this month's peak import so far (20.000 kW)")
               for n in plan["notes"]), plan["notes"]  # fmt: skip
    # an explicit markup keeps the older spot + markup model
    legacy = body | {"stored": {"site": "works", "import_markup_eur_kwh": 0.2}}
    plan = client.post("/optimize/schedule", json=legacy, headers=ADMIN).json()
    assert plan["steps"][0]["import_price_eur_kwh"] == pytest.approx(0.05 + 0.2, abs=1e-6)
