"""File-type sniffing and in-process extraction (pypdf, python-docx, BeautifulSoup, Markdown, text).

Every test document is generated here (PDFs with fpdf2, DOCX with python-docx, HTML and Markdown as
strings); the one file fixture is a verbatim excerpt of a German statute (see tests/fixtures/knowledge).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from PIL import Image

from luna_iems.adapters.local_extractor import LocalExtractor
from luna_iems.adapters.markdown_extractor import markdown_inline_text
from luna_iems.adapters.text_blocks import join_wrapped_lines, normalize_space
from luna_iems.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaTypeError
from luna_iems.filetypes import DOCX, HTML, MARKDOWN, PDF, PLAIN_TEXT, SUPPORTED_TYPES, sniff
from luna_iems.ports import ExtractedBlock, ExtractedDocument, Extractor, HealthCheck

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "knowledge"
MSBG_TITLE = "Gesetz über den Messstellenbetrieb und die Datenkommunikation in intelligenten Energienetzen"


@pytest.fixture
def extractor() -> LocalExtractor:
    return LocalExtractor()


# --- document factories ---------------------------------------------------------------------------------


class _FooterPdf(FPDF):
    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("helvetica", size=8)
        self.cell(0, 10, f"Seite {self.page_no()}", align="C")


def make_pdf(
    pages: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    footer: bool = False,
    user_password: str | None = None,
) -> bytes:
    """A PDF with one page per entry; each string is a paragraph (a line starting with "§" is bold)."""
    pdf = _FooterPdf() if footer else FPDF()
    if title is not None:
        pdf.set_title(title)
    if user_password is not None:
        pdf.set_encryption(owner_password="owner-secret", user_password=user_password)
    for paragraphs in pages:
        pdf.add_page()
        for paragraph in paragraphs:
            heading = paragraph.startswith("§")
            pdf.set_font("helvetica", style="B" if heading else "", size=12 if heading else 11)
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    return bytes(pdf.output())


LONG_1 = (
    "Der Messstellenbetreiber hat den Einbau der Messeinrichtung mit dem Anschlussnutzer abzustimmen "
    "und ihm den Termin mindestens zwei Wochen vorher schriftlich mitzuteilen."
)
LONG_2 = (
    "Die Netzbetreiber stellen sicher, dass die Messwerte täglich übermittelt werden und dass die "
    "Plausibilisierung und Ersatzwertbildung nach den Festlegungen der Bundesnetzagentur erfolgt."
)
THREE_PAGES = [
    ["§ 1 Anwendungsbereich", "Dieses Gesetz regelt den Messstellenbetrieb.", LONG_1],
    ["§ 2 Begriffsbestimmungen", LONG_2, "Im Übrigen gilt das Energiewirtschaftsgesetz."],
    ["Schlussbemerkung ohne Paragraphen."],
]


def make_docx(*, core_title: str | None = None) -> bytes:
    document = docx.Document()
    if core_title is not None:
        document.core_properties.title = core_title
    document.add_heading("Betriebshandbuch Batteriespeicher", level=0)
    document.add_paragraph("Dieses   Handbuch beschreibt den Betrieb.")
    document.add_heading("Installation", level=1)
    document.add_paragraph("Der Speicher wird im Keller aufgestellt.")
    document.add_heading("Elektrischer Anschluss", level=2)
    document.add_paragraph("Der Anschluss erfolgt über einen eigenen Leitungsschutzschalter.")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate(
        [["Größe", "Wert", "Einheit"], ["Kapazität", "10", "kWh"], ["Leistung", "5", ""]]
    ):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("")  # empty paragraphs are dropped
    document.add_heading("Betrieb", level=1)
    document.add_paragraph("Der Speicher lädt bei niedrigen Preisen.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def texts(document: ExtractedDocument) -> list[str]:
    return [block.text for block in document.blocks]


# --- sniffing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "declared", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", None, None, PDF),
        (b"%PDF-1.7\n", "notes.txt", "text/plain", PDF),  # content wins over name and declared type
        (b"<!DOCTYPE html><html><body><p>x</p></body></html>", None, None, HTML),
        (b"  <html lang='de'><p>Hallo</p></html>", "page.txt", None, HTML),
        (b"<p>Eins</p><p>Zwei</p><ul><li>Drei</li></ul>", None, None, HTML),  # a high share of tags
        (b"Text mit <b>einem</b> Tag", "seite.html", None, HTML),
        (b"Text mit <b>einem</b> Tag", None, "text/html; charset=utf-8", HTML),
        (b"Text mit <b>einem</b> Tag", None, None, PLAIN_TEXT),
        (b"# Titel\n\nText.", None, None, MARKDOWN),
        (b"---\nTitle: Test\n---\n\nText.", None, None, MARKDOWN),
        (b"Nur ein Satz.", "readme.md", None, MARKDOWN),
        (b"Nur ein Satz.", "README.markdown", None, MARKDOWN),
        (b"Nur ein Satz.", None, "text/markdown", MARKDOWN),
        (b"# kein Markdown, die Datei sagt .txt", "notiz.txt", None, PLAIN_TEXT),
        (b"Nur ein Satz.", None, None, PLAIN_TEXT),
        ("Grüße aus Köln".encode("cp1252"), None, None, PLAIN_TEXT),
        ("\ufeffGrüße".encode("utf-16-le"), None, None, PLAIN_TEXT),
        ("\ufeffGrüße".encode("utf-8"), None, None, PLAIN_TEXT),
    ],
)
def test_sniff_judges_by_content(
    data: bytes, filename: str | None, declared: str | None, expected: str
) -> None:
    assert sniff(data, filename=filename, declared=declared) == expected


def test_sniff_recognises_generated_pdf_and_docx_and_content_beats_the_extension() -> None:
    pdf, document = make_pdf([["Hallo"]]), make_docx()
    assert sniff(pdf) == PDF
    assert sniff(document) == DOCX
    assert sniff(document, filename="actually-a-docx.pdf") == DOCX
    assert sniff(pdf, filename="scan.docx") == PDF
    assert set(SUPPORTED_TYPES) == {PDF, DOCX, HTML, MARKDOWN, PLAIN_TEXT}


@pytest.mark.parametrize(
    ("data", "filename", "looks_like", "detected"),
    [
        (png_bytes(), None, "a PNG image", "image/png"),
        (png_bytes(), "photo.pdf", "a PNG image", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", None, "a JPEG image", "image/jpeg"),
        (
            b"Das ist nur Text.",
            "bericht.pdf",
            "claims to be a PDF but its content is plain text",
            "text/plain",
        ),
        (b"Das ist nur Text.", "bericht.docx", "claims to be a DOCX document", "text/plain"),
        (make_zip({"notes.txt": b"hi"}), None, "a ZIP archive without a Word document", "application/zip"),
        (
            make_zip({"notes.txt": b"hi"}),
            "x.docx",
            "a ZIP archive without a Word document",
            "application/zip",
        ),
        (
            make_zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<workbook/>"}),
            "tabelle.xlsx",
            "an XLSX workbook",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (b"PK\x03\x04 broken", None, "a damaged ZIP archive", "application/zip"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(64), "tool", "an executable (ELF)", "application/x-executable"),
        (
            b"MZ\x90\x00\x03\x00\x00\x00" + bytes(64),
            "setup.exe",
            "a Windows executable",
            "application/x-msdownload",
        ),
        (b"abc\x00\x01\x02def" * 10, None, "binary data (it contains NUL bytes)", "application/octet-stream"),
        (b"<?xml version='1.0'?><rss><channel/></rss>", None, "an XML document", "application/xml"),
        (b"{\\rtf1\\ansi Hallo}", "brief.rtf", "an RTF document", "application/rtf"),
    ],
)
def test_sniff_refuses_other_types_with_415_naming_what_they_look_like(
    data: bytes, filename: str | None, looks_like: str, detected: str
) -> None:
    with pytest.raises(UnsupportedMediaTypeError) as caught:
        sniff(data, filename=filename)
    assert caught.value.status_code == 415
    assert looks_like in caught.value.message
    assert "supported types are PDF, DOCX, HTML, Markdown and plain text" in caught.value.message
    assert caught.value.details["detected"] == detected
    assert caught.value.details["supported"] == list(SUPPORTED_TYPES)


def test_sniff_refuses_a_declared_pdf_that_is_not_one() -> None:
    with pytest.raises(UnsupportedMediaTypeError, match="claims to be a PDF"):
        sniff(b"plain words", declared="application/pdf")


def test_empty_data_is_422() -> None:
    with pytest.raises(InvalidInputError, match=r"^the file is empty$") as caught:
        sniff(b"", filename="leer.pdf")
    assert caught.value.status_code == 422
    with pytest.raises(InvalidInputError, match=r"^the file is empty$"):
        LocalExtractor().extract(b"", content_type="text/plain")


# --- PDF ------------------------------------------------------------------------------------------------


def test_pdf_blocks_keep_pages_headings_and_paragraphs(extractor: LocalExtractor) -> None:
    document = extractor.extract(
        make_pdf(THREE_PAGES, title="Messstellen-Leitfaden", footer=True),
        content_type="application/octet-stream",
        filename="leitfaden.pdf",
    )
    assert document.content_type == PDF
    assert document.title == "Messstellen-Leitfaden"
    assert document.page_count == 3
    para_1 = ("§ 1 Anwendungsbereich",)
    para_2 = ("§ 2 Begriffsbestimmungen",)
    assert list(document.blocks) == [
        ExtractedBlock("§ 1 Anwendungsbereich", page=1, heading_path=para_1, kind="heading"),
        ExtractedBlock("Dieses Gesetz regelt den Messstellenbetrieb.", page=1, heading_path=para_1),
        ExtractedBlock(LONG_1, page=1, heading_path=para_1),
        ExtractedBlock("§ 2 Begriffsbestimmungen", page=2, heading_path=para_2, kind="heading"),
        ExtractedBlock(LONG_2, page=2, heading_path=para_2),
        ExtractedBlock("Im Übrigen gilt das Energiewirtschaftsgesetz.", page=2, heading_path=para_2),
        # the heading path carries on across pages; the "Seite N" footers are dropped
        ExtractedBlock("Schlussbemerkung ohne Paragraphen.", page=3, heading_path=para_2),
    ]


def test_pdf_title_falls_back_to_the_first_line(extractor: LocalExtractor) -> None:
    document = extractor.extract(make_pdf([["Jahresbericht 2025", "Inhalt folgt."]]), content_type=PDF)
    assert document.title == "Jahresbericht 2025"
    assert texts(document) == ["Jahresbericht 2025", "Inhalt folgt."]
    assert [block.page for block in document.blocks] == [1, 1]


def test_pdf_with_only_an_owner_password_opens(extractor: LocalExtractor) -> None:
    document = extractor.extract(make_pdf([["Frei lesbar."]], user_password=""), content_type=PDF)
    assert texts(document) == ["Frei lesbar."]


def test_encrypted_pdf_is_422(extractor: LocalExtractor) -> None:
    with pytest.raises(InvalidInputError, match=r"^the PDF is encrypted") as caught:
        extractor.extract(make_pdf([["Geheim."]], user_password="secret"), content_type=PDF)
    assert caught.value.status_code == 422


def test_truncated_pdf_is_422(extractor: LocalExtractor) -> None:
    data = make_pdf(THREE_PAGES)
    with pytest.raises(InvalidInputError, match=r"^the PDF could not be read: "):
        extractor.extract(data[: len(data) // 2], content_type=PDF)


def test_pdf_without_text_is_422(extractor: LocalExtractor) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.image(io.BytesIO(png_bytes()), x=10, y=10, w=50)
    with pytest.raises(
        InvalidInputError, match=r"^no extractable text \(a scanned PDF\? OCR is not supported\)$"
    ):
        extractor.extract(bytes(pdf.output()), content_type=PDF)


# --- DOCX -----------------------------------------------------------------------------------------------


def test_docx_headings_paragraphs_and_tables(extractor: LocalExtractor) -> None:
    document = extractor.extract(make_docx(core_title="Handbuch (Metadaten)"), content_type=DOCX)
    assert document.content_type == DOCX
    assert document.title == "Handbuch (Metadaten)"
    assert document.page_count is None
    root = ("Betriebshandbuch Batteriespeicher",)
    install = (*root, "Installation")
    connect = (*install, "Elektrischer Anschluss")
    assert list(document.blocks) == [
        ExtractedBlock("Betriebshandbuch Batteriespeicher", heading_path=root, kind="heading"),
        ExtractedBlock("Dieses Handbuch beschreibt den Betrieb.", heading_path=root),
        ExtractedBlock("Installation", heading_path=install, kind="heading"),
        ExtractedBlock("Der Speicher wird im Keller aufgestellt.", heading_path=install),
        ExtractedBlock("Elektrischer Anschluss", heading_path=connect, kind="heading"),
        ExtractedBlock(
            "Der Anschluss erfolgt über einen eigenen Leitungsschutzschalter.", heading_path=connect
        ),
        ExtractedBlock("Größe | Wert | Einheit", heading_path=connect),
        ExtractedBlock("Kapazität | 10 | kWh", heading_path=connect),
        ExtractedBlock("Leistung | 5", heading_path=connect),
        ExtractedBlock("Betrieb", heading_path=(*root, "Betrieb"), kind="heading"),
        ExtractedBlock("Der Speicher lädt bei niedrigen Preisen.", heading_path=(*root, "Betrieb")),
    ]


def test_docx_title_falls_back_to_the_title_paragraph(extractor: LocalExtractor) -> None:
    assert extractor.extract(make_docx(), content_type=DOCX).title == "Betriebshandbuch Batteriespeicher"


def test_docx_merged_cells_count_once(extractor: LocalExtractor) -> None:
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 2))
    merged.text = "Messstelle 1"
    for c, value in enumerate(["a", "b", "c"]):
        table.cell(1, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    assert texts(extractor.extract(buffer.getvalue(), content_type=DOCX)) == ["Messstelle 1", "a | b | c"]


def test_corrupt_docx_is_422(extractor: LocalExtractor) -> None:
    broken = make_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document"})
    with pytest.raises(InvalidInputError, match=r"^the DOCX could not be read: "):
        extractor.extract(broken, content_type=DOCX, filename="kaputt.docx")


def test_docx_that_unpacks_too_large_is_413() -> None:
    with pytest.raises(PayloadTooLargeError, match="unpacks to"):
        LocalExtractor(max_unpacked_bytes=1000).extract(make_docx(), content_type=DOCX)


# --- HTML -----------------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html lang="de"><head><title>  Netzentgelte 2026 </title><style>p { color: red }</style>
<script>var tracking = "nicht extrahieren";</script></head>
<body>
<nav><a href="/">Startseite</a> <a href="/kontakt">Kontakt</a></nav>
<h1>Netzentgelte</h1>
<p>Die Entgelte gelten ab dem
   1. Januar 2026.</p>
<h2>Arbeitspreis</h2>
<p>Der Arbeitspreis beträgt <strong>8,1 ct/kWh</strong>.</p>
<ul><li>Haushalte</li><li>Gewerbe<ul><li>mit Leistungsmessung</li></ul></li></ul>
<h3>Details</h3>
<table><tr><th>Netzebene</th><th>Preis</th></tr><tr><td>NS</td><td>8,1</td></tr></table>
<h2>Grundpreis</h2>
<div>Text direkt im div<br>mit Umbruch</div>
<script>document.write("auch nicht")</script>
<footer>Impressum &amp; Datenschutz</footer>
</body></html>"""


