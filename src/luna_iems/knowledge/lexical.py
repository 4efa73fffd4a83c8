"""Lexical retrieval: Okapi BM25 over stemmed German and English terms, in memory, updated in place.

Analysis (`analyze`):

* Text is case-folded (so "ß" becomes "ss") and split into Unicode letter/digit runs (`[^\\W_]+`):
  umlauts and ß stay inside words, hyphenated compounds ("Smart-Meter-Gateway") become their parts,
  "§" is punctuation and disappears while its number stays: "§ 3a Abs. 1" gives "3a", "abs", "1", so a
  query for "§ 3a" still matches on "3a". Single letters (list labels "a)", "b)") and runs longer than
  64 characters (hashes, base64) are dropped; digits are kept.
* Stop words of the text's language are removed, then words are stemmed with the Snowball stemmers of
  PyStemmer ("german" / "english"). Snowball German already folds ä/ö/ü to a/o/u and ß to ss, and
  reads the transliterations ae/oe/ue the same way, so a query typed without umlauts
  ("grundzustandige", "grundzustaendige") meets "grundzuständige" (all stem to "grundzustand"); no
  extra folding is applied before the German stemmer. For English, diacritics are stripped before
  stemming ("café" = "cafe").
* Queries are short and their language is a guess, so `analyze_query` stems them with both stemmers
  and searches the union; each distinct query term counts once.

Language detection (`detect_language`) counts ~100 common German and ~100 common English function
words written out below. There are only two languages to tell apart, and ingest must analyse 100,000
chunks quickly; a stop-word count takes ~50 µs per 150-word chunk (5 s per 100,000) and is
deterministic, whereas langdetect-style detectors are slow, probabilistic (different answers on
re-runs) and know ~50 languages we do not need. Words in both lists ("in", "was", "also") do not
vote; a tie goes to German if the text has umlauts, ß or "§" (German legal writing: "Was regelt § 62
MsbG?" has no German-only function word), else to the configured default.

Scoring (`LexicalIndex.search`) is Okapi BM25 with k1 = 0.9 and b = 0.4, the Anserini defaults
(tuned on TREC collections; a lower b than the textbook 0.75 normalises length less, which suits
chunks of similar size), and IDF = ln(1 + (N - df + 0.5) / (df + 0.5)), always positive:

    score(d, q) = sum over distinct t in q of IDF(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))

N, df and avgdl count the live documents only. |d| is the number of analysed terms of d. A query may
weight its terms (expansion terms count less) and set its own k1 and b (German queries: 0.9 / 0.75).

Persistence is not here: the knowledge store keeps each chunk's terms (compactly, via
`to_term_counts`) and calls `add_counts` at start-up.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import numpy.typing as npt
import Stemmer

from luna_iems.knowledge.chunking import HEADING_SEPARATOR, PREFIX_SEPARATOR
from luna_iems.knowledge.german import prefix_section_terms, query_section_terms, split_compound

Language = Literal["de", "en"]
LANGUAGES: tuple[Language, ...] = ("de", "en")
_STEMMER_NAMES: dict[Language, str] = {"de": "german", "en": "english"}

BM25_K1 = 0.9
BM25_B = 0.4
MAX_TERM_LENGTH = 64
DETECTION_CHARS = 4000  # detection reads the beginning of long texts only

# About 100 frequent German function words (articles, pronouns, prepositions, conjunctions, auxiliaries).
GERMAN_STOP_WORDS = frozenset(
    """
    der die das den dem des ein eine einer eines einem einen und oder aber auch nicht nur noch schon
    sehr mit von zu zum zur für auf aus bei nach über unter vor durch gegen ohne um bis seit während
    wegen im ins am an in ist sind war waren wird werden wurde wurden worden sein hat haben hatte hatten
    kann können muss müssen soll sollen darf dürfen ich du er sie es wir ihr man sich seine seiner
    seinem seinen ihre ihrem ihren ihrer dieser diese dieses diesem diesen jeder jede jedes jedem jeden
    welcher welche welches dass daß wenn weil ob als wie so da dort hier wo was wer doch denn sondern
    also kein keine keiner keinen keinem alle allen aller alles bereits sowie soweit sofern gemäß hierzu
    deren dessen
    """.split()  # noqa: SIM905 - a word list reads better as text
)
# About 100 frequent English function words.
ENGLISH_STOP_WORDS = frozenset(
    """
    the a an and or but not no nor of to in on at by for with from as into onto about over under between
    through during before after above below up down out off than then so such that this these those
    there here which who whom whose what when where why how is are was were be been being has have had
    having do does did doing will would shall should can could may might must it its they them their
    theirs he him his she her hers we us our ours you your yours i me my mine if because while until
    unless although though also only just very more most other some any each every all both either
    neither same too again further once per via
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_STOP_WORDS: dict[Language, frozenset[str]] = {
    "de": frozenset(w.casefold() for w in GERMAN_STOP_WORDS),
    "en": frozenset(w.casefold() for w in ENGLISH_STOP_WORDS),
}
# Only words unique to one list vote in detection.
_GERMAN_ONLY = _STOP_WORDS["de"] - _STOP_WORDS["en"]
_ENGLISH_ONLY = _STOP_WORDS["en"] - _STOP_WORDS["de"]
_ALL_STOP_WORDS = _STOP_WORDS["de"] | _STOP_WORDS["en"]
_GERMAN_LETTERS = re.compile(r"[äöüÄÖÜß§]")  # "§" is German legal writing
_WORD = re.compile(r"[^\W_]+")

