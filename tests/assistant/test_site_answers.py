"""Luna's site-data answers against real stored data (the simulated site 'sim', both databases), and the
LLM path against a loopback OpenAI-compatible server that returns scripted tool calls (a wire-protocol
double: no model runs here)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from luna_iems.admin.schemas import Role
from luna_iems.assistant import service as assistant_service
from luna_iems.assistant.tools import ToolContext
from luna_iems.bootstrap import Container
from luna_iems.errors import PermissionDeniedError
from luna_iems.main import create_app
from luna_iems.settings import Settings
from luna_iems.simulation import service as sim_service
from tests.conftest import ADMIN_TOKEN, auth, make_settings
from tests.support.loopback import Recorded, json_reply, loopback_server

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
ADMIN = auth(ADMIN_TOKEN)


def _seed(container: Container) -> None:
    deps = container.timeseries_deps
    config = sim_service.load_config(deps)
    meters = sim_service.select_meters(config, meter_ids=None, count=1)
    start, end = datetime(2026, 9, 30, 22, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    sim_service.backfill_meters(deps=deps, ts_from=start, ts_to=end, meters=meters)
    sim_service.backfill_prices(deps=deps, ts_from=start, ts_to=datetime(2026, 12, 8, tzinfo=UTC))


@pytest.fixture
def site(client: TestClient) -> TestClient:
    _seed(client.app.state.container)  # type: ignore[attr-defined]
    return client


def _answer(client: TestClient, question: str, role: Role = Role.VIEWER) -> assistant_service.SiteAnswer:
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    answer = assistant_service.answer_site_question(
        deps=container.assistant_deps, question=question, role=role, now=NOW
    )
    assert answer is not None
    return answer


def test_autarky_last_week_matches_the_kpis_route(site: TestClient) -> None:
    answer = _answer(site, "Wie hoch war meine Autarkie letzte Woche?")
    kpis = site.get(
        "/kpis",
        params={"site": "sim", "from": "2026-11-22T23:00:00Z", "to": "2026-11-29T23:00:00Z"},
        headers=ADMIN,
    ).json()
    [result] = answer.results
    assert result.data["autarky_pct"] == round(kpis["autarky_rate"] * 100, 1)
    assert answer.language == "de" and f"{result.data['autarky_pct']:.1f}".replace(".", ",") in answer.text
    assert result.citation.source == "KPIs site sim, 2026-11-23…2026-11-29"
    assert result.citation.link == "/smart-meters?site=sim&from=2026-11-23&to=2026-11-30&tz=Europe%2FBerlin"


def test_why_was_the_bill_high_compares_with_the_previous_month(site: TestClient) -> None:
    answer = _answer(site, "Why was the bill high in November?")
    [result] = answer.results
    data = result.data
    assert (data["period"]["period"], data["previous"]["period"]) == (
        "2026-11-01…2026-11-30",
        "2026-10-01…2026-10-31",
    )
    assert data["driver"] in data["effects_eur"]
    assert data["period"]["import_kwh"] > 0 and data["previous"]["import_kwh"] > 0
    assert "Largest driver" in answer.text and "€" in answer.text and "kWh" in answer.text


def test_cheapest_hours_and_ask_route_carry_data_citations(site: TestClient) -> None:
    response = site.post(
        "/rag/ask", json={"question": "What were the cheapest prices on 2026-12-07?"}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["generator"] == "tools" and body["citations"] == []
    assert body["data_citations"] == [
        {
            "source": "Prices DE-LU day_ahead, 2026-12-07",
            "link": "/prices?from=2026-12-07&to=2026-12-08",
            "tool": "price_hours",
        }
    ]
    assert "ct/kWh" in body["answer"]


def test_what_if_needs_the_analyst_role(site: TestClient) -> None:
    container: Container = site.app.state.container  # type: ignore[attr-defined]
    args = {
        "from_date": "2026-11-01",
        "to_date": "2026-11-07",
        "battery_capacity_kwh": 10,
        "battery_power_kw": 5,
    }
    with container.session_factory() as session:
        viewer = ToolContext(
            session=session, settings=container.settings, now=NOW, role=Role.VIEWER, sites=("sim",)
        )
        with pytest.raises(PermissionDeniedError):
            assistant_service.call_tool(viewer, "what_if", args)
        analyst = ToolContext(
            session=session, settings=container.settings, now=NOW, role=Role.ANALYST, sites=("sim",)
        )
        result = assistant_service.call_tool(analyst, "what_if", args)
    assert result.data["deltas"]["cost_eur"] <= 0  # a battery never makes the replay dearer


# --- the LLM path ---------------------------------------------------------------------------------
def _scripted(replies: list[dict[str, Any]]) -> Any:
    def handler(request: Recorded) -> tuple[int, dict[str, str], bytes]:
        if not replies:  # nothing scripted: the server fails
            return json_reply({"error": {"message": "model crashed"}}, 500)
        return json_reply({"choices": [{"index": 0, "message": replies.pop(0), "finish_reason": "stop"}]})

    return handler


def _call(name: str, arguments: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


@pytest.fixture
def llm_site(tmp_path: Any, database_url: str) -> Iterator[tuple[TestClient, list[dict[str, Any]], Any]]:
    replies: list[dict[str, Any]] = []
    with loopback_server({("POST", "/v1/chat/completions"): _scripted(replies)}) as server:
        settings: Settings = make_settings(
            tmp_path,
            database_url=database_url,
            generator_backend="openai",
            openai_base_url=server.url + "/v1",
        )
        with TestClient(create_app(settings)) as client:
            _seed(client.app.state.container)  # type: ignore[attr-defined]
            yield client, replies, server


def test_model_chooses_tools_and_refused_calls_get_a_tool_error(
    llm_site: tuple[TestClient, list[dict[str, Any]], Any],
) -> None:
    client, replies, server = llm_site
    period = {"site": "sim", "from_date": "2026-11-01", "to_date": "2026-11-30"}
    replies += [
        {"role": "assistant", "content": "", "tool_calls": [
            _call("site_kpis", period, "c1"),
            _call("what_if", {**period, "pv_scale": 2}, "c2"),  # above a viewer's role
            _call("drop_tables", {}, "c3"),  # no such tool
        ]},
        {"role": "assistant", "content": "Your autarky in November was 42 %."},
    ]  # fmt: skip
    answer = _answer(client, "What was my autarky in November?")
    assert answer.generator == "openai" and answer.text == "Your autarky in November was 42 %."
    assert [r.tool for r in answer.results] == ["site_kpis"]
    first, second = (r.json() for r in server.requests)
    assert "what_if" not in {t["function"]["name"] for t in first["tools"]}  # never offered to a viewer
    tool_messages = [m for m in second["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["c1", "c2", "c3"]
    assert "autarky_pct" in tool_messages[0]["content"]
    assert "needs the role 'analyst'" in json.loads(tool_messages[1]["content"])["error"]
    assert "unknown tool" in json.loads(tool_messages[2]["content"])["error"]


def test_a_model_that_calls_no_tool_leaves_the_question_to_the_documents(
    llm_site: tuple[TestClient, list[dict[str, Any]], Any],
) -> None:
    client, replies, server = llm_site
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    deps = container.assistant_deps
    ask = assistant_service.answer_site_question
    assert ask(deps=deps, question="What is autarky?", role=Role.VIEWER, now=NOW) is None
    assert server.requests == []  # a definition question never reaches the model
    replies.append({"role": "assistant", "content": "I cannot tell."})
    assert ask(deps=deps, question="What was my autarky in November?", role=Role.VIEWER, now=NOW) is None
    assert len(server.requests) == 1


def test_a_failing_model_falls_back_to_the_intent_parser(
    llm_site: tuple[TestClient, list[dict[str, Any]], Any],
) -> None:
    client, _, _ = llm_site
    answer = _answer(client, "Wie war meine Autarkie im November?")
    assert answer.generator == "tools" and [r.tool for r in answer.results] == ["site_kpis"]
    assert answer.notes[0].startswith("model unavailable, answered by the intent parser")
    assert "Autarkie" in answer.text and "%" in answer.text


def test_charge_plan_and_forecast_run_the_optimiser_and_the_forecaster(site: TestClient) -> None:
    plan = _answer(site, "When should I charge tomorrow with my 8 kWh battery?")
    [result] = plan.results
    assert result.tool == "optimiser_plan" and result.data["day"] == "2026-12-07"
    assert result.data["battery"]["capacity_kwh"] == 8.0
    charged = sum(w["energy_kwh"] for w in result.data["charge_windows"])
    assert 0 <= charged <= 8.0 / 0.95 * 2  # at most about two full cycles in a day
    assert "Assumed battery: 8.0 kWh" in plan.text
    forecast = _answer(site, "What is the load forecast for my site tomorrow?")
    [result] = forecast.results
    assert result.tool == "forecast" and result.data["unit"] == "kW" and result.data["energy_kwh"] > 0


def test_streamed_site_answer_sends_the_same_events_as_a_document_answer(site: TestClient) -> None:
    question = {"question": "Wie hoch war meine Autarkie vom 2026-11-01 bis 2026-11-07?", "stream": True}
    response = site.post("/rag/ask", json=question, headers=ADMIN)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = [block.split("\n") for block in response.text.strip().split("\n\n")]
    assert [e[0] for e in events] == ["event: citations", "event: token", "event: done"]
    done = json.loads(events[2][1].removeprefix("data: "))
    assert done["data_citations"][0]["source"] == "KPIs site sim, 2026-11-01…2026-11-07"
    assert done["language"] == "de" and "Autarkie" in done["answer"]
