"""The API's JSON shapes (pydantic), named by role: `AppointmentCreate`, `AppointmentPublic`, ...

Owns field rules (DESIGN §3): customer_id a UUID; resource_id 1-255 printable characters; slot
times ISO 8601 strings in UTC with start < end and at most 4 h; service_type consultation|pickup;
title <= 256; owner.name and owner.email; location <= 255; metadata a JSON object <= 8 KB. Unknown
fields are refused, so a typo is a 422 naming it rather than a silently dropped value. Knows
nothing of the database; `AppointmentPublic.of` renders the booking model.
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


def _metadata_size(value: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as JSON (got {size})")
    return value


UtcTime = Annotated[dt.datetime, BeforeValidator(_iso_string), AfterValidator(_utc)]
Printable = Annotated[str, Field(min_length=1, max_length=255, pattern=_PRINTABLE.pattern)]


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
    name: Annotated[str, Field(min_length=1, max_length=255)]
    email: Annotated[str, Field(max_length=320), AfterValidator(_email)]


class AppointmentCreate(Strict):
    customer_id: uuid.UUID
    resource_id: Printable
    slot: Slot
    service_type: Literal["consultation", "pickup"]
    title: Annotated[str, Field(max_length=256)] | None = None
    owner: Owner | None = None
    location: Annotated[str, Field(max_length=255)] | None = None
    metadata: Annotated[dict[str, Any], AfterValidator(_metadata_size)] | None = None
    idempotency_key: str | None = None  # DESIGN §3: also accepted in the body

    def fingerprint_body(self) -> dict[str, Any]:
        """The body that identifies the request for idempotency: normalized, key excluded."""
        return self.model_dump(mode="json", exclude={"idempotency_key"})


class RescheduleRequest(Strict):
    slot: Slot
    idempotency_key: str | None = None


class CancelRequest(Strict):
    reason: Annotated[str, Field(max_length=255)] | None = None
    idempotency_key: str | None = None


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
