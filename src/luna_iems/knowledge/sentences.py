"""Sentence splitting of German (and English) law text, for chunking.py to cut blocks that do not fit.

A period after an abbreviation ("z. B.", "Nr.", "Abs.", "S.", "ggf.") or an ordinal before a month
("1. Januar") does not end a sentence, and a lone list label ("2.") stays with its sentence.
chunking.py packs the sentences into chunks by their word pieces (wordpieces.py counts them).
"""

from __future__ import annotations

import re

# Lower-case, without the trailing period. Single letters ("S.", "z. B.", "d. h.") are caught by rule.
ABBREVIATIONS = frozenset(
    """
    abs abschn abl anh anl anm art aufl az bd bgbl bspw buchst bzgl bzw ca co corp dipl dr ebd einschl
    entspr etc evtl f ff gem gg ggf hinw hrsg inkl insb insbes jr kap lfd lit ltd max mind min mio mrd
    mwst nr nrn prof rdnr rn rz sog spez str tab tel u.a usw verf vgl vs z.b zb zif ziff zzgl approx
    dept e.g eg esp est fig figs i.e inc mr mrs ms no nos pp resp sec sr st vol jan feb mär mar apr jun
    jul aug sep sept okt oct nov dez dec
    """.split()  # noqa: SIM905 - a word list reads better as text
)
MONTHS = frozenset(
    """
    januar februar märz april mai juni juli august september oktober november dezember january february
    march may june july october december
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_CLOSERS = "\"'»«\u201c\u201d\u2018\u2019)\\]"  # quotes and brackets that may follow the period
_CANDIDATE = re.compile(rf"([.!?;:])[{_CLOSERS}]*\s+")
_PARAGRAPH_MARK = re.compile(r"\(\d{1,3}[a-z]?\)\s")
_LETTER_ABBREVIATION = re.compile(r"(?:[^\W\d_]{1,3}\.)+[^\W\d_]{1,3}")  # z.B / i.V.m / e.g
_OPENERS = "§\"'\u201e\u201c\u201a»«("


def _is_abbreviation(before: str, after: str) -> bool:
    """Is the period that ends `before` part of an abbreviation or ordinal, not a sentence end?"""
    parts = before.rsplit(maxsplit=1)
    if not parts:
        return False
    word = parts[-1].lstrip(_OPENERS + "[")
    if not word:
        return False
    if word.isdigit():
        # A list label inside running text ("wie folgt: 1. Anschlussnehmer …") or an ordinal date
        # ("vom 26. Juni", "1. Januar 2023").
        preceding = parts[0].rstrip() if len(parts) > 1 else ""
        if not preceding or preceding[-1] in ":;,":
            return True
        nxt = after.split(maxsplit=1)
        return bool(nxt) and nxt[0].strip(".,;:").casefold() in MONTHS
    lowered = word.casefold()
    return (
        (len(word) == 1 and word.isalpha())
        or lowered in ABBREVIATIONS
        or _LETTER_ABBREVIATION.fullmatch(word) is not None
    )


def split_sentences(text: str) -> list[str]:
    """Split running text into sentences; whitespace is normalised to single spaces.

    A boundary is `.`, `!` or `?` (optionally followed by closing quotes or brackets) plus space, then a
    capital letter, `§`, an opening quote or a paragraph marker "(2)". `;`/`:` plus space count only
    before a paragraph marker. A period after an abbreviation ("Abs.", "Nr.", "z. B.", "ggf."), a single
    letter ("S. 1066") or an ordinal before a month ("26. Juni") is no boundary, and a piece that would
    be a lone list label ("2.") stays with its sentence.
    """
    text = " ".join(text.split())
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for m in _CANDIDATE.finditer(text):
        end = m.end()
        if end >= len(text):
            break
        punct = m.group(1)
        if _PARAGRAPH_MARK.match(text, end):
            boundary = True
        elif punct in ".!?":
            first = text[end]
            boundary = first.isupper() or first in _OPENERS
            if first == "(":  # only "(2)" paragraph markers, handled above, start a sentence
                boundary = False
            if boundary and punct == ".":
                boundary = not _is_abbreviation(text[start : m.start()], text[end:])
        else:
            boundary = False
        if not boundary:
            continue
        sentence = text[start:end].strip()
        if len(sentence.split()) < 2:  # a lone list label or marker: keep it with what follows
            continue
        sentences.append(sentence)
        start = end
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences
