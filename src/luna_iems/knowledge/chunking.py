"""Structure-aware chunking, measured in the embedding model's own word pieces.

Why this module counts word pieces rather than characters or words:

* all-MiniLM-L6-v2 reads at most 256 word pieces, [CLS] and [SEP] included; everything after that is
  silently truncated, so text beyond the limit would be stored and shown but never embedded. A chunk
  therefore holds at most 254 pieces (`MAX_CHUNK_TOKENS`) *including* its heading prefix.
* The model's vocabulary is English (BERT uncased). German compounds fall apart into many pieces
  ("Messstellenbetreiber" is 7: mess ##ste ##llen ##bet ##re ##ibe ##r), so a German word costs about
  twice as many pieces as an English one. A word- or character-based budget that fits English would
  overflow on German law text; counting with the real tokenizer fits both.
* Headings are natural boundaries. Every `§` of a statute starts its own chunk and no chunk spans two
  sections, so a hit can be cited precisely ("§ 3 MsbG") and the `section` field is exact. Short
  sections carry their title through the heading prefix ("Gesetz … > Teil 1 > § 3 Begriffsbestimmungen:
  …"), which is part of the embedded text and counts toward the budget; `Chunk.body` is the text
  without it, for display and snippets.

Inside a section, whole text blocks are packed up to the budget; a block that does not fit is split at
sentence boundaries (German abbreviations such as "z. B.", "Nr.", "Abs.", "S.", "ggf." and dates such as
"1. Januar" do not end a sentence), a sentence that alone exceeds the budget at word boundaries. When a
section continues into a further chunk, about `overlap_tokens` of trailing sentences (or words) of the
previous chunk are repeated at its start.

The defaults of 200 pieces with 32 pieces of overlap are provisional: a retrieval benchmark will choose
them.

Counting is additive: BERT's pre-tokenizer splits on whitespace and punctuation, so the pieces of
"a b" are the pieces of "a" followed by those of "b". The chunker counts every sentence once (in
batches) and adds; each finished chunk is counted again as a whole, and `Chunk.token_count` is that
final count.

The counters (the model's tokenizer, or an estimate without it) live in wordpieces.py, the sentence
splitter in sentences.py; this module groups blocks by heading and packs them into chunks.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from luna_iems.knowledge.sentences import split_sentences
from luna_iems.knowledge.wordpieces import (
    MAX_CHUNK_TOKENS,
    MODEL_MAX_TOKENS,
    count_many,
    wordpiece_counter,
)
from luna_iems.ports import ExtractedBlock

DEFAULT_MAX_TOKENS = 200  # provisional: the retrieval benchmark chooses the final value
DEFAULT_OVERLAP_TOKENS = 32  # provisional, likewise
MIN_MAX_TOKENS = 16
HEADING_SEPARATOR = " > "
PREFIX_SEPARATOR = ": "
# The heading prefix may take at most this share of a chunk; longer paths are shortened.
MAX_PREFIX_SHARE = 0.5


# --------------------------------------------------------------------------------------------------
# Chunks

_SECTION = re.compile(r"^(?:\([^)]*\)\s*)?(§§?)\s*(\d+[a-z]?\b(?:\s*(?:bis|und|-|\u2013|,)\s*\d+[a-z]?\b)*)")


def section_of(heading: str) -> str | None:
    """'§ 3 Begriffsbestimmungen' -> '§ 3'; '§§ 46a bis 47 (weggefallen)' -> '§§ 46a bis 47'."""
    m = _SECTION.match(heading.strip())
    if m is None:
        return None
    number = re.sub(r"\s+", " ", m.group(2)).strip()
    return f"{m.group(1)} {number}"


_TRAILING_LABEL = re.compile(r"\(([^()]{2,40})\)\s*$")
LABEL_MIN_WORDS = 6


def document_label(title: str) -> str:
    """A long title's trailing parenthesised short name, else the title itself.

    'Gesetz über die Elektrizitäts- und Gasversorgung (EnWG 2005)' -> 'EnWG 2005'.
    """
    match = _TRAILING_LABEL.search(title)
    if match is None or len(title.split()) < LABEL_MIN_WORDS:
        return title
    return match.group(1).strip()


@dataclass(frozen=True)
class Chunk:
    """One piece of a document to embed and index.

    `text` is what gets embedded and indexed (heading prefix included when enabled); `body` is the same
    text without the prefix, for display and snippets. `token_count` is the word-piece count of `text`
    (without [CLS]/[SEP]). `section` is the innermost "§" heading ("§ 3"), else None.
    """

    text: str
    index: int
    page_start: int | None
    page_end: int | None
    heading_path: tuple[str, ...]
    section: str | None
    token_count: int
    body: str = ""


@dataclass
class _Piece:
    text: str
    tokens: int
    page: int | None
    block: int  # pieces of one source block join with " ", pieces of different blocks with "\n\n"


@dataclass
class _Group:
    path: tuple[str, ...]
    heading: str | None = None
    heading_page: int | None = None
    texts: list[tuple[int, str, int | None]] = field(default_factory=list)  # (block ordinal, text, page)


def _norm(text: str) -> str:
    return " ".join(text.split())


def _group_blocks(blocks: Sequence[ExtractedBlock]) -> list[_Group]:
    """Runs of blocks under the same heading path; every heading block opens a new run.

    A heading block's own `heading_path` may or may not end with the heading itself (the Extractor
    port says "the headings above"); both conventions give the same groups.
    """
    groups: list[_Group] = []
    current: _Group | None = None
    for ordinal, block in enumerate(blocks):
        text = _norm(block.text)
        path = tuple(_norm(h) for h in block.heading_path)
        if block.kind == "heading":
            if not text:
                continue
            own = path if path and path[-1] == text else (*path, text)
            current = _Group(path=own, heading=text, heading_page=block.page)
            groups.append(current)
            continue
        if not text:
            continue
        if current is None or path != current.path:
            current = _Group(path=path)
            groups.append(current)
        current.texts.append((ordinal, text, block.page))
    return groups


def _is_leaf(groups: list[_Group], i: int) -> bool:
    """A heading without text of its own whose next run is not nested under it (e.g. a repealed §)."""
    path = groups[i].path
    if i + 1 >= len(groups):
        return True
    nxt = groups[i + 1].path
    return not (len(nxt) > len(path) and nxt[: len(path)] == path)


class _Chunker:
    def __init__(self, count: Callable[[str], int], max_tokens: int, overlap_tokens: int, prefix: bool):
        self.count = count
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.prefix = prefix
        self._prefix_cache: dict[tuple[str, ...], tuple[str, int]] = {}
        self._word_cache: dict[str, int] = {}

    def count_words(self, words: Sequence[str]) -> list[int]:
        """Counts of single words, cached for the document (overlap and splits count words again)."""
        cache = self._word_cache
        missing = list(dict.fromkeys(w for w in words if w not in cache))
        if missing:
            cache.update(zip(missing, count_many(self.count, missing), strict=True))
        return [cache[w] for w in words]

    # -- heading prefix -------------------------------------------------------------------------

    def prefix_for(self, path: tuple[str, ...]) -> tuple[str, int]:
        """(prefix text, pieces of prefix + separator); shortened to at most MAX_PREFIX_SHARE."""
        if not self.prefix or not path:
            return "", 0
        key = path
        cached = self._prefix_cache.get(key)
        if cached is not None:
            return cached
        limit = int(self.max_tokens * MAX_PREFIX_SHARE)
        if len(path) > 1 and section_of(path[-1]) is not None:
            # A statute's section: name the law by its short label ("EnWG 2005"), not its full title,
            # so the budget goes to the section heading and its text (see `document_label`).
            path = (document_label(path[0]), *path[1:])
        candidates = [list(path)]
        # Drop the outer middle headings first (keep the document title and the innermost heading),
        # then keep only the innermost heading.
        for drop in range(1, len(path) - 1):
            candidates.append([path[0], "…", *path[drop + 1 :]])
        if len(path) > 1:
            candidates.append([path[-1]])
        texts = [HEADING_SEPARATOR.join(c) for c in candidates]
        counts = count_many(self.count, [t + PREFIX_SEPARATOR.rstrip() for t in texts])
        for text, n in zip(texts, counts, strict=True):
            if n <= limit:
                result = (text, n)
                break
        else:  # even the innermost heading alone is too long: keep its longest fitting word prefix
            words = path[-1].split()
            lo, hi = 0, len(words)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self.count(" ".join([*words[:mid], "…"]) + PREFIX_SEPARATOR.rstrip()) <= limit:
                    lo = mid
                else:
                    hi = mid - 1
            text = " ".join([*words[:lo], "…"])
            result = (text, self.count(text + PREFIX_SEPARATOR.rstrip()))
        self._prefix_cache[key] = result
        return result

    # -- pieces ---------------------------------------------------------------------------------

    def split_long(self, piece: _Piece, budget: int) -> list[_Piece]:
        """A sentence over budget -> runs of words; a word over budget -> runs of characters."""
        words = piece.text.split(" ")
        counts = self.count_words(words)
        out: list[_Piece] = []
        run: list[str] = []
        used = 0
        for word, n in zip(words, counts, strict=True):
            if n > budget:
                if run:
                    out.append(_Piece(" ".join(run), used, piece.page, piece.block))
                    run, used = [], 0
                out.extend(self._split_chars(word, budget, piece))
                continue
            if used + n > budget and run:
                out.append(_Piece(" ".join(run), used, piece.page, piece.block))
                run, used = [], 0
            run.append(word)
            used += n
        if run:
            out.append(_Piece(" ".join(run), used, piece.page, piece.block))
        return out

    def _split_chars(self, word: str, budget: int, piece: _Piece) -> list[_Piece]:
        out: list[_Piece] = []
        rest = word
        while rest:
            lo, hi = 1, len(rest)  # longest prefix that fits (binary search)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self.count(rest[:mid]) <= budget:
                    lo = mid
                else:
                    hi = mid - 1
            out.append(_Piece(rest[:lo], self.count(rest[:lo]), piece.page, piece.block))
            rest = rest[lo:]
        return out

    # -- packing --------------------------------------------------------------------------------

    def overlap(self, previous: list[_Piece], limit: int) -> list[_Piece]:
        """About `limit` pieces of trailing text of `previous`: whole sentences, topped up with the
        trailing words of the sentence before them; never the whole previous chunk."""
        if limit <= 0 or not previous:
            return []
        taken: list[_Piece] = []
        used = 0
        for i in range(len(previous) - 1, -1, -1):
            piece = previous[i]
            if i > 0 and used + piece.tokens <= limit:
                taken.append(piece)
                used += piece.tokens
                continue
            tail = self.tail_words(piece, limit - used)
            if tail is not None:
                taken.append(tail)
            break
        return taken[::-1]

    def tail_words(self, piece: _Piece, room: int) -> _Piece | None:
        """The longest run of trailing words of `piece` within `room` (never all of its words)."""
        words = piece.text.split(" ")
        if room <= 0 or len(words) < 2:
            return None
        counts = self.count_words(words)
        used = 0
        n = 0
        for c in reversed(counts[1:]):
            if used + c > room:
                break
            used += c
            n += 1
        if n == 0:
            return None
        return _Piece(" ".join(words[-n:]), used, piece.page, piece.block)

    def split_head(self, piece: _Piece, room: int) -> tuple[_Piece, _Piece] | None:
        """The longest run of leading words of `piece` within `room`, and the rest; None if none fits."""
        words = piece.text.split(" ")
        counts = self.count_words(words)
        used = 0
        n = 0
        for c in counts[:-1]:
            if used + c > room:
                break
            used += c
            n += 1
        if n == 0:
            return None
        head = _Piece(" ".join(words[:n]), used, piece.page, piece.block)
        return head, _Piece(" ".join(words[n:]), sum(counts[n:]), piece.page, piece.block)

    def pack(self, pieces: list[_Piece], budget: int) -> list[list[_Piece]]:
        """Greedy packing; a continuation chunk starts with the overlap.

        When the next sentence does not fit behind the overlap, its leading words fill the chunk and
        the rest continues in the next one: the overlap is kept at the price of cutting that sentence
        (which the overlap then bridges).
        """
        chunks: list[list[_Piece]] = []
        current: list[_Piece] = []
        used = 0
        fresh = 0  # pieces in `current` that are not overlap
        queue = deque(pieces)
        while queue:
            piece = queue.popleft()
            if fresh and used + piece.tokens > budget:
                chunks.append(current)
                current = self.overlap(current, self.overlap_tokens)
                used = sum(p.tokens for p in current)
                fresh = 0
                if used + piece.tokens > budget:
                    split = self.split_head(piece, budget - used)
                    if split is None:  # not one word fits behind the overlap: shorten the overlap
                        current = self.overlap(chunks[-1], budget - piece.tokens)
                        used = sum(p.tokens for p in current)
                    else:
                        piece = split[0]
                        queue.appendleft(split[1])
            current.append(piece)
            used += piece.tokens
            fresh += 1
        if fresh:
            chunks.append(current)
        return chunks

    # -- groups -> drafts -------------------------------------------------------------------------

    def drafts(self, groups: list[_Group]) -> list[_Draft]:
        # Sentences of every block, counted in one batch.
        units_of: list[list[tuple[int, str, int | None]]] = []
        for i, group in enumerate(groups):
            units: list[tuple[int, str, int | None]] = []
            if group.heading is not None and not self.prefix and (group.texts or _is_leaf(groups, i)):
                units.append((-1 - i, group.heading, group.heading_page))
            for ordinal, text, page in group.texts:
                units.extend((ordinal, sentence, page) for sentence in split_sentences(text))
            units_of.append(units)
        counts = iter(count_many(self.count, [u[1] for units in units_of for u in units]))

        drafts: list[_Draft] = []
        for i, (group, units) in enumerate(zip(groups, units_of, strict=True)):
            prefix, prefix_tokens = self.prefix_for(group.path)
            budget = self.max_tokens - prefix_tokens
            pieces: list[_Piece] = []
            for ordinal, text, page in units:
                piece = _Piece(text, next(counts), page, ordinal)
                pieces.extend(self.split_long(piece, budget) if piece.tokens > budget else [piece])
            if pieces:
                drafts.extend(_Draft(prefix, _join(run), group, run) for run in self.pack(pieces, budget))
            elif group.heading is not None and prefix and _is_leaf(groups, i):
                # A heading with no text under it and nothing nested (e.g. "§ 5 (weggefallen)"): keep
                # it as a chunk of its own so the section can still be found and cited.
                drafts.append(_Draft(prefix, "", group, []))
        return drafts


@dataclass
class _Draft:
    prefix: str
    body: str
    group: _Group
    pieces: list[_Piece]


def _join(pieces: Sequence[_Piece]) -> str:
    out: list[str] = []
    previous: int | None = None
    for piece in pieces:
        if out:
            out.append(" " if piece.block == previous else "\n\n")
        out.append(piece.text)
        previous = piece.block
    return "".join(out)


def _innermost_section(path: tuple[str, ...]) -> str | None:
    for heading in reversed(path):
        section = section_of(heading)
        if section is not None:
            return section
    return None


def chunk_blocks(
    blocks: Sequence[ExtractedBlock],
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
    count: Callable[[str], int] | None = None,
    heading_prefix: bool = True,
) -> list[Chunk]:
    """Cut a document's blocks into chunks of at most `max_tokens` word pieces (prefix included).

    A heading (a block of kind "heading", or a change of `heading_path`) always starts a new chunk; a
    page change does not, the chunk records `page_start`/`page_end`. `count` defaults to the model's
    word-piece counter. Raises ValueError when `max_tokens` exceeds the model limit of
    `MAX_CHUNK_TOKENS` (256 minus [CLS]/[SEP]) or the overlap does not leave room for new text.
    """
    if max_tokens > MAX_CHUNK_TOKENS:
        raise ValueError(
            f"max_tokens={max_tokens} exceeds the embedding model's limit of {MAX_CHUNK_TOKENS} word "
            f"pieces ({MODEL_MAX_TOKENS} minus [CLS] and [SEP]); longer chunks would be truncated"
        )
    if max_tokens < MIN_MAX_TOKENS:
        raise ValueError(f"max_tokens={max_tokens} is below the minimum of {MIN_MAX_TOKENS}")
    if not 0 <= overlap_tokens < max_tokens // 2:
        raise ValueError(f"overlap_tokens={overlap_tokens} must be >= 0 and < max_tokens / 2")
    counter: Callable[[str], int] = count if count is not None else wordpiece_counter()
    chunker = _Chunker(counter, max_tokens, overlap_tokens, heading_prefix)
    drafts = chunker.drafts(_group_blocks(blocks))

    texts = [_compose(d.prefix, d.body) for d in drafts]
    chunks: list[Chunk] = []
    for draft, text, n in zip(drafts, texts, count_many(counter, texts), strict=True):
        pages = [p.page for p in draft.pieces if p.page is not None]
        if not draft.pieces and draft.group.heading_page is not None:
            pages = [draft.group.heading_page]
        parts = _enforce_limit(
            counter, prefix=draft.prefix, body=draft.body, text=text, n=n, max_tokens=max_tokens
        )
        for body_part, text_part, n_part in parts:
            chunks.append(
                Chunk(
                    text=text_part,
                    index=len(chunks),
                    page_start=min(pages) if pages else None,
                    page_end=max(pages) if pages else None,
                    heading_path=draft.group.path,
                    section=_innermost_section(draft.group.path),
                    token_count=n_part,
                    body=body_part or (draft.group.heading or ""),
                )
            )
    return chunks


def _compose(prefix: str, body: str) -> str:
    if not prefix:
        return body
    if not body:
        return prefix
    return f"{prefix}{PREFIX_SEPARATOR}{body}"


def _enforce_limit(
    count: Callable[[str], int], *, prefix: str, body: str, text: str, n: int, max_tokens: int
) -> list[tuple[str, str, int]]:
    """Safety net for counters that are not additive: cut an over-long chunk by words."""
    if n <= max_tokens:
        return [(body, text, n)]
    out: list[tuple[str, str, int]] = []
    words = body.split(" ")
    while words:
        lo, hi = 1, len(words)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(_compose(prefix, " ".join(words[:mid]))) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        part = " ".join(words[:lo])
        composed = _compose(prefix, part)
        out.append((part, composed, count(composed)))
        words = words[lo:]
    return out
