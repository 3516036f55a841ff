"""Error responses: one JSON shape, field-level 422s, and no 500 for a client's mistake.

Owns the exception handlers. Validation errors name the field (`slot.start_time`,
`Idempotency-Key`, `body` for malformed JSON) and never echo the input (it may hold personal
data). A database that cannot be reached — refused, reset, timed out, starting or shutting down,
at connect time or mid-statement — is a 503 with Retry-After, never a 500, and is answered by a
handler of its own, so nothing reaches uvicorn as "Exception in ASGI application". A value the
database refuses as data (SQLSTATE class 22) is a 422: retrying it cannot help. Every 503 carries
Retry-After. A 405 lists every method of the path in `Allow`, not only the first route's.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.booking.answers import BookingError
from service.db.database import UNREACHABLE_ERRORS, is_data_exception, is_unreachable

log = logging.getLogger("service.api")

_HEADER_NAMES = {"idempotency_key": "Idempotency-Key", "authorization": "Authorization"}
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
}


def field_name(loc: tuple[Any, ...]) -> str:
    """`("body", "slot", "start_time")` → `slot.start_time`; a header by its HTTP name.

    >>> field_name(("body", "owner", "email")), field_name(("header", "idempotency_key"))
    ('owner.email', 'Idempotency-Key')
    """
    where, *path = loc or ("body",)
    if where == "header" and path:
        return _HEADER_NAMES.get(str(path[0]), str(path[0]))
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else str(where)


def _message(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return "the body is not valid JSON: " + str(
            error.get("ctx", {}).get("error", "parse error")
        )
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this request's path, for a 405's `Allow` (Starlette
    lists only the first route that matched the path, e.g. POST but not GET)."""
    path = request.scope["path"]
    methods: set[str] = set()
    pending: list[Any] = list(request.app.router.routes)
    while pending:
        route = pending.pop()
        included = getattr(route, "original_router", None)  # FastAPI's wrapper of include_router
        if included is not None:
            pending.extend(included.routes)
        elif getattr(route, "methods", None) and route.path_regex.match(path):
            methods |= route.methods
    return ", ".join(sorted(methods))


def database_unavailable(exc: BaseException) -> JSONResponse:
    # The driver's own error class and SQLSTATE say what happened (refused, lock timeout, too many
    # connections, ...) without row values, which hide_parameters keeps out of messages.
    orig = getattr(exc, "orig", None)
    log.error(
        "database unreachable" if is_unreachable(exc) else "database error",
        extra={
            "error": type(exc).__name__,
            "driver_error": type(orig).__name__ if orig is not None else None,
            "sqlstate": getattr(orig, "sqlstate", None)
            or getattr(orig, "pgcode", None)
            or getattr(exc, "sqlstate", None),
        },
    )
    return JSONResponse(
        {"error": "database_unavailable", "message": "the database did not answer; retry"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = []
        for error in exc.errors():
            loc = tuple(error.get("loc", ()))
            name = "body" if error.get("type") == "json_invalid" else field_name(loc)
            detail.append({"field": name, "message": _message(error), "type": error.get("type")})
        first = detail[0]["field"] if detail else "body"
        return JSONResponse(
            {
                "error": "validation_failed",
                "message": f"invalid request: check {first}",
                "detail": detail,
            },
            status_code=422,
        )

    @app.exception_handler(BookingError)
    async def _booking(_request: Request, exc: BookingError) -> JSONResponse:
        headers = dict(exc.headers)
        if exc.status == 503:
            headers.setdefault("Retry-After", "1")  # a 503 always says when to come back
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return JSONResponse(
            {"error": _HTTP_CODES.get(exc.status_code, "http_error"), "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=headers or None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc)
        return JSONResponse(
            {"error": "internal", "message": "an unexpected error; the request id is in the log"},
            status_code=500,
        )

    @app.exception_handler(DBAPIError)
    async def _database(_request: Request, exc: DBAPIError) -> JSONResponse:
        if is_data_exception(exc):
            # The request edge refuses what it knows (NUL, over-long ids); this catches the rest.
            log.warning("database refused a value", extra={"sqlstate": _sqlstate_of(exc)})
            message = "a value in the request cannot be stored; remove NUL characters or shorten it"
            return JSONResponse(
                {
                    "error": "validation_failed",
                    "message": message,
                    "detail": [{"field": "request", "message": message, "type": "data_exception"}],
                },
                status_code=422,
            )
        return database_unavailable(exc)

    async def _unreachable(_request: Request, exc: Exception) -> JSONResponse:
        return database_unavailable(exc)

    for error_class in UNREACHABLE_ERRORS:
        app.add_exception_handler(error_class, _unreachable)


def _sqlstate_of(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