_local = threading.local()  # PyStemmer objects must not be used from two threads at once


def _stemmer(language: Language) -> Stemmer.Stemmer:
    stemmers: dict[Language, Stemmer.Stemmer] | None = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = {}
        _local.stemmers = stemmers
    stemmer = stemmers.get(language)
    if stemmer is None:
        stemmer = Stemmer.Stemmer(_STEMMER_NAMES[language])
        stemmers[language] = stemmer
    return stemmer


def tokenize(text: str) -> list[str]:
    """Case-folded letter/digit runs; single letters and over-long runs dropped (see module doc)."""
    return [
        t for t in _WORD.findall(text.casefold()) if (len(t) > 1 or t.isdigit()) and len(t) <= MAX_TERM_LENGTH
    ]


def _detect(tokens: Iterable[str], text: str, default: Language) -> Language:
    german = english = 0
    for token in tokens:
        if token in _GERMAN_ONLY:
            german += 1
        elif token in _ENGLISH_ONLY:
            english += 1
    if german > english:
        return "de"
    if english > german:
        return "en"
    if _GERMAN_LETTERS.search(text):
        return "de"
    return default


def detect_language(text: str, *, default: Language = "en") -> Language:
    """'de' or 'en' by counting function words unique to each language (see module doc)."""
    head = text[:DETECTION_CHARS]
    return _detect(tokenize(head), head, default)


def _fold_diacritics(token: str) -> str:
    if token.isascii():
        return token
    decomposed = unicodedata.normalize("NFKD", token)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _stem(tokens: Sequence[str], language: Language) -> list[str]:
    if language == "en":
        tokens = [_fold_diacritics(t) for t in tokens]
    return cast(list[str], _stemmer(language).stemWords(tokens))


def analyze(text: str, language: Language) -> list[str]:
    """Index terms of `text`: tokenise, drop `language`'s stop words, stem; order kept, repeats kept."""
    stop = _STOP_WORDS[language]
    return _stem([t for t in tokenize(text) if t not in stop], language)


def analyze_document(text: str, *, default: Language = "en") -> tuple[Language, list[str]]:
    """(detected language, index terms) of a chunk to index; tokenises once for both.

    A chunk whose heading prefix ends in a "§" heading also gets that section's term ("§20a", see
    german.py), once.
    """
    tokens = tokenize(text)
    language = _detect(tokens[:1000], text[:DETECTION_CHARS], default)
    stop = _STOP_WORDS[language]
    sections = prefix_section_terms(
        text, heading_separator=HEADING_SEPARATOR, prefix_separator=PREFIX_SEPARATOR
    )
    return language, _stem([t for t in tokens if t not in stop], language) + sections


def analyze_query(text: str, language: Language | None = None) -> list[str]:
    """Query terms. With no language: stems of both languages, stop words of both removed, deduplicated.

    Sections the query names ("§ 61", "Paragraph 14a") add their section terms (see german.py).
    """
    sections = query_section_terms(text)
    if language is not None:
        return list(dict.fromkeys(analyze(text, language) + sections))
    tokens = [t for t in tokenize(text) if t not in _ALL_STOP_WORDS]
    terms: list[str] = []
    for lang in LANGUAGES:
        terms.extend(_stem(tokens, lang))
    return list(dict.fromkeys(terms + sections))


def stem_german(word: str) -> str:
    """The German index term of one case-folded word (for compound parts)."""
    return cast(str, _stemmer("de").stemWord(word))


def compound_terms(text: str, *, df: Callable[[str], int]) -> list[str]:
    """Index terms of the parts of the query's German compounds that the index does not know as a
    whole ("netzentgeltbefreiung" -> "netzentgelt", "befreiung"); see german.split_compound.
    `df` is the index's document frequency of a term."""
    stemmer = _stemmer("de")
    stems: dict[str, str] = {}
    counts: dict[str, int] = {}

    def stem(word: str) -> str:
        if word not in stems:
            stems[word] = cast(str, stemmer.stemWord(word))
        return stems[word]

    def frequency(term: str) -> int:
        if term not in counts:
            counts[term] = df(term)
        return counts[term]

    parts: list[str] = []
    for token in dict.fromkeys(tokenize(text)):
        if token in _ALL_STOP_WORDS or frequency(stem(token)) > 0:
            continue
        if frequency(_stem([token], "en")[0]) > 0:
            continue
        parts.extend(split_compound(token, stem=stem, df=frequency))
    return list(dict.fromkeys(parts))


def compound_heads(
    text: str,
    *,
    ending_with: Callable[[str], list[str]],
    df: Callable[[str], int],
    per_word: int,
    min_stem: int = 5,
    min_modifier: int = 4,
) -> list[str]:
    """Index compounds whose last part is a German query word, the reverse of `compound_terms`: the
    question says "Beschwerde", the law "Verbraucherbeschwerde" (both stemmed: "beschwerd" ->
    "verbraucherbeschwerd"). A German compound is a kind of its last part, so these are narrower terms
    of the query word. Per query word (stem of at least `min_stem` letters, no stop word) the
    `per_word` compounds with the highest document frequency whose modifier has `min_modifier` letters
    or more. `ending_with` lists index terms ending with a stem, `df` gives a term's document frequency.
    """
    found: list[str] = []
    for token in dict.fromkeys(tokenize(text)):
        if token in _ALL_STOP_WORDS or not token.isalpha():
            continue
        stem = stem_german(token)
        if len(stem) < min_stem:
            continue
        longer = [t for t in ending_with(stem) if len(t) - len(stem) >= min_modifier]
        longer.sort(key=lambda t: (-df(t), t))
        found.extend(longer[:per_word])
    return list(dict.fromkeys(found))


def to_term_counts(terms: Iterable[str]) -> dict[str, int]:
    """A term list as {term: count}, the compact form to store (as JSON) next to a chunk."""
    return dict(Counter(terms))


def from_term_counts(counts: Mapping[str, int]) -> list[str]:
    """Back to a term list (bag of words: BM25 ignores order). `LexicalIndex.add_counts` takes counts."""
    return [term for term, n in counts.items() for _ in range(int(n))]


# --------------------------------------------------------------------------------------------------
# The index


@dataclass(frozen=True)
class LexicalStats:
    docs: int  # live documents
    terms: int  # distinct terms in live documents
    avg_length: float  # mean analysed length of live documents
    slots: int  # slots in use, live and tombstoned
    tombstones: int  # removed documents not yet compacted away


