"""German query handling of retrieval (2026-12-06): the statute's words for everyday words, index
compounds ending in a query word, weighted query terms and per-query BM25 parameters. Unit tests on
the real analysis and BM25 index, and one search over HTTP with the real model."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from luna_iems.knowledge import retrieval
from luna_iems.knowledge.german import EVERYDAY_TERMS, everyday_expansions
from luna_iems.knowledge.lexical import LexicalIndex, analyze, compound_heads
from tests.conftest import make_settings
from tests.knowledge.api_support import ingest_text, running, search


def test_everyday_words_map_to_the_statutes_words() -> None:
    assert everyday_expansions("Kann ich meinen Stromanbieter wechseln?") == ["Lieferant Energielieferant"]
    assert everyday_expansions("Wer zahlt den Smart Meter?") == ["intelligentes Messsystem"]
    # the longer form wins over a shorter one inside it: the owner, not the tenant
    assert everyday_expansions("Darf der Vermieter das bestimmen?") == ["Anschlussnehmer"]
    assert everyday_expansions("Was darf der Mieter?") == ["Anschlussnutzer Letztverbraucher"]
    # short forms only as whole words: "Autobahn" is no car, "PV" only alone or hyphenated
    assert everyday_expansions("Gilt das an der Autobahn?") == []
    assert everyday_expansions("Meine PV-Anlage") == ["Solaranlage solare Strahlungsenergie"]
    assert everyday_expansions("Was regelt § 20a EnWG?") == []
    # forms match case-folded ("ß" folds to "ss")
    assert everyday_expansions("Leitungen unter der STRASSE") == everyday_expansions("unter den Straßen")
    assert everyday_expansions("unter den Straßen") == ["öffentliche Verkehrswege"]
    assert all(everyday_expansions(form) for forms, _ in EVERYDAY_TERMS for form in forms)


def _index(docs: dict[str, str], **params: float) -> LexicalIndex:
    index = LexicalIndex(**params)  # type: ignore[arg-type]
    for doc_id, text in docs.items():
        index.add(doc_id, analyze(text, "de"))
    return index


DOCS = {
    "a": "Verbraucherbeschwerden sind binnen vier Wochen zu beantworten.",
    "b": "Die Verbraucherbeschwerde ist in Textform zu beantworten.",
    "c": "Eine Netzbetreiberbeschwerde geht an die Regulierungsbehörde.",
    "d": "Beschwerden gegen Entscheidungen der Regulierungsbehörde sind zulässig.",
    "e": "Die Rechnung nennt den Lieferanten.",
}


def test_terms_ending_with_lists_live_longer_terms_only() -> None:
    index = _index(DOCS)
    beschwerde = analyze("Beschwerde", "de")[0]
    found = index.terms_ending_with(beschwerde)
    assert beschwerde not in found  # only longer terms
    assert found == sorted(found) and set(found) == {
        analyze("Verbraucherbeschwerde", "de")[0],
        analyze("Netzbetreiberbeschwerde", "de")[0],
    }
    index.remove("c")  # a term without live documents is no longer listed
    assert analyze("Netzbetreiberbeschwerde", "de")[0] not in index.terms_ending_with(beschwerde)
    index.add("f", analyze("Lieferantenbeschwerde", "de"))  # and a new one is, at once
    assert analyze("Lieferantenbeschwerde", "de")[0] in index.terms_ending_with(beschwerde)


def test_compound_heads_take_the_most_frequent_compounds_per_query_word() -> None:
    index = _index(DOCS)
    kwargs = {"ending_with": index.terms_ending_with, "df": index.df}
    assert compound_heads("Wie schnell wird meine Beschwerde beantwortet?", per_word=1, **kwargs) == [
        analyze("Verbraucherbeschwerde", "de")[0]  # df 2 beats "Netzbetreiberbeschwerde" (df 1)
    ]
    assert len(compound_heads("Beschwerde", per_word=5, **kwargs)) == 2
    # stop words, short stems and modifiers shorter than min_modifier do not expand
    assert compound_heads("die der das", per_word=3, **kwargs) == []
    assert compound_heads("Beschwerde", per_word=3, min_modifier=20, **kwargs) == []


def test_weights_scale_a_terms_contribution_and_bm25_parameters_apply_per_query() -> None:
    index = _index(DOCS)
    term = analyze("Verbraucherbeschwerde", "de")[0]
    plain = dict(index.search([term], top_k=5))
    half = dict(index.search([term], top_k=5, weights={term: 0.5}))
    assert plain.keys() == half.keys() == {"a", "b"}
    assert all(math.isclose(half[d], plain[d] / 2) for d in plain)
    # k1 / b for one query score as an index built with them
    other = _index(DOCS, k1=1.5, b=0.9)
    query = [term, analyze("beantworten", "de")[0]]
    assert dict(index.search(query, top_k=5, k1=1.5, b=0.9)) == pytest.approx(
        dict(other.search(query, top_k=5))
    )
    assert index.search(query, top_k=5) != other.search(query, top_k=5)


STATUTE = """# Gesetz über die Energieversorgung (EVG)

## Teil 1 - Belieferung

### § 20a Lieferantenwechsel

Bei einem Lieferantenwechsel hat der neue Lieferant dem Letztverbraucher unverzüglich in Textform zu
bestätigen, ob und zu welchem Termin er die Belieferung aufnehmen kann. Das Verfahren darf drei Wochen
nicht überschreiten.

### § 40 Inhalt von Rechnungen

Rechnungen für Energielieferungen müssen einfach und verständlich sein und den Verbrauch ausweisen.

### § 111a Verbraucherbeschwerden

Unternehmen sind verpflichtet, Verbraucherbeschwerden innerhalb einer Frist von vier Wochen ab Zugang zu
beantworten.

### § 112 Wechsel von Zählern

Ein Wechsel der Zähler im Haus ist dem Netzbetreiber in Textform anzuzeigen, binnen einer Frist von zwei
Wochen.
"""


def test_everyday_german_questions_find_the_statutes_section(
    tmp_path: Path, fresh_database_url: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over HTTP with the real model, lexical ranking: the question's everyday words ("Stromanbieter",
    "Beschwerde") find the § that uses the statute's words, and switching the handling off loses it.
    An English query takes none of these paths: its hits are the same either way."""
    questions = {
        "Wie lange darf der Wechsel zu einem neuen Stromanbieter dauern?": "§ 20a",
        "In welcher Frist muss ein Unternehmen auf meine Beschwerde antworten?": "§ 111a",
    }
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"))
    with running(settings) as client:
        ingest_text(client, "Energieversorgungsgesetz (EVG)", STATUTE)
        english = [h["chunk_id"] for h in search(client, "supplier switch complaint deadline", mode="hybrid")]
        for question, section in questions.items():
            assert search(client, question, mode="lexical")[0]["section"] == section, question
        monkeypatch.setattr(retrieval, "EVERYDAY_WEIGHT", 0.0)
        monkeypatch.setattr(retrieval, "COMPOUND_HEADS", 0)
        monkeypatch.setattr(retrieval, "GERMAN_BM25", None)
        assert [search(client, q, mode="lexical")[0]["section"] for q in questions] != list(
            questions.values()
        )
        assert [
            h["chunk_id"] for h in search(client, "supplier switch complaint deadline", mode="hybrid")
        ] == (english)