def test_html_headings_text_and_tables(extractor: LocalExtractor) -> None:
    document = extractor.extract(PAGE.encode(), content_type="text/html")
    assert document.content_type == HTML
    assert document.title == "Netzentgelte 2026"
    assert document.page_count is None
    top = ("Netzentgelte",)
    work = (*top, "Arbeitspreis")
    details = (*work, "Details")
    base = (*top, "Grundpreis")
    assert list(document.blocks) == [
        ExtractedBlock("Netzentgelte", heading_path=top, kind="heading"),
        ExtractedBlock("Die Entgelte gelten ab dem 1. Januar 2026.", heading_path=top),
        ExtractedBlock("Arbeitspreis", heading_path=work, kind="heading"),
        ExtractedBlock("Der Arbeitspreis beträgt 8,1 ct/kWh.", heading_path=work),
        ExtractedBlock("Haushalte", heading_path=work),
        ExtractedBlock("Gewerbe", heading_path=work),
        ExtractedBlock("mit Leistungsmessung", heading_path=work),
        ExtractedBlock("Details", heading_path=details, kind="heading"),
        ExtractedBlock("Netzebene | Preis", heading_path=details),
        ExtractedBlock("NS | 8,1", heading_path=details),
        ExtractedBlock("Grundpreis", heading_path=base, kind="heading"),
        ExtractedBlock("Text direkt im div mit Umbruch", heading_path=base),
    ]


