"""ASGI middleware: request ids, access log, metrics, audit trail, and the request-body limit.

Pure ASGI (not BaseHTTPMiddleware) so streaming bodies and background work are untouched.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from luna_iems.errors import error_body
from luna_iems.ops.logs import request_id_var
from luna_iems.ops.metrics import Metrics

log = logging.getLogger("luna_iems.access")

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")

AuditWriter = Callable[..., None]


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    """Per request: id (from X-Request-ID or new), JSON access log, metrics, and an audit row for writes."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, audit: AuditWriter) -> None:
        self.app = app
        self.metrics = metrics
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID_OK.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight.dec()
            seconds = time.perf_counter() - start
            method = scope["method"]
            route = _route_template(scope)
            self.metrics.observe(method=method, route=route, status=status, seconds=seconds)
            principal: Any = scope.get("state", {}).get("principal")
            key_id = principal.key_id if principal is not None else None
            role = principal.role.value if principal is not None else None
            log.info(
                "request",
                extra={
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "key_id": str(key_id) if key_id else None,
                },
            )
            if method in MUTATING_METHODS:
                await self._audit(
                    key_id=key_id,
                    role=role,
                    method=method,
                    path=scope["path"],
                    status=status,
                    request_id=request_id,
                )
            request_id_var.reset(token)

    async def _audit(self, **entry: Any) -> None:
        try:
            await anyio.to_thread.run_sync(lambda: self.audit(**entry))
        except Exception:
            # The response is already sent; a failed audit write must be loud, not fatal.
            log.exception("audit write failed", extra={"audit": entry})


class BodyLimitMiddleware:
    """Refuse request bodies above `max_bytes` with 413, by Content-Length or by counting a stream."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> bytes:
        mb = self.max_bytes / (1024 * 1024)
        return orjson.dumps(
            error_body(
                "payload_too_large",
                f"request body exceeds the limit of {mb:g} MB (LUNA_MAX_UPLOAD_MB)",
                {"limit_bytes": self.max_bytes},
            )
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._reject(send)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLargeError(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLargeError:
            if not response_started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = self._too_large()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLargeError(HTTPException):
    """Raised from `receive`; an HTTPException so FastAPI's body parsing passes it through as 413."""

    def __init__(self, max_bytes: int) -> None:
        mb = max_bytes / (1024 * 1024)
        super().__init__(413, f"request body exceeds the limit of {mb:g} MB (LUNA_MAX_UPLOAD_MB)")
