"""Apache Tika server (`TIKA_URL`) as the `Extractor` for PDF and DOCX, over its documented REST API.

- `PUT /tika` with the raw bytes, `Content-Type` set to the sniffed media type (Tika then skips its own
  detection) and `Accept: text/html`: Tika answers XHTML. For PDFs every page is a
  `<div class="page">`, which gives the blocks their page numbers; the page count comes from the
  `xmpTPg:NPages` meta element. Tika 1.x-3.x choose the output by the Accept header; Tika 4 ignores it
  and answers XHTML on `PUT /tika` anyway, so the same request works on both.
- Status codes: 415 (Tika has no parser for the type) → `UnsupportedMediaTypeError`; 422 (unparsable,
  e.g. encrypted or corrupt) → `InvalidInputError`; 204 (nothing extracted) → `InvalidInputError`; any
  other failure, a timeout or an unreachable server → `BackendUnavailableError("extractor", …)`.
- `GET /version` is the liveness probe.

Markdown, plain text and HTML are extracted in process even when Tika is configured: Tika has no
Markdown parser (it would read the file as plain text and lose the `#` headings that carry the §
citations of statutes), and for text and HTML a round trip adds latency but no structure.
"""

from __future__ import annotations

import httpx

from luna_iems.adapters.local_extractor import LocalExtractor, html_document
from luna_iems.adapters.ollama import probe_http
from luna_iems.errors import BackendUnavailableError, InvalidInputError, UnsupportedMediaTypeError
from luna_iems.filetypes import DOCX, PDF, sniff
from luna_iems.ports import ComponentHealth, ExtractedDocument

_MESSAGE_MAX_CHARS = 300


class TikaExtractor:
    """Extraction by a Tika server; see the module docstring for the protocol and the error mapping."""

    def __init__(
        self, *, base_url: str, timeout_s: float = 120.0, local: LocalExtractor | None = None
    ) -> None:
        self._url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self._url, timeout=timeout_s)
        self._local = local or LocalExtractor()

    def extract(self, data: bytes, *, content_type: str, filename: str | None = None) -> ExtractedDocument:
        media_type = sniff(data, filename=filename, declared=content_type)
        if media_type not in {PDF, DOCX}:
            return self._local.extract(data, content_type=media_type, filename=filename)
        xhtml = self._put(data, media_type)
        is_pdf = media_type == PDF
        empty = (
            "no extractable text (a scanned PDF? Tika found no text layer)"
            if is_pdf
            else "no extractable text"
        )
        return html_document(
            xhtml, content_type=media_type, paged=is_pdf, pdf_lines=is_pdf, empty_message=empty
        )

    def _put(self, data: bytes, media_type: str) -> str:
        try:
            response = self._client.put(
                "/tika", content=data, headers={"Content-Type": media_type, "Accept": "text/html"}
            )
        except httpx.TimeoutException as exc:
            raise BackendUnavailableError(
                "extractor", f"Tika at {self._url} did not answer PUT /tika in time: {exc}"
            ) from exc
        except httpx.HTTPError as exc:
            raise BackendUnavailableError("extractor", f"Tika at {self._url} is unreachable: {exc}") from exc
        status = response.status_code
        if status == 415:
            raise UnsupportedMediaTypeError(
                f"Tika has no parser for {media_type}: {_message(response)}", details={"detected": media_type}
            )
        if status == 422:
            raise InvalidInputError(f"Tika could not parse the document: {_message(response)}")
        if status == 204:
            raise InvalidInputError("no extractable text (Tika returned no content)")
        if not response.is_success:
            raise BackendUnavailableError(
                "extractor", f"Tika PUT /tika answered HTTP {status}: {_message(response)}"
            )
        # Tika writes its output as UTF-8 whatever the input was.
        return response.content.decode("utf-8", errors="replace")

    def health(self) -> ComponentHealth:
        return probe_http("extractor", "tika", self._client, "/version")

    def close(self) -> None:
        self._client.close()


def _message(response: httpx.Response) -> str:
    """The first line of Tika's error body (often a Java stack trace), shortened."""
    text = response.content.decode("utf-8", errors="replace").strip()
    first = text.splitlines()[0].strip() if text else ""
    return first[:_MESSAGE_MAX_CHARS] or response.reason_phrase or f"HTTP {response.status_code}"