def test_html_title_falls_back_to_h1_and_fragments_work(extractor: LocalExtractor) -> None:
    document = extractor.extract(b"<h1>Hinweis</h1><p>Eins</p><p>Zwei</p>", content_type="text/html")
    assert document.title == "Hinweis"
    assert texts(document) == ["Hinweis", "Eins", "Zwei"]


def test_html_without_text_is_422(extractor: LocalExtractor) -> None:
    with pytest.raises(InvalidInputError, match=r"^no extractable text$"):
        extractor.extract(
            "<html><head><script>x()</script></head><body><nav>Menü</nav></body></html>".encode(),
            content_type="text/html",
        )


# --- Markdown -------------------------------------------------------------------------------------------

MARKDOWN_DOC = """---
Title: Leitfaden
  Eigenverbrauch
layout: default
---

# Eigenverbrauch

Ausfertigungsdatum
:   2024-01-01

## Teil 1 - Grundlagen

### § 1 Zweck

(1) Dieser Leitfaden erklärt den Eigenverbrauch
von Solarstrom im Erneuerbare-
Energien-Gesetz und im Strom-
und Gasmarkt.

(2) Es gelten folgende Begriffe:

1.  Anlage: eine Einrichtung
    zur Erzeugung von Strom,
2.  Speicher: eine Batterie\\_1.
- Ein **fetter** Punkt mit [Link](https://example.org) und `Code`[^fn1]
* Noch ein Punkt

### § 2 Begriffe

Ein Satz vom 26\\. Juni 2003.

```
# kein Heading im Code
```

Setext-Überschrift
------------------

| Größe | Wert |
|---|---|
| Leistung | 10 kW |

#### Unterpunkt ###

Letzter Absatz.

## Teil 2 - Schluss

***

Ende.
"""


