"""The Tika extractor's client side.

Apache Tika (a Java server) cannot run here, so a loopback HTTP server stands in for it and speaks
Tika's documented REST protocol: `PUT /tika` with the raw document, `Content-Type` naming its type and
`Accept: text/html`, answered with XHTML in which each PDF page is a `<div class="page">` (metadata as
`<meta>` elements, e.g. `xmpTPg:NPages`); 415 for a type Tika has no parser for, 422 for a document it
cannot parse (encrypted, corrupt), 204 when nothing was extracted; `GET /version` answers
"Apache Tika x.y.z". The real `TikaExtractor` and its httpx client run against it end to end.
"""

from __future__ import annotations

import io
import socket
import time

import docx
import pytest

from luna_iems.adapters.tika import TikaExtractor
from luna_iems.errors import BackendUnavailableError, InvalidInputError, UnsupportedMediaTypeError
from luna_iems.filetypes import DOCX, MARKDOWN, PDF
from luna_iems.ports import ExtractedBlock, Extractor
from tests.support.loopback import Handler, Recorded, loopback_server, text_reply

# Enough for the sniffer (the `%PDF-` signature); the stand-in answers without parsing it.
PDF_BYTES = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"

PDF_XHTML = """<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta name="pdf:PDFVersion" content="1.7"/>
<meta name="xmpTPg:NPages" content="3"/>
<meta name="dc:title" content="Messstellenbetrieb kompakt"/>
<meta name="Content-Type" content="application/pdf"/>
<title>Messstellenbetrieb kompakt</title>
</head>
<body><div class="page"><p/>
<p>Teil 1 - Allgemeine Bestimmungen
</p>
<p>§ 1 Anwendungsbereich
</p>
<p>Dieses Gesetz trifft Regelungen zur Ausstattung von Messstellen der
leitungsgebundenen Energieversorgung mit modernen Messeinrichtungen und
intelligenten Messsystemen.
</p>
<p>1
</p>
</div>
<div class="page"><p/>
<p>Die Regulierung der Elektrizitäts-
und Gasversorgungsnetze dient den Zielen des Erneuerbare-
Energien-Gesetzes.
</p>
<p>§ 2 Begriffsbestimmungen
</p>
<p>Im Sinne dieses Gesetzes ist oder sind:
1. Anlagenbetreiber: der Betreiber von Anlagen,
2. Messstelle: die Gesamtheit aller Mess- und Steuerungseinrichtungen.
</p>
<div class="annotation"><a href="https://www.gesetze-im-internet.de">gesetze-im-internet.de</a></div>
</div>
<div class="page"><p/>
<p>- 3 -
</p>
</div>
<ul><li>§ 1 Anwendungsbereich</li><li>§ 2 Begriffsbestimmungen</li></ul>
</body></html>"""

DOCX_XHTML = """<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta name="dc:title" content="Betriebshandbuch"/>
<meta name="Content-Type" content="application/vnd.openxmlformats-officedocument.wordprocessingml.document"/>
<title>Betriebshandbuch</title>
</head>
<body><h1 class="title">Betriebshandbuch Batteriespeicher</h1>
<p>Dieses Handbuch beschreibt den Betrieb.</p>
<h1>Installation</h1>
<p>Der Speicher wird im Keller aufgestellt.</p>
<table><tbody><tr>\t<td><p>Größe</p></td>\t<td><p>Wert</p></td></tr>
<tr>\t<td><p>Kapazität</p></td>\t<td><p>10 kWh</p></td></tr>
</tbody></table>
<h2>Anschluss</h2>
<p>Über einen eigenen Leitungsschutzschalter.</p>
</body></html>"""


def _xhtml(body: str) -> Handler:
    def handler(_: Recorded) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "text/html; charset=UTF-8"}, body.encode("utf-8")

    return handler


def _status(status: int, body: str) -> Handler:
    return lambda _: text_reply(body, status)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _docx_bytes() -> bytes:
    buffer = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("Inhalt")
    document.save(buffer)
    return buffer.getvalue()


