"""Domain errors and the one JSON error shape: `{"error": {"code", "message", "details"}}`.

Services raise `LunaError` subclasses (no FastAPI import needed); `install_error_handlers` maps them,
and every framework error (validation, 404, 405, 413), onto the same shape.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class LunaError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFoundError(LunaError):
    status_code = 404
    code = "not_found"


class ConflictError(LunaError):
    status_code = 409
    code = "conflict"


class InvalidInputError(LunaError):
    status_code = 422
    code = "invalid_input"


class DimensionMismatchError(InvalidInputError):
    """A vector's length differs from the collection's (usually: the embedding model changed)."""


class PayloadTooLargeError(LunaError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(LunaError):
    status_code = 415
    code = "unsupported_media_type"


class AuthenticationError(LunaError):
    status_code = 401
    code = "unauthenticated"


class PermissionDeniedError(LunaError):
    status_code = 403
    code = "forbidden"


class BackendUnavailableError(LunaError):
    """A configured backend cannot serve the request (not installed, unreachable, mismatched)."""

    status_code = 503
    code = "backend_unavailable"

    def __init__(self, component: str, message: str) -> None:
        super().__init__(message, details={"component": component})
        self.component = component


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _location(loc: Sequence[int | str]) -> str:
    # ("body", "rows", 3, "ts") -> "body.rows[3].ts"
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"field": _location(err.get("loc", ())), "message": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()[:50]
    ]


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LunaError)
    async def _luna(_: Request, exc: LunaError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        first = details[0] if details else {"field": "body", "message": "invalid"}
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        message = f"{first['field']}: {first['message']}{more}"
        return JSONResponse(error_body("invalid_input", message, details), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the log (with the request id); the client gets the one error shape.
        logging.getLogger("luna_iems").error("unhandled error", exc_info=exc)
        return JSONResponse(
            error_body(
                "internal_error", "unexpected server error; the request id in the logs has the details"
            ),
            status_code=500,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}; see /docs for the API"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        return JSONResponse(
            error_body(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )
