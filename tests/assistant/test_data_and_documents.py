"""Site-data answers that also cite the documents speaking to the same question (issue 14 item 4):
real stored data (simulated site 'sim'), the sample documents plus a tariff sheet, the real embedding
model and the document path's own answerability gate, on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from luna_iems.assistant import intents
from luna_iems.bootstrap import Container
from luna_iems.knowledge import service as knowledge_service
from luna_iems.knowledge.schemas import TextIn
from luna_iems.knowledge.seed import seed_documents
from luna_iems.main import create_app
from luna_iems.simulation import service as sim_service
from tests.conftest import ADMIN_TOKEN, auth, make_settings

pytestmark = pytest.mark.slow  # loads the embedding model

ADMIN = auth(ADMIN_TOKEN)
TARIFF = """# Electricity tariff Lunaburg 2026

## Peak charge

Besides the energy price, the supplier bills a peak charge of 95 €/kW on the highest 15-minute grid
import of each month. A single evening peak therefore makes the monthly bill high: import in the
evening peak from 17:00 to 21:00 costs the most.
"""


@pytest.fixture
def library(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, database_url=database_url)
    with TestClient(create_app(settings)) as client:
        container: Container = client.app.state.container  # type: ignore[attr-defined]
        deps = container.timeseries_deps
        config = sim_service.load_config(deps)
        meters = sim_service.select_meters(config, meter_ids=None, count=1)
        start, end = datetime(2026, 9, 30, 22, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
        sim_service.backfill_meters(deps=deps, ts_from=start, ts_to=end, meters=meters)
        sim_service.backfill_prices(deps=deps, ts_from=start, ts_to=end)
        assert seed_documents(container.knowledge_deps) is not None
        knowledge_service.ingest_text(
            deps=container.knowledge_deps, text_in=TextIn(title="Tariff Lunaburg", text=TARIFF, tags=["en"])
        )
        yield client


def ask(client: TestClient, question: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/rag/ask", json={"question": question, **extra}, headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_why_the_bill_was_high_cites_the_kpis_and_the_tariff(library: TestClient) -> None:
    body = ask(library, "Why was the bill high in November 2026?")
    assert body["generator"] == "tools"
    assert [c["tool"] for c in body["data_citations"]] == ["compare_periods"]
    assert (
        body["data_citations"][0]["source"] == "KPIs site sim, 2026-11-01…2026-11-30 vs 2026-10-01…2026-10-31"
    )
    numbers, documents = body["answer"].split("\n\nYour documents on this: ")
    assert "Largest driver" in numbers and "€" in numbers
    assert documents.endswith("[1]") and "evening peak" in documents  # quoted from the tariff sheet
    [tariff] = body["citations"]
    assert (tariff["n"], tariff["title"], tariff["heading"]) == (
        1,
        "Tariff Lunaburg",
        "Electricity tariff Lunaburg 2026 > Peak charge",
    )
    # Streamed, the same answer lists the same document citations first.
    streamed = library.post(
        "/rag/ask",
        json={"question": "Why was the bill high in November 2026?", "stream": True},
        headers=ADMIN,
    )
    events = [block.split("\n") for block in streamed.text.strip().split("\n\n")]
    assert [e[0] for e in events] == ["event: citations", "event: token", "event: done"]
    assert json.loads(events[0][1].removeprefix("data: "))[0]["title"] == "Tariff Lunaburg"


def test_a_data_question_no_document_answers_stays_data_only(library: TestClient) -> None:
    body = ask(library, "What were the cheapest prices on 2026-11-20?")
    assert body["data_citations"][0]["tool"] == "price_hours"
    assert body["citations"] == [] and "Your documents" not in body["answer"]


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("Why was the bill high in November 2026?", "Why was the bill high ?"),
        ("Warum war die Rechnung im November so hoch?", "Warum war die Rechnung so hoch?"),
        ("Wie hoch war meine Autarkie vom 2026-11-01 bis 2026-11-07?", "Wie hoch war meine Autarkie ?"),
        ("What was my import last week?", "What was my import ?"),
        ("What may I save in the last 30 days?", "What may I save in the ?"),  # "may" is a verb here
    ],
)
def test_the_document_search_gets_the_topic_without_the_period(question: str, topic: str) -> None:
    assert intents.without_period(question) == topic
