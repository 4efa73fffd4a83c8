"""A tiny threaded HTTP server on 127.0.0.1 for services that cannot run here (Ollama, Tika, …).

Each test double registers handlers that answer as the service's documented wire protocol says,
so the product's real HTTP client code is exercised end to end.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[[Recorded], tuple[int, dict[str, str], bytes]]


@dataclass
class Loopback:
    url: str
    routes: dict[tuple[str, str], Handler]
    requests: list[Recorded] = field(default_factory=list)


def json_reply(payload: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def text_reply(body: str, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "text/plain"}, body.encode()


@contextmanager
def loopback_server(routes: dict[tuple[str, str], Handler]) -> Iterator[Loopback]:
    state = Loopback(url="", routes=routes)

    class _Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            record = Recorded(self.command, self.path, self.rfile.read(length), dict(self.headers.items()))
            state.requests.append(record)
            handler = state.routes.get((self.command, self.path.split("?")[0]))
            status, headers, body = handler(record) if handler else text_reply("not found", 404)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
