"""The API's JSON shapes (pydantic), named by role: `AppointmentCreate`, `AppointmentPublic`, ...

Owns field rules (DESIGN §3): customer_id a UUID; resource_id 1-255 printable characters; slot
times ISO 8601 strings in UTC with start < end and at most 4 h; service_type consultation|pickup;
title <= 256; owner.name and owner.email; location <= 255; metadata a JSON object <= 8 KB, nested
at most 32 levels. No string the service stores may hold NUL (U+0000): PostgreSQL refuses it in
text while SQLite keeps it, so here it is a 422 naming the field, the same on both. Unknown fields
are refused, so a typo is a 422 naming it rather than a silently dropped value. Also the error
bodies (`ErrorBody`, `ValidationErrorBody`) that the OpenAPI description publishes. Knows nothing
of the database; `AppointmentPublic.of` renders the booking model.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from service.booking.model import Appointment, isoformat_utc, timestamp_iso

MAX_SLOT = dt.timedelta(hours=4)
MAX_METADATA_BYTES = 8 * 1024
# Deep enough for any real record, and far below where recursive code gives up: pydantic's
# serializer stops at ~255 levels ("Maximum serialization depth exceeded", which was a 500).
MAX_METADATA_DEPTH = 32
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]+$")


def _iso_string(value: Any) -> Any:
    # pydantic would take a number as a Unix timestamp; the contract says ISO 8601.
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string, e.g. 2030-01-07T08:00:00Z")
    return value


def _utc(value: dt.datetime) -> dt.datetime:
    if value.utcoffset() != dt.timedelta(0):
        raise ValueError("must be in UTC (suffix Z or +00:00)")
    return value.astimezone(dt.UTC)


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("must be an e-mail address like name@example.org")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


def _metadata_depth(value: Any) -> Any:
    """Refuse metadata nested deeper than MAX_METADATA_DEPTH before anything walks it recursively
    (this walk is iterative on purpose: recursion over hostile input is what failed)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    if deepest > MAX_METADATA_DEPTH:
        raise ValueError(
            f"must be nested at most {MAX_METADATA_DEPTH} levels deep (got {deepest}); flatten it"
        )
    return value


def _metadata_size(value: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as JSON (got {size})")
    return value


UtcTime = Annotated[dt.datetime, BeforeValidator(_iso_string), AfterValidator(_utc)]
Printable = Annotated[str, Field(min_length=1, max_length=255, pattern=_PRINTABLE.pattern)]
# The pattern documents the rule in the OpenAPI description; `_no_nul` enforces it with a message
# that says what is wrong (a failed pattern would only quote the regex).
_NO_NUL = {"pattern": r"^[^\u0000]*$"}
Title = Annotated[str, Field(max_length=256, json_schema_extra=_NO_NUL), AfterValidator(_no_nul)]
Location = Annotated[str, Field(max_length=255, json_schema_extra=_NO_NUL), AfterValidator(_no_nul)]
Reason = Location
OwnerName = Annotated[
    str, Field(min_length=1, max_length=255, json_schema_extra=_NO_NUL), AfterValidator(_no_nul)
]
Email = Annotated[
    str,
    Field(
        max_length=320,
        json_schema_extra={"pattern": r"^[^\s@\u0000]+@[^\s@\u0000]+\.[^\s@\u0000]+$"},
    ),
    AfterValidator(_no_nul),
    AfterValidator(_email),
]
Metadata = Annotated[
    dict[str, Any],
    BeforeValidator(_metadata_depth),
    AfterValidator(_metadata_size),
    Field(
        description=f"a JSON object of at most {MAX_METADATA_BYTES} bytes as JSON, nested at most "
        f"{MAX_METADATA_DEPTH} levels deep"
    ),
]
# What `service.resilience.idempotency.validate_key` accepts, for the description only: the body's
# key is checked there (422 naming Idempotency-Key), like the header's.
IDEMPOTENCY_KEY_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": "^[!-~]+$",
    "description": "any unique string of 1-255 printable ASCII characters without spaces, e.g. "
    "a UUID; the same key with the same body answers the first response again",
}
BodyIdempotencyKey = Annotated[
    str, Field(json_schema_extra={k: v for k, v in IDEMPOTENCY_KEY_SCHEMA.items() if k != "type"})
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Slot(Strict):
    start_time: UtcTime
    end_time: UtcTime

    @model_validator(mode="after")
    def _ordered_and_short(self) -> Slot:
        if self.start_time >= self.end_time:
            raise ValueError("slot.start_time must be before slot.end_time")
        if self.end_time - self.start_time > MAX_SLOT:
            raise ValueError("slot must be at most 4 hours long")
        return self


class Owner(Strict):
    name: OwnerName
    email: Email


class AppointmentCreate(Strict):
    customer_id: uuid.UUID
    resource_id: Printable
    slot: Slot
    service_type: Literal["consultation", "pickup"]
    title: Title | None = None
    owner: Owner | None = None
    location: Location | None = None
    metadata: Metadata | None = None
    idempotency_key: BodyIdempotencyKey | None = None  # DESIGN §3: also accepted in the body

    def fingerprint_body(self) -> dict[str, Any]:
        """The body that identifies the request for idempotency: normalized, key excluded."""
        return self.model_dump(mode="json", exclude={"idempotency_key"})


class RescheduleRequest(Strict):
    slot: Slot
    idempotency_key: BodyIdempotencyKey | None = None


class CancelRequest(Strict):
    reason: Reason | None = None
    idempotency_key: BodyIdempotencyKey | None = None


class SlotPublic(BaseModel):
    start_time: str
    end_time: str


class AppointmentPublic(BaseModel):
    id: str
    resource_id: str
    customer_id: str
    slot: SlotPublic
    service_type: str
    title: str | None
    location: str | None
    metadata: dict[str, Any] | None
    status: str
    external_state: str
    external_id: str | None
    version: int
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, appointment: Appointment) -> AppointmentPublic:
        """The public view (owner details stay out of responses: they are not needed back)."""
        return cls(
            id=appointment.id,
            resource_id=appointment.resource_id,
            customer_id=appointment.customer_id,
            slot=SlotPublic(
                start_time=isoformat_utc(appointment.start_time),
                end_time=isoformat_utc(appointment.end_time),
            ),
            service_type=appointment.service_type,
            title=appointment.title,
            location=appointment.location,
            metadata=appointment.metadata,
            status=appointment.status.value,
            external_state=appointment.external_state.value,
            external_id=appointment.external_id,
            version=appointment.version,
            created_at=timestamp_iso(appointment.created_at),
            updated_at=timestamp_iso(appointment.updated_at),
        )


class AppointmentPage(BaseModel):
    items: list[AppointmentPublic]
    next_after: str | None  # pass as `after` for the next page; null on the last one


class FieldProblem(BaseModel):
    field: str = Field(description="the field, e.g. slot.start_time, Idempotency-Key, body")
    message: str
    type: str | None = Field(default=None, description="the kind of problem (validation errors)")


class ErrorBody(BaseModel):
    """Every refusal: a stable code (`slot_taken`, `not_found`, `database_unavailable`, ...) and a
    message saying what to do next."""

    error: str
    message: str
    detail: list[FieldProblem] | None = None


class ValidationErrorBody(ErrorBody):
    """A 422: which fields are wrong and why (the input itself is never echoed)."""

    detail: list[FieldProblem]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    """`/readyz`: 200 with `status` ready, 503 with `status` unavailable and why."""

    status: Literal["ready", "unavailable"]
    database: str
    breaker: str
    profile: str


class CrashArmed(BaseModel):
    armed: str
    nth: int


class CrashRefusal(BaseModel):
    """The crash-arming route's refusals (403 off, 422 bad point or nth) carry `error` only."""

    error: str