def test_pdf_pages_headings_and_paragraphs_from_tika_xhtml() -> None:
    with loopback_server({("PUT", "/tika"): _xhtml(PDF_XHTML)}) as server:
        extractor = TikaExtractor(base_url=server.url + "/", timeout_s=5)
        document = extractor.extract(PDF_BYTES, content_type="application/octet-stream", filename="msbg.pdf")
        extractor.close()
    [request] = server.requests
    assert (request.method, request.path, request.body) == ("PUT", "/tika", PDF_BYTES)
    assert request.headers["Content-Type"] == PDF
    assert request.headers["Accept"] == "text/html"
    assert document.content_type == PDF
    assert document.title == "Messstellenbetrieb kompakt"
    assert document.page_count == 3
    part = "Teil 1 - Allgemeine Bestimmungen"
    p1, p2 = (part, "§ 1 Anwendungsbereich"), (part, "§ 2 Begriffsbestimmungen")
    assert list(document.blocks) == [
        ExtractedBlock(part, page=1, heading_path=(part,), kind="heading"),
        ExtractedBlock("§ 1 Anwendungsbereich", page=1, heading_path=p1, kind="heading"),
        ExtractedBlock(
            "Dieses Gesetz trifft Regelungen zur Ausstattung von Messstellen der leitungsgebundenen "
            "Energieversorgung mit modernen Messeinrichtungen und intelligenten Messsystemen.",
            page=1,
            heading_path=p1,
        ),
        # the lone page number "1" closing page 1 is dropped; hard-wrapped lines are joined
        ExtractedBlock(
            "Die Regulierung der Elektrizitäts- und Gasversorgungsnetze dient den Zielen des "
            "Erneuerbare-Energien-Gesetzes.",
            page=2,
            heading_path=p1,
        ),
        ExtractedBlock("§ 2 Begriffsbestimmungen", page=2, heading_path=p2, kind="heading"),
        ExtractedBlock("Im Sinne dieses Gesetzes ist oder sind:", page=2, heading_path=p2),
        ExtractedBlock("1. Anlagenbetreiber: der Betreiber von Anlagen,", page=2, heading_path=p2),
        ExtractedBlock(
            "2. Messstelle: die Gesamtheit aller Mess- und Steuerungseinrichtungen.", page=2, heading_path=p2
        ),
        ExtractedBlock("gesetze-im-internet.de", page=2, heading_path=p2),
        # page 3 holds only its number; the bookmark list after the last page is not text
    ]


def test_docx_headings_and_table_rows_from_tika_xhtml() -> None:
    data = _docx_bytes()
    with loopback_server({("PUT", "/tika"): _xhtml(DOCX_XHTML)}) as server:
        document = TikaExtractor(base_url=server.url, timeout_s=5).extract(data, content_type=DOCX)
    assert server.requests[0].headers["Content-Type"] == DOCX
    assert server.requests[0].body == data
    assert (document.content_type, document.title, document.page_count) == (DOCX, "Betriebshandbuch", None)
    top = ("Betriebshandbuch Batteriespeicher",)
    install = ("Installation",)
    assert list(document.blocks) == [
        ExtractedBlock("Betriebshandbuch Batteriespeicher", heading_path=top, kind="heading"),
        ExtractedBlock("Dieses Handbuch beschreibt den Betrieb.", heading_path=top),
        ExtractedBlock("Installation", heading_path=install, kind="heading"),
        ExtractedBlock("Der Speicher wird im Keller aufgestellt.", heading_path=install),
        ExtractedBlock("Größe | Wert", heading_path=install),
        ExtractedBlock("Kapazität | 10 kWh", heading_path=install),
        ExtractedBlock("Anschluss", heading_path=(*install, "Anschluss"), kind="heading"),
        ExtractedBlock("Über einen eigenen Leitungsschutzschalter.", heading_path=(*install, "Anschluss")),
    ]


