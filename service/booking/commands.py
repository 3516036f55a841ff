"""What a client asks a flow to do, once the API layer (or the twin's model of it) has parsed it.

Owns the commands (`CreateCommand`, `CancelCommand`, `RescheduleCommand`) and the body each is
fingerprinted by for idempotency — the same normalized JSON the API's pydantic models dump
(`tests/service/test_commands.py` holds the two equal), so a repeat matches whichever edge
parsed it. Plain data: no pydantic, no I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from service.booking.model import isoformat_utc


@dataclass(frozen=True)  # no slots: the twin's request front builds one per create directly
class CreateCommand:
    tenant_id: str
    resource_id: str
    customer_id: str  # a UUID's canonical text
    start_time: dt.datetime  # aware, UTC
    end_time: dt.datetime
    service_type: str
    title: str | None = None
    location: str | None = None
    owner_name: str | None = None
    owner_email: str | None = None
    metadata: dict[str, Any] | None = None

    def fingerprint_body(self) -> dict[str, Any]:
        """The body that identifies the request: `AppointmentCreate`'s JSON dump without its
        idempotency key."""
        owner = (
            {"name": self.owner_name, "email": self.owner_email}
            if self.owner_name is not None
            else None
        )
        return {
            "customer_id": self.customer_id,
            "resource_id": self.resource_id,
            "slot": {
                "start_time": isoformat_utc(self.start_time),
                "end_time": isoformat_utc(self.end_time),
            },
            "service_type": self.service_type,
            "title": self.title,
            "owner": owner,
            "location": self.location,
            "metadata": self.metadata,
        }


@dataclass(frozen=True, slots=True)
class CancelCommand:
    tenant_id: str
    appointment_id: str
    reason: str | None = None

    def fingerprint_body(self) -> dict[str, Any]:
        return {"reason": self.reason}


@dataclass(frozen=True, slots=True)
class RescheduleCommand:
    tenant_id: str
    appointment_id: str
    start_time: dt.datetime
    end_time: dt.datetime

    def fingerprint_body(self) -> dict[str, Any]:
        return {
            "slot": {
                "start_time": isoformat_utc(self.start_time),
                "end_time": isoformat_utc(self.end_time),
            }
        }
