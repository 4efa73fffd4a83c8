"""GET /kpis on small fixtures computed by hand.

Site "plant" over 2026-02-02 00:00-02:00Z (eight quarter-hours), a consumption meter and a PV meter:

    quarter-hour      0     1     2     3     4     5     6     7
    load kW           4     4     8     6     2     2     6     6    -> 9.5 kWh
    pv kW             0     2     4    10     4     0     0     8    -> 7.0 kWh
    site net kW       4     2     4    -4    -2     2     6    -2
    import kWh        1   0.5     1     0     0   0.5   1.5     0    -> 4.5 kWh
    export kWh        0     0     0     1   0.5     0     0   0.5    -> 2.0 kWh

self-consumption 1 - 2/7, autarky 1 - 4.5/9.5, peak load 8 kW at 00:30Z, mean load 9.5 kWh / 2 h
= 4.75 kW, load factor 4.75 / 8; peak import 1.5 kWh / 0.25 h = 6 kW.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from luna_iems.settings import Settings
from tests.timeseries.factories import (
    ADMIN,
    QUARTER,
    create_meter,
    error_of,
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


def _kpis(client: TestClient, start: Any = T0, end: Any = T2, **params: Any) -> dict[str, Any]:
    response = client.get("/kpis", params={"from": iso(start), "to": iso(end), **params}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _flows(k: dict[str, Any]) -> tuple[float, float, float, float]:
    return (k["consumption_kwh"], k["production_kwh"], k["import_kwh"], k["export_kwh"])


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The default tariff without a markup: the costs below are the market's arithmetic (spot x
    energy, both ways). tests/tariffs/test_tariffs_api.py checks the default tariff with its markup."""
    return settings.model_copy(update={"import_markup_eur_kwh": 0.0, "export_tariff_eur_kwh": None})


@pytest.fixture
def plant(client: TestClient) -> TestClient:
    create_meter(client, "load", site="plant", kind="consumption")
    create_meter(client, "pv", site="plant", kind="production")
    create_meter(client, "elsewhere", site="other")
    ingest(client, series("load", T0, LOAD_KW) + series("pv", T0, [None] * 8, production=PV_KW))
    ingest(client, series("elsewhere", T0, [100.0] * 8))  # another site: must not count
    return client


def test_site_energy_rates_and_peak(plant: TestClient) -> None:
    k = _kpis(plant, site="plant")
    assert k["scope"] == {"site": "plant", "meters": 2}
    assert (k["hours"], k["coverage"]) == (2.0, 1.0)
    assert (k["consumption_kwh"], k["production_kwh"]) == (9.5, 7.0)
    assert (k["import_kwh"], k["export_kwh"]) == (4.5, 2.0)
    assert k["self_consumption_rate"] == round(1 - 2.0 / 7.0, 6)
    assert k["autarky_rate"] == round(1 - 4.5 / 9.5, 6)
    assert (k["peak_load_kw"], k["peak_load_at"]) == (8.0, "2026-02-02T00:30:00Z")
    assert k["peak_import_kw"] == 6.0
    assert (k["mean_load_kw"], k["load_factor"]) == (4.75, round(4.75 / 8.0, 6))
    # no prices stored
    assert (k["market"], k["product"], k["priced_share"]) == ("DE-LU", "day_ahead", 0.0)
    assert k["import_cost_eur"] is None and k["export_revenue_eur"] is None and k["net_cost_eur"] is None


def test_single_meter_scope(plant: TestClient) -> None:
    load = _kpis(plant, meter_id="load")
    assert load["scope"] == {"meter_id": "load"}
    assert _flows(load) == (9.5, 0.0, 9.5, 0.0)  # consumption, production, import, export
    assert load["self_consumption_rate"] is None  # no production: the rate is undefined
    assert load["autarky_rate"] == 0.0
    pv = _kpis(plant, meter_id="pv")
    assert (pv["consumption_kwh"], pv["production_kwh"], pv["export_kwh"]) == (0.0, 7.0, 7.0)
    assert pv["self_consumption_rate"] == 0.0 and pv["autarky_rate"] is None
    assert pv["peak_load_kw"] == 0.0 and pv["load_factor"] is None


def test_period_subset_and_partial_coverage(plant: TestClient) -> None:
    second_hour = _kpis(plant, utc(2026, 2, 2, 1), T2, site="plant")
    assert _flows(second_hour) == (4.0, 3.0, 2.0, 1.0)
    assert second_hour["peak_load_at"] == "2026-02-02T01:30:00Z"  # 6 kW, first of the two maxima
    # a period twice as long as the data: coverage halves, the mean load is over covered time only
    longer = _kpis(plant, T0, utc(2026, 2, 2, 4), site="plant")
    assert (longer["hours"], longer["coverage"], longer["mean_load_kw"]) == (4.0, 0.5, 4.75)
    empty = _kpis(plant, utc(2026, 2, 3), utc(2026, 2, 4), site="plant")
    assert (empty["coverage"], empty["consumption_kwh"], empty["peak_load_kw"]) == (0.0, 0.0, None)
    assert empty["self_consumption_rate"] is None and empty["priced_share"] == 0.0


