"""German statute retrieval: § terms, compound splitting, § headings in chunk text, and a small
statute fixture searched with the real analysis and BM25 index (no database, no model needed beyond
the tokenizer the chunker counts with)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from luna_iems.knowledge.answerability import features, hit_supports
from luna_iems.knowledge.chunking import chunk_blocks, document_label
from luna_iems.knowledge.german import (
    heading_section_terms,
    law_alias_words,
    query_section_terms,
    split_compound,
)
from luna_iems.knowledge.lexical import (
    LexicalIndex,
    analyze_document,
    analyze_query,
    compound_terms,
    stem_german,
)
from luna_iems.knowledge.schemas import SearchHit
from luna_iems.ports import ExtractedBlock
from tests.conftest import make_settings
from tests.knowledge.api_support import ADMIN, ingest_text, running, search

TITLE = "Gesetz über die Elektrizitäts- und Gasversorgung (EnWG 2005)"
SECTIONS = {
    "§ 20a Lieferantenwechsel": (
        "(1) Bei einem Lieferantenwechsel hat der neue Lieferant dem Letztverbraucher unverzüglich in "
        "Textform zu bestätigen, ob und zu welchem Termin er eine Belieferung aufnehmen kann. (2) Das "
        "Verfahren für den Wechsel des Lieferanten darf drei Wochen nicht überschreiten."
    ),
    "§ 40c Zeitpunkt und Fälligkeit von Strom- und Gasrechnungen": (
        "(1) Rechnungsbeträge und Abschläge werden zu dem von dem Energielieferanten angegebenen "
        "Zeitpunkt, frühestens jedoch zwei Wochen nach Zugang der Zahlungsaufforderung fällig."
    ),
    "§ 61 Veröffentlichung allgemeiner Weisungen": (
        "Soweit das Bundesministerium der Bundesnetzagentur allgemeine Weisungen erteilt, sind diese "
        "Weisungen mit Begründung im Bundesanzeiger zu veröffentlichen."
    ),
    "§ 62 Gutachten der Monopolkommission": (
        "Die Monopolkommission erstellt alle zwei Jahre ein Gutachten. Die Weisungen nach § 61 bleiben "
        "unberührt; § 61 gilt entsprechend für Gutachten."
    ),
    "§ 118 Übergangsregelungen": (
        "(6) Nach dem 31. Dezember 2008 neu errichtete Anlagen zur Speicherung elektrischer Energie sind "
        "für einen Zeitraum von 20 Jahren ab Inbetriebnahme von den Entgelten für den Zugang zum Netz "
        "freigestellt. Die Befreiung gilt nur für Strom, der zeitlich verzögert wieder eingespeist wird."
    ),
    "§ 14 Wechsel des Messstellenbetreibers": (
        "(1) Ein Anschlussnutzer hat seinem Messstellenbetreiber in Textform zu erklären, dass er einen "
        "anderen Messstellenbetreiber beauftragen will. Der Wechsel ist kostenfrei."
    ),
}


def _blocks() -> list[ExtractedBlock]:
    blocks = [ExtractedBlock(text=TITLE, kind="heading")]
    part = "Teil 3 - Regulierung des Netzbetriebs"
    blocks.append(ExtractedBlock(text=part, heading_path=(TITLE,), kind="heading"))
    for heading, body in SECTIONS.items():
        blocks.append(ExtractedBlock(text=heading, heading_path=(TITLE, part), kind="heading"))
        blocks.append(ExtractedBlock(text=body, heading_path=(TITLE, part, heading)))
    return blocks


@pytest.fixture(scope="module")
def statute() -> tuple[LexicalIndex, dict[str, str]]:
    """The fixture statute chunked and indexed: (index, {chunk id: section})."""
    index = LexicalIndex()
    sections: dict[str, str] = {}
    for chunk in chunk_blocks(_blocks()):
        chunk_id = f"c{chunk.index}"
        index.add(chunk_id, analyze_document(chunk.text)[1])
        sections[chunk_id] = chunk.section or ""
    return index, sections


def _top_section(statute: tuple[LexicalIndex, dict[str, str]], query: str) -> str:
    index, sections = statute
    terms = analyze_query(query)
    terms += compound_terms(query, df=index.df)
    hits = index.search(terms, top_k=3, allowed=None)
    assert hits, f"nothing found for {query!r}"
    return sections[hits[0][0]]


def test_query_section_terms_read_the_usual_spellings() -> None:
    assert query_section_terms("Was regelt § 61 EEG?") == ["§61"]
    assert query_section_terms("Was steht in §61 MsbG?") == ["§61"]
    assert query_section_terms("Paragraph 14a EnWG und Paragraf 20a") == ["§14a", "§20a"]
    assert query_section_terms("§§ 20 und 20a, § 61 Abs. 2") == ["§20", "§20a", "§61"]
    assert query_section_terms("Wie hoch ist das Netzentgelt für 61 kWh?") == []


def test_chunk_text_carries_law_label_and_section_heading() -> None:
    chunks = [c for c in chunk_blocks(_blocks()) if c.section is not None]
    assert {c.section for c in chunks} == {s.split(" ", 2)[0] + " " + s.split(" ", 2)[1] for s in SECTIONS}
    for chunk in chunks:
        heading = chunk.heading_path[-1]
        assert chunk.text.startswith("EnWG 2005 > "), chunk.text[:80]
        assert f"> {heading}: " in chunk.text
        assert chunk.body and not chunk.body.startswith("EnWG")
    assert document_label(TITLE) == "EnWG 2005"
    assert document_label("Handbuch (Entwurf)") == "Handbuch (Entwurf)"  # short titles stay whole


def test_section_term_comes_from_the_heading_not_from_references() -> None:
    chunks = {c.section: c for c in chunk_blocks(_blocks())}
    assert "§61" in analyze_document(chunks["§ 61"].text)[1]
    # § 62 mentions "§ 61" twice in its text, but is headed § 62
    terms = analyze_document(chunks["§ 62"].text)[1]
    assert "§62" in terms and "§61" not in terms
    assert heading_section_terms("§§ 46a bis 47 (weggefallen)") == ["§46a", "§47"]
    assert "§61" not in analyze_document("Nach § 61 Absatz 1 ist die Umlage zu zahlen.")[1]


def test_a_query_naming_a_section_finds_that_section_first(
    statute: tuple[LexicalIndex, dict[str, str]],
) -> None:
    assert _top_section(statute, "Was regelt § 61 EnWG?") == "§ 61"
    assert _top_section(statute, "Worum geht es in Paragraph 40c?") == "§ 40c"


def test_split_compound_splits_into_known_parts() -> None:
    vocabulary = {stem_german(w): n for w, n in [("netzentgelt", 4), ("befreiung", 2), ("netz", 30)]}
    vocabulary |= {stem_german("messstellenbetreiber"): 12, stem_german("wechsel"): 9}

    def df(term: str) -> int:
        return vocabulary.get(term, 0)

    assert split_compound("netzentgeltbefreiung", stem=stem_german, df=df) == [
        stem_german("netzentgelt"),
        stem_german("befreiung"),
    ]
    # the linking "s" of "Betreibers" is no part of its own
    parts = split_compound("messstellenbetreiberswechsel", stem=stem_german, df=df)
    assert parts == [stem_german("messstellenbetreiber"), stem_german("wechsel")]
    assert split_compound("sonnenblumenfeld", stem=stem_german, df=df) == []
    assert split_compound("kurz", stem=stem_german, df=df) == []


def test_compound_questions_find_their_section(statute: tuple[LexicalIndex, dict[str, str]]) -> None:
    index, _ = statute
    query = "Gibt es eine Netzentgeltbefreiung für Stromspeicher?"
    # the compound itself is not in the text; its parts are
    assert index.df(stem_german("netzentgeltbefreiung")) == 0
    assert stem_german("befreiung") in compound_terms(query, df=index.df)
    assert _top_section(statute, query) == "§ 118"
    assert _top_section(statute, "Kostet ein Messstellenbetreiberwechsel etwas?") == "§ 14"
    assert _top_section(statute, "Wie viele Wochen darf ein Stromlieferantenwechsel dauern?") == "§ 20a"


def test_a_chunk_of_the_named_section_counts_as_relevant_for_rag() -> None:
    def hit(section: str, dense: float | None) -> SearchHit:
        import uuid

        return SearchHit(
            chunk_id=uuid.uuid4(),
            item_id=uuid.uuid4(),
            title="EnWG",
            chunk_idx=0,
            page=None,
            section=section,
            heading_path=[],
            snippet="",
            text="",
            score=0.1,
            dense_score=dense,
            dense_rank=None if dense is None else 1,
            lexical_score=1.0,
            lexical_rank=1,
            ranking="lexical" if dense is None else "hybrid",
        )

    # issue 14: the old cosine gate (_relevant) became answerability.py; a named § is still used
    # whatever its dense score, and counts as evidence of an answer (the `section` feature)
    assert query_section_terms("Was regelt § 61 EnWG?") == ["§61"]
    hits = [hit("§ 62", None), hit("§ 61", None), hit("§ 40c", None)]
    values, evidence = features(
        "Was regelt § 61 EnWG?", hits, [0.5, 0.1, 0.2], idf=lambda _: 0.0, df=lambda _: 1
    )
    assert values["section"] == 1.0
    assert [e.section for e in evidence] == [False, True, False]
    assert hit_supports(evidence) == [True, True, False]
    unnamed, evidence = features(
        "Was regelt die Aufsicht?", hits, [0.5, 0.1, 0.2], idf=lambda _: 0.0, df=lambda _: 1
    )
    assert unnamed["section"] == 0.0 and hit_supports(evidence) == [True, False, False]


def _statute(label: str, topic: str) -> str:
    """A small statute in Markdown whose § 61 is about `topic` and whose § 62 cites § 61."""
    return f"""# Gesetz über die Versorgung mit {topic} und die Aufsicht darüber ({label})

