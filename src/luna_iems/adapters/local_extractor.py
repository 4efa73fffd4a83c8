"""Text and structure out of documents, in process: PDF, DOCX, HTML, Markdown and plain text.

`LocalExtractor` is the default `Extractor`; `adapters/tika.py` is the production alternative for PDF and
DOCX and reuses the HTML walker and the PDF line heuristics defined here. The Markdown parser is in
`markdown_extractor.py`, what all formats share (line joining, titles, `BlockBuilder`) in
`text_blocks.py`.

Every format becomes a list of `ExtractedBlock`s in reading order: one block per paragraph (or list
item, table row, heading), with whitespace collapsed and empty blocks dropped. A heading block's
`heading_path` ends with the heading itself (it is the path of the section the heading opens), so a
heading and the text under it share one path; the path is maintained by level, a new heading closing
every open heading of the same or a deeper level.

Libraries, and why:

- PDF: **pypdf**. It reads page by page, so every block keeps its 1-based page number for citations;
  it is pure Python (no system libraries in the image) and actively maintained. markitdown was ruled
  out because it flattens a PDF into one text and loses the page breaks; pdfplumber (pdfminer.six)
  keeps pages too but is several times slower for the same text. pypdf's plain extraction has no
  paragraph marks, so paragraphs are rebuilt from the lines (see `pdf_page_blocks`): a blank line, a
  short line ending a sentence, a list or Absatz marker (`(1)`, `1.`, `a)`, `•`) after a finished line,
  and headings recognised cheaply (`§ 3 …`, `Teil 2 …`, `Kapitel 1 …`, `Abschnitt 4 …`, `Anlage 1 …`
  on a line of their own). Page numbers alone on the first or last line of a page are dropped. No OCR:
  a PDF without a text layer is a 422.
- DOCX: **python-docx**. Body paragraphs and tables in document order; styles "Title" (level 0) and
  "Heading N" (level N, also for styles based on them) become headings; table rows become
  "cell | cell" blocks. Headers, footers, footnotes and text boxes are not read.
- HTML: **BeautifulSoup** with the stdlib "html.parser". `script`, `style`, `nav`, `footer` (and other
  non-content elements) are dropped; `h1`-`h6` are headings with their level; every block element
  (`p`, `li`, `div`, `blockquote`, …) ends a block; table rows become "cell | cell" like in DOCX, so
  DOCX read locally and DOCX read by Tika (which answers HTML tables) give the same rows.
- Markdown: a small line-based parser (no dependency): YAML front matter is skipped, its `Title:` is
  the title; ATX (`#`…`######`) and setext headings set the heading path by level, which for German
  statutes (`## Teil 1`, `### § 3 Begriffsbestimmungen`) is the § citation; paragraphs are separated by
  blank lines with hard-wrapped lines joined by spaces. **Each list item is its own block** (a line
  opening with `-`, `*`, `+`, `1.`, `1a.` or `1)` starts a new block): statutes enumerate definitions
  and conditions as list items, and a block per item keeps "Nr. 7" retrievable on its own. Ordered
  markers are kept ("1. …"), bullets dropped; definition lists (`Term` / `:   value`) become
  "Term: value"; inline markup (emphasis, links, images, footnote markers, backslash escapes) is
  reduced to its text; fenced code is one block; indented lines are continuation lines, not code.
- Plain text: paragraphs separated by blank lines, hard-wrapped lines joined.

Wrapped lines are joined with a space, except after a word ending in a hyphen ("Erneuerbare-" +
"Energien-Gesetz"), where the hyphen is kept and no space is added unless the next word is a
conjunction ("Strom-" + "und Gas" stays "Strom- und Gas").
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bs4 import BeautifulSoup, Tag
from bs4.element import Comment, Declaration, Doctype, NavigableString, ProcessingInstruction

from luna_iems.adapters.markdown_extractor import extract_markdown
from luna_iems.adapters.text_blocks import (
    BlockBuilder,
    first_line_title,
    join_wrapped_lines,
    normalize_space,
    row_text,
)
from luna_iems.errors import InvalidInputError, PayloadTooLargeError
from luna_iems.filetypes import DOCX, HTML, MARKDOWN, PDF, PLAIN_TEXT, decode_text, sniff
from luna_iems.ports import ComponentHealth, ExtractedDocument

if TYPE_CHECKING:
    from pypdf import PageObject

DEFAULT_MAX_UNPACKED_BYTES = 256 * 1024 * 1024  # a DOCX larger than this once unzipped is refused (413)


class LocalExtractor:
    """The in-process `Extractor` (pypdf, python-docx, BeautifulSoup and a Markdown line parser)."""

    def __init__(self, *, max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES) -> None:
        self._max_unpacked_bytes = max_unpacked_bytes

    def extract(self, data: bytes, *, content_type: str, filename: str | None = None) -> ExtractedDocument:
        """Blocks of `data`. The type is sniffed again from the bytes (`content_type` and `filename`
        only break ties between the text types), so a mislabelled upload cannot reach the wrong parser.
        """
        media_type = sniff(data, filename=filename, declared=content_type)
        if media_type == PDF:
            return extract_pdf(data)
        if media_type == DOCX:
            return extract_docx(data, max_unpacked_bytes=self._max_unpacked_bytes)
        text = decode_text(data)
        if media_type == HTML:
            return html_document(text)
        if media_type == MARKDOWN:
            return extract_markdown(text)
        return extract_plain_text(text)

    def health(self) -> ComponentHealth:
        return ComponentHealth(
            name="extractor",
            kind="in-process",
            ok=True,
            info={"formats": [PDF, DOCX, HTML, MARKDOWN, PLAIN_TEXT], "ocr": False},
        )


# --- PDF ------------------------------------------------------------------------------------------------

_SECTION_HEADING = re.compile(r"§{1,2}\s*\d+[a-z]?\b")
_STRUCTURE_HEADING = re.compile(
    r"(Teil|Kapitel|Abschnitt|Unterabschnitt|Anlage|Anhang|Part|Chapter)\s+(\d+[a-z]?|[IVXLC]+)\b"
)
_STRUCTURE_LEVELS = {
    "Teil": 1,
    "Part": 1,
    "Anlage": 1,
    "Anhang": 1,
    "Kapitel": 2,
    "Chapter": 2,
    "Abschnitt": 3,
    "Unterabschnitt": 4,
}
_SECTION_LEVEL = 6  # a § heading is always the innermost level
_LIST_MARKER = re.compile(r"(\(\d+[a-z]?\)|\d{1,3}[a-z]?\.|[a-z]{1,2}\)|[•▪◦●‣∙*-])\s+\S")
_PAGE_NUMBER = re.compile(r"(-\s*)?\d{1,4}(\s*-)?|(Seite|Page|S\.)\s*\d{1,4}(\s*(von|of|/)\s*\d{1,4})?", re.I)
_SENTENCE_END = re.compile(r"[.!?:]$")
_LINE_END = re.compile(r"[.!?:;,)]$")
_HEADING_MAX_CHARS = 120


def extract_pdf(data: bytes) -> ExtractedDocument:
    """Paragraph blocks per page with `page` set, via pypdf."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise InvalidInputError("the PDF is encrypted (it needs a password to open)")
        pages = list(reader.pages)
    except InvalidInputError:
        raise
    except (DependencyError, FileNotDecryptedError) as exc:
        raise InvalidInputError(f"the PDF is encrypted and cannot be opened here: {exc}") from exc
    except Exception as exc:  # pypdf raises many types (PdfReadError, KeyError, ValueError…) on bad input
        raise InvalidInputError(f"the PDF could not be read: {_short(exc)}") from exc

    builder = BlockBuilder()
    first_line: str | None = None
    for number, page in enumerate(pages, start=1):
        try:
            lines, heights, font_size = _page_lines(page)
        except Exception as exc:
            raise InvalidInputError(f"the PDF could not be read: page {number}: {_short(exc)}") from exc
        if first_line is None:
            first_line = first_line_title("\n".join(lines))
        pdf_page_blocks(lines, number, builder, heights=heights, font_size=font_size)
    return builder.document(
        PDF,
        title=_pdf_metadata_title(reader) or first_line,
        page_count=len(pages),
        empty_message="no extractable text (a scanned PDF? OCR is not supported)",
    )


def _page_lines(page: PageObject) -> tuple[list[str], list[float | None], float | None]:
    """The page's text lines (pypdf's plain extraction), the height on the page each starts at, and
    the page's median font size.

    Heights and sizes come from pypdf's text visitor; when its fragments do not add up to the
    extracted text, they are left out (None) and paragraphs are found from the text alone.
    """
    fragments: list[tuple[str, float | None]] = []
    sizes: list[float] = []

    def visit(text: str, cm: Sequence[float], tm: Sequence[float], _font: object, size: object) -> None:
        if not text:
            return
        if not text.strip():
            fragments.append((text, None))
            return
        # y of the text origin in user space: the text matrix, then the current transformation matrix
        fragments.append((text, cm[1] * tm[4] + cm[3] * tm[5] + cm[5]))
        if isinstance(size, (int, float)):
            sizes.append(float(size) * math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3]))

    text = page.extract_text(visitor_text=visit)
    lines: list[str] = [""]
    heights: list[float | None] = [None]
    for fragment, y in fragments:
        for index, part in enumerate(fragment.split("\n")):
            if index:
                lines.append("")
                heights.append(None)
            if part.strip() and heights[-1] is None:
                heights[-1] = y
            lines[-1] += part
    plain = text.splitlines()
    if [normalize_space(line) for line in lines] != [normalize_space(line) for line in plain]:
        return plain, [None] * len(plain), None
    font_size = sorted(sizes)[len(sizes) // 2] if sizes else None
    return lines, heights, font_size if font_size and font_size > 0 else None


def _pdf_metadata_title(reader: object) -> str | None:
    try:
        metadata = getattr(reader, "metadata", None)
        title = metadata.title if metadata is not None else None
    except Exception:  # a broken info dictionary only costs the title
        return None
    if not isinstance(title, str):
        return None
    title = normalize_space(title)
    for prefix in ("Microsoft Word - ", "Microsoft PowerPoint - "):
        title = title.removeprefix(prefix)
    return title if title and title.lower() not in {"untitled", "unbenannt", "title"} else None


def pdf_page_blocks(
    lines: Sequence[str],
    page: int | None,
    builder: BlockBuilder,
    *,
    heights: Sequence[float | None] | None = None,
    font_size: float | None = None,
    drop_furniture: bool = True,
) -> None:
    """Rebuild paragraphs and headings from one page's extracted lines (no paragraph marks in them).

    `heights`: the y position of each line on the page, if known; a vertical gap wider than the usual
    line spacing (or a jump upwards, to the next column) then also ends a paragraph. `font_size` (the
    page's usual size) stands in for the line spacing when the page has too few lines to measure it.
    `drop_furniture`: the lines are a whole page, so a lone page number first or last is dropped.
    """
    known = heights is not None and len(heights) == len(lines)
    gaps = _vertical_gaps(heights, font_size) if heights is not None and known else None
    lines = [normalize_space(line) for line in lines]
    if drop_furniture:
        lines = _drop_page_furniture(lines)
    lengths = sorted(len(line) for line in lines if line)
    # A "full" line is as long as most lines of the page; a shorter one ending a sentence ends a paragraph.
    full = lengths[int(len(lengths) * 0.8)] if len(lengths) >= 3 else 10**6
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            builder.text(join_wrapped_lines(paragraph), page)
            paragraph.clear()

    open_heading = False  # the last line was a heading that ran to the margin and may wrap
    for index, line in enumerate(lines):
        gap = gaps is not None and gaps[index]
        if open_heading and not gap and _continues_heading(line, full):
            builder.extend_heading(line)
            open_heading = False
            continue
        open_heading = False
        if not line:
            flush()
            continue
        if gap:
            flush()
        previous = paragraph[-1] if paragraph else ""
        # The line before ended its paragraph if it closed a sentence or clause or stopped short.
        after_finished_line = not previous or bool(_LINE_END.search(previous)) or len(previous) < 0.7 * full
        level = _pdf_heading_level(line, full) if after_finished_line else None
        if level is not None:
            flush()
            builder.heading(line, level, page)
            open_heading = len(line) >= 0.6 * full
            continue
        if after_finished_line and _LIST_MARKER.match(line):
            flush()
        paragraph.append(line)
        if len(line) < 0.7 * full and _SENTENCE_END.search(line):
            flush()
    flush()


def _continues_heading(line: str, full: int) -> bool:
    """Is `line` the wrapped rest of a long heading ("Kapitel 1 - Rechte und … dessen" / "Finanzierung")?"""
    return (
        bool(line)
        and len(line) < 0.7 * full
        and not _LINE_END.search(line)
        and not _LIST_MARKER.match(line)
        and _pdf_heading_level(line, full) is None
    )


def _vertical_gaps(heights: Sequence[float | None], font_size: float | None) -> list[bool]:
    """For each line: does a gap wider than the usual line spacing (or a jump upwards) precede it?"""
    steps: list[tuple[int, float]] = []  # (line index, distance down from the previous positioned line)
    previous: float | None = None
    for index, y in enumerate(heights):
        if y is None:
            continue
        if previous is not None:
            steps.append((index, previous - y))
        previous = y
    downs = sorted(step for _, step in steps if step > 0.5)
    gaps = [False] * len(heights)
    if len(downs) >= 3:
        spacing = downs[len(downs) // 5]  # a low percentile: the spacing of lines within a paragraph
    elif font_size is not None:
        spacing = 1.35 * font_size  # usual leading is 1.2 to 1.5 times the font size
    else:
        return gaps
    for index, step in steps:
        gaps[index] = step > 1.3 * spacing or step < -spacing
    return gaps


def _pdf_heading_level(line: str, full: int) -> int | None:
    """The level of a heading line, or None. Headings are short: a full-width line is running text."""
    if len(line) > min(_HEADING_MAX_CHARS, 0.8 * full) or _LINE_END.search(line):
        return None
    section = _SECTION_HEADING.match(line)
    if section is not None:
        rest = line[section.end() :].strip()
        # "§ 3 Begriffsbestimmungen" or a bare "§ 3"; not "§ 3 des Gesetzes …" running on
        return _SECTION_LEVEL if not rest or rest[0].isupper() or rest.startswith("(") else None
    structure = _STRUCTURE_HEADING.match(line)
    if structure is not None:
        return _STRUCTURE_LEVELS[structure.group(1)]
    return None


def _drop_page_furniture(lines: list[str]) -> list[str]:
    """Drop a page number standing alone on the first or last non-empty line."""
    filled = [i for i, line in enumerate(lines) if line]
    for index in {filled[0], filled[-1]} if filled else set():
        if _PAGE_NUMBER.fullmatch(lines[index]):
            lines[index] = ""
    return lines


def _short(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}"[:300] if message else type(exc).__name__


# --- DOCX -----------------------------------------------------------------------------------------------

_DOCX_HEADING = re.compile(r"heading ([1-9])", re.IGNORECASE)


def extract_docx(data: bytes, *, max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES) -> ExtractedDocument:
    """Paragraphs, headings and table rows of a DOCX in document order, via python-docx."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidInputError(f"the DOCX could not be read: {_short(exc)}") from exc
    if unpacked > max_unpacked_bytes:
        raise PayloadTooLargeError(
            f"the DOCX unpacks to {unpacked:,} bytes, more than the limit of {max_unpacked_bytes:,}"
        )
    try:
        document = docx.Document(io.BytesIO(data))
        core_title = document.core_properties.title
        content = list(document.iter_inner_content())
    except Exception as exc:  # python-docx raises KeyError, lxml errors, ValueError… on broken parts
        raise InvalidInputError(f"the DOCX could not be read: {_short(exc)}") from exc

    builder = BlockBuilder()
    title_paragraph: str | None = None
    for item in content:
        if isinstance(item, Paragraph):
            level = _docx_heading_level(item)
            if level is None:
                builder.text(item.text)
                continue
            if level == 0 and title_paragraph is None:
                title_paragraph = item.text
            builder.heading(item.text, level)
        elif isinstance(item, Table):
            for row in item.rows:
                builder.text(row_text(_unique_cells(row.cells)))
    return builder.document(DOCX, title=(core_title or "").strip() or title_paragraph)


def _docx_heading_level(paragraph: object) -> int | None:
    style = getattr(paragraph, "style", None)
    for _ in range(4):  # the style itself and up to three styles it is based on
        if style is None:
            return None
        name = str(getattr(style, "name", "") or "")
        if name.lower() == "title":
            return 0
        match = _DOCX_HEADING.fullmatch(name.strip())
        if match is not None:
            return int(match.group(1))
        style = getattr(style, "base_style", None)
    return None


def _unique_cells(cells: Sequence[object]) -> list[str]:
    """Cell texts of a row; a merged cell (python-docx repeats it per grid column) counts once."""
    seen: list[object] = []
    texts: list[str] = []
    for cell in cells:
        element = getattr(cell, "_tc", cell)
        if any(element is other for other in seen):
            continue
        seen.append(element)
        texts.append(str(getattr(cell, "text", "")))
    return texts


# --- HTML (also Tika's XHTML) ---------------------------------------------------------------------------

_DROPPED = frozenset(
    {"script", "style", "nav", "footer", "noscript", "template", "svg", "canvas", "iframe", "object"}
    | {"head", "title", "select", "button"}
)
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_BLOCK_ELEMENTS = frozenset(
    {"address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog"}
    | {"div", "dl", "dt", "fieldset", "figcaption", "figure", "form", "header", "hgroup", "hr", "html"}
    | {"li", "main", "menu", "ol", "p", "pre", "section", "summary", "table", "tbody", "thead", "tfoot"}
    | {"ul", "td", "th"}
)
_SKIPPED_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)


def html_document(
    markup: str | bytes,
    *,
    content_type: str = HTML,
    paged: bool = False,
    pdf_lines: bool = False,
    empty_message: str = "no extractable text",
) -> ExtractedDocument:
    """Blocks of an HTML page (or of Tika's XHTML).

    `paged`: `<div class="page">` elements are pages (Tika's rendering of PDF pages); when there are
    any, only text inside them counts (Tika puts the PDF's bookmarks after the last page).
    `pdf_lines`: text is PDF text with a line break per printed line, rebuilt with `pdf_page_blocks`.
    """
    soup = BeautifulSoup(markup, "html.parser")
    title = _html_title(soup)
    pages = [div for div in soup.find_all("div") if "page" in (div.get_attribute_list("class") or [])]
    walker = _HtmlWalker(pdf_lines=pdf_lines)
    if paged and pages:
        for number, page in enumerate(pages, start=1):
            if pdf_lines:
                _drop_page_number_paragraphs(page)
            walker.walk(page, page=number)
    else:
        body = soup.body or soup
        walker.walk(body, page=None)
    page_count = (_tika_page_count(soup) or len(pages) or None) if paged else None
    if title is None:
        first_h1 = soup.find("h1")
        title = first_h1.get_text(" ") if isinstance(first_h1, Tag) else None
    return walker.builder.document(
        content_type, title=title, page_count=page_count, empty_message=empty_message
    )


def _drop_page_number_paragraphs(page: Tag) -> None:
    """Remove a page number standing alone in the first or last paragraph of a page."""
    paragraphs = [p for p in page.find_all("p") if normalize_space(p.get_text(" "))]
    for paragraph in {id(p): p for p in paragraphs[:1] + paragraphs[-1:]}.values():
        if _PAGE_NUMBER.fullmatch(normalize_space(paragraph.get_text(" "))):
            paragraph.decompose()


def _html_title(soup: BeautifulSoup) -> str | None:
    if soup.title is not None:
        title = normalize_space(soup.title.get_text(" "))
        if title:
            return title
    for name in ("dc:title", "title", "og:title"):
        meta = soup.find("meta", attrs={"name": name}) or soup.find("meta", attrs={"property": name})
        if isinstance(meta, Tag):
            content = normalize_space(str(meta.get("content") or ""))
            if content:
                return content
    return None


def _tika_page_count(soup: BeautifulSoup) -> int | None:
    meta = soup.find("meta", attrs={"name": "xmpTPg:NPages"})
    if isinstance(meta, Tag):
        value = str(meta.get("content") or "").strip()
        if value.isdigit():
            return int(value)
    return None


class _HtmlWalker:
    def __init__(self, *, pdf_lines: bool) -> None:
        self.builder = BlockBuilder()
        self._pdf_lines = pdf_lines
        self._buffer: list[str] = []
        self._page: int | None = None

    def walk(self, root: Tag, *, page: int | None) -> None:
        self._page = page
        # An explicit stack instead of recursion: deeply nested HTML must not hit the recursion limit.
        stack: list[tuple[object, bool]] = [(root, False)]
        while stack:
            node, leaving = stack.pop()
            if leaving:
                self._flush()
            elif isinstance(node, NavigableString):
                if not isinstance(node, _SKIPPED_STRINGS):
                    self._buffer.append(str(node))
            elif isinstance(node, Tag):
                self._enter(node, stack)
        self._flush()

    def _enter(self, node: Tag, stack: list[tuple[object, bool]]) -> None:
        name = (node.name or "").lower()
        if name in _DROPPED:
            return
        if name in _HEADINGS:
            self._flush()
            self.builder.heading(node.get_text(" "), _HEADINGS[name], self._page)
            return
        if name == "tr":
            self._flush()
            cells = node.find_all(["td", "th"], recursive=False)
            self.builder.text(row_text(cell.get_text(" ") for cell in cells), self._page)
            return
        if name == "br":
            self._buffer.append("\n")
            return
        if name in _BLOCK_ELEMENTS:
            self._flush()
            stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))

    def _flush(self) -> None:
        if not self._buffer:
            return
        text = "".join(self._buffer)
        self._buffer.clear()
        if self._pdf_lines:
            pdf_page_blocks(text.splitlines(), self._page, self.builder, drop_furniture=False)
        else:
            self.builder.text(text, self._page)


# --- Plain text -----------------------------------------------------------------------------------------


def extract_plain_text(text: str) -> ExtractedDocument:
    builder = BlockBuilder()
    paragraph: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.strip():
            paragraph.append(line)
        elif paragraph:
            builder.text(join_wrapped_lines(paragraph))
            paragraph.clear()
    return builder.document(PLAIN_TEXT, title=first_line_title(text))