def test_markdown_headings_front_matter_and_paragraphs(extractor: LocalExtractor) -> None:
    document = extractor.extract(MARKDOWN_DOC.encode(), content_type="text/markdown", filename="leitfaden.md")
    assert document.content_type == MARKDOWN
    assert document.title == "Leitfaden Eigenverbrauch"  # from the front matter, not the # heading
    assert document.page_count is None
    root = ("Eigenverbrauch",)
    part_1 = (*root, "Teil 1 - Grundlagen")
    para_1 = (*part_1, "§ 1 Zweck")
    para_2 = (*part_1, "§ 2 Begriffe")
    setext = (*root, "Setext-Überschrift")
    assert list(document.blocks) == [
        ExtractedBlock("Eigenverbrauch", heading_path=root, kind="heading"),
        ExtractedBlock("Ausfertigungsdatum: 2024-01-01", heading_path=root),
        ExtractedBlock("Teil 1 - Grundlagen", heading_path=part_1, kind="heading"),
        ExtractedBlock("§ 1 Zweck", heading_path=para_1, kind="heading"),
        ExtractedBlock(
            "(1) Dieser Leitfaden erklärt den Eigenverbrauch von Solarstrom im Erneuerbare-Energien-Gesetz "
            "und im Strom- und Gasmarkt.",
            heading_path=para_1,
        ),
        ExtractedBlock("(2) Es gelten folgende Begriffe:", heading_path=para_1),
        ExtractedBlock("1. Anlage: eine Einrichtung zur Erzeugung von Strom,", heading_path=para_1),
        ExtractedBlock("2. Speicher: eine Batterie_1.", heading_path=para_1),
        ExtractedBlock("Ein fetter Punkt mit Link und Code", heading_path=para_1),
        ExtractedBlock("Noch ein Punkt", heading_path=para_1),
        ExtractedBlock("§ 2 Begriffe", heading_path=para_2, kind="heading"),
        ExtractedBlock("Ein Satz vom 26. Juni 2003.", heading_path=para_2),
        ExtractedBlock("# kein Heading im Code", heading_path=para_2),
        ExtractedBlock("Setext-Überschrift", heading_path=setext, kind="heading"),
        ExtractedBlock("Größe | Wert", heading_path=setext),
        ExtractedBlock("Leistung | 10 kW", heading_path=setext),
        ExtractedBlock("Unterpunkt", heading_path=(*setext, "Unterpunkt"), kind="heading"),
        ExtractedBlock("Letzter Absatz.", heading_path=(*setext, "Unterpunkt")),
        ExtractedBlock("Teil 2 - Schluss", heading_path=(*root, "Teil 2 - Schluss"), kind="heading"),
        ExtractedBlock("Ende.", heading_path=(*root, "Teil 2 - Schluss")),
    ]