## Teil 1 - Allgemeine Vorschriften

### § 61 Pflichten beim Umgang mit {topic}

Wer {topic} anbietet, muss die Kunden jährlich in Textform über Preise und Mengen informieren.

### § 62 Aufsicht

Die Aufsichtsbehörde überwacht die Einhaltung von § 61 und kann bei Verstößen nach § 61 Anordnungen
treffen. Die Pflichten nach § 61 gelten auch für Zwischenhändler von {topic}.
"""


def test_search_and_ask_name_the_section_of_the_named_law(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    """Over HTTP with the real model: "§ 61 <law>" finds and cites that law's § 61, not § 62 that
    cites it, and not the other law's § 61."""
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"))
    with running(settings) as client:
        laws = {
            "WVG": ingest_text(client, "Wärmeversorgungsgesetz (WVG)", _statute("WVG", "Wärme"))["item_id"],
            "GVG": ingest_text(client, "Gasversorgungsgesetz (GVG)", _statute("GVG", "Gas"))["item_id"],
        }
        for law, item_id in laws.items():
            hits = search(client, f"Was regelt § 61 {law}?", mode="hybrid")
            assert (hits[0]["section"], hits[0]["item_id"]) == ("§ 61", item_id), hits[0]
            response = client.post("/rag/ask", headers=ADMIN, json={"question": f"Was regelt §61 {law}?"})
            assert response.status_code == 200, response.text
            first = response.json()["citations"][0]
            assert (first["section"], first["item_id"]) == ("§ 61", item_id)
        # and the chunk text everyone sees names the law by its short label
        assert hits[0]["text"] and "§ 61" in " ".join(hits[0]["heading_path"])


def test_law_alias_words_map_every_form_of_a_law_name_to_its_short_forms() -> None:
    assert law_alias_words("Was regelt § 3 MsbG?") == ["msbg", "messbg"]
    assert law_alias_words("Was steht im MessbG?") == ["msbg", "messbg"]
    # full names, inflected and hyphenated or not
    assert law_alias_words("Was ist der Zweck des Energiewirtschaftsgesetzes?") == ["enwg"]
    assert law_alias_words("Ziele des Erneuerbare-Energien-Gesetzes 2023") == ["eeg"]
    assert law_alias_words("Pflichten nach dem Messstellenbetriebsgesetz") == ["msbg", "messbg"]
    assert law_alias_words("Wer zahlt die Stromsteuer?") == []  # a topic is no law name
    assert law_alias_words("How do I reset the heat pump?") == []


def _long_statute(label: str) -> str:
    """§ 61 long enough for several chunks, all about meters; § 62 and § 63 short."""
    sentences = " ".join(
        f"({n}) Der Messstellenbetreiber prüft die Messeinrichtung des Zählers Nummer {n} jährlich und "
        f"dokumentiert das Ergebnis der Prüfung der Messeinrichtung in Textform für den Anschlussnutzer."
        for n in range(1, 25)
    )
    return f"""# Gesetz über die Prüfung von Messeinrichtungen und die Aufsicht darüber ({label})

## Teil 1 - Allgemeine Vorschriften

### § 61 Prüfung der Messeinrichtung

{sentences}

### § 62 Befundprüfung

Der Anschlussnutzer kann eine Befundprüfung der Messeinrichtung durch eine Eichbehörde verlangen.

### § 63 Aufsicht

Die Aufsichtsbehörde überwacht die Prüfung der Messeinrichtungen durch den Messstellenbetreiber.
"""


