"""A loopback HTTP server whose handlers may answer a body piece by piece (HTTP/1.1 chunked transfer).

`tests/support/loopback.py` answers whole bodies; streaming protocols (Ollama's NDJSON, OpenAI's
Server-Sent Events) need each piece on the wire, flushed, before the next one is produced. A handler
returns `(status, headers, body)` where `body` is `bytes` (sent with Content-Length) or an iterable of
`bytes` (sent chunked, one chunk per item, flushed). A handler may block between pieces — e.g. on a
`threading.Event` the test sets once it has seen the first piece — which proves the client reads
incrementally. `StreamLoopback.release` is set when the server shuts down, so handlers that wait on
it (or with a timeout) never keep a thread alive past the test.

Every response closes its connection, so no handler thread outlives the client that talked to it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.loopback import Recorded, text_reply

Body = bytes | Iterable[bytes]
StreamHandler = Callable[[Recorded], tuple[int, dict[str, str], Body]]


@dataclass
class StreamLoopback:
    url: str
    routes: dict[tuple[str, str], StreamHandler]
    requests: list[Recorded] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def chunks(text: str, size: int) -> list[bytes]:
    """`text` as UTF-8 cut into pieces of `size` bytes (deliberately ignoring line boundaries)."""
    data = text.encode()
    return [data[i : i + size] for i in range(0, len(data), size)]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-stream (a test closing its iterator early) is expected.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@contextmanager
def stream_server(routes: dict[tuple[str, str], StreamHandler]) -> Iterator[StreamLoopback]:
    state = StreamLoopback(url="", routes=routes)

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            record = Recorded(self.command, self.path, self.rfile.read(length), dict(self.headers.items()))
            state.requests.append(record)
            handler = state.routes.get((self.command, self.path.split("?")[0]))
            status, headers, body = handler(record) if handler else text_reply("404 page not found", 404)
            self.close_connection = True
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Connection", "close")
            if isinstance(body, bytes):
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in body:
                if piece:
                    self.wfile.write(f"{len(piece):X}\r\n".encode() + piece + b"\r\n")
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        do_GET = do_POST = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = _QuietServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