def test_cost_with_15_minute_prices(plant: TestClient) -> None:
    ingest_prices(plant, [price(T0 + i * QUARTER, 100.0 + 10 * i) for i in range(8)])
    k = _kpis(plant, site="plant")
    # import: 1x100 + 0.5x110 + 1x120 + 0.5x150 + 1.5x160 = 590 EUR/MWh x kWh -> 0.59 EUR
    # export: 1x130 + 0.5x140 + 0.5x170 = 285 -> 0.285 EUR
    assert k["priced_share"] == 1.0
    assert (k["import_cost_eur"], k["export_revenue_eur"], k["net_cost_eur"]) == (0.59, 0.285, 0.305)


def test_cost_with_hourly_prices_applies_each_to_its_four_quarter_hours(plant: TestClient) -> None:
    ingest_prices(
        plant, [price(T0, 80.0, product="hourly"), price(utc(2026, 2, 2, 1), 200.0, product="hourly")]
    )
    k = _kpis(plant, site="plant", product="hourly")
    # import: 2.5 kWh x 80 + 2.0 kWh x 200 -> 0.2 + 0.4 EUR; export: 1 x 80 + 1 x 200 -> 0.08 + 0.2 EUR
    assert k["product"] == "hourly" and k["priced_share"] == 1.0
    assert (k["import_cost_eur"], k["export_revenue_eur"], k["net_cost_eur"]) == (0.6, 0.28, 0.32)
    # a price of another market is not used
    assert _kpis(plant, site="plant", product="hourly", market="AT")["import_cost_eur"] is None


def test_priced_share_when_the_second_hour_has_no_price(plant: TestClient) -> None:
    ingest_prices(plant, [price(T0 + i * QUARTER, 100.0 + 10 * i, product="partial") for i in range(4)])
    k = _kpis(plant, site="plant", product="partial")
    # priced flows: first hour imports 2.5 + exports 1.0 = 3.5 of 6.5 kWh
    assert k["priced_share"] == round(3.5 / 6.5, 6)
    assert (k["import_cost_eur"], k["export_revenue_eur"]) == (0.275, 0.13)


def test_a_missing_quarter_hour_price_is_not_borrowed_from_the_hour_start(plant: TestClient) -> None:
    ingest_prices(
        plant, [price(T0 + i * QUARTER, 100.0 + 10 * i, product="gappy") for i in range(8) if i != 1]
    )
    k = _kpis(plant, site="plant", product="gappy")
    # quarter-hour 1 (00:15Z) has no price: its 0.5 kWh import is unpriced
    assert k["priced_share"] == round(6.0 / 6.5, 6)
    assert k["import_cost_eur"] == 0.535


def test_bidirectional_meter_nets_per_sample_not_per_quarter_hour(client: TestClient) -> None:
    create_meter(client, "bidi", site="home", kind="bidirectional")
    five = QUARTER / 3
    rows = series(
        "bidi", T0, [6.0, 0.0, 3.0, 2.0, 2.0, 2.0], step=five, production=[0.0, 6.0, 3.0, 0.0, 0.0, 0.0]
    )
    ingest(client, rows)
    ingest_prices(client, [price(T0, 100.0), price(T0 + QUARTER, 110.0)])
    k = _kpis(client, T0, T0 + 2 * QUARTER, meter_id="bidi")
    # quarter-hour 0: 6 kW import for 5 min, 6 kW export for 5 min, balanced for 5 min
    assert (k["consumption_kwh"], k["production_kwh"]) == (1.25, 0.75)
    assert (k["import_kwh"], k["export_kwh"]) == (1.0, 0.5)
    assert (k["self_consumption_rate"], k["autarky_rate"]) == (round(1 - 0.5 / 0.75, 6), 0.2)
    assert (k["peak_load_kw"], k["peak_load_at"], k["peak_import_kw"]) == (3.0, "2026-02-02T00:00:00Z", 2.0)
    assert (k["mean_load_kw"], k["load_factor"]) == (2.5, round(2.5 / 3.0, 6))
    assert (k["import_cost_eur"], k["export_revenue_eur"], k["net_cost_eur"]) == (0.105, 0.05, 0.055)


def test_kpi_request_errors(plant: TestClient) -> None:
    def get(**params: Any) -> Any:
        return plant.get("/kpis", params={"from": iso(T0), "to": iso(T2), **params}, headers=ADMIN)

    assert error_of(get(), 422)["details"] == {"field": "meter_id"}
    assert error_of(get(meter_id="load", site="plant"), 422)["details"] == {"field": "meter_id"}
    unknown_site = error_of(get(site="atlantis"), 404)
    assert "atlantis" in unknown_site["message"] and unknown_site["details"] == {"site": "atlantis"}
    assert "ghost" in error_of(get(meter_id="ghost"), 404)["message"]
    assert error_of(get(meter_id="load", to=iso(T0)), 422)["details"] == {"field": "to"}


def test_kpis_over_an_extreme_period_are_not_a_server_error(plant: TestClient) -> None:
    response = plant.get(
        "/kpis",
        params={"site": "plant", "from": "0001-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"},
        headers=ADMIN,
    )
    assert response.status_code in (200, 422), response.text
