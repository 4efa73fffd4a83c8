"""Answerability (issue 14): Luna answers what the documents answer and says it found nothing otherwise.

The decision is the fitted logistic regression shipped in knowledge/answerability.json (fitted by
`python -m benchmarks.luna_answers --fit` on the TRAIN split of benchmarks/data/luna_questions/). The
API tests run the real app on SQLite and PostgreSQL with the seed documents, an MsbG excerpt and
injection documents, no language model (extractive answers)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from luna_iems.knowledge.answerability import (
    FEATURES,
    Evidence,
    Model,
    assess,
    features,
    hit_supports,
    shipped_model,
)
from luna_iems.knowledge.schemas import SearchHit
from tests.conftest import DATABASES
from tests.knowledge.truth_support import CITE, MSBG_TITLE, ask, assert_citations_hold, library

NOTHING = {
    "en": "I looked through your documents and found nothing that answers this",
    "de": "Ich habe Ihre Dokumente durchsucht und leider nichts gefunden",
}


@pytest.fixture(scope="module", params=DATABASES)
def luna(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from library(request, tmp_path_factory.mktemp(f"answerability-{request.param}"))


def _hit(text: str, *, title: str = "Manual", section: str | None = None) -> SearchHit:
    return SearchHit(
        chunk_id=uuid.uuid4(),
        item_id=uuid.uuid4(),
        title=title,
        chunk_idx=0,
        page=None,
        section=section,
        heading_path=[section] if section else [],
        snippet=text[:50],
        text=text,
        score=0.03,
        dense_score=None,
        dense_rank=None,
        lexical_score=None,
        lexical_rank=None,
        ranking="hybrid",
    )


# --- the model and its features -----------------------------------------------------------------------


def test_shipped_parameters_name_the_features_and_a_threshold() -> None:
    data = json.loads(
        resources.files("luna_iems.knowledge").joinpath("answerability.json").read_text("utf-8")
    )
    assert data["features"] == list(FEATURES)
    assert len(data["coef"]) == len(data["mean"]) == len(data["scale"]) == len(FEATURES)
    assert set(data["thresholds"]) == {"de", "en"}
    assert all(0 < t < 1 for t in data["thresholds"].values())
    assert "train" in data["fitted_on"]
    model = shipped_model()
    assert model.thresholds == pytest.approx(data["thresholds"])


def test_parameters_for_other_features_are_rejected() -> None:
    with pytest.raises(ValueError, match="features"):
        Model.from_json(
            {
                "features": ["dense_max"],
                "mean": [0],
                "scale": [1],
                "coef": [1],
                "intercept": 0,
                "thresholds": {"de": 0.5, "en": 0.5},
            }
        )


def test_probability_is_a_logistic_of_the_standardised_features() -> None:
    model = Model(
        mean=[1.0, 0.0], scale=[2.0, 1.0], coef=[2.0, -1.0], intercept=0.5, thresholds={"de": 0.5, "en": 0.5}
    )
    # z = 0.5 + 2 * (3 - 1) / 2 - 1 * 1 = 1.5
    assert model.probability([3.0, 1.0]) == pytest.approx(1 / (1 + 2.718281828459045**-1.5))
    assert model.probability([1e9, 0.0]) == pytest.approx(1.0)  # clamped, no overflow


def test_features_read_coverage_unknown_terms_and_named_sections() -> None:
    known = {"ibuprofen": 0}
    hits = [
        _hit("The battery keeps a reserve of 30 % in winter.", section="2 Battery"),
        _hit(
            "Der Netzbetreiber muss die Messstelle betreiben.",
            title="MsbG",
            section="§ 3 Messstellenbetreiber",
        ),
    ]
    values, evidence = features(
        "What ibuprofen dose for the battery reserve?",
        hits,
        [0.41, 0.12],
        idf=lambda _: 1.0,
        df=lambda t: known.get(t, 5),
    )
    # content terms: ibuprofen, dose, battery, reserv -> the first hit has 2 of 4, "ibuprofen" is unknown
    assert values["coverage"] == pytest.approx(0.5)
    assert values["unknown"] == pytest.approx(0.25)
    assert (values["dense_max"], values["margin"], values["german"]) == (0.41, pytest.approx(0.29), 0.0)
    assert values["section"] == 0.0 and values["lang_match"] == 1.0
    assert [e.coverage for e in evidence] == [0.5, 0.0]
    german, _ = features("Was regelt § 3 MsbG?", hits, [0.2, 0.3], idf=lambda _: 1.0, df=lambda _: 1)
    assert german["section"] == 1.0 and german["german"] == 1.0
    assert german["dense_x_german"] == pytest.approx(0.3)


def test_no_hits_is_never_answerable() -> None:
    result = assess("anything", [], [], idf=lambda _: 1.0, df=lambda _: 1)
    assert (result.answerable, result.probability) == (False, 0.0)


def test_only_hits_with_evidence_close_to_the_best_are_used() -> None:
    evidence = [
        Evidence(dense=0.6, coverage=0.8, section=False),
        Evidence(dense=0.55, coverage=0.0, section=False),  # similar enough
        Evidence(dense=0.2, coverage=0.5, section=False),  # shares the rare terms
        Evidence(dense=0.2, coverage=0.1, section=False),  # neither: not cited
        Evidence(dense=0.1, coverage=0.0, section=True),  # the § the question names
    ]
    assert hit_supports(evidence) == [True, True, True, False, True]
    assert hit_supports([]) == []


# --- the API -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "lang"),
    [
        # the reviewers' examples, and the same in German
        ("What is the recommended ibuprofen dose for an adult?", "en"),
        ("How much does a Tesla Powerwall cost?", "en"),
        ("How much is the annual dog tax?", "en"),
        ("How much is a parking fine in Lunaburg?", "en"),
        ("Wie viel Ibuprofen darf ein Erwachsener nehmen?", "de"),
        ("Was kostet ein Tesla Powerwall Speicher?", "de"),
        ("Wie hoch ist die Hundesteuer?", "de"),
        ("Wie hoch ist das Bußgeld für Falschparken?", "de"),
    ],
)
def test_questions_the_documents_do_not_answer_are_refused(
    luna: TestClient, question: str, lang: str
) -> None:
    body = ask(luna, question)
    assert body["found_relevant"] is False, body["answer"]
    assert body["citations"] == []
    assert body["answer"].startswith(NOTHING[lang])
    assert CITE.search(body["answer"]) is None
    assert body["language"] == lang


@pytest.mark.parametrize(
    ("question", "title", "quote"),
    [
        (
            "What is the peak-shaving limit for the grid import?",
            "Operating manual: Lunaburg municipal utility site",
            "380 kW",
        ),
        (
            "What reserve of state of charge is kept in winter?",
            "Operating manual: Lunaburg municipal utility site",
            "30 %",
        ),
        ("How is the autarky rate calculated?", "Energy glossary", "autarky = 1"),
        (
            "Wie hoch ist die Kappungsgrenze für den Netzbezug?",
            "Betriebshandbuch: Standort der Stadtwerke Lunaburg",
            "380 kW",
        ),
        (
            "Wie lange muss eine Pumpe nach dem Einschalten laufen?",
            "Betriebshandbuch: Standort der Stadtwerke Lunaburg",
            "45 Minuten",
        ),
    ],
)
def test_questions_the_documents_answer_are_answered_from_the_right_source(
    luna: TestClient, question: str, title: str, quote: str
) -> None:
    body = ask(luna, question)
    assert body["found_relevant"] is True, question
    # the sentence with the answer carries the [n] of the right document
    found = re.search(re.escape(quote) + r"[^\[]*\[(\d+)\]", body["answer"])
    assert found is not None, body["answer"]
    assert {c["n"]: c["title"] for c in body["citations"]}[int(found.group(1))] == title
    assert_citations_hold(body)


def test_a_question_naming_a_section_cites_that_section_with_its_heading(luna: TestClient) -> None:
    body = ask(luna, "Was regelt § 3 MsbG zum Messstellenbetrieb?")
    assert body["found_relevant"] is True
    first = body["citations"][0]
    assert (first["title"], first["section"]) == (MSBG_TITLE, "§ 3")
    assert first["heading"] and first["heading"].endswith("§ 3 Messstellenbetrieb")
    assert "[1]" in body["answer"]
    assert_citations_hold(body)


def test_a_follow_up_is_judged_with_the_question_it_follows(luna: TestClient) -> None:
    first = ask(luna, "What is the peak-shaving limit?")
    follow_up = ask(
        luna, "And what reserve is kept in winter for it?", conversation_id=first["conversation_id"]
    )
    assert follow_up["found_relevant"] is True
    assert "30 %" in follow_up["answer"]


def test_the_benchmark_question_set_has_the_required_kinds() -> None:
    """The question set the parameters were fitted on: ≥ 40 unanswerable a language, a test split."""
    data = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "luna_questions" / "documents.jsonl"
    rows = [json.loads(line) for line in data.read_text("utf-8").splitlines()]
    for lang in ("de", "en"):
        assert sum(r["kind"] == "unanswerable" and r["lang"] == lang for r in rows) >= 40
        assert any(r["kind"] == "injection" and r["lang"] == lang for r in rows)
    assert {r["split"] for r in rows} == {"train", "test"}
    assert all(r.get("expected_source", {}).get("title") for r in rows if r["kind"] != "unanswerable")