class _Postings:
    """One term's postings: slots and term frequencies in growing arrays, with a cached NumPy copy."""

    __slots__ = ("cache", "slots", "tfs")

    def __init__(self) -> None:
        self.slots = array("I")
        self.tfs = array("H")  # tf is capped at 65535
        self.cache: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None = None

    def arrays(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        if self.cache is None:
            self.cache = (
                np.frombuffer(self.slots, dtype=np.uint32).astype(np.int64),
                np.frombuffer(self.tfs, dtype=np.uint16).astype(np.float64),
            )
        return self.cache


class LexicalIndex:
    """In-memory inverted index with BM25 search, updated document by document; thread-safe.

    Each document occupies a slot. Removing it only tombstones the slot: its postings stay until the
    next compaction but never score and are not counted in df, and slots are not reused before
    compaction renumbers them, so a freed slot can never be mistaken for a new document. Compaction
    runs once tombstones exceed `compact_ratio` of the slots (and at least `compact_min` of them),
    or on `compact()`. Per document only its slot, id and length are kept (no term list), so removal
    is O(1) and the index costs little more than its postings (about 6 bytes per posting).
    """

    def __init__(
        self,
        *,
        k1: float = BM25_K1,
        b: float = BM25_B,
        compact_ratio: float = 0.25,
        compact_min: int = 1024,
    ) -> None:
        self.k1 = k1
        self.b = b
        self.compact_ratio = compact_ratio
        self.compact_min = compact_min
        self._lock = threading.RLock()
        self._postings: dict[str, _Postings] = {}
        self._slot_of: dict[str, int] = {}
        self._doc_ids: list[str | None] = []  # by slot; None = tombstone
        self._lengths = np.zeros(1024, dtype=np.float64)
        self._live = np.zeros(1024, dtype=bool)
        self._total_length = 0
        self._tombstones = 0
        self._version = 0  # bumped by every change; keys the cached term count
        self._terms_cache: tuple[int, int] = (-1, 0)
        self._suffix_cache: tuple[int, list[str]] = (-1, [])  # reversed terms, sorted, by version

    analyze_document = staticmethod(analyze_document)

    # -- updates ----------------------------------------------------------------------------------

    def add(self, doc_id: str, terms: Sequence[str]) -> None:
        """Index `doc_id` with these analysed terms, replacing an earlier version."""
        self.add_counts(doc_id, Counter(terms))

    def add_counts(self, doc_id: str, counts: Mapping[str, int]) -> None:
        """As `add`, from {term: count} (what `to_term_counts` stores)."""
        with self._lock:
            if doc_id in self._slot_of:
                self._remove(doc_id)
            slot = len(self._doc_ids)
            if slot >= len(self._lengths):
                self._grow(slot + 1)
            postings = self._postings
            length = 0
            for term, tf in counts.items():
                if tf <= 0:
                    continue
                p = postings.get(term)
                if p is None:
                    p = postings[term] = _Postings()
                p.slots.append(slot)
                p.tfs.append(tf if tf < 65535 else 65535)
                p.cache = None
                length += tf
            self._doc_ids.append(doc_id)
            self._slot_of[doc_id] = slot
            self._lengths[slot] = length
            self._live[slot] = True
            self._total_length += length
            self._version += 1

    def add_many(self, docs: Iterable[tuple[str, Sequence[str]]]) -> None:
        """`add` for many documents under one lock acquisition."""
        with self._lock:
            for doc_id, terms in docs:
                self.add_counts(doc_id, Counter(terms))

    def remove(self, doc_id: str) -> None:
        """Forget `doc_id` (no error if absent)."""
        with self._lock:
            if doc_id in self._slot_of:
                self._remove(doc_id)
                self._maybe_compact()

    def _remove(self, doc_id: str) -> None:
        slot = self._slot_of.pop(doc_id)
        self._total_length -= int(self._lengths[slot])
        self._doc_ids[slot] = None
        self._lengths[slot] = 0.0
        self._live[slot] = False
        self._tombstones += 1
        self._version += 1

    def _grow(self, needed: int) -> None:
        capacity = max(needed, 2 * len(self._lengths))
        lengths = np.zeros(capacity, dtype=np.float64)
        live = np.zeros(capacity, dtype=bool)
        n = len(self._doc_ids)
        lengths[:n] = self._lengths[:n]
        live[:n] = self._live[:n]
        self._lengths, self._live = lengths, live

    def _maybe_compact(self) -> None:
        if self._tombstones >= max(self.compact_min, self.compact_ratio * len(self._doc_ids)):
            self.compact()

    def compact(self) -> None:
        """Drop tombstoned slots and terms without live documents; renumber slots densely."""
        with self._lock:
            if self._tombstones == 0:
                return
            n = len(self._doc_ids)
            live = self._live[:n]
            live_slots = np.flatnonzero(live)
            remap = np.full(n, -1, dtype=np.int64)
            remap[live_slots] = np.arange(len(live_slots))
            postings: dict[str, _Postings] = {}
            for term, p in self._postings.items():
                slots, tfs = p.arrays()
                keep = live[slots]
                if not keep.any():
                    continue
                fresh = _Postings()
                fresh.slots = array("I", remap[slots[keep]].astype(np.uint32).tobytes())
                fresh.tfs = array("H", tfs[keep].astype(np.uint16).tobytes())
                postings[term] = fresh
            self._postings = postings
            self._doc_ids = [self._doc_ids[s] for s in live_slots.tolist()]
            self._slot_of = {cast(str, doc_id): i for i, doc_id in enumerate(self._doc_ids)}
            capacity = max(1024, len(self._doc_ids))
            lengths = np.zeros(capacity, dtype=np.float64)
            lengths[: len(live_slots)] = self._lengths[live_slots]
            flags = np.zeros(capacity, dtype=bool)
            flags[: len(live_slots)] = True
            self._lengths, self._live = lengths, flags
            self._tombstones = 0
            self._version += 1

    # -- reading ----------------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return len(self._slot_of)

    def __contains__(self, doc_id: object) -> bool:
        with self._lock:
            return doc_id in self._slot_of

    def _df(self, p: _Postings, slots: npt.NDArray[np.int64] | None = None) -> int:
        """Live documents containing the term (tombstoned postings do not count)."""
        if self._tombstones == 0:
            return len(p.slots)
        if slots is None:
            slots = p.arrays()[0]
        return int(np.count_nonzero(self._live[slots]))

    def _live_terms(self) -> int:
        if self._tombstones == 0:
            return len(self._postings)
        version, terms = self._terms_cache
        if version != self._version:
            terms = sum(1 for p in self._postings.values() if self._df(p) > 0)
            self._terms_cache = (self._version, terms)
        return terms

    def stats(self) -> LexicalStats:
        with self._lock:
            docs = len(self._slot_of)
            return LexicalStats(
                docs=docs,
                terms=self._live_terms(),
                avg_length=self._total_length / docs if docs else 0.0,
                slots=len(self._doc_ids),
                tombstones=self._tombstones,
            )

    def docs_with(self, term: str) -> list[str]:
        """Ids of the live documents containing `term`, in slot order."""
        with self._lock:
            p = self._postings.get(term)
            if p is None:
                return []
            ids = (self._doc_ids[s] for s in p.arrays()[0].tolist())
            return [doc_id for doc_id in ids if doc_id is not None]

    def terms_ending_with(self, suffix: str) -> list[str]:
        """Live index terms that end with `suffix` and are longer than it (German compounds whose last
        part is `suffix`: "beschwerd" -> "verbraucherbeschwerd"), in sorted order."""
        with self._lock:
            version, reversed_terms = self._suffix_cache
            if version != self._version:
                reversed_terms = sorted(t[::-1] for t in self._postings)
                self._suffix_cache = (self._version, reversed_terms)
            key = suffix[::-1]
            start = bisect.bisect_right(reversed_terms, key)
            end = bisect.bisect_left(reversed_terms, key + "\U0010ffff", start)  # every term with the prefix
            found = [candidate[::-1] for candidate in reversed_terms[start:end]]
            return sorted(term for term in found if self.df(term) > 0)

    def df(self, term: str) -> int:
        """Live documents containing `term` (0 if none)."""
        with self._lock:
            p = self._postings.get(term)
            return self._df(p) if p else 0

    def idf(self, term: str) -> float:
        with self._lock:
            p = self._postings.get(term)
            return self._idf(self._df(p) if p else 0, len(self._slot_of))

    @staticmethod
    def _idf(df: int, n: int) -> float:
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def search(
        self,
        query_terms: Sequence[str],
        *,
        top_k: int,
        allowed: set[str] | None = None,
        weights: Mapping[str, float] | None = None,
        k1: float | None = None,
        b: float | None = None,
    ) -> list[tuple[str, float]]:
        """The `top_k` best (doc_id, BM25 score) pairs, best first; equal scores by doc id.

        Each distinct query term counts once, times its entry in `weights` (default 1; expansion terms,
        e.g. German everyday words and compound heads, weigh less). `k1` and `b` override the index's
        parameters for this query. `allowed`, when given, restricts the hits to those ids. Documents
        matching no query term are never returned.
        """
        if top_k <= 0:
            return []
        k1 = self.k1 if k1 is None else k1
        b = self.b if b is None else b
        with self._lock:
            n_docs = len(self._slot_of)
            if n_docs == 0:
                return []
            n_slots = len(self._doc_ids)
            avgdl = self._total_length / n_docs or 1.0
            lengths = self._lengths[:n_slots]
            slot_parts: list[npt.NDArray[np.int64]] = []
            score_parts: list[npt.NDArray[np.float64]] = []
            for term in dict.fromkeys(query_terms):
                p = self._postings.get(term)
                if p is None:
                    continue
                slots, tfs = p.arrays()
                df = self._df(p, slots)
                if df == 0:
                    continue
                idf = self._idf(df, n_docs) * (1.0 if weights is None else weights.get(term, 1.0))
                norm = k1 * (1.0 - b + b * lengths[slots] / avgdl)
                slot_parts.append(slots)
                score_parts.append(idf * tfs * (k1 + 1.0) / (tfs + norm))
            if not slot_parts:
                return []
            scores = np.bincount(
                np.concatenate(slot_parts), weights=np.concatenate(score_parts), minlength=n_slots
            )
            candidates = np.flatnonzero(self._live[:n_slots] & (scores > 0.0))
            if allowed is not None:
                candidates = self._restrict(candidates, allowed)
            if len(candidates) == 0:
                return []
            values = scores[candidates]
            if len(candidates) > top_k:
                # The k-th best score; keep every candidate at least that good so ties at the cut
                # are broken by doc id, not by slot order.
                kth = np.partition(values, len(values) - top_k)[len(values) - top_k]
                keep = values >= kth
                candidates, values = candidates[keep], values[keep]
            doc_ids = self._doc_ids
            hits = [
                (cast(str, doc_ids[s]), float(v))
                for s, v in zip(candidates.tolist(), values.tolist(), strict=True)
            ]
        hits.sort(key=lambda hit: (-hit[1], hit[0]))
        return hits[:top_k]

    def _restrict(self, candidates: npt.NDArray[np.int64], allowed: set[str]) -> npt.NDArray[np.int64]:
        """Candidates whose id is in `allowed`; loops over whichever of the two is smaller."""
        if len(allowed) < len(candidates):
            slots = [s for d in allowed if (s := self._slot_of.get(d)) is not None]
            mask = np.zeros(len(self._doc_ids), dtype=bool)
            mask[slots] = True
            return candidates[mask[candidates]]
        doc_ids = self._doc_ids
        return np.array([s for s in candidates.tolist() if doc_ids[s] in allowed], dtype=np.int64)
