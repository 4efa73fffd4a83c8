"""BM25 lexical index: exact scores, German/English analysis, incremental updates, scale."""

from __future__ import annotations

import itertools
import math
import random
import threading
import time

import numpy as np
import pytest

from luna_iems.knowledge.lexical import (
    BM25_B,
    BM25_K1,
    LexicalIndex,
    analyze,
    analyze_document,
    analyze_query,
    detect_language,
    from_term_counts,
    to_term_counts,
    tokenize,
)

GERMAN_PARAGRAPH = (
    "(1) Zweck des Gesetzes ist eine möglichst sichere, preisgünstige, verbraucherfreundliche, "
    "effiziente und umweltverträgliche leitungsgebundene Versorgung der Allgemeinheit mit Elektrizität, "
    "Gas und Wasserstoff, die zunehmend auf erneuerbaren Energien beruht."
)
ENGLISH_PARAGRAPH = (
    "The metering point operator installs a smart meter gateway at the customer's premises and is "
    "responsible for the secure transmission of the measured values to the grid operator, who uses "
    "them for billing and for the operation of the distribution network."
)


def bm25(tf: int, dl: int, df: int, n: int, avgdl: float) -> float:
    """The textbook formula, written out independently of the implementation."""
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return idf * tf * (BM25_K1 + 1) / (tf + BM25_K1 * (1 - BM25_B + BM25_B * dl / avgdl))


# --- scoring ------------------------------------------------------------------------------------


def test_exact_bm25_scores_on_a_tiny_corpus() -> None:
    docs = {
        "d1": ["strom", "zahl", "strom"],
        "d2": ["gas", "zahl"],
        "d3": ["strom", "netz", "netz", "netz"],
        "d4": ["wasser"],
    }
    index = LexicalIndex()
    for doc_id, terms in docs.items():
        index.add(doc_id, terms)
    n, avgdl = 4, (3 + 2 + 4 + 1) / 4
    expected = {
        "d1": bm25(2, 3, 2, n, avgdl),
        "d3": bm25(1, 4, 2, n, avgdl) + bm25(3, 4, 1, n, avgdl),
    }
    hits = index.search(["strom", "netz", "strom"], top_k=10)  # a repeated query term counts once
    assert [doc for doc, _ in hits] == ["d3", "d1"]
    for doc, score in hits:
        assert score == pytest.approx(expected[doc], rel=1e-12)
    assert index.idf("netz") == pytest.approx(math.log(1 + (4 - 1 + 0.5) / 1.5))
    zahl = index.search(["zahl"], top_k=10)
    assert [d for d, _ in zahl] == ["d2", "d1"]  # the shorter document first
    assert [s for _, s in zahl] == pytest.approx([bm25(1, 2, 2, n, avgdl), bm25(1, 3, 2, n, avgdl)])
    stats = index.stats()
    assert (stats.docs, stats.terms, stats.avg_length) == (4, 5, 2.5)
    assert len(index) == 4

    # Removing d4 changes N and avgdl for everyone: the index must use the live collection only.
    index.remove("d4")
    n, avgdl = 3, (3 + 2 + 4) / 3
    (top, score), _ = index.search(["strom", "netz"], top_k=10)
    assert top == "d3"
    assert score == pytest.approx(bm25(1, 4, 2, n, avgdl) + bm25(3, 4, 1, n, avgdl), rel=1e-12)
    assert index.stats().terms == 4  # "wasser" has no live document left
    assert index.search(["wasser"], top_k=5) == []
    assert index.search(["unbekannt"], top_k=5) == []
    assert index.search([], top_k=5) == []
    assert index.search(["strom"], top_k=0) == []


