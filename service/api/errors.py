"""Error responses: one JSON shape, field-level 422s, and no 500 for a client's mistake.

Owns the exception handlers. Validation errors name the field (`slot.start_time`,
`Idempotency-Key`, `body` for malformed JSON) and never echo the input (it may hold personal
data). A database that cannot be reached is a 503 with Retry-After, not a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.booking.answers import BookingError

log = logging.getLogger("service.api")

_HEADER_NAMES = {"idempotency_key": "Idempotency-Key", "authorization": "Authorization"}


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
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            {"error": code, "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc)
        return JSONResponse(
            {"error": "internal", "message": "an unexpected error; the request id is in the log"},
            status_code=500,
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _database(_request: Request, exc: Exception) -> JSONResponse:
        orig = getattr(exc, "orig", None)
        # The driver's own error class and SQLSTATE say what happened (lock timeout, too many
        # connections, ...) without row values, which hide_parameters keeps out of messages.
        log.error(
            "database error",
            extra={
                "error": type(exc).__name__,
                "driver_error": type(orig).__name__ if orig is not None else None,
                "sqlstate": getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None),
            },
        )
        return JSONResponse(
            {"error": "database_unavailable", "message": "the database did not answer; retry"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