def test_markdown_stays_in_process_even_with_tika_configured() -> None:
    with loopback_server({}) as server:
        document = TikaExtractor(base_url=server.url, timeout_s=5).extract(
            b"## Teil 1\n\n### \xc2\xa7 3 Begriffe\n\nText.", content_type="text/markdown"
        )
    assert server.requests == []
    assert document.content_type == MARKDOWN
    assert document.blocks[-1] == ExtractedBlock("Text.", heading_path=("Teil 1", "§ 3 Begriffe"))


def test_unsupported_content_is_refused_before_calling_tika() -> None:
    with loopback_server({}) as server, pytest.raises(UnsupportedMediaTypeError, match="claims to be a PDF"):
        TikaExtractor(base_url=server.url).extract(b"just text", content_type=PDF, filename="x.pdf")
    assert server.requests == []


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (415, "Unsupported Media Type", UnsupportedMediaTypeError, "Tika has no parser for application/pdf"),
        (
            422,
            "org.apache.tika.exception.EncryptedDocumentException: Unable to process: document is encrypted\n"
            "\tat org.apache.tika.parser.pdf.PDFParser.parse(PDFParser.java:190)",
            InvalidInputError,
            "Tika could not parse the document: org.apache.tika.exception.EncryptedDocumentException: "
            "Unable to process: document is encrypted",
        ),
        (204, "", InvalidInputError, "no extractable text"),
        (500, "java.lang.OutOfMemoryError", BackendUnavailableError, "HTTP 500: java.lang.OutOfMemoryError"),
    ],
)
def test_tika_error_statuses_map_to_domain_errors(
    status: int, body: str, error: type[Exception], message: str
) -> None:
    with loopback_server({("PUT", "/tika"): _status(status, body)}) as server, pytest.raises(error) as caught:
        TikaExtractor(base_url=server.url, timeout_s=5).extract(PDF_BYTES, content_type=PDF)
    assert message in str(caught.value)
    assert "\tat org.apache" not in str(caught.value)  # only the first line of a stack trace
    if isinstance(caught.value, BackendUnavailableError):
        assert caught.value.component == "extractor"


def test_empty_xhtml_is_no_extractable_text() -> None:
    empty = '<html xmlns="http://www.w3.org/1999/xhtml"><head><title></title></head><body><div class="page"><p/></div></body></html>'
    with (
        loopback_server({("PUT", "/tika"): _xhtml(empty)}) as server,
        pytest.raises(InvalidInputError, match=r"^no extractable text \(a scanned PDF\?"),
    ):
        TikaExtractor(base_url=server.url, timeout_s=5).extract(PDF_BYTES, content_type=PDF)


def test_unreachable_tika_is_backend_unavailable() -> None:
    extractor = TikaExtractor(base_url=f"http://127.0.0.1:{_closed_port()}", timeout_s=2)
    with pytest.raises(BackendUnavailableError, match="is unreachable") as caught:
        extractor.extract(PDF_BYTES, content_type=PDF)
    assert caught.value.status_code == 503
    assert caught.value.details == {"component": "extractor"}
    health = extractor.health()
    assert (health.name, health.kind, health.ok) == ("extractor", "tika", False)
    assert "unreachable" in health.detail


def test_slow_tika_times_out_as_backend_unavailable() -> None:
    def slow(_: Recorded) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.0)
        return 200, {"Content-Type": "text/html"}, PDF_XHTML.encode()

    with (
        loopback_server({("PUT", "/tika"): slow}) as server,
        pytest.raises(BackendUnavailableError, match="did not answer PUT /tika in time"),
    ):
        TikaExtractor(base_url=server.url, timeout_s=0.2).extract(PDF_BYTES, content_type=PDF)


def test_health_probes_get_version() -> None:
    with loopback_server({("GET", "/version"): lambda _: text_reply("Apache Tika 3.2.3")}) as server:
        extractor: Extractor = TikaExtractor(base_url=server.url, timeout_s=5)
        health = extractor.health()
    assert (health.name, health.kind, health.ok, health.detail) == ("extractor", "tika", True, "")
    assert health.info == {"url": server.url}
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/version")]
    with loopback_server({}) as server:
        failing = TikaExtractor(base_url=server.url, timeout_s=5).health()
    assert not failing.ok and failing.detail == "HTTP 404 from /version"