def test_top_k_order_is_stable_with_ties_by_doc_id() -> None:
    index = LexicalIndex()
    ids = [f"doc-{i:02d}" for i in range(20)]
    for doc_id in random.Random(7).sample(ids, len(ids)):
        index.add(doc_id, ["zaehler", "messung"])
    index.add("best", ["zaehler", "zaehler", "messung"])
    hits = index.search(["zaehler"], top_k=4)
    assert [d for d, _ in hits] == ["best", "doc-00", "doc-01", "doc-02"]
    assert hits[1][1] == hits[2][1] == hits[3][1]
    assert [d for d, _ in index.search(["messung"], top_k=3)] == ["doc-00", "doc-01", "doc-02"]
    assert len(index.search(["zaehler"], top_k=100)) == 21


# --- updates ----------------------------------------------------------------------------------------


def test_add_search_remove_and_re_add_replaces() -> None:
    index = LexicalIndex()
    index.add("a", analyze("Der Messstellenbetreiber betreibt die Messstelle.", "de"))
    index.add("b", analyze("Der Netzbetreiber betreibt das Netz.", "de"))
    assert [d for d, _ in index.search(analyze("Messstellenbetreibern", "de"), top_k=5)] == ["a"]
    assert "a" in index

    index.add("a", analyze("Die Ladesäule lädt das Fahrzeug.", "de"))  # a new version replaces the old
    assert len(index) == 2
    assert index.search(analyze("Messstellenbetreiber", "de"), top_k=5) == []
    assert [d for d, _ in index.search(analyze("Ladesäulen", "de"), top_k=5)] == ["a"]

    index.remove("a")
    index.remove("a")  # idempotent
    index.remove("never-added")
    assert "a" not in index
    assert index.search(analyze("Ladesäule", "de"), top_k=5) == []
    assert [d for d, _ in index.search(analyze("Netzbetreibers", "de"), top_k=5)] == ["b"]
    assert index.stats().docs == 1


def test_allowed_filter() -> None:
    index = LexicalIndex()
    for i in range(10):
        index.add(f"c{i}", ["smart", "meter"] + ["gateway"] * (i % 3))
    hits = index.search(["gateway", "meter"], top_k=10, allowed={"c1", "c3", "c4", "missing"})
    assert {d for d, _ in hits} == {"c1", "c3", "c4"}
    assert index.search(["meter"], top_k=10, allowed=set()) == []
    assert index.search(["meter"], top_k=10, allowed={"c0"})[0][0] == "c0"


def test_tombstoned_slots_never_score_before_or_after_compaction() -> None:
    rng = random.Random(3)
    vocabulary = [f"t{i}" for i in range(60)]
    docs = {f"doc{i:04d}": rng.choices(vocabulary, k=rng.randint(3, 30)) for i in range(3000)}
    index = LexicalIndex(compact_ratio=0.2, compact_min=100)
    for doc_id, terms in docs.items():
        index.add(doc_id, terms)
    removed: set[str] = set()
    for doc_id in rng.sample(sorted(docs), 1000):
        index.remove(doc_id)
        removed.add(doc_id)
        if len(removed) % 97 == 0:  # search between removals, before compaction catches up
            hits = index.search(["t1", "t2", "t3"], top_k=3000)
            assert not removed & {d for d, _ in hits}
    for doc_id in rng.sample(sorted(removed), 50):  # re-added after removal: new slot, new terms
        docs[doc_id] = ["t59", "nachtrag"]
        index.add(doc_id, docs[doc_id])
        removed.discard(doc_id)
    assert index.stats().slots < 4050  # compaction ran and renumbered the slots

    fresh = LexicalIndex()
    for doc_id, terms in docs.items():
        if doc_id not in removed:
            fresh.add(doc_id, terms)
    for query in (["t1"], ["t5", "t17", "t42"], ["t59", "nachtrag"], vocabulary):
        hits = index.search(query, top_k=5000)
        assert not removed & {d for d, _ in hits}
        expected = fresh.search(query, top_k=5000)
        assert [d for d, _ in hits] == [d for d, _ in expected]
        assert [s for _, s in hits] == pytest.approx([s for _, s in expected], rel=1e-12)

    index.compact()
    stats = index.stats()
    assert stats.tombstones == 0
    assert stats.slots == stats.docs == len(docs) - len(removed)
    assert stats == fresh.stats()
    for query in (["t1"], ["t59", "nachtrag"], vocabulary):
        hits, expected = index.search(query, top_k=5000), fresh.search(query, top_k=5000)
        assert [d for d, _ in hits] == [d for d, _ in expected]
        assert [s for _, s in hits] == pytest.approx([s for _, s in expected], rel=1e-12)


def test_term_counts_round_trip_and_add_counts() -> None:
    terms = analyze("Der Netzbetreiber meldet dem Netzbetreiber des vorgelagerten Netzes.", "de")
    counts = to_term_counts(terms)
    assert counts["netzbetreib"] == 2
    assert sorted(from_term_counts(counts)) == sorted(terms)
    a, b = LexicalIndex(), LexicalIndex()
    a.add("x", terms)
    b.add_counts("x", counts)
    a.add("y", ["netz"])
    b.add_many([("y", ["netz"])])
    assert a.search(["netzbetreib", "netz"], top_k=2) == b.search(["netzbetreib", "netz"], top_k=2)


def test_concurrent_ingest_and_search() -> None:
    index = LexicalIndex(compact_min=50, compact_ratio=0.1)
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(offset: int) -> None:
        try:
            for i in range(2000):
                index.add(f"w{offset}-{i}", ["strom", f"t{i % 50}"])
                if i % 3 == 0:
                    index.remove(f"w{offset}-{i - 1}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            while not stop.is_set():
                for doc_id, score in index.search(["strom", "t7"], top_k=20):
                    assert doc_id.startswith("w")
                    assert score > 0
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads + readers:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not errors
    assert len(index) == 2 * (2000 - 666)  # i = 0 removes an id that never existed


# --- analysis ---------------------------------------------------------------------------------------


def test_german_stemming_joins_inflections_and_spellings_without_umlauts() -> None:
    def stem(word: str) -> list[str]:
        return analyze(word, "de")

    assert stem("Messstellenbetreiber") == stem("Messstellenbetreibern") == stem("Messstellenbetreibers")
    assert stem("Netzbetreiber") == stem("Netzbetreibers") == stem("Netzbetreibern")
    # Queries typed without umlauts or ß still meet the text (Snowball German folds them).
    assert stem("grundzuständige") == stem("grundzustandige") == stem("grundzuständigen")
    assert stem("grundzuständige") == stem("grundzustaendige")
    assert stem("Maßnahmen") == stem("Massnahmen") == stem("MASSNAHMEN")
    assert stem("Zähler") == stem("Zaehler")
    assert stem("Messstellenbetreiber") != stem("Netzbetreiber")


def test_english_stemming_and_diacritics() -> None:
    assert analyze("charging", "en") == analyze("charged", "en") == analyze("charges", "en") == ["charg"]
    assert analyze("meters metering", "en") == ["meter", "meter"]
    assert analyze("café", "en") == analyze("cafe", "en")


def test_stop_words_are_removed() -> None:
    assert analyze("Der Netzbetreiber und die Messstelle sind nicht hier", "de") == [
        "netzbetreib",
        "messstell",
    ]
    assert analyze("The operator and the meter are in the building", "en") == ["oper", "meter", "build"]


def test_tokenize_keeps_section_numbers_and_digits() -> None:
    assert tokenize("§ 3a Abs. 1 Nr. 2 MsbG") == ["3a", "abs", "1", "nr", "2", "msbg"]
    assert tokenize("a) Smart-Meter-Gateway, b) 15-minütige Werte; Straße") == [
        "smart",
        "meter",
        "gateway",
        "15",
        "minütige",
        "werte",
        "strasse",
    ]
    assert tokenize("snake_case x " + "y" * 80) == ["snake", "case"]


def test_language_detection() -> None:
    assert detect_language(GERMAN_PARAGRAPH) == "de"
    assert detect_language(ENGLISH_PARAGRAPH) == "en"
    assert detect_language("Der Messstellenbetreiber ist für den Einbau verantwortlich.") == "de"
    assert detect_language("The operator is responsible for the installation.") == "en"
    # No function words at all: umlauts decide, else the default.
    assert detect_language("Messstellenbetreiber Netzbetreiber") == "en"
    assert detect_language("Messstellenbetreiber Netzbetreiber", default="de") == "de"
    assert detect_language("Zählpunkt Messstelle") == "de"
    assert detect_language("") == "en"


def test_analyze_document_and_query() -> None:
    language, terms = analyze_document(GERMAN_PARAGRAPH)
    assert language == "de"
    assert terms == analyze(GERMAN_PARAGRAPH, "de")
    assert "versorg" in terms
    assert LexicalIndex.analyze_document(ENGLISH_PARAGRAPH)[0] == "en"
    # A query without a language is stemmed both ways, so it meets German and English chunks.
    query = analyze_query("Was macht der Messstellenbetreiber beim charging?")
    assert "messstellenbetreib" in query
    assert "charg" in query
    assert "was" not in query
    assert "der" not in query
    assert len(query) == len(set(query))
    assert analyze_query("charging stations", "en") == ["charg", "station"]

    index = LexicalIndex()
    index.add("de", analyze_document("Die Ladestationen der Messstellenbetreiber werden geprüft.")[1])
    index.add("en", analyze_document("The charging stations of the operator are inspected.")[1])
    assert [d for d, _ in index.search(analyze_query("Messstellenbetreibers"), top_k=5)] == ["de"]
    assert [d for d, _ in index.search(analyze_query("charged"), top_k=5)] == ["en"]


# --- scale ----------------------------------------------------------------------------------------


def test_100k_documents_build_and_query() -> None:
    """100,000 chunks of ~200 terms with Zipfian term frequencies. Timings are printed, not asserted."""
    n_docs, doc_len, vocab_size = 100_000, 200, 50_000
    rng = np.random.default_rng(20240601)
    vocabulary = np.array([f"w{i}" for i in range(vocab_size)], dtype=object)
    weights = 1.0 / np.arange(1, vocab_size + 1) ** 1.07
    weights /= weights.sum()

    index = LexicalIndex()
    build = 0.0
    batch = 5_000
    for start in range(0, n_docs, batch):
        ids = rng.choice(vocab_size, size=(batch, doc_len), p=weights)
        lengths = rng.integers(doc_len // 2, doc_len + 1, size=batch)
        docs = [vocabulary[row[:k]].tolist() for row, k in zip(ids, lengths, strict=True)]
        t0 = time.perf_counter()
        for offset, terms in enumerate(docs):
            index.add(f"chunk-{start + offset:06d}", terms)
        build += time.perf_counter() - t0
    stats = index.stats()
    assert stats.docs == n_docs

    queries = [
        vocabulary[rng.choice(vocab_size, size=rng.integers(2, 6), p=weights)].tolist() for _ in range(300)
    ]
    timings = []
    for query in queries:
        t0 = time.perf_counter()
        hits = index.search(query, top_k=10)
        timings.append(time.perf_counter() - t0)
        assert len(hits) == 10
        assert all(a[1] >= b[1] for a, b in itertools.pairwise(hits))
    allowed = {f"chunk-{i:06d}" for i in range(0, n_docs, 10)}
    t0 = time.perf_counter()
    filtered = index.search(queries[0], top_k=10, allowed=allowed)
    filtered_ms = (time.perf_counter() - t0) * 1000
    assert {d for d, _ in filtered} <= allowed

    t0 = time.perf_counter()
    for i in range(0, n_docs, 4):
        index.remove(f"chunk-{i:06d}")
    remove_s = time.perf_counter() - t0
    assert len(index) == n_docs * 3 // 4
    print(
        f"\n100k docs: build {build:.1f} s ({build / n_docs * 1e6:.0f} µs/doc), "
        f"{stats.terms} terms, avg length {stats.avg_length:.1f}; "
        f"query p50 {np.median(timings) * 1000:.2f} ms, p95 {np.percentile(timings, 95) * 1000:.2f} ms; "
        f"filtered (10% allowed) {filtered_ms:.2f} ms; remove 25k {remove_s:.2f} s"
    )
