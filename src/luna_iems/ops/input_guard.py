"""Refuse NUL characters (U+0000) in every text input at the edge, as one 422 naming where it was.

PostgreSQL text columns cannot hold U+0000, and no field of this API means it, so a NUL anywhere a
string comes from is refused before a route runs: the path and the query string, JSON bodies (escaped
as `\\u0000`, in values and keys), URL-encoded forms, the text fields and CSV files of multipart uploads,
and UTF-8 text bodies (CSV, DSMR telegrams, SML hex, YAML rules). Binary bodies (SML frames, uploaded
documents, UTF-16 text) legitimately hold NUL bytes and pass; document extraction strips U+0000 itself.

JSON and URL-encoded bodies are buffered (the route reads them whole anyway; BodyLimitMiddleware, outside
this one, bounds them); multipart and text bodies are checked while they stream, so a large CSV upload is
never held twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from luna_iems.bounds import NUL, escape_nul, nul_location
from luna_iems.errors import RequestRefusedError, error_body

_JSON_ESCAPE = b"\\u0000"  # a NUL inside a JSON string is always escaped; a raw one is invalid JSON
_UTF8_CHARSETS = frozenset({"", "utf-8", "utf8", "us-ascii", "ascii"})
# UTF-8 text bodies the routes read by hand (CSV, DSMR telegrams, SML hex, YAML rules).
_TEXT_TYPES = frozenset(
    {"text/csv", "application/csv", "text/plain", "application/yaml", "application/x-yaml", "text/yaml"}
)
_MESSAGE = "text must not contain NUL characters (U+0000)"


def _media(headers: dict[bytes, bytes]) -> tuple[str, dict[str, str]]:
    raw = headers.get(b"content-type", b"").decode("latin-1")
    media, _, rest = raw.partition(";")
    params: dict[str, str] = {}
    for item in rest.split(";"):
        key, _, value = item.partition("=")
        if key.strip():
            params[key.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), params


def is_json_media(media: str) -> bool:
    """What FastAPI (and the ingest routes) parse as JSON: no content type, or application/(*+)json."""
    return media in {"", "application/json"} or (media.startswith("application/") and media.endswith("+json"))


def _pairs_location(pairs: list[tuple[str, str]], prefix: str) -> str | None:
    for key, value in pairs:
        if NUL in key or NUL in value:
            return f"{prefix}.{escape_nul(key)}"
    return None


def _refusal(field: str, *, row: int | None = None) -> RequestRefusedError:
    detail: dict[str, Any] = {"field": field, "message": _MESSAGE, "type": "nul_character"}
    where = field
    if row is not None:
        detail["row"] = row
        where = f"{field}, CSV row {row}" if row > 0 else f"{field}, CSV header"
    return RequestRefusedError(
        422, "invalid_input", f"{where}: {_MESSAGE}; remove them and send again", details=[detail]
    )


class _TextScanner:
    """Finds a NUL byte in a UTF-8 text stream; for CSV it counts lines to name the row (1 = first row
    after the header, as the CSV parser numbers them)."""

    def __init__(self, field: str, *, csv: bool) -> None:
        self.field = field
        self.csv = csv
        self.lines = 0
        self.started = False
        self.utf16 = False

    def feed(self, data: bytes) -> None:
        if not self.started and data:
            self.started = True
            # UTF-16 text (with its byte-order mark) is NUL bytes half through: not ours to judge.
            self.utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
        if self.utf16:
            return
        index = data.find(b"\x00")
        if index < 0:
            if self.csv:
                self.lines += data.count(b"\n")
            return
        row = self.lines + data.count(b"\n", 0, index) if self.csv else None
        raise _refusal(self.field, row=row)


class _MultipartScanner:
    """Streams a multipart body through python-multipart's parser: text fields, part headers (names,
    file names) and CSV files must hold no NUL; other files (documents, binary frames) may."""

    def __init__(self, boundary: str) -> None:
        from python_multipart.multipart import MultipartParser

        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._scanner: _TextScanner | None = None
        self._refusal: RequestRefusedError | None = None
        self._broken = False
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
            },
        )

    def _part_begin(self) -> None:
        self._headers = {}
        self._scanner = None

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        field = f"body.{escape_nul(name)}" if name else "body"
        if any(b"\x00" in value for value in self._headers.values()):
            self._refusal = _refusal(field)
            return
        filename = options.get(b"filename")
        if filename is None:
            self._scanner = _TextScanner(field, csv=False)
            return
        content_type = self._headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if filename.lower().endswith(b".csv") or content_type in {b"text/csv", b"application/csv"}:
            self._scanner = _TextScanner(field, csv=True)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._scanner is not None and self._refusal is None:
            try:
                self._scanner.feed(data[start:end])
            except RequestRefusedError as exc:
                self._refusal = exc

    def feed(self, data: bytes) -> None:
        if self._broken:
            return
        try:
            self._parser.write(data)
        except Exception:  # a malformed body is the form parser's to report (as 400/422), not ours
            self._broken = True
        if self._refusal is not None:
            raise self._refusal


class NulGuardMiddleware:
    """422 for U+0000 in the path, the query string or a text body; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: list[re.Pattern[str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = self._path_location(scope) or self._query_location(scope)
        if field is not None:
            await _respond(send, _refusal(field))
            return
        headers = dict(scope["headers"])
        media, params = _media(headers)
        if is_json_media(media) or media == "application/x-www-form-urlencoded":
            messages, body = await _read_all(receive)
            field = _json_location(body) if is_json_media(media) else _form_location(body)
            if field is not None:
                await _respond(send, _refusal(field))
                return
            await self.app(scope, _replay(messages, receive), send)
            return
        feed = _stream_check(media, params)
        if feed is None:
            await self.app(scope, receive, send)
            return

        async def checked_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                feed(message.get("body", b""))
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, checked_receive, tracking_send)
        except RequestRefusedError as exc:  # raised outside the app's own error handling
            if started:
                raise
            await _respond(send, exc)

    def _path_location(self, scope: Scope) -> str | None:
        path: str = scope["path"]
        if NUL not in path:
            return None
        if self._templates is None:
            # The documented path templates (every route is in the OpenAPI document): matching them
            # names the parameter without depending on how the router nests included routers.
            openapi = getattr(scope.get("app"), "openapi", None)
            paths = openapi().get("paths", {}) if callable(openapi) else {}
            self._templates = [compile_path(template)[0] for template in paths]
        for regex in self._templates:
            match = regex.match(path)
            if match is not None:
                for name, value in match.groupdict().items():
                    if NUL in value:
                        return f"path.{name}"
        return "path"

    @staticmethod
    def _query_location(scope: Scope) -> str | None:
        query: bytes = scope.get("query_string", b"")
        if b"%00" not in query and b"\x00" not in query:
            return None
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
        return _pairs_location(pairs, "query")


def _json_location(body: bytes) -> str | None:
    if _JSON_ESCAPE not in body:  # the fast path: one byte search; `\\u0000` (escaped backslash) is text
        return None
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None  # the route answers its own 422 for invalid JSON
    return nul_location(document)


def _form_location(body: bytes) -> str | None:
    if b"%00" not in body and b"\x00" not in body:
        return None
    return _pairs_location(parse_qsl(body.decode("latin-1"), keep_blank_values=True), "body")


def _stream_check(media: str, params: dict[str, str]) -> Callable[[bytes], None] | None:
    """A function fed each body chunk that raises the refusal, or None when the body is not checked."""
    if media == "multipart/form-data":
        boundary = params.get("boundary")
        return _MultipartScanner(boundary).feed if boundary else None
    if media in _TEXT_TYPES and params.get("charset", "").lower() in _UTF8_CHARSETS:
        return _TextScanner("body", csv=media in {"text/csv", "application/csv"}).feed
    return None


async def _read_all(receive: Receive) -> tuple[list[Message], bytes]:
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    if len(messages) > 1 and messages[-1]["type"] == "http.request":
        messages = [{"type": "http.request", "body": body, "more_body": False}]
    return messages, body


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending: Iterator[Message] = iter(messages)

    async def replay() -> Message:
        message = next(pending, None)
        return message if message is not None else await receive()

    return replay


async def _respond(send: Send, exc: RequestRefusedError) -> None:
    body = orjson.dumps(error_body(exc.code, str(exc.detail), exc.details))
    await send(
        {
            "type": "http.response.start",
            "status": exc.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
