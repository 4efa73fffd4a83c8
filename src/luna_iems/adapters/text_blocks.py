"""What every in-process extractor shares (`local_extractor`, `markdown_extractor`, `adapters/tika.py`):
whitespace and invisible-character clean-up, joining hard-wrapped lines (hyphen rules in
local_extractor's docstring), titles from a first line, and `BlockBuilder`, which keeps the heading
path by level while the blocks of a document are collected."""

from __future__ import annotations

import re
from collections.abc import Iterable

from luna_iems.errors import InvalidInputError
from luna_iems.ports import ExtractedBlock, ExtractedDocument

TITLE_MAX_CHARS = 200

_INVISIBLE = re.compile(r"[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HYPHEN_END = re.compile(r"[^\W\d_]-$")
_CONJUNCTION = re.compile(r"(?:und|oder|bzw\.|sowie|bis|and|or|to)\b")


def normalize_space(text: str) -> str:
    """Collapse every run of whitespace (including NBSP) to one space; drop soft hyphens and controls."""
    return " ".join(_CONTROL.sub(" ", _INVISIBLE.sub("", text)).split())


def join_wrapped_lines(lines: Iterable[str]) -> str:
    """Hard-wrapped lines back into one paragraph (see the module docstring for hyphens)."""
    out = ""
    for raw in lines:
        line = normalize_space(raw)
        if not line:
            continue
        if not out:
            out = line
        elif _HYPHEN_END.search(out) and not _CONJUNCTION.match(line):
            out += line
        else:
            out += " " + line
    return out


def first_line_title(text: str) -> str | None:
    """A title from the start of `text`: its first line, cut at a word boundary."""
    for line in text.splitlines():
        title = normalize_space(line)
        if title:
            return truncate_title(title)
    return None


def truncate_title(title: str) -> str:
    title = normalize_space(title)
    if len(title) <= TITLE_MAX_CHARS:
        return title
    cut = title[:TITLE_MAX_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"


class BlockBuilder:
    """Collects blocks in reading order and keeps the heading path by level."""

    def __init__(self) -> None:
        self.blocks: list[ExtractedBlock] = []
        self._outline: list[tuple[int, str]] = []

    @property
    def heading_path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self._outline)

    def heading(self, text: str, level: int, page: int | None = None) -> None:
        text = normalize_space(text)
        if not text:
            return
        while self._outline and self._outline[-1][0] >= level:
            self._outline.pop()
        self._outline.append((level, text))
        self.blocks.append(
            ExtractedBlock(text=text, page=page, heading_path=self.heading_path, kind="heading")
        )

    def extend_heading(self, text: str) -> None:
        """Append a wrapped line to the heading just added."""
        last = self.blocks[-1] if self.blocks else None
        if last is None or last.kind != "heading" or not self._outline:
            self.text(text)
            return
        joined = join_wrapped_lines([last.text, text])
        self._outline[-1] = (self._outline[-1][0], joined)
        self.blocks[-1] = ExtractedBlock(
            text=joined, page=last.page, heading_path=self.heading_path, kind="heading"
        )

    def text(self, text: str, page: int | None = None) -> None:
        text = normalize_space(text)
        if text:
            self.blocks.append(ExtractedBlock(text=text, page=page, heading_path=self.heading_path))

    def first_text(self) -> str | None:
        return self.blocks[0].text if self.blocks else None

    def document(
        self,
        content_type: str,
        *,
        title: str | None,
        page_count: int | None = None,
        empty_message: str = "no extractable text",
    ) -> ExtractedDocument:
        if not self.blocks:
            raise InvalidInputError(empty_message)
        title = normalize_space(title or "") or first_line_title(self.blocks[0].text)
        return ExtractedDocument(
            content_type=content_type,
            blocks=tuple(self.blocks),
            title=truncate_title(title) if title else None,
            page_count=page_count,
        )


def row_text(cells: Iterable[str]) -> str:
    return " | ".join(text for text in (normalize_space(cell) for cell in cells) if text)
