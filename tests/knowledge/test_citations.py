"""Citations that hold (issue 14): every cited source is quoted, every quoted sentence is cited, and a
citation names the document, its § or page and its heading.

Unit tests of `rag.check_citations` (the LLM path), then the extractive path through the real app on
SQLite and PostgreSQL (seed documents, an MsbG excerpt, injection documents; no language model)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from luna_iems.knowledge.rag import check_citations
from luna_iems.knowledge.schemas import Citation
from tests.conftest import DATABASES
from tests.knowledge.truth_support import MSBG_TITLE, ask, assert_citations_hold, library

LABEL_EN = "No language model is configured, so here is what your documents say, quoted, not paraphrased:"


@pytest.fixture(scope="module", params=DATABASES)
def luna(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from library(request, tmp_path_factory.mktemp(f"citations-{request.param}"))


def _citation(n: int) -> Citation:
    return Citation(
        n=n,
        chunk_id=uuid.uuid4(),
        item_id=uuid.uuid4(),
        title=f"Doc {n}",
        page=None,
        section=None,
        heading="1 Overview",
        snippet="...",
        score=0.03,
    )


def test_only_the_sources_the_model_cites_are_returned() -> None:
    given = [_citation(1), _citation(2), _citation(3)]
    text, cited, notes = check_citations("The limit is 380 kW [2]. The reserve is 30 % [2][3].", given)
    assert [c.n for c in cited] == [2, 3]
    assert (text, notes) == ("The limit is 380 kW [2]. The reserve is 30 % [2][3].", [])


def test_references_to_sources_not_given_are_removed() -> None:
    text, cited, notes = check_citations("A [1]. B [7].", [_citation(1)])
    assert (text, [c.n for c in cited]) == ("A [1]. B .", [1])
    assert notes == ["removed references to sources that were not given: [7]"]


def test_an_answer_citing_nothing_lists_no_source() -> None:
    text, cited, notes = check_citations("It is 380 kW.", [_citation(1), _citation(2)])
    assert (text, cited) == ("It is 380 kW.", [])
    assert notes == ["the model cited no source; no document backs this answer"]


@pytest.mark.parametrize(
    "question",
    [
        "What is the peak-shaving limit for the grid import?",
        "When does peak shaving pay off, and what is the limit for the grid import?",
        "Wie hoch ist die Kappungsgrenze für den Netzbezug?",
        "Was regelt § 3 MsbG zum Messstellenbetrieb?",
        "Welche Aufgaben umfasst der Messstellenbetrieb nach § 3 MsbG?",
    ],
)
def test_every_quoted_sentence_is_cited_and_every_citation_quoted(luna: TestClient, question: str) -> None:
    body = ask(luna, question)
    assert body["found_relevant"] is True, body
    assert_citations_hold(body)
    label, quoted = body["answer"].split("\n\n", 1)
    assert label in {
        LABEL_EN,
        "Kein Sprachmodell eingerichtet; hier steht, was Ihre Dokumente sagen, wörtlich zitiert:",
    }
    # the quotation is sentences, each ending in its [n]: nothing between two markers is uncited
    pieces = re.split(r"(?<=\]) ", quoted.strip())
    assert pieces and all(re.search(r"\[\d+\]$", p) for p in pieces), pieces
    # each quoted sentence is in the chunk it cites (quoted, not paraphrased)
    for piece in pieces:
        sentence, n = re.match(r"(.*) \[(\d+)\]$", piece).groups()  # type: ignore[union-attr]
        citation = body["citations"][int(n) - 1]
        chunk = luna.get(
            f"/documents/{citation['item_id']}/chunks",
            headers={"Authorization": "Bearer test-admin-key-0123456789abcdef"},
        )
        texts = [
            " ".join(c["text"].split())
            for c in chunk.json()["items"]
            if c["chunk_id"] == citation["chunk_id"]
        ]
        assert texts and sentence in texts[0], (sentence, texts)


def test_a_law_citation_names_the_law_the_section_and_its_heading(luna: TestClient) -> None:
    body = ask(luna, "Welche Aufgaben umfasst der Messstellenbetrieb nach § 3 MsbG?")
    law = [c for c in body["citations"] if c["title"] == MSBG_TITLE]
    assert law and law[0]["n"] == 1
    assert law[0]["section"] == "§ 3"
    assert "§ 3 Messstellenbetrieb" in law[0]["heading"]


def test_a_manual_citation_names_its_heading(luna: TestClient) -> None:
    body = ask(luna, "How long must a pump run once it has started?")
    (citation,) = [c for c in body["citations"] if "45 minutes" in body["answer"]][:1]
    assert citation["title"] == "Operating manual: Lunaburg municipal utility site"
    assert citation["heading"].endswith("3 Pumping station")
    assert citation["section"] is None and citation["page"] is None
