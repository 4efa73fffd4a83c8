"""Markdown to blocks, in process and without a dependency (what and why: `local_extractor`'s docstring):
YAML front matter skipped (its `Title:` is the title), ATX and setext headings set the heading path,
one block per paragraph, list item, definition, table row or fenced code."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import yaml

from luna_iems.adapters.text_blocks import BlockBuilder, join_wrapped_lines, normalize_space, row_text
from luna_iems.filetypes import MARKDOWN
from luna_iems.ports import ExtractedDocument

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")
_THEMATIC_BREAK = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")
_FENCE_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[a-z]?[.)])(?:[ \t]+\S|[ \t]*$)")
_BULLET = re.compile(r"[ \t]*[-*+][ \t]+")
_ORDERED = re.compile(r"[ \t]*(\d{1,9}[a-z]?[.)])[ \t]+")
_DEFINITION = re.compile(r":[ \t]+(.*)")
_TABLE_RULE = re.compile(r"[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*")
_BLOCKQUOTE = re.compile(r"[ \t]{0,3}>[ \t]?")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_PRIVATE_BASE = 0xF0000  # escaped punctuation is parked in Unicode plane 15 while inline markup is removed
_INLINE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)"), r"\1"),  # image → alt text
    (re.compile(r"\[\^[^\]\s]+\]:?"), ""),  # footnote reference or definition label
    (re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)"), r"\1"),  # link → its text
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),  # autolink
    (re.compile(r"`([^`\n]+)`"), r"\1"),  # code span
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # strong
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),  # emphasis
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),  # strikethrough
    (re.compile(r"(?<!\S)\*{2,}(?!\S)"), ""),  # empty emphasis ("Begriffsbestimmungen ****")
)


def markdown_inline_text(text: str) -> str:
    """Markdown inline markup reduced to its text (emphasis, links, images, code, footnotes, escapes)."""
    text = _ESCAPE.sub(lambda m: chr(_PRIVATE_BASE + ord(m.group(1))), text)
    for pattern, replacement in _INLINE_RULES:
        text = pattern.sub(replacement, text)
    return re.sub(r"[\U000F0021-\U000F007E]", lambda m: chr(ord(m.group(0)) - _PRIVATE_BASE), text)


def extract_markdown(text: str) -> ExtractedDocument:
    lines = text.splitlines()
    front_title, start = _front_matter(lines)
    parser = _MarkdownParser()
    for line in lines[start:]:
        parser.feed(line)
    parser.close()
    return parser.builder.document(MARKDOWN, title=front_title or parser.first_h1)


def _front_matter(lines: Sequence[str]) -> tuple[str | None, int]:
    """(title, index of the first body line): YAML front matter between `---` lines at the very top."""
    if not lines or lines[0].strip() != "---":
        return None, 0
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in {"---", "..."}), None)
    if end is None:
        return None, 0
    raw = "\n".join(lines[1:end])
    title: str | None = None
    try:
        meta = yaml.safe_load(raw)
    except yaml.YAMLError:
        meta = None
    if isinstance(meta, dict):
        value = next((v for k, v in meta.items() if str(k).lower() == "title"), None)
        title = str(value) if isinstance(value, (str, int, float)) else None
    else:
        match = re.search(r"^title:[ \t]*(.+)$", raw, re.IGNORECASE | re.MULTILINE)
        title = match.group(1).strip().strip("\"'") if match else None
    return (normalize_space(title) or None) if title else None, end + 1


class _MarkdownParser:
    def __init__(self) -> None:
        self.builder = BlockBuilder()
        self.first_h1: str | None = None
        self._paragraph: list[str] = []
        self._fence: str | None = None
        self._code: list[str] = []

    def feed(self, line: str) -> None:
        if self._fence is not None:
            self._feed_code(line, self._fence)
            return
        line = _BLOCKQUOTE.sub("", line, count=1) if _BLOCKQUOTE.match(line) else line
        handlers: tuple[Callable[[str], bool], ...] = (
            self._blank,
            self._fence_open,
            self._atx_heading,
            self._setext_heading,
            self._thematic_break,
            self._table_row,
            self._definition,
            self._list_item,
        )
        if not any(handler(line) for handler in handlers):
            self._paragraph.append(line)

    def close(self) -> None:
        if self._fence is not None:
            self._emit_code()
        self._flush()

    def _flush(self) -> None:
        if self._paragraph:
            self.builder.text(markdown_inline_text(join_wrapped_lines(self._paragraph)))
            self._paragraph.clear()

    def _heading(self, text: str, level: int) -> None:
        text = normalize_space(markdown_inline_text(text))
        if level == 1 and self.first_h1 is None and text:
            self.first_h1 = text
        self.builder.heading(text, level)

    def _feed_code(self, line: str, fence: str) -> None:
        stripped = line.strip()
        if stripped.startswith(fence) and set(stripped) == {fence[0]}:
            self._emit_code()
        else:
            self._code.append(line)

    def _emit_code(self) -> None:
        self.builder.text("\n".join(self._code))
        self._code.clear()
        self._fence = None

    def _blank(self, line: str) -> bool:
        if line.strip():
            return False
        self._flush()
        return True

    def _fence_open(self, line: str) -> bool:
        match = _FENCE_OPEN.match(line)
        if match is None:
            return False
        self._flush()
        self._fence = match.group(1)
        return True

    def _atx_heading(self, line: str) -> bool:
        match = _ATX.fullmatch(line)
        if match is None:
            return False
        self._flush()
        self._heading(match.group(2) or "", len(match.group(1)))
        return True

    def _setext_heading(self, line: str) -> bool:
        match = _SETEXT.fullmatch(line)
        if match is None or not self._paragraph or _LIST_ITEM.match(self._paragraph[0]):
            return False
        text = join_wrapped_lines(self._paragraph)
        self._paragraph.clear()
        self._heading(text, 1 if match.group(1).startswith("=") else 2)
        return True

    def _thematic_break(self, line: str) -> bool:
        if _THEMATIC_BREAK.fullmatch(line) is None:
            return False
        self._flush()
        return True

    def _table_row(self, line: str) -> bool:
        stripped = line.strip()
        if not stripped.startswith("|"):
            return False
        self._flush()
        if _TABLE_RULE.fullmatch(stripped) is None:
            cells = stripped.strip("|").split("|")
            self.builder.text(row_text(markdown_inline_text(cell) for cell in cells))
        return True

    def _definition(self, line: str) -> bool:
        match = _DEFINITION.match(line)
        if match is None or not self._paragraph:
            return False
        self._paragraph[-1] = self._paragraph[-1].rstrip() + ": " + match.group(1)
        return True

    def _list_item(self, line: str) -> bool:
        if _LIST_ITEM.match(line) is None:
            return False
        self._flush()
        while _BULLET.match(line):  # "*    *   Gütefaktor": nested bullets on one line
            line = _BULLET.sub("", line, count=1)
        ordered = _ORDERED.match(line)
        if ordered is not None:
            line = f"{ordered.group(1)} {line[ordered.end() :]}"
        if line.strip() not in {"", "-", "*", "+"}:  # an empty item ("-" or "*" alone) adds nothing
            self._paragraph.append(line)
        return True