def test_markdown_title_falls_back_to_the_first_h1(extractor: LocalExtractor) -> None:
    document = extractor.extract(b"Vorspann.\n\n# Haupttitel\n\nText.", content_type="text/markdown")
    assert document.title == "Haupttitel"
    assert document.blocks[0] == ExtractedBlock("Vorspann.")


def test_markdown_statute_excerpt_carries_the_section_in_the_heading_path(extractor: LocalExtractor) -> None:
    data = (FIXTURES / "msbg_excerpt.md").read_bytes()
    document = extractor.extract(data, content_type="application/octet-stream", filename="msbg_excerpt.md")
    assert document.content_type == MARKDOWN
    assert document.title == MSBG_TITLE  # the front matter's Title, folded over two lines
    law = f"{MSBG_TITLE} (MessbG)"
    part_1, part_2 = "Teil 1 - Allgemeine Bestimmungen", "Teil 2 - Messstellenbetrieb"
    chapter_1 = (
        "Kapitel 1 - Rechte und Pflichten im Zusammenhang mit dem Messstellenbetrieb und dessen Finanzierung"
    )
    headings = [block.heading_path for block in document.blocks if block.kind == "heading"]
    assert headings == [
        (law,),
        (law, part_1),
        (law, part_1, "§ 1 Anwendungsbereich"),
        (law, part_1, "§ 2 Begriffsbestimmungen"),
        (law, part_2),
        (law, part_2, chapter_1),
        (law, part_2, chapter_1, "§ 3 Messstellenbetrieb"),
        (law, part_2, chapter_1, "§ 4 Genehmigung des grundzuständigen Messstellenbetriebs"),
        (law, part_2, chapter_1, "§ 5 Auswahlrecht des Anschlussnutzers"),
    ]
    blocks = list(document.blocks)
    assert blocks[1:4] == [
        ExtractedBlock("Ausfertigungsdatum: 2016-08-29", heading_path=(law,)),
        ExtractedBlock("Fundstelle: BGBl I: 2016, 2034", heading_path=(law,)),
        ExtractedBlock("Zuletzt geändert durch: Art. 10 G v. 16.7.2021 I 3026", heading_path=(law,)),
    ]
    assert blocks[4].text.startswith(
        "In diesem Gesetz finden sich technische Vorgaben"
    )  # footnote label gone
    definitions = [
        b for b in blocks if b.heading_path[-1:] == ("§ 2 Begriffsbestimmungen",) and b.kind == "text"
    ]
    assert len(definitions) == 1 + 28 + 1  # the lead-in, 28 numbered definitions, the closing sentence
    assert definitions[1].text == (
        "1. Anlagenbetreiber: der Betreiber von Anlagen nach dem Erneuerbare-Energien-Gesetz vom 21. Juli "
        "2014 (BGBl. I S. 1066) oder dem Kraft-Wärme-Kopplungsgesetz vom 21. Dezember 2015 (BGBl. I S. 2498) "
        "in der jeweils geltenden Fassung,"
    )
    assert (
        definitions[-2].text
        == "28. Zählpunkt: der Punkt, an dem der Energiefluss messtechnisch erfasst wird."
    )
    assert blocks[-1] == ExtractedBlock(
        "(2) Der neue und der bisherige Messstellenbetreiber sind verpflichtet, die für die Durchführung des "
        "Wechselprozesses erforderlichen Verträge abzuschließen und einander die dafür erforderlichen Daten "
        "unverzüglich zu übermitteln. Der bisherige Messstellenbetreiber hat personenbezogene Daten "
        "unverzüglich zu löschen, es sei denn, Aufbewahrungsvorschriften bestimmen etwas anderes.",
        heading_path=(law, part_2, chapter_1, "§ 5 Auswahlrecht des Anschlussnutzers"),
    )
    assert all(block.page is None for block in blocks)
    assert all(block.text == normalize_space(block.text) and block.text for block in blocks)


