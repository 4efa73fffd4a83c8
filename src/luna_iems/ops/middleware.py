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


class AnonymousAuditLimiter:
    """Bounds the audit rows of refused anonymous writes: without a key anyone can send them, and one
    row each let a script grow the audit table without bound.

    Per minute, the first ``per_minute`` get a row each; the rest are counted and reported in one
    summary row when the next minute's first anonymous write arrives (and in a Prometheus counter).
    Requests with a key are always audited one by one. Not thread-safe: the event loop calls it.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._window = -1
        self._written = 0
        self._suppressed = 0

    def admit(self) -> tuple[bool, int]:
        """(write this request's row?, rows suppressed in the previous window to summarise now)."""
        window = int(self.clock() // 60)
        carried = 0
        if window != self._window:
            carried, self._window, self._written, self._suppressed = self._suppressed, window, 0, 0
        if self._written < self.per_minute:
            self._written += 1
            return True, carried
        self._suppressed += 1
        return False, carried


class RequestContextMiddleware:
    """Per request: id (from X-Request-ID or new), JSON access log, metrics, an audit row for writes,
    and the 500 answer for unexpected errors (logged with the request id, which the response carries)."""

    def __init__(
        self, app: ASGIApp, *, metrics: Metrics, audit: AuditWriter, anonymous_audit_per_minute: int = 30
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.audit = audit
        self.anonymous = AnonymousAuditLimiter(anonymous_audit_per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID_OK.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        status = 500
        started = False
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("unhandled error", extra={"method": scope["method"], "path": scope["path"]})
            if started:
                raise  # a streamed response broke midway: nothing more can be sent
            await _send_json(send_wrapper, 500, _internal_error(request_id))
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
                entry = {"key_id": key_id, "role": role, "method": method, "path": scope["path"]}
                await self._audit_request(entry | {"status": status, "request_id": request_id})
            request_id_var.reset(token)

    async def _audit_request(self, entry: dict[str, Any]) -> None:
        if entry["key_id"] is None:
            admitted, suppressed = self.anonymous.admit()
            if suppressed:
                summary = f"(anonymous writes not recorded one by one in the previous minute: {suppressed})"
                await self._audit(
                    key_id=None, role=None, method="*", path=summary, status=0, request_id="aggregate"
                )
            if not admitted:
                self.metrics.audit_suppressed.inc()
                return
        await self._audit(**entry)

    async def _audit(self, **entry: Any) -> None:
        try:
            await anyio.to_thread.run_sync(lambda: self.audit(**entry))
        except Exception:
            # The response is already sent; a failed audit write must be loud, not fatal.
            log.exception("audit write failed", extra={"audit": entry})


def _internal_error(request_id: str) -> bytes:
    return orjson.dumps(
        error_body(
            "internal_error",
            f"unexpected server error; the server log has the details under request id {request_id}",
            {"request_id": request_id},
        )
    )


async def _send_json(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
        await _send_json(send, 413, self._too_large())


class _BodyTooLargeError(HTTPException):
    """Raised from `receive`; an HTTPException so FastAPI's body parsing passes it through as 413."""

    def __init__(self, max_bytes: int) -> None:
        mb = max_bytes / (1024 * 1024)
        super().__init__(413, f"request body exceeds the limit of {mb:g} MB (LUNA_MAX_UPLOAD_MB)")
