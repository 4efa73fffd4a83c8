"""Hybrid retrieval: dense vectors and BM25 with stemming, fused by reciprocal rank.

RRF (Cormack et al., 2009) needs no score calibration between the two rankings: a chunk's fused
score is the sum over rankings of 1 / (k + rank). Each ranking contributes its top
RETRIEVAL_CANDIDATES; the lexical index is the in-memory one kept current by ingest.

German queries (2026-12-06) also search, at lower weight, the statute's words for their everyday words
(german.EVERYDAY_TERMS, weight EVERYDAY_WEIGHT) and the index compounds ending in a query word
(COMPOUND_HEADS), with BM25 k1 0.9 / b 0.75 (GERMAN_BM25); English queries are scored as before.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Literal

from luna_iems.knowledge import repository
from luna_iems.knowledge.deps import KnowledgeDeps
from luna_iems.knowledge.german import (
    everyday_expansions,
    law_alias_words,
    query_section_terms,
)
from luna_iems.knowledge.index import KnowledgeIndex
from luna_iems.knowledge.lexical import (
    analyze,
    analyze_query,
    compound_heads,
    compound_terms,
    detect_language,
)
from luna_iems.knowledge.schemas import SearchFilters, SearchHit, SearchResult
from luna_iems.ports import VectorFilter

Mode = Literal["hybrid", "dense", "lexical"]
SNIPPET_CHARS = 280
SECTION_RANKING = True  # fuse the chunks of sections the query names as a third ranking
MAX_SECTION_CHUNKS = 200
LAW_ALIASES = True  # a law named in the query also searches its other short forms ("MsbG" -> "MessbG")
# German queries only (detect_language == "de"); English queries take none of these paths.
GERMAN_BM25: tuple[float, float] | None = (0.9, 0.75)  # (k1, b) for German queries; None: the index's
EVERYDAY_WEIGHT = 1.0  # weight of the statute's words for everyday words (german.EVERYDAY_TERMS); 0 = off
COMPOUND_HEADS = 1  # per query word, index compounds ending in it ("beschwerd" -> "verbraucherbeschwerd")
COMPOUND_HEAD_WEIGHT = 0.3  # their weight relative to a query term
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÄÖÜ(0-9§])")


@dataclass
class _Candidate:
    chunk_id: str
    dense_score: float | None = None
    dense_rank: int | None = None
    lexical_score: float | None = None
    lexical_rank: int | None = None
    fused: float = 0.0


def _vector_filter(filters: SearchFilters | None) -> VectorFilter | None:
    if filters is None:
        return None
    any_of: dict[str, list[str]] = {}
    if filters.tags:
        any_of["tags"] = list(filters.tags)
    if filters.item_ids:
        any_of["item_id"] = [str(i) for i in filters.item_ids]
    equals: dict[str, str | int] = {"chunk_idx": 0} if filters.lead_only else {}
    if not any_of and not equals and filters.created_from is None and filters.created_to is None:
        return None
    return VectorFilter(equals=equals, any_of=any_of, ts_from=filters.created_from, ts_to=filters.created_to)


def _snippet(text: str, terms: set[str], language: Literal["de", "en"]) -> str:
    """The sentence that shares most terms with the query (a window of the chunk, not its start)."""
    sentences = [s.strip() for s in _SENTENCE.split(text) if s.strip()]
    if not sentences:
        return text[:SNIPPET_CHARS]
    best = max(sentences, key=lambda s: len(terms & set(analyze(s, language))))
    return best if len(best) <= SNIPPET_CHARS else best[: SNIPPET_CHARS - 1].rstrip() + "…"


def search(
    *,
    deps: KnowledgeDeps,
    query: str,
    top_k: int,
    filters: SearchFilters | None = None,
    mode: Mode = "hybrid",
    query_vector: list[float] | None = None,
) -> SearchResult:
    """Rank chunks for `query`; each hit says which rankings found it, with their ranks and scores."""
    started = time.perf_counter()
    settings = deps.settings
    depth = max(settings.retrieval_candidates, top_k)
    candidates: dict[str, _Candidate] = {}
    language = detect_language(query)
    german = language == "de"
    # Both stemmers: a short query (one German word) cannot be told apart by language reliably.
    terms = analyze_query(query)
    law_terms: list[str] = []
    if LAW_ALIASES and (aliases := law_alias_words(query)):
        law_terms = analyze_query(" ".join(aliases))
        terms = list(dict.fromkeys(terms + law_terms))

    if mode in ("hybrid", "dense"):
        vector = query_vector or deps.embedder.embed([query], kind="query")[0]
        dense_weight = settings.dense_weight_german if language == "de" and mode == "hybrid" else 1.0
        for rank, hit in enumerate(
            deps.vector_store.search(vector, top_k=depth, flt=_vector_filter(filters)), start=1
        ):
            entry = candidates.setdefault(hit.point_id, _Candidate(hit.point_id))
            entry.dense_score, entry.dense_rank = hit.score, rank
            entry.fused += dense_weight / (settings.rrf_k + rank)
    if mode in ("hybrid", "lexical"):
        index = deps.knowledge_index
        index.ensure_loaded(deps.session_factory)
        allowed = None
        if filters is not None:
            allowed = index.allowed(
                tags=filters.tags,
                item_ids=[str(i) for i in filters.item_ids or []] or None,
                created_from=filters.created_from,
                created_to=filters.created_to,
                lead_only=filters.lead_only,
            )
        if settings.split_compounds:
            terms = list(dict.fromkeys(terms + compound_terms(query, df=index.lexical.df)))
        bm25 = GERMAN_BM25 if german and GERMAN_BM25 else (None, None)
        weights: dict[str, float] = {}
        if german and COMPOUND_HEADS > 0:
            heads = compound_heads(
                query,
                ending_with=index.lexical.terms_ending_with,
                df=index.lexical.df,
                per_word=COMPOUND_HEADS,
            )
            weights = {t: COMPOUND_HEAD_WEIGHT for t in heads if t not in terms}
        if german and EVERYDAY_WEIGHT > 0:
            statute = analyze(" ".join(everyday_expansions(query)), "de")
            weights |= {t: EVERYDAY_WEIGHT for t in statute if t not in terms}
        lexical_hits = index.lexical.search(
            [*terms, *weights], top_k=depth, allowed=allowed, weights=weights or None, k1=bm25[0], b=bm25[1]
        )
        for rank, (chunk_id, score) in enumerate(lexical_hits, start=1):
            entry = candidates.setdefault(chunk_id, _Candidate(chunk_id))
            entry.lexical_score, entry.lexical_rank = score, rank
            entry.fused += 1.0 / (settings.rrf_k + rank)
        if SECTION_RANKING:
            _fuse_sections(
                candidates,
                query=query,
                index=index,
                lexical_hits=lexical_hits,
                allowed=allowed,
                rrf_k=settings.rrf_k,
                law_terms=law_terms,
            )

    # Ties (equal fused scores) go to the better dense, then lexical score: chunk ids are random UUIDs,
    # so ordering by id made identical runs differ.
    ranked = sorted(
        candidates.values(),
        key=lambda c: (-c.fused, -(c.dense_score or -2.0), -(c.lexical_score or 0.0), c.chunk_id),
    )
    hits = _resolve(deps, ranked, top_k, set(terms), language, per_section=settings.max_chunks_per_section)
    return SearchResult(
        query=query, mode=mode, hits=hits, took_ms=round((time.perf_counter() - started) * 1000, 2)
    )


def _fuse_sections(
    candidates: dict[str, _Candidate],
    *,
    query: str,
    index: KnowledgeIndex,
    lexical_hits: list[tuple[str, float]],
    allowed: set[str] | None,
    rrf_k: int,
    law_terms: list[str] | None = None,
) -> None:
    """A third ranking for a query that names sections ("§ 61 EEG"): the chunks headed by them, in
    lexical order (those BM25 did not rank follow in index order). It adds 1 / (k + rank) like the
    other two, so a named section comes first unless both other rankings prefer something else.
    When the query also names a law (`law_terms`, its short forms as index terms) and some of these
    chunks carry one of them, only those rank: "§ 62 MsbG" is § 62 of that law, not of every law."""
    named = query_section_terms(query)
    if not named:
        return
    members: set[str] = set()
    for term in named:
        members.update(index.lexical.docs_with(term))
    if allowed is not None:
        members &= allowed
    if law_terms:
        of_law = members & {c for term in law_terms for c in index.lexical.docs_with(term)}
        members = of_law or members
    if not members or len(members) > MAX_SECTION_CHUNKS:
        return  # a number that heads many chunks (every law has a § 1) ranks through BM25 alone
    order = [chunk_id for chunk_id, _ in lexical_hits if chunk_id in members]
    order += sorted(members - set(order))
    for rank, chunk_id in enumerate(order, start=1):
        entry = candidates.setdefault(chunk_id, _Candidate(chunk_id))
        entry.fused += 1.0 / (rrf_k + rank)


def _resolve(
    deps: KnowledgeDeps,
    ranked: list[_Candidate],
    top_k: int,
    terms: set[str],
    language: Literal["de", "en"],
    *,
    per_section: int = 0,
) -> list[SearchHit]:
    """Map candidate ids to chunk rows; ids without a row (e.g. a replaced version) are skipped.

    Section collapsing: with `per_section` > 0, at most that many chunks of one section ("§ 20a") of
    one document are kept, the best ranked ones; a section thus ranks by its best chunk, and the slots
    its other chunks would take go to the next sections. A question about a statute is answered by one
    section, and long sections (several chunks that share their heading terms) otherwise fill the top
    k. Chunks without a section are kept as ranked.
    """
    hits: list[SearchHit] = []
    taken: dict[tuple[uuid.UUID, str], int] = {}
    position = 0
    while len(hits) < top_k and position < len(ranked):
        window = ranked[position : position + top_k * 2]
        position += len(window)
        with deps.session_factory() as session:
            rows = repository.chunks_by_ids(
                session=session, chunk_ids=[uuid.UUID(c.chunk_id) for c in window]
            )
        by_id = {str(chunk.chunk_id): (chunk, item) for chunk, item in rows}
        for candidate in window:
            if candidate.chunk_id not in by_id or len(hits) >= top_k:
                continue
            chunk, item = by_id[candidate.chunk_id]
            meta = chunk.meta or {}
            section = meta.get("section")
            if per_section and section:
                key = (item.item_id, str(section))
                if taken.get(key, 0) >= per_section:
                    continue
                taken[key] = taken.get(key, 0) + 1
            body = str(meta.get("body") or chunk.text)
            found = [candidate.dense_rank is not None, candidate.lexical_rank is not None]
            hits.append(
                SearchHit(
                    chunk_id=chunk.chunk_id,
                    item_id=item.item_id,
                    title=item.title,
                    chunk_idx=chunk.chunk_idx,
                    page=meta.get("page_start"),
                    section=section,
                    heading_path=list(meta.get("heading_path") or []),
                    snippet=_snippet(body, terms, language),
                    text=body,
                    score=round(candidate.fused, 6),
                    dense_score=None if candidate.dense_score is None else round(candidate.dense_score, 6),
                    dense_rank=candidate.dense_rank,
                    lexical_score=None
                    if candidate.lexical_score is None
                    else round(candidate.lexical_score, 6),
                    lexical_rank=candidate.lexical_rank,
                    ranking="hybrid" if all(found) else ("dense" if found[0] else "lexical"),
                )
            )
    return hits
