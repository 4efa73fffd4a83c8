"""What kind of document a byte string is, judged by its content.

Uploads arrive with a filename and a declared `Content-Type`, and both are often wrong (browsers send
`application/octet-stream`, people rename files). `sniff` therefore decides by the bytes: magic numbers
for PDF and DOCX, markup for HTML, and only among the text types (Markdown vs plain text vs HTML) do the
filename extension and the declared type act as tie-breakers.

One exception to "content wins": a file that *claims* to be a PDF or a DOCX (by extension or declared
type) but whose bytes are not one is rejected with 415 rather than read as text, because such a file is
almost always a broken or mislabelled upload and its "text" would be garbage.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from pathlib import PurePosixPath

from luna_iems.errors import InvalidInputError, UnsupportedMediaTypeError

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HTML = "text/html"
MARKDOWN = "text/markdown"
PLAIN_TEXT = "text/plain"
SUPPORTED_TYPES: tuple[str, ...] = (PDF, DOCX, HTML, MARKDOWN, PLAIN_TEXT)

_SUPPORTED_NAMES = "PDF, DOCX, HTML, Markdown and plain text (UTF-8, UTF-16 with BOM or Windows-1252)"

# Signatures of common formats we do not read, so the 415 can say what the file looks like.
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "a PNG image"),
    (b"\xff\xd8\xff", "image/jpeg", "a JPEG image"),
    (b"GIF87a", "image/gif", "a GIF image"),
    (b"GIF89a", "image/gif", "a GIF image"),
    (b"II*\x00", "image/tiff", "a TIFF image"),
    (b"MM\x00*", "image/tiff", "a TIFF image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage", "a legacy Office file (DOC/XLS/PPT)"),
    (b"\x7fELF", "application/x-executable", "an executable (ELF)"),
    (b"\x1f\x8b", "application/gzip", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "application/vnd.rar", "a RAR archive"),
    (b"BZh", "application/x-bzip2", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "application/x-xz", "an xz archive"),
    (b"OggS", "audio/ogg", "an Ogg media file"),
    (b"ID3", "audio/mpeg", "an MP3 audio file"),
    (b"{\\rtf", "application/rtf", "an RTF document"),
    (b"%!PS", "application/postscript", "a PostScript file"),
)

_ZIP_KINDS: tuple[tuple[str, str, str], ...] = (
    (
        "xl/workbook.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "an XLSX workbook",
    ),
    (
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "a PPTX presentation",
    ),
    ("META-INF/container.xml", "application/epub+zip", "an EPUB e-book"),
    ("content.xml", "application/vnd.oasis.opendocument", "an OpenDocument file"),
)

_PHRASES = {HTML: "HTML", MARKDOWN: "Markdown", PLAIN_TEXT: "plain text"}
_MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown", ".mdown", ".mkd"})
_HTML_EXTENSIONS = frozenset({".html", ".htm", ".xhtml"})
_TEXT_EXTENSIONS = frozenset({".txt", ".text"})
_MARKDOWN_DECLARED = frozenset({"text/markdown", "text/x-markdown"})
_HTML_DECLARED = frozenset({"text/html", "application/xhtml+xml"})

_HTML_START = re.compile(r"<!doctype\s+html|<html[\s>]|<body[\s>]|<head[\s>]", re.IGNORECASE)
# Tags of HTML elements (not any `<word>`: Markdown and plain text may contain `<placeholder>`s).
_TAG = re.compile(
    r"</?(?:a|abbr|article|aside|b|blockquote|body|br|caption|code|dd|div|dl|dt|em|figcaption|figure|"
    r"footer|form|h[1-6]|head|header|hr|html|i|img|input|label|li|link|main|meta|nav|ol|p|pre|section|"
    r"small|span|strong|style|sub|sup|table|tbody|td|tfoot|th|thead|title|tr|u|ul|script|noscript)"
    r"(?:\s[^<>]{0,500})?/?>",
    re.IGNORECASE,
)
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE)
_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(?:[A-Za-z_][\w-]*:.*\r?\n)")
_MD_INLINE = re.compile(r"\[[^\]\n]+\]\([^)\s]+\)|\*\*[^*\n]+\*\*|^ {0,3}[-*+] \S", re.MULTILINE)
# C0 controls other than tab, LF, VT, FF, CR and ESC: their presence marks binary data.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


def sniff(data: bytes, *, filename: str | None = None, declared: str | None = None) -> str:
    """The media type of `data`, one of `SUPPORTED_TYPES`.

    `filename` and `declared` (a Content-Type, parameters ignored) only decide between the text types,
    except that a claim to be a PDF or DOCX which the bytes do not bear out is a 415. Raises
    `InvalidInputError` for empty data and `UnsupportedMediaTypeError` for anything else, naming what
    the content looks like.
    """
    if not data:
        raise InvalidInputError("the file is empty")
    detected = _binary_document_type(data)
    if detected is not None:
        return detected
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower() if filename else ""
    claimed = _base_type(declared)
    claim = _binary_claim(suffix, claimed)
    if claim is not None:
        looks_like, description = _describe(data)
        raise _unsupported(f"the file claims to be {claim} but its content is {description}", looks_like)
    known = _describe_by_magic(data) or _describe_zip(data)
    if known is not None:
        raise _unsupported(f"unsupported file type: the content looks like {known[1]}", known[0])
    media_type, description = _classify_text(decode_text(data), suffix, claimed)
    if media_type not in SUPPORTED_TYPES:
        raise _unsupported(f"unsupported file type: the content looks like {description}", media_type)
    return media_type


def decode_text(data: bytes) -> str:
    """`data` as text: UTF-8 (BOM optional), UTF-16 with a BOM, else Windows-1252 if it has no NULs.

    Raises `InvalidInputError` when empty, `UnsupportedMediaTypeError` when the bytes are not text.
    """
    if not data:
        raise InvalidInputError("the file is empty")
    text: str | None = None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            text = None
    elif b"\x00" not in data:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text = None
    if text is None or _looks_binary(text):
        detected, description = _describe(data)
        raise _unsupported(f"unsupported file type: the content looks like {description}", detected)
    return text.removeprefix("\ufeff")


def _base_type(declared: str | None) -> str:
    return declared.split(";", 1)[0].strip().lower() if declared else ""


def _binary_document_type(data: bytes) -> str | None:
    # The PDF spec lets readers accept the header anywhere in the first 1024 bytes.
    if b"%PDF-" in data[:1024]:
        return PDF
    if data.startswith(b"PK\x03\x04") and "word/document.xml" in _zip_names(data):
        return DOCX
    return None


def _binary_claim(suffix: str, claimed: str) -> str | None:
    if suffix == ".pdf" or claimed == PDF:
        return "a PDF"
    if suffix == ".docx" or claimed == DOCX:
        return "a DOCX document"
    return None


def _zip_names(data: bytes) -> list[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return []


def _describe(data: bytes) -> tuple[str, str]:
    """(media type, phrase) for what `data` looks like; used in 415 messages."""
    found = _describe_by_magic(data) or _describe_zip(data)
    if found is not None:
        return found
    if b"\x00" in data[:8192]:
        return "application/octet-stream", "binary data (it contains NUL bytes)"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = ""
    if not text or _looks_binary(text):
        return "application/octet-stream", "binary data"
    return _classify_text(text, "", "")


def _describe_by_magic(data: bytes) -> tuple[str, str] | None:
    for magic, media_type, description in _MAGIC:
        if data.startswith(magic):
            return media_type, description
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "a WebP image"
    if data[4:8] == b"ftyp":
        return "video/mp4", "an MP4/QuickTime media file"
    if data.startswith(b"MZ") and b"\x00" in data[:1024]:
        return "application/x-msdownload", "a Windows executable"
    return None


def _describe_zip(data: bytes) -> tuple[str, str] | None:
    if not data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return None
    names = _zip_names(data)
    if not names and data.startswith(b"PK\x03\x04"):
        return "application/zip", "a damaged ZIP archive"
    for marker, media_type, description in _ZIP_KINDS:
        if marker in names:
            return media_type, description
    return "application/zip", "a ZIP archive without a Word document (no word/document.xml)"


def _looks_binary(text: str) -> bool:
    sample = text[:8192]
    return len(_CONTROL.findall(sample)) > max(2, len(sample) // 100)


def _classify_text(text: str, suffix: str, claimed: str) -> tuple[str, str]:
    """(media type, phrase) of decoded text; the type may be an unsupported one (XML, SVG).

    Order: the document's own markup (an XML prolog, `<!doctype html>`, `<html>`, `<body>`) first;
    then a Markdown extension or declared type; then HTML if hinted and tagged, or tag-heavy; then a
    plain-text extension or declared type; then Markdown syntax; else plain text.
    """
    markup = _leading_markup(text[:4096].lstrip("\ufeff \t\r\n"))
    if markup is not None:
        return markup
    sample = text[:65536]
    tags = _TAG.findall(sample)
    tag_heavy = len(tags) >= 3 and sum(map(len, tags)) >= 0.2 * len(sample)
    html_hinted = bool(tags) and (suffix in _HTML_EXTENSIONS or claimed in _HTML_DECLARED)
    if suffix in _MARKDOWN_EXTENSIONS or claimed in _MARKDOWN_DECLARED:
        kind = MARKDOWN
    elif html_hinted or tag_heavy:
        kind = HTML
    elif suffix in _TEXT_EXTENSIONS or claimed == PLAIN_TEXT:
        kind = PLAIN_TEXT
    elif _looks_like_markdown(sample):
        kind = MARKDOWN
    else:
        kind = PLAIN_TEXT
    return kind, _PHRASES[kind]


def _leading_markup(head: str) -> tuple[str, str] | None:
    lowered = head.lower()
    if lowered.startswith("<?xml"):
        if re.search(r"<html[\s>]", head[:2048], re.IGNORECASE):
            return HTML, _PHRASES[HTML]
        return "application/xml", "an XML document"
    if lowered.startswith("<svg"):
        return "image/svg+xml", "an SVG image"
    if _HTML_START.match(head) or _HTML_START.match(_skip_html_comments(head)):
        return HTML, _PHRASES[HTML]
    return None


def _skip_html_comments(head: str) -> str:
    return re.sub(r"\A(?:\s*<!--.*?-->)+\s*", "", head, flags=re.DOTALL)


def _looks_like_markdown(sample: str) -> bool:
    if _ATX_HEADING.search(sample) or _FRONT_MATTER.match(sample) or _FENCE.search(sample):
        return True
    return len(_MD_INLINE.findall(sample)) >= 2


def _unsupported(message: str, detected: str) -> UnsupportedMediaTypeError:
    return UnsupportedMediaTypeError(
        f"{message}; supported types are {_SUPPORTED_NAMES}",
        details={"detected": detected, "supported": list(SUPPORTED_TYPES)},
    )
