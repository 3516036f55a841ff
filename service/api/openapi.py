"""The OpenAPI description: every status each route answers, with its body and headers.

Owns what `/openapi.json` says, so that a client generated from it, or a fuzzer, is told the truth:
the answer sets the routes declare (`CREATE_ANSWERS`, ...), and `install_openapi`, which adjusts
FastAPI's generated document to the running settings: `Idempotency-Key` is a required header when
the settings require a key (the default), the API key is a bearer security scheme (and 401 is
documented) only when keys are configured, and FastAPI's own 422 shape (`{"detail": [{"loc",
"msg", "type"}]}`), which this service never sends, is replaced by the one it does send
(`ValidationErrorBody`). Must not decide any answer: the routes, flows and error handlers do; a
status listed here that no code path can produce, or a code path whose status is missing here,
is a defect (the schemathesis test in tests/service/test_openapi_contract.py finds the second).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.api.body_timeout import BODY_READ_TIMEOUT_S
from service.schemas import (
    IDEMPOTENCY_KEY_SCHEMA,
    AppointmentPublic,
    CrashArmed,
    CrashRefusal,
    ErrorBody,
    Readiness,
    ValidationErrorBody,
)
from service.settings import Settings

Answers = dict[int | str, dict[str, Any]]

_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "schema": {"type": "string"},
    }
}
_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored first answer to the same key and body",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"model": ErrorBody, "description": description}
    if headers:
        answer["headers"] = headers
    return answer


BAD_BODY = _error(
    "the body could not be read (for example JSON nested too deeply for the parser): `bad_request`"
)
UNAUTHORIZED = _error(
    "no valid API key in `Authorization: Bearer <key>` (only when keys are configured): "
    "`unauthorized`",
    {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
)
NOT_FOUND = _error(
    "no such appointment for this API key (also for an id no appointment can have: longer "
    "than 36 characters or holding NUL): `not_found`"
)
BODY_TIMEOUT = _error(
    f"the body did not arrive within {BODY_READ_TIMEOUT_S:g} s (`request_timeout`); the "
    "connection is closed"
)
INVALID = {
    "model": ValidationErrorBody,
    "description": "invalid input: `detail` names each field and what is wrong with it; the "
    "input itself is never echoed",
}
UNAVAILABLE = _error(
    "the database cannot be reached or is busy (`database_unavailable`, `busy`): retry after "
    "`Retry-After`, the request can succeed then",
    _RETRY_AFTER,
)


def _conflict(codes: str) -> dict[str, Any]:
    return _error(
        f"{codes}; `request_in_flight` (with `Retry-After`) while the first request "
        "with this Idempotency-Key is still running",
        _RETRY_AFTER,
    )


CREATE_ANSWERS: Answers = {
    201: {"description": "CONFIRMED: the provider confirmed in time", "headers": _REPLAYED},
    202: {
        "model": AppointmentPublic,
        "description": "PENDING (deadline passed, breaker open, ambiguous: the relay finishes "
        "it) or FAILED (the provider refused for good; compensated)",
        "headers": _REPLAYED,
    },
    400: BAD_BODY,
    401: UNAUTHORIZED,
    408: BODY_TIMEOUT,
    409: _conflict("`slot_taken`: the slot overlaps a booked one of this resource"),
    422: INVALID,
    503: UNAVAILABLE,
}
LIST_ANSWERS: Answers = {401: UNAUTHORIZED, 422: INVALID, 503: UNAVAILABLE}
GET_ANSWERS: Answers = {401: UNAUTHORIZED, 404: NOT_FOUND, 503: UNAVAILABLE}
CANCEL_ANSWERS: Answers = {
    200: {
        "description": "cancelled (also when it already was); the relay deletes the provider event",
        "headers": _REPLAYED,
    },
    400: BAD_BODY,
    401: UNAUTHORIZED,
    404: NOT_FOUND,
    408: BODY_TIMEOUT,
    409: _conflict("`not_cancellable`: the appointment FAILED"),
    422: INVALID,
    503: UNAVAILABLE,
}
RESCHEDULE_ANSWERS: Answers = {
    200: {"description": "moved and CONFIRMED (or already in that slot)", "headers": _REPLAYED},
    202: {
        "model": AppointmentPublic,
        "description": "the saga is still running; the relay finishes it",
        "headers": _REPLAYED,
    },
    400: BAD_BODY,
    401: UNAUTHORIZED,
    404: NOT_FOUND,
    408: BODY_TIMEOUT,
    409: _conflict(
        "`slot_taken`, `not_reschedulable` (not booked), `not_confirmed_yet` (with "
        "`Retry-After`), `provider_refused` (compensated: the old slot is kept)"
    ),
    422: INVALID,
    503: UNAVAILABLE,
}
READY_ANSWERS: Answers = {
    503: {"model": Readiness, "description": "the database does not answer"},
}
METRICS_ANSWERS: Answers = {
    200: {
        "description": "Prometheus text exposition format",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
    # Spelled out: with a `model`, FastAPI would file the error body under the route's text/plain.
    503: {
        "description": UNAVAILABLE["description"],
        "headers": _RETRY_AFTER,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    },
}
CRASH_ANSWERS: Answers = {
    200: {"model": CrashArmed, "description": "armed: the process exits with 137 there"},
    400: BAD_BODY,
    401: UNAUTHORIZED,
    403: {"model": CrashRefusal, "description": "crash arming is off (the default)"},
    408: BODY_TIMEOUT,
    422: {"model": CrashRefusal, "description": "no such crash point, or a bad `nth` or body"},
}
ADMIN_ANSWERS: Answers = {401: UNAUTHORIZED, 503: UNAVAILABLE}


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Serve `/openapi.json` as the routes declare it, adjusted to `settings` (built once)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            generated = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = adjust_to_settings(generated, settings)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def adjust_to_settings(document: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The generated document with the key header, the security scheme and the 422 shape as this
    service, with these settings, really has them."""
    key_required = settings.require_idempotency_key and settings.protections.idempotency_store
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            parameters = operation.get("parameters", [])
            authenticated = any(_is_header(p, "authorization") for p in parameters)
            kept = []
            for parameter in parameters:
                if _is_header(parameter, "authorization"):
                    continue  # described by the security scheme instead
                if _is_header(parameter, "idempotency-key"):
                    parameter = {
                        **parameter,
                        "required": key_required,
                        "schema": IDEMPOTENCY_KEY_SCHEMA,
                        "description": "the request's idempotency key (or `idempotency_key` in "
                        "the body)"
                        + (
                            "; required: without one a retry could book twice"
                            if key_required
                            else ""
                        ),
                    }
                kept.append(parameter)
            if kept:
                operation["parameters"] = kept
            else:
                operation.pop("parameters", None)
            responses = operation.get("responses", {})
            for status in [s for s, r in responses.items() if _is_fastapi_422(r)]:
                del responses[status]
            if authenticated and settings.api_keys:
                operation["security"] = [{"bearer": []}]
            elif not settings.api_keys:
                responses.pop("401", None)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    if settings.api_keys:
        document["components"]["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "an API key from REHEARSAL_API_KEYS; it selects the tenant",
            }
        }
    return document


def _is_header(parameter: dict[str, Any], name: str) -> bool:
    return bool(parameter.get("in") == "header" and parameter.get("name", "").lower() == name)


def _is_fastapi_422(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(str(schema.get("$ref", "")).endswith("/HTTPValidationError"))
