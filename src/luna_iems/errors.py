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
from pydantic import BaseModel, Field
from sqlalchemy.exc import InterfaceError as SQLAlchemyInterfaceError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyPoolTimeout
from sqlalchemy.orm.exc import StaleDataError
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


class RequestRefusedError(StarletteHTTPException):
    """A request refused at the edge, possibly while its body streams in (raised from `receive`).

    An HTTPException, so FastAPI's body parsing passes it through instead of turning it into a 400;
    it carries the error code and details of the one error shape.
    """

    def __init__(self, status_code: int, code: str, message: str, *, details: Any = None) -> None:
        super().__init__(status_code, message)
        self.code = code
        self.details = details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable, machine-readable: invalid_input, not_found, conflict, ...")
    message: str = Field(description="What was wrong and how to fix it")
    details: Any = Field(default=None, description="Which field, row or limit (shape depends on the code)")


class ErrorResponse(BaseModel):
    """The one error shape of every 4xx and 5xx answer."""

    error: ErrorInfo


_ERROR_DESCRIPTIONS = {
    400: "The body could not be read (e.g. not UTF-8)",
    401: "No API key, or an unknown or revoked one",
    403: "The key's role is too low for this operation",
    404: "A resource the request names does not exist",
    409: "The request conflicts with the stored state (e.g. a taken name)",
    413: "The body exceeds a size or row limit",
    415: "The body's media type or content is not supported",
    422: "Invalid input: `details` names the field, parameter or row",
    503: "A backend (e.g. the database) is unavailable",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error statuses, all with the one error shape."""
    return {code: {"model": ErrorResponse, "description": _ERROR_DESCRIPTIONS[code]} for code in codes}


# Every authenticated route can answer these; routers declare them once, routes add their own.
AUTHENTICATED_ERRORS = error_responses(401, 403, 422, 503)
BODY_ERRORS = error_responses(400, 413)


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


def _first_line(exc: BaseException) -> str:
    # Driver messages span lines (SQL, parameters, a link); the first one says what happened.
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the API serves on `path`, from the path templates of its OpenAPI document."""
    from starlette.routing import compile_path

    matches: list[tuple[int, set[str]]] = []
    for template, operations in app.openapi().get("paths", {}).items():
        if compile_path(template)[0].match(path):
            matches.append((template.count("{"), {method.upper() for method in operations}))
    # A literal path wins over a template (`/rules/variables`, not `/rules/{rule_id}`): the templated
    # routes that also match on paper take only ids (e.g. `{rule_id:uuid}`).
    fewest = min((params for params, _ in matches), default=0)
    return sorted(set().union(*(methods for params, methods in matches if params == fewest)))


def install_error_handlers(app: FastAPI) -> None:
    """Map domain, validation, HTTP and database-outage errors onto the one JSON error shape.

    Unexpected exceptions are answered by `RequestContextMiddleware` (500 with the request id)."""

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

    @app.exception_handler(SQLAlchemyOperationalError)
    @app.exception_handler(SQLAlchemyInterfaceError)
    @app.exception_handler(SQLAlchemyPoolTimeout)
    async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
        # The database went away (connection refused or lost, pool exhausted, SQLite locked past its
        # busy timeout): the documented 503, which clients may retry, rather than a 500.
        logging.getLogger("luna_iems").warning("database unavailable: %s", _first_line(exc))
        return JSONResponse(
            error_body(
                "backend_unavailable",
                "the database is not answering; retry shortly (see /health/ready)",
                {"component": "database"},
            ),
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, _: StaleDataError) -> JSONResponse:
        # An UPDATE or DELETE matched no row: another request deleted it after this one read it
        # (found by the fuzzer: PATCH and DELETE of one meter at once).
        message = f"the resource of {request.url.path} was deleted by another request while this one ran"
        return JSONResponse(error_body("not_found", message), status_code=404)

    @app.exception_handler(RequestRefusedError)
    async def _refused(_: Request, exc: RequestRefusedError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.detail, exc.details), status_code=exc.status_code)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}; see /docs for the API"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
            # Starlette names only the first matching route's methods; list every one of the path.
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request.app, request.url.path))}
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=headers)
