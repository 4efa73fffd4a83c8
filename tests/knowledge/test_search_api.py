"""GET /search over HTTP: hybrid, dense and lexical rankings, filters, German stemming, and the
in-memory lexical index (updated incrementally, reloaded from SQL after a restart)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth, make_settings
from tests.knowledge.api_support import ADMIN, container_of, ingest_text, running, search, snapshot

RRF_K = 60  # the default LUNA rrf_k

PUMPS = """# Pump station maintenance

## Spare parts

The seal kit for the booster pump has the part number XK-4471 and must be replaced every 4,000 hours.

## Inspection

The pumps are inspected every spring; vibration above 7 mm/s means the bearings must be checked.
"""
BATTERY = """# Battery storage

The lithium-ion battery stores 500 kWh and charges at up to 250 kW. Its state of charge must not fall
below 20 % during winter, so that the morning peak can be shaved.
"""
MSBG = """# Messstellenbetrieb

Der Messstellenbetreiber ist verpflichtet, die Messwerte täglich an den Netzbetreiber zu übermitteln.
Die Bundesnetzagentur legt die Fristen für die Übermittlung fest.
"""


@pytest.fixture(scope="module")
def corpus(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """One app with three small documents, shared by the read-only tests of this module."""
    tmp_path = tmp_path_factory.mktemp("search")
    shutil.copyfile(sqlite_template, tmp_path / "luna.db")
    settings = make_settings(tmp_path, database_url=f"sqlite:///{tmp_path / 'luna.db'}")
    with running(settings) as client:
        ids = {
            "pumps": ingest_text(client, "Pump station", PUMPS, tags=["maintenance", "pumps"])["item_id"],
            "battery": ingest_text(client, "Battery", BATTERY, tags=["battery"])["item_id"],
            "msbg": ingest_text(client, "Messstellenbetrieb", MSBG, tags=["recht"])["item_id"],
        }
        yield client, ids


def _check_hit_shape(hit: dict[str, Any]) -> None:
    found_dense, found_lexical = hit["dense_rank"] is not None, hit["lexical_rank"] is not None
    assert (
        hit["ranking"]
        == {(True, True): "hybrid", (True, False): "dense", (False, True): "lexical"}[
            (found_dense, found_lexical)
        ]
    )
    assert (hit["dense_score"] is None) == (not found_dense)
    assert (hit["lexical_score"] is None) == (not found_lexical)
    # reciprocal rank fusion: the score is the sum of 1 / (k + rank) over the rankings that found it
    expected = sum(1 / (RRF_K + r) for r in (hit["dense_rank"], hit["lexical_rank"]) if r is not None)
    assert hit["score"] == pytest.approx(expected, abs=1e-6)
    assert hit["snippet"]
    assert hit["snippet"] in hit["text"] or hit["snippet"].endswith("…")
    assert hit["chunk_idx"] >= 0 and hit["title"]


def test_hybrid_hits_have_rankings_ranks_and_fused_scores(corpus: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = corpus
    response = client.get("/search", headers=ADMIN, params={"q": "When must the pump bearings be checked?"})
    assert response.status_code == 200
    body = response.json()
    assert (body["query"], body["mode"]) == ("When must the pump bearings be checked?", "hybrid")
    assert body["took_ms"] >= 0
    hits = body["hits"]
    assert hits and hits[0]["item_id"] == ids["pumps"]
    assert hits[0]["ranking"] == "hybrid"
    assert "vibration" in hits[0]["snippet"]  # the sentence sharing most terms, not the chunk's start
    assert hits[0]["heading_path"] == ["Pump station maintenance", "Inspection"]
    for hit in hits:
        _check_hit_shape(hit)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert len({h["chunk_id"] for h in hits}) == len(hits)
    dense_ranks = sorted(h["dense_rank"] for h in hits if h["dense_rank"] is not None)
    assert dense_ranks == list(range(1, len(dense_ranks) + 1))


def test_top_k_limits_the_hits(corpus: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = corpus
    assert len(search(client, "battery pump", top_k=2)) == 2
    assert len(search(client, "battery pump", top_k=1, mode="dense")) == 1


def test_lexical_finds_an_exact_rare_token(corpus: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = corpus
    hits = search(client, "XK-4471", mode="lexical")
    assert len(hits) == 1
    (hit,) = hits
    assert (hit["item_id"], hit["ranking"], hit["lexical_rank"]) == (ids["pumps"], "lexical", 1)
    assert (hit["dense_score"], hit["dense_rank"]) == (None, None)
    assert "XK-4471" in hit["snippet"]
    assert hit["section"] is None and hit["heading_path"][-1] == "Spare parts"
    _check_hit_shape(hit)
    # in hybrid mode the lexical match puts it first whatever the dense ranking thinks
    hybrid = search(client, "XK-4471")
    assert hybrid[0]["chunk_id"] == hit["chunk_id"]
    assert hybrid[0]["lexical_rank"] == 1
    assert search(client, "ZZ-9999 QQ", mode="lexical") == []


def test_dense_mode_ranks_by_similarity_only(corpus: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = corpus
    hits = search(client, "How much energy can the storage hold?", mode="dense")
    assert hits[0]["item_id"] == ids["battery"]
    assert {h["ranking"] for h in hits} == {"dense"}
    assert all(h["lexical_rank"] is None and h["lexical_score"] is None for h in hits)
    assert [h["dense_rank"] for h in hits] == list(range(1, len(hits) + 1))
    scores = [h["dense_score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s <= 1.0 for s in scores)
    for hit in hits:
        _check_hit_shape(hit)


def test_tag_and_item_filters(corpus: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = corpus
    for mode in ("hybrid", "dense", "lexical"):
        tagged = search(client, "battery pump Messstellenbetreiber", mode=mode, tags="battery")
        assert tagged and {h["item_id"] for h in tagged} == {ids["battery"]}
        either = search(client, "battery pumps inspected", mode=mode, tags="battery,pumps")
        assert {h["item_id"] for h in either} == {ids["battery"], ids["pumps"]}
        one = search(client, "battery pump", mode=mode, item_id=ids["pumps"])
        assert one and {h["item_id"] for h in one} == {ids["pumps"]}
        two = search(client, "battery pumps inspected", mode=mode, item_id=[ids["pumps"], ids["battery"]])
        assert {h["item_id"] for h in two} == {ids["pumps"], ids["battery"]}
        assert search(client, "battery", mode=mode, tags="no-such-tag") == []
        assert search(client, "battery", mode=mode, item_id=str(uuid.uuid4())) == []
        # tags and item ids together: both must hold
        assert search(client, "battery pump", mode=mode, tags="battery", item_id=ids["pumps"]) == []


def test_tag_filter_ignores_spaces_after_commas(corpus: tuple[TestClient, dict[str, str]]) -> None:
    """Ingest strips the tags of "a, b"; the search filter must read "a, b" the same way."""
    client, ids = corpus
    hits = search(client, "battery", tags="no-such-tag, battery")
    assert hits and {h["item_id"] for h in hits} == {ids["battery"]}


def test_german_query_matches_inflected_german_text(corpus: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = corpus
    # "Messstellenbetreibern" (dative plural) and "übermittelt" vs "Messstellenbetreiber"/"übermitteln"
    hits = search(
        client, "Welche Pflichten haben Messstellenbetreibern bei der Übermittlung?", mode="lexical"
    )
    assert hits and hits[0]["item_id"] == ids["msbg"]
    assert "Messstellenbetreiber" in hits[0]["snippet"]
    assert search(client, "Fristen der Bundesnetzagentur", mode="lexical")[0]["item_id"] == ids["msbg"]


def test_single_german_word_query_matches_by_stem(corpus: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = corpus
    hits = search(client, "Messstellenbetreibern", mode="lexical")
    assert hits and hits[0]["item_id"] == ids["msbg"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "query.q"),
        ({"q": ""}, "query.q"),
        ({"q": "x", "mode": "semantic"}, "query.mode"),
        ({"q": "x", "top_k": 0}, "query.top_k"),
        ({"q": "x", "top_k": 101}, "query.top_k"),
        ({"q": "x", "item_id": "not-a-uuid"}, "query.item_id[0]"),
    ],
)
def test_invalid_search_parameters_are_422(
    corpus: tuple[TestClient, dict[str, str]], params: dict[str, Any], field: str
) -> None:
    client, _ = corpus
    response = client.get("/search", headers=ADMIN, params=params)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == field


def test_search_needs_a_key_and_a_viewer_may_search(
    corpus: tuple[TestClient, dict[str, str]], make_key: Callable[[TestClient, str], str]
) -> None:
    client, _ = corpus
    assert client.get("/search", params={"q": "battery"}).status_code == 401
    viewer = make_key(client, "viewer")
    assert client.get("/search", headers=auth(viewer), params={"q": "battery"}).status_code == 200


# --- the lexical index: incremental, and reloaded after a restart ------------------------------------


def test_lexical_index_follows_ingest_and_delete_without_restart(sqlite_client: TestClient) -> None:
    ingest_text(sqlite_client, "Seed", "The transformer TR-1 is cooled by oil.")
    assert search(sqlite_client, "transformer", mode="lexical")  # loads the index
    index = container_of(sqlite_client).knowledge_index
    assert index.loaded
    size = len(index)

    added = ingest_text(sqlite_client, "Valve", "The relief valve ZV-3318 opens at 6 bar.", tags=["valves"])
    assert len(index) == size + added["chunks"]
    (hit,) = search(sqlite_client, "ZV-3318", mode="lexical")
    assert hit["item_id"] == added["item_id"]
    assert search(sqlite_client, "ZV-3318", mode="lexical", tags="valves")[0]["chunk_id"] == hit["chunk_id"]

    assert sqlite_client.delete(f"/documents/{added['item_id']}", headers=ADMIN).status_code == 204
    assert len(index) == size
    assert search(sqlite_client, "ZV-3318", mode="lexical") == []
    assert all(h["item_id"] != added["item_id"] for h in search(sqlite_client, "relief valve ZV-3318"))
    assert search(sqlite_client, "ZV-3318", mode="lexical", tags="valves") == []


def test_lexical_index_reloads_after_a_restart(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"))
    queries = [("XK-4471", "lexical"), ("Messwerte übermitteln", "lexical"), ("battery winter", "hybrid")]
    with running(settings) as first:
        for title, text in (("Pumps", PUMPS), ("Battery", BATTERY), ("MsbG", MSBG)):
            ingest_text(first, title, text)
        before = {q: search(first, q, mode=mode) for q, mode in queries}
        assert all(before.values())
    with running(settings) as second:
        index = container_of(second).knowledge_index
        assert not index.loaded  # no warm-up in tests: the first query loads it from SQL
        after = {q: search(second, q, mode=mode) for q, mode in queries}
        assert index.loaded and len(index) == snapshot(second).chunks
    for q, _ in queries:
        assert [(h["chunk_id"], h["score"], h["lexical_score"]) for h in after[q]] == [
            (h["chunk_id"], h["score"], h["lexical_score"]) for h in before[q]
        ]


def test_lead_only_searches_each_documents_first_chunk(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    """`lead_only` keeps chunk 0 of each document in every ranking, also after a restart (where the
    lexical index is reloaded from SQL)."""
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"))
    with running(settings) as first:
        ingest_text(first, "Pumps", PUMPS)  # headings: three chunks, the pump seal kit is in chunk 1
        ingest_text(first, "Battery", BATTERY)
        everything = search(first, "seal kit booster pump part number", mode="lexical")
        assert any(h["chunk_idx"] > 0 for h in everything)
        fresh = search(first, "seal kit booster pump part number", mode="lexical", lead_only=True)
        assert fresh and {h["chunk_idx"] for h in fresh} == {0}  # the incrementally updated index
    with running(settings) as second:
        for mode in ("hybrid", "dense", "lexical"):
            leads = search(second, "seal kit booster pump part number", mode=mode, lead_only=True)
            assert leads and {h["chunk_idx"] for h in leads} == {0}, (mode, leads)
            assert len({h["item_id"] for h in leads}) == len(leads)  # one chunk per document


def test_german_queries_weight_the_dense_ranking(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    """The English embedding model ranks German text worse than BM25: for a German query its ranking
    counts DENSE_WEIGHT_GERMAN in the fusion; English queries keep weight 1."""
    weight = 0.25
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"), dense_weight_german=weight)
    with running(settings) as client:
        for title, text in (("Pumps", PUMPS), ("Battery", BATTERY), ("MsbG", MSBG)):
            ingest_text(client, title, text)
        for query, dense_weight in (("Der Messstellenbetreiber übermittelt die Messwerte", weight),
                                    ("The battery must not fall below its winter reserve", 1.0)):  # fmt: skip
            hits = search(client, query, mode="hybrid")
            assert hits and any(h["dense_rank"] for h in hits)
            for hit in hits:
                expected = (dense_weight / (RRF_K + hit["dense_rank"]) if hit["dense_rank"] else 0.0) + (
                    1.0 / (RRF_K + hit["lexical_rank"]) if hit["lexical_rank"] else 0.0
                )
                assert hit["score"] == pytest.approx(expected, abs=1e-6), (query, hit)  # rounded to 6 places


def test_a_title_missing_from_the_text_is_searchable(
    tmp_path: Path, fresh_database_url: Callable[[str], str]
) -> None:
    settings = make_settings(tmp_path, database_url=fresh_database_url("sqlite"))
    with running(settings) as client:
        item = ingest_text(client, "Energiewirtschaftsgesetz (EnWG)", MSBG)["item_id"]
        ingest_text(client, "Pumps", PUMPS)
        hits = search(client, "Energiewirtschaftsgesetz", mode="lexical")
        assert [(h["item_id"], h["chunk_idx"]) for h in hits] == [(item, 0)]
    with running(settings) as restarted:  # the title's terms are stored with the chunk, not rebuilt
        again = search(restarted, "Energiewirtschaftsgesetz", mode="lexical")
        assert [(h["item_id"], h["chunk_idx"]) for h in again] == [(item, 0)]