def test_statute_printed_to_pdf_keeps_its_sections_and_paragraphs(extractor: LocalExtractor) -> None:
    """The statute excerpt, printed to a PDF (bold headings, spaced paragraphs), reads back with the
    same § heading paths as the Markdown (less the law's title, which a PDF shows as plain text) and
    the same paragraphs, except those a page break cuts in two."""
    markdown = extractor.extract((FIXTURES / "msbg_excerpt.md").read_bytes(), content_type="text/markdown")
    pdf = FPDF()
    pdf.set_title(MSBG_TITLE)
    pdf.add_page()
    for block in markdown.blocks:
        heading = block.kind == "heading"
        pdf.set_font("helvetica", style="B" if heading else "", size=12 if heading else 10)
        pdf.multi_cell(0, 6 if heading else 5, block.text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    document = extractor.extract(bytes(pdf.output()), content_type=PDF)
    assert (document.title, document.page_count) == (MSBG_TITLE, 4)
    assert [b.heading_path for b in document.blocks if b.kind == "heading"] == [
        b.heading_path[1:] for b in markdown.blocks if b.kind == "heading" and len(b.heading_path) > 1
    ]
    assert [b.page for b in document.blocks if b.text.startswith("§ ")] == [1, 1, 3, 3, 4]
    pdf_texts = [b.text for b in document.blocks]
    cut = [b.text for b in markdown.blocks if b.text not in pdf_texts]
    assert len(cut) == 2
    for text in cut:  # the two halves are consecutive blocks on consecutive pages
        i = next(i for i, b in enumerate(document.blocks) if text.startswith(b.text + " "))
        first, second = document.blocks[i], document.blocks[i + 1]
        assert f"{first.text} {second.text}" == text
        assert second.page == first.page + 1 and second.heading_path == first.heading_path
    assert len(document.blocks) == len(markdown.blocks) + len(cut)


def test_markdown_with_only_front_matter_is_422(extractor: LocalExtractor) -> None:
    with pytest.raises(InvalidInputError, match=r"^no extractable text$"):
        extractor.extract(b"---\nTitle: Leer\n---\n\n   \n", content_type="text/markdown")


# --- plain text -----------------------------------------------------------------------------------------


def test_plain_text_paragraphs(extractor: LocalExtractor) -> None:
    data = "Wartungsprotokoll\n\nDer Wechselrichter wurde\ngeprüft.\r\n\r\n\tAlles   in Ordnung.\n".encode(
        "cp1252"
    )
    document = extractor.extract(data, content_type="text/plain", filename="protokoll.txt")
    assert document.content_type == PLAIN_TEXT
    assert document.title == "Wartungsprotokoll"
    assert list(document.blocks) == [
        ExtractedBlock("Wartungsprotokoll"),
        ExtractedBlock("Der Wechselrichter wurde geprüft."),
        ExtractedBlock("Alles in Ordnung."),
    ]


def test_whitespace_only_text_is_422(extractor: LocalExtractor) -> None:
    with pytest.raises(InvalidInputError, match=r"^no extractable text$"):
        extractor.extract(b" \n\t\n \xc2\xa0\n", content_type="text/plain")


def test_extractor_sniffs_again_instead_of_trusting_content_type(extractor: LocalExtractor) -> None:
    with pytest.raises(UnsupportedMediaTypeError, match="a PNG image"):
        extractor.extract(png_bytes(), content_type="text/plain")
    document = extractor.extract(b"# Titel\n\nText.", content_type="text/markdown")
    assert document.content_type == MARKDOWN


# --- helpers and the port -------------------------------------------------------------------------------


def test_line_joining_and_inline_markdown() -> None:
    assert normalize_space("  a\u00a0 b\u00adc\t\n d ") == "a bc d"
    assert join_wrapped_lines(["Kraft-", "Wärme-Kopplung", "und Strom-", "oder Gasnetz"]) == (
        "Kraft-Wärme-Kopplung und Strom- oder Gasnetz"
    )
    assert (
        markdown_inline_text(r"\*kein\* *kursiv* __fett__ ![Bild](a.png) \[^x\]")
        == "*kein* kursiv fett Bild [^x]"
    )


def test_local_extractor_is_an_extractor_and_reports_health() -> None:
    extractor: Extractor = LocalExtractor()
    assert isinstance(extractor, HealthCheck)
    health = extractor.health()
    assert (health.name, health.kind, health.ok) == ("extractor", "in-process", True)