def test_search_collapses_a_section_to_its_best_chunks_and_finds_a_law_by_its_alias(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    """Over HTTP with the real model: at most MAX_CHUNKS_PER_SECTION chunks of one § of one document
    (documents without sections are not collapsed), and "MsbG" in a query finds the law labelled
    "MessbG"."""
    query = "Wie prüft der Messstellenbetreiber die Messeinrichtung?"
    manual = "\n\n".join(
        f"Absatz {n}: Der Messstellenbetreiber prüft die Messeinrichtung im Keller jährlich." * 6
        for n in range(1, 6)
    )
    for per_section in (1, 0):
        settings = make_settings(
            tmp_path / str(per_section),
            database_url=fresh_database_url("sqlite"),
            max_chunks_per_section=per_section,
        )
        with running(settings) as client:
            law = ingest_text(client, "Messstellenprüfgesetz (MessbG)", _long_statute("MessbG"))["item_id"]
            other = ingest_text(client, "Wärmeprüfgesetz (WPrG)", _long_statute("WPrG"))["item_id"]
            handbook = ingest_text(client, "Handbuch Zählerprüfung", manual)["item_id"]
            hits = search(client, query, mode="hybrid", top_k=10)
            keys = [(h["item_id"], h["section"]) for h in hits if h["section"]]
            if per_section:
                assert len(keys) == len(set(keys)), keys  # one chunk per § of each law
                assert (law, "§ 61") in keys and (other, "§ 61") in keys
                # the handbook has no sections: its chunks are not collapsed
                assert sum(h["item_id"] == handbook for h in hits) > 1
                # the common short name finds the law whose own label differs ("MsbG" vs "MessbG")
                for named in ("MsbG", "Messstellenbetriebsgesetz"):
                    first = search(client, f"Was regelt § 62 {named}?", mode="hybrid")[0]
                    assert (first["item_id"], first["section"]) == (law, "§ 62"), (named, first)
            else:
                assert len(keys) > len(set(keys)), keys  # without a limit, § 61 fills the top
