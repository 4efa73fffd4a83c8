"""POST /rag/ask over HTTP without a language model (extractive answers) on the sample documents:
citations, languages, "nothing found", conversations, roles and Server-Sent Events."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from luna_iems.knowledge.models import Conversation, ConversationTurn
from luna_iems.knowledge.seed import SEED_TAGS, seed_documents
from tests.conftest import auth, make_settings
from tests.knowledge.api_support import ADMIN, container_of, running, sse_events

EN_LABEL = "No language model is configured, so here is what your documents say, quoted, not paraphrased:"
DE_LABEL = "Kein Sprachmodell eingerichtet; hier steht, was Ihre Dokumente sagen, wörtlich zitiert:"
NOTHING_EN = "I looked through your documents and found nothing that answers this"
CITE = re.compile(r"\[(\d+)\]")
CITATION_FIELDS = {"n", "chunk_id", "item_id", "title", "page", "section", "heading", "snippet", "score"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[TestClient]:
    tmp_path = tmp_path_factory.mktemp("rag")
    shutil.copyfile(sqlite_template, tmp_path / "luna.db")
    settings = make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'luna.db'}")
    with running(settings) as client:
        summary = seed_documents(container_of(client).knowledge_deps)
        assert summary is not None and summary.startswith("4 sample documents")
        yield client


def _documents(client: TestClient) -> dict[str, dict[str, Any]]:
    """item_id -> document (with its tags: "en"/"de")."""
    items = client.get("/documents", headers=ADMIN).json()["items"]
    return {d["item_id"]: d for d in items}


def ask(
    client: TestClient, question: str, headers: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    response = client.post("/rag/ask", headers=headers or ADMIN, json={"question": question, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _check_citations(client: TestClient, body: dict[str, Any]) -> None:
    documents = _documents(client)
    numbers = [c["n"] for c in body["citations"]]
    assert numbers == list(range(1, len(numbers) + 1))
    for citation in body["citations"]:
        assert set(citation) == CITATION_FIELDS
        assert citation["title"] == documents[citation["item_id"]]["title"]
        assert citation["snippet"] and citation["score"] > 0
        uuid.UUID(citation["chunk_id"])
    cited = {int(n) for n in CITE.findall(body["answer"])}
    assert cited and cited <= set(numbers)


def test_english_question_gets_an_extractive_answer_with_valid_citations(seeded: TestClient) -> None:
    body = ask(seeded, "What is the peak-shaving limit for the grid import?")
    assert body["answer"].startswith(EN_LABEL)
    assert "380 kW" in body["answer"]
    assert (body["generator"], body["language"], body["found_relevant"]) == ("extractive", "en", True)
    assert (body["prompt_version"], body["notes"]) == ("luna-v2", [])
    uuid.UUID(body["conversation_id"])
    _check_citations(seeded, body)
    # the sentence with 380 kW is quoted with the number of the operating manual's citation
    titles = {c["n"]: c["title"] for c in body["citations"]}
    sentence = re.search(r"380 kW\.? \[(\d+)\]", body["answer"])
    assert sentence is not None
    assert titles[int(sentence.group(1))] == "Operating manual: Lunaburg municipal utility site"


def test_german_question_gets_a_german_answer_from_german_sources(seeded: TestClient) -> None:
    body = ask(seeded, "Wie hoch ist die Kappungsgrenze für den Netzbezug?")
    assert body["answer"].startswith(DE_LABEL)
    assert "380 kW" in body["answer"]
    assert (body["language"], body["generator"], body["found_relevant"]) == ("de", "extractive", True)
    _check_citations(seeded, body)
    documents = _documents(seeded)
    languages = {
        tag for c in body["citations"] for tag in documents[c["item_id"]]["tags"] if tag in {"de", "en"}
    }
    assert languages == {"de"}  # only the German documents (tagged "de" by the seed) are cited


def test_filters_restrict_the_sources(seeded: TestClient) -> None:
    documents = _documents(seeded)
    manual = next(i for i, d in documents.items() if d["source"] == "seed:operating-manual-lunaburg-en.md")
    body = ask(seeded, "What is the peak-shaving limit?", filters={"item_ids": [manual]}, top_k=2)
    assert body["citations"] and {c["item_id"] for c in body["citations"]} == {manual}
    assert len(body["citations"]) <= 2
    body = ask(seeded, "What is the peak-shaving limit?", filters={"tags": ["glossary"]})
    assert all("glossary" in documents[c["item_id"]]["tags"] for c in body["citations"])


@pytest.mark.parametrize(
    ("filters", "found"),
    [
        ({"created_from": "2000-01-01T00:00:00Z"}, True),
        ({"created_from": "2999-01-01T00:00:00+02:00"}, False),
        ({"created_to": "2000-01-01T00:00:00Z"}, False),
        ({"created_to": "2999-01-01T00:00:00Z", "tags": ["manual"]}, True),
    ],
)
def test_time_filters(seeded: TestClient, filters: dict[str, Any], found: bool) -> None:
    body = ask(seeded, "What is the peak-shaving limit?", filters=filters)
    assert body["found_relevant"] is found
    assert bool(body["citations"]) is found


def test_naive_time_filter_is_422(seeded: TestClient) -> None:
    response = seeded.post(
        "/rag/ask", headers=ADMIN, json={"question": "x", "filters": {"created_from": "2000-01-01T00:00:00"}}
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "body.filters.created_from"


def test_unrelated_question_says_nothing_was_found(seeded: TestClient) -> None:
    body = ask(seeded, "What is the capital of France?")
    assert body["found_relevant"] is False
    assert body["citations"] == []
    assert body["answer"].startswith(NOTHING_EN)
    assert CITE.search(body["answer"]) is None
    assert (body["generator"], body["language"]) == ("extractive", "en")
    german = ask(seeded, "Wie heißt die Hauptstadt von Frankreich?")
    assert german["found_relevant"] is False and german["citations"] == []
    assert german["answer"].startswith("Ich habe Ihre Dokumente durchsucht und leider nichts gefunden")


def test_conversation_follow_up_and_stored_turns(seeded: TestClient) -> None:
    first = ask(seeded, "What is the peak-shaving limit?")
    conversation = first["conversation_id"]
    follow_up = ask(seeded, "And what reserve is kept in winter for it?", conversation_id=conversation)
    assert follow_up["conversation_id"] == conversation
    assert follow_up["found_relevant"] is True
    assert "30 %" in follow_up["answer"]
    _check_citations(seeded, follow_up)
    with container_of(seeded).session_factory() as session:
        turns = session.scalars(
            select(ConversationTurn)
            .where(ConversationTurn.conversation_id == uuid.UUID(conversation))
            .order_by(ConversationTurn.turn_id)
        ).all()
        assert [t.question for t in turns] == [
            "What is the peak-shaving limit?",
            "And what reserve is kept in winter for it?",
        ]
        assert [t.answer for t in turns] == [first["answer"], follow_up["answer"]]
        assert turns[1].citations == follow_up["citations"]
        assert session.get(Conversation, uuid.UUID(conversation)) is not None
    # a fresh question starts a new conversation
    assert ask(seeded, "What is the peak-shaving limit?")["conversation_id"] != conversation


@pytest.mark.parametrize("stream", [False, True])
def test_unknown_conversation_is_404(seeded: TestClient, stream: bool) -> None:
    unknown = str(uuid.uuid4())
    response = seeded.post(
        "/rag/ask",
        headers=ADMIN,
        json={"question": "What is the limit?", "conversation_id": unknown, "stream": stream},
    )
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert error["details"] == {"conversation_id": unknown}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "body.question"),
        ({"question": ""}, "body.question"),
        ({"question": "x", "top_k": 0}, "body.top_k"),
        ({"question": "x", "top_k": 21}, "body.top_k"),
        ({"question": "x", "model": "gpt"}, "body.model"),
        ({"question": "x", "filters": {"tag": ["a"]}}, "body.filters.tag"),
        ({"question": "x", "conversation_id": "abc"}, "body.conversation_id"),
    ],
)
def test_invalid_questions_are_422(seeded: TestClient, payload: dict[str, Any], field: str) -> None:
    response = seeded.post("/rag/ask", headers=ADMIN, json=payload)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == field


def test_viewer_may_ask_but_not_change_documents(
    seeded: TestClient, make_key: Callable[[TestClient, str], str]
) -> None:
    viewer = auth(make_key(seeded, "viewer"))
    body = ask(seeded, "What is the peak-shaving limit?", headers=viewer)
    assert "380 kW" in body["answer"]
    item_id = next(iter(_documents(seeded)))
    assert seeded.post("/ingest/text", headers=viewer, json={"title": "t", "text": "x"}).status_code == 403
    assert seeded.post("/ingest/doc", headers=viewer, files={"file": ("a.txt", b"x")}).status_code == 403
    assert seeded.delete(f"/documents/{item_id}", headers=viewer).status_code == 403
    assert seeded.post(f"/documents/{item_id}/reindex", headers=viewer).status_code == 403
    assert seeded.get(f"/documents/{item_id}", headers=viewer).status_code == 200
    assert seeded.post("/rag/ask", json={"question": "x"}).status_code == 401
    assert len(_documents(seeded)) == len(SEED_TAGS)


def test_stream_sends_citations_tokens_and_done(seeded: TestClient) -> None:
    with seeded.stream(
        "POST",
        "/rag/ask",
        headers=ADMIN,
        json={"question": "What is the peak-shaving limit?", "stream": True},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.read().decode())
    names = [name for name, _ in events]
    assert names[0] == "citations" and names[-1] == "done"
    assert set(names[1:-1]) == {"token"} and len(names) >= 3
    citations, done = events[0][1], events[-1][1]
    assert done["citations"] == citations
    assert "".join(data for name, data in events if name == "token") == done["answer"]
    assert done["answer"].startswith(EN_LABEL) and "380 kW" in done["answer"]
    assert (done["generator"], done["found_relevant"]) == ("extractive", True)
    # the streamed answer equals the JSON one for the same question
    assert done["answer"] == ask(seeded, "What is the peak-shaving limit?")["answer"]


def test_stream_of_an_unrelated_question(seeded: TestClient) -> None:
    response = seeded.post(
        "/rag/ask", headers=ADMIN, json={"question": "What is the capital of France?", "stream": True}
    )
    events = sse_events(response.text)
    assert [name for name, _ in events] == ["citations", "token", "done"]
    assert events[0][1] == []
    assert events[-1][1]["found_relevant"] is False
    assert events[1][1].startswith(NOTHING_EN)


def test_a_conversation_belongs_to_the_key_that_started_it(
    seeded: TestClient, make_key: Callable[[TestClient, Any], str]
) -> None:
    from luna_iems.admin.schemas import Role

    mine = ask(seeded, "What is the peak-shaving limit?")["conversation_id"]
    other = make_key(seeded, Role.VIEWER)
    response = seeded.post(
        "/rag/ask",
        headers=auth(other),
        json={"question": "And in winter?", "conversation_id": mine},
    )
    assert response.status_code == 404  # the same answer as for a conversation that does not exist
    assert ask(seeded, "And in winter?", conversation_id=mine)["conversation_id"] == mine
