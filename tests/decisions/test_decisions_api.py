"""Decisions over HTTP on SQLite and PostgreSQL: forecasts, backtests, schedules, rules, what-if
scenarios, anomaly alerts. The data is the project's own simulator: five weeks of two meters (a
household with PV, a commercial site) and day-ahead prices, written once per database."""

from __future__ import annotations

import itertools
import math
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from luna_iems.admin.schemas import Role
from luna_iems.bootstrap import Container
from luna_iems.decisions import rule_service
from luna_iems.main import create_app
from tests.conftest import ADMIN_TOKEN, DATABASES, auth, make_settings
from tests.support.postgres import PostgresServer

ADMIN = auth(ADMIN_TOKEN)
START = "2026-05-04T00:00:00+02:00"
END = "2026-06-08T00:00:00+02:00"  # a Monday, local midnight
AT = datetime.fromisoformat(END)
HOUSE, SHOP = "sim-household-002", "sim-commercial-001"
QUARTER = timedelta(minutes=15)


@pytest.fixture(scope="module", params=DATABASES)
def stocked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app on a database holding five weeks of simulated readings and prices (built once)."""
    tmp = tmp_path_factory.mktemp(f"decisions-{request.param}")
    server: PostgresServer | None = None
    name = f"decisions_{request.param}"
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp / "luna.db")
        url = f"sqlite:///{tmp / 'luna.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        server.create_database(name, template=request.getfixturevalue("pg_template"))
        url = server.url(name)
    with TestClient(create_app(make_settings(tmp, database_url=url))) as client:
        body = {"from": START, "to": END, "meter_ids": [HOUSE, SHOP]}
        assert client.post("/sim/meter/generate", json=body, headers=ADMIN).status_code == 200
        prices = {"from": START, "to": "2026-06-10T00:00:00+02:00"}
        assert client.post("/sim/market/generate", json=prices, headers=ADMIN).status_code == 200
        yield client
    if server is not None:
        server.drop_database(name)


def post(client: TestClient, path: str, body: dict[str, Any], status: int = 200, **kw: Any) -> Any:
    response = client.post(path, json=body, headers=kw.get("headers", ADMIN))
    assert response.status_code == status, response.text
    return response.json()


def error(client: TestClient, path: str, body: dict[str, Any], status: int = 422) -> str:
    payload = post(client, path, body, status)
    message: str = payload["error"]["message"]
    return message


# --- forecasts ----------------------------------------------------------------------------------------
def test_forecasts_of_load_pv_and_price(stocked: TestClient) -> None:
    load = post(stocked, "/forecast", {"meter_id": HOUSE, "target": "load", "horizon_h": 24, "at": END})
    assert load["model"] == "gbm" and load["unit"] == "kW" and len(load["points"]) == 96
    assert datetime.fromisoformat(load["points"][0]["ts"]) == AT
    assert all(p["lower"] <= p["value"] <= p["upper"] and p["value"] >= 0 for p in load["points"])
    assert load["history_points"] > 0.95 * 28 * 96  # 28 days of quarter-hours, a few outages

    pv = post(stocked, "/forecast", {"meter_id": HOUSE, "target": "pv", "resolution": "1h", "at": END})
    values = [p["value"] for p in pv["points"]]
    assert len(values) == 24 and min(values) >= 0
    assert values[0] == values[1] == 0.0, "local midnight to 02:00 is dark"
    assert max(values) > 1.0, "an 8 kWp roof in June produces at noon"

    price = post(stocked, "/forecast", {"target": "price", "horizon_h": 48, "at": END})
    assert price["scope"] == {"market": "DE-LU", "product": "day_ahead"} and len(price["points"]) == 192
    assert price["unit"] == "EUR/MWh"


def test_forecast_errors_name_the_problem(stocked: TestClient) -> None:
    assert "meter_id" in error(stocked, "/forecast", {"target": "load", "at": END})
    assert "price forecast is for a market" in error(
        stocked, "/forecast", {"target": "price", "meter_id": HOUSE, "at": END}
    )
    too_long = post(stocked, "/forecast", {"target": "price", "horizon_h": 73}, 422)
    assert too_long["error"]["details"][0]["field"] == "body.horizon_h"
    assert (
        post(stocked, "/forecast", {"meter_id": "nope", "target": "load"}, 404)["error"]["code"]
        == "not_found"
    )
    before = error(stocked, "/forecast", {"meter_id": HOUSE, "target": "load", "at": "2026-04-01T00:00:00Z"})
    assert "no stored load data" in before
    short = error(
        stocked,
        "/forecast",
        {"meter_id": HOUSE, "target": "load", "model": "gbm", "at": "2026-05-10T00:00:00+02:00"},
    )
    assert "14" in short, short  # the learned model's minimum history, in days


def test_backtest_learned_model_beats_seasonal_naive(stocked: TestClient) -> None:
    body = {"meter_id": SHOP, "target": "load", "origins": 3, "at": END}
    result = post(stocked, "/forecast/backtest", body)
    rows = {r["model"]: r for r in result["rows"]}
    assert rows["seasonal_naive"]["mase"] == 1.0 and rows["seasonal_naive"]["origins"] == 3
    assert 0 < rows["gbm"]["mase"] < 1.0, rows
    assert rows["gbm"]["mae"] < rows["seasonal_naive"]["mae"]


# --- optimiser ----------------------------------------------------------------------------------------
def test_hand_solved_schedule(stocked: TestClient) -> None:
    """Cheap, cheap, dear, dear: a lossless 4 kWh battery charges 2 kW in the cheap hours and carries
    the 2 kW load through the dear ones. Cost 4 kWh x 0.1 x 2 h = 0.8 EUR against 2.4 EUR."""
    body = {
        "start": "2026-06-08T00:00:00Z",
        "resolution": "1h",
        "inputs": {"load_kw": [2, 2, 2, 2], "import_price_eur_kwh": [0.1, 0.1, 0.5, 0.5]},
        "batteries": [
            {
                "capacity_kwh": 4,
                "charge_max_kw": 2,
                "discharge_max_kw": 2,
                "charge_efficiency": 1,
                "discharge_efficiency": 1,
                "soc_min_pct": 0,
                "soc_initial_pct": 0,
            }
        ],
    }
    plan = post(stocked, "/optimize/schedule", body)
    assert plan["status"] == "optimal" and plan["inputs"] == "explicit"
    assert plan["total_cost_eur"] == pytest.approx(0.8, abs=1e-6)
    assert plan["baseline_cost_eur"] == pytest.approx(2.4, abs=1e-6)
    assert plan["savings_eur"] == pytest.approx(1.6, abs=1e-6)
    assert [s["grid_kw"] for s in plan["steps"]] == pytest.approx([4, 4, 0, 0], abs=1e-6)
    battery = [s["batteries"]["battery"] for s in plan["steps"]]
    assert [b["power_kw"] for b in battery] == pytest.approx([-2, -2, 2, 2], abs=1e-6)
    assert [b["soc_pct"] for b in battery] == pytest.approx([50, 100, 50, 0], abs=1e-3)
    assert plan["steps"][2]["ts"].startswith("2026-06-08T02:00:00")


def test_schedule_from_forecasts_and_stored_prices(stocked: TestClient) -> None:
    reported = {"battery_id": "house-bat", "site": "house", "ts": "2026-06-07T23:30:00+02:00", "soc_pct": 80}
    assert stocked.post("/ingest/battery-states", json={"rows": [reported]}, headers=ADMIN).status_code == 200
    battery = {"capacity_kwh": 10, "charge_max_kw": 5, "discharge_max_kw": 5, "soc_final_pct": 50}
    body = {
        "start": END,
        "horizon_h": 24,
        "stored": {"meter_id": HOUSE},
        "batteries": [battery | {"battery_id": "house-bat"}],
        "deferrable_loads": [
            {"name": "dishwasher", "power_kw": 2, "energy_kwh": 2, "min_run_minutes": 60},
        ],
    }
    plan = post(stocked, "/optimize/schedule", body)
    assert plan["inputs"] == "stored" and len(plan["steps"]) == 96
    assert any("load: forecast by" in n for n in plan["notes"]) and "price: all steps stored" in plan["notes"]
    assert any(n.startswith("battery: starts at 80 % reported at") for n in plan["notes"]), plan["notes"]
    first = plan["steps"][0]["batteries"]["battery"]  # 8 kWh at the start, then this step's power
    assert first["soc_pct"] == pytest.approx(80 - first["power_kw"] * 0.25 / 10 * 100, abs=5)
    assert plan["savings_eur"] >= -1e-6
    for step in plan["steps"]:  # grid = load + deferrable - pv + curtailment - battery (+ = discharge)
        balance = (
            step["load_kw"]
            + sum(step["deferrable_kw"].values())
            - step["pv_kw"]
            + step["curtailment_kw"]
            - sum(b["power_kw"] for b in step["batteries"].values())
        )
        assert step["grid_kw"] == pytest.approx(balance, abs=2e-3)
    runs = [s["deferrable_kw"]["dishwasher"] for s in plan["steps"]]
    assert sum(runs) * 0.25 == pytest.approx(2.0, abs=1e-3) and set(np.round(runs, 3)) <= {0.0, 2.0}
    assert plan["steps"][-1]["batteries"]["battery"]["soc_pct"] >= 50 - 1e-3


def test_infeasible_schedule_is_explained(stocked: TestClient) -> None:
    body = {
        "resolution": "1h",
        "inputs": {"load_kw": [1] * 4, "import_price_eur_kwh": [0.3] * 4},
        "batteries": [
            {
                "capacity_kwh": 10,
                "charge_max_kw": 1,
                "discharge_max_kw": 5,
                "charge_efficiency": 1,
                "soc_initial_pct": 10,
                "soc_final_pct": 90,
            }
        ],
    }
    payload = post(stocked, "/optimize/schedule", body, 422)
    assert "final SOC 90 % unreachable" in payload["error"]["message"]
    conflict = payload["error"]["details"]["conflicts"][0]
    assert conflict["numbers"]["needed_kwh"] == pytest.approx(8.0)
    assert conflict["numbers"]["max_charge_kwh"] == pytest.approx(4.0)


def test_schedule_input_errors_name_the_field(stocked: TestClient) -> None:
    inputs = {"load_kw": [1, 1], "pv_kw": [0], "import_price_eur_kwh": [0.3, 0.3]}
    assert "inputs.pv_kw has 1 values" in error(stocked, "/optimize/schedule", {"inputs": inputs})
    both = {"inputs": {"load_kw": [1], "import_price_eur_kwh": [0.3]}, "stored": {"meter_id": HOUSE}}
    assert "exactly one of `inputs`" in error(stocked, "/optimize/schedule", both)
    window = {
        "start": "2026-06-08T00:00:00Z",
        "inputs": {"load_kw": [1] * 4, "import_price_eur_kwh": [0.3] * 4},
        "deferrable_loads": [
            {"name": "ev", "power_kw": 1, "energy_kwh": 0.25, "window_end": "2026-06-09T00:00:00Z"}
        ],
    }
    assert "deferrable_loads[ev].window_end" in error(stocked, "/optimize/schedule", window)
    too_long = {"resolution": "1h", "inputs": {"load_kw": [1] * 73, "import_price_eur_kwh": [0.3] * 73}}
    assert "72 h" in error(stocked, "/optimize/schedule", too_long)


# --- rules --------------------------------------------------------------------------------------------
def test_rule_crud_and_validation(stocked: TestClient) -> None:
    rule = {"name": "crud-cheap", "when": "price_eur_mwh < 20", "then": {"action": "charge_battery"}}
    created = post(stocked, "/rules", rule, 201)
    rule_id = created["rule_id"]
    assert created["then"]["severity"] == "info" and created["site"] == "default"
    assert post(stocked, "/rules", rule, 409)["error"]["details"]["field"] == "name"

    bad = post(stocked, "/rules", rule | {"name": "typo", "when": "sco_pct < 20"}, 422)["error"]
    assert bad["details"][0]["field"] == "body.when" and "did you mean 'soc_pct'" in bad["message"]
    patch = stocked.patch(f"/rules/{rule_id}", json={"when": "price_eur_mwh <"}, headers=ADMIN)
    assert patch.status_code == 422 and "syntax error" in patch.json()["error"]["message"]
    assert stocked.get(f"/rules/{rule_id}", headers=ADMIN).json()["when"] == "price_eur_mwh < 20"

    changed = stocked.patch(
        f"/rules/{rule_id}", json={"when": "price_eur_mwh < 25", "enabled": False}, headers=ADMIN
    )
    assert changed.status_code == 200 and changed.json()["when"] == "price_eur_mwh < 25"
    assert changed.json()["enabled"] is False
    names = [r["name"] for r in stocked.get("/rules", headers=ADMIN).json()["items"]]
    assert "crud-cheap" in names
    assert stocked.delete(f"/rules/{rule_id}", headers=ADMIN).status_code == 204
    assert stocked.get(f"/rules/{rule_id}", headers=ADMIN).status_code == 404
    variables = {v["name"]: v["unit"] for v in stocked.get("/rules/variables", headers=ADMIN).json()}
    assert variables["price_eur_mwh"] == "EUR/MWh" and variables["soc_pct"] == "%"


def test_yaml_import_is_all_or_nothing(stocked: TestClient) -> None:
    good = "- name: yaml-a\n  when: import_kw > 5\n  then: notify\n  site: sim\n"
    broken = good + "- name: yaml-b\n  when: price_eur_mwh < 1\n  then: {action: explode}\n"
    headers = ADMIN | {"content-type": "application/yaml"}
    response = stocked.post("/rules/import", content=broken, headers=headers)
    assert response.status_code == 422, response.text
    body = response.json()["error"]
    assert body["details"]["rule_index"] == 1 and "unknown action 'explode'" in body["message"]
    names = [r["name"] for r in stocked.get("/rules", headers=ADMIN).json()["items"]]
    assert "yaml-a" not in names, "nothing is stored when one rule is invalid"
    stored = stocked.post("/rules/import", content=good, headers=headers)
    assert stored.status_code == 201 and stored.json()["items"][0]["site"] == "sim"
    syntax = stocked.post("/rules/import", content="- name: [", headers=headers)
    assert syntax.status_code == 422 and "line 1" in syntax.json()["error"]["message"]
    stocked.delete(f"/rules/{stored.json()['items'][0]['rule_id']}", headers=ADMIN)


def test_dry_run_shows_when_rules_fire(stocked: TestClient) -> None:
    rules = [
        {
            "name": "dry-negative",
            "when": "price_eur_mwh < 0",
            "then": {"action": "shift_load", "message": "price {price_eur_mwh:.1f}"},
            "cooldown_minutes": 60,
            "site": "sim",
        },
        {"name": "dry-soc", "when": "soc_pct < 20", "then": "hold_battery", "site": "sim"},
        {"name": "dry-peak", "when": "import_kw >= peak_month_kw", "then": "reduce_load", "site": "sim"},
    ]
    body = {"from": "2026-06-01T00:00:00+02:00", "to": END, "rules": rules}
    result = post(stocked, "/rules/evaluate", body)
    assert result["steps"] == 7 * 96
    negative = [f for f in result["firings"] if f["rule"] == "dry-negative"]
    assert negative and all(f["values"]["price_eur_mwh"] < 0 for f in negative)
    times = [datetime.fromisoformat(f["ts"]) for f in negative]
    assert all(b - a >= timedelta(minutes=60) for a, b in itertools.pairwise(times))
    summary = {s["rule"]: s for s in result["summary"]}
    assert summary["dry-soc"]["fired"] == 0 and summary["dry-soc"]["missing"] == {"soc_pct": 7 * 96}
    assert summary["dry-negative"]["steps_true"] >= len(negative)
    assert summary["dry-peak"]["fired"] >= 1, "a new monthly peak happens in the first week of June"
    assert "31 days" in error(stocked, "/rules/evaluate", body | {"from": "2026-04-01T00:00:00Z"})


def test_a_viewer_cannot_grow_a_message_without_bound(
    stocked: TestClient, make_key: Callable[[TestClient, Role], str]
) -> None:
    """Regression (issue 9, item 1): "{soc_pct:100000000}" in a dry run grew the server to 16 GB."""
    viewer = auth(make_key(stocked, Role.VIEWER))
    rule = {"name": "wide", "when": "price_eur_mwh < 1000", "site": "sim"}
    for message in ("{price_eur_mwh:100000000}", "{price_eur_mwh:.1000000f}"):
        body = {"from": "2026-06-01T00:00:00+02:00", "to": END}
        body["rules"] = [rule | {"then": {"action": "notify", "message": message}}]
        response = stocked.post("/rules/evaluate", json=body, headers=viewer)
        assert response.status_code == 422, response.text[:300]
        assert "above the limit" in response.json()["error"]["message"]
    stored = stocked.post(
        "/rules",
        json=rule | {"then": {"action": "notify", "message": "{price_eur_mwh:1000000000}"}},
        headers=ADMIN,
    )
    assert stored.status_code == 422 and "format width 1000000000" in stored.json()["error"]["message"]


def test_scheduled_evaluation_fires_once_per_step(stocked: TestClient) -> None:
    rule = {
        "name": "job-always",
        "when": "consumption_kw >= 0",
        "then": {"action": "notify", "severity": "warning"},
    }
    created = post(stocked, "/rules", rule | {"site": "sim", "cooldown_minutes": 30}, 201)
    container: Container = stocked.app.state.container  # type: ignore[attr-defined]
    now = datetime(2026, 6, 7, 12, 7, tzinfo=UTC)
    with container.session_factory() as session:
        fired = rule_service.evaluate_due(session=session, settings=container.settings, now=now)
        again = rule_service.evaluate_due(session=session, settings=container.settings, now=now)
        later = rule_service.evaluate_due(session=session, settings=container.settings, now=now + QUARTER)
    assert (fired, again, later) == (1, 0, 0), "same step twice is skipped; the next is in the cooldown"
    alerts = stocked.get("/alerts", params={"kind": "notify"}, headers=ADMIN).json()["items"]
    mine = [a for a in alerts if a["rule_id"] == created["rule_id"]]
    assert len(mine) == 1 and mine[0]["severity"] == "warning" and mine[0]["source"] == "rule"
    assert mine[0]["start_at"].startswith("2026-06-07T11:45:00")
    stored = stocked.get(f"/rules/{created['rule_id']}", headers=ADMIN).json()
    assert stored["last_fired_at"].startswith("2026-06-07T11:45:00")
    stocked.delete(f"/rules/{created['rule_id']}", headers=ADMIN)


# --- anomalies and alerts -----------------------------------------------------------------------------
def _injected_rows(meter_id: str) -> tuple[list[dict[str, Any]], dict[str, datetime]]:
    """Four weeks and a day of a clean daily load shape with a spike, a gap and a stuck meter."""
    start = datetime(2026, 5, 4, tzinfo=UTC)
    steps = 29 * 96
    rng = np.random.default_rng(7)
    hours = np.arange(steps) / 4.0
    load = 5 + 3 * np.sin((hours % 24 - 6) / 24 * 2 * math.pi) + rng.normal(0, 0.15, steps)
    spike, gap, flat = 28 * 96 + 40, 28 * 96 + 10, 28 * 96 + 60
    load[spike] = 40.0
    load[flat : flat + 12] = load[flat]
    rows = []
    for i in range(steps):
        if gap <= i < gap + 8:
            continue
        rows.append(
            {
                "meter_id": meter_id,
                "ts": (start + i * QUARTER).isoformat(),
                "consumption_kw": round(float(load[i]), 4),
            }
        )
    marks = {
        name: start + index * QUARTER for name, index in (("spike", spike), ("gap", gap), ("flatline", flat))
    }
    return rows, marks


def test_detection_finds_injected_anomalies_without_duplicates(
    stocked: TestClient, make_key: Callable[[TestClient, Role], str]
) -> None:
    meter = "inject-001"
    rows, marks = _injected_rows(meter)
    response = stocked.post(
        "/ingest/meter-readings", json={"rows": rows}, params={"create_meters": True}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    body = {"meter_id": meter, "from": "2026-06-01T00:00:00Z", "to": "2026-06-02T00:00:00Z"}
    first = post(stocked, "/anomalies/detect", body)
    found = {a["kind"]: a for a in first["alerts"]}
    assert set(found) == {"spike", "gap", "flatline"}, [a["message"] for a in first["alerts"]]
    for kind, ts in marks.items():
        assert datetime.fromisoformat(found[kind]["start_at"]) == ts, (kind, found[kind])
    assert found["gap"]["evidence"]["steps"] == 8
    assert "40.0 kW" in found["spike"]["message"]

    again = post(stocked, "/anomalies/detect", body)
    assert again["new_alerts"] == 0 and again["anomalies"] == first["anomalies"]
    listed = stocked.get("/alerts", params={"meter_id": meter}, headers=ADMIN).json()
    assert listed["total"] == 3

    alert_id = found["spike"]["alert_id"]
    viewer = auth(make_key(stocked, Role.VIEWER))
    assert stocked.post(f"/alerts/{alert_id}/acknowledge", headers=viewer).status_code == 403
    analyst = auth(make_key(stocked, Role.ANALYST))
    acked = stocked.post(f"/alerts/{alert_id}/acknowledge", headers=analyst).json()
    assert acked["acknowledged_at"] is not None and acked["acknowledged_by"] == "analyst-key"
    open_alerts = stocked.get("/alerts", params={"meter_id": meter, "acknowledged": False}, headers=ADMIN)
    assert open_alerts.json()["total"] == 2
    wrong = stocked.get("/alerts", params={"severity": "boss", "meterid": meter}, headers=ADMIN)
    fields = {d["field"] for d in wrong.json()["error"]["details"]}
    assert wrong.status_code == 422 and fields == {"query.severity", "query.meterid"}, wrong.text


def test_clean_simulated_week_raises_no_alerts(stocked: TestClient) -> None:
    body = {"meter_id": SHOP, "from": "2026-06-01T00:00:00+02:00", "to": END}
    assert post(stocked, "/anomalies/detect", body)["anomalies"] == 0


# --- what-if scenarios --------------------------------------------------------------------------------
def test_whatif_playbook_is_stored_and_listed(stocked: TestClient) -> None:
    body = {
        "name": "battery or more pv",
        "meter_id": HOUSE,
        "from": "2026-06-01T00:00:00+02:00",
        "to": "2026-06-04T00:00:00+02:00",
        "variations": [
            {"name": "10 kWh battery", "battery_capacity_kwh": 10},
            {"name": "pv x1.5", "pv_scale": 1.5},
            {"name": "demand charge", "battery_capacity_kwh": 10, "tariff": {"peak_charge_eur_kw": 15}},
        ],
    }
    result = post(stocked, "/scenarios/whatif", body, 201)
    base = result["why"]["baseline"]
    assert base["consumption_kwh"] > 0 and base["production_kwh"] > 0 and base["cost_eur"] > 0
    assert result["why"]["findings"] and "drivers" in result["why"]
    deltas = {d["variation"]: d for d in result["what_if"]}
    assert deltas["10 kWh battery"]["cost_eur"] < 0 and deltas["10 kWh battery"]["autarky_pp"] > 0
    assert deltas["pv x1.5"]["co2_kg"] < 0 and deltas["pv x1.5"]["import_kwh"] < 0
    how = {h["variation"]: h for h in result["how"]}
    assert how["10 kWh battery"]["battery_discharged_kwh"] > 0 and how["baseline"]["battery_charged_kwh"] == 0
    charged = how["demand charge"]  # charged once, on the period's peak, which the battery shaved
    peak = result["what"][2]["kpis"]["peak_import_kw"]
    assert charged["peak_charge_eur"] == pytest.approx(15 * peak, abs=0.02)
    assert peak < base["peak_import_kw"] and deltas["demand charge"]["peak_import_kw"] < 0
    co2 = result["what"][0]["kpis"]["co2_kg"]
    assert co2 == pytest.approx(result["what"][0]["kpis"]["import_kwh"] * 0.38, abs=0.1)

    listed = stocked.get("/scenarios", headers=ADMIN).json()
    assert any(s["scenario_id"] == result["scenario_id"] for s in listed["items"])
    again = stocked.get(f"/scenarios/{result['scenario_id']}", headers=ADMIN).json()
    assert again == result


def test_whatif_errors_name_the_problem(stocked: TestClient) -> None:
    body = {
        "meter_id": HOUSE,
        "from": "2026-04-01T00:00:00Z",
        "to": "2026-05-15T00:00:00Z",
        "variations": [{"name": "x"}],
    }
    assert "31 days" in error(stocked, "/scenarios/whatif", body)
    empty = body | {"from": "2026-01-01T00:00:00Z", "to": "2026-01-03T00:00:00Z"}
    assert "no stored readings" in error(stocked, "/scenarios/whatif", empty)
    capped = body | {
        "from": "2026-06-01T00:00:00+02:00",
        "to": "2026-06-02T00:00:00+02:00",
        "variations": [{"name": "tiny cap", "peak_limit_kw": 0.1}],
    }
    message = error(stocked, "/scenarios/whatif", capped)
    assert "variation 'tiny cap'" in message and "import" in message
