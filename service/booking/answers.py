"""What a booking flow answers: an HTTP status with a JSON body, or a `BookingError`.

Owns the shapes only; the API layer turns them into responses. Kept free of FastAPI so the flows
can be driven directly (tests, the relay).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.booking.model import Appointment
from service.schemas import AppointmentPublic


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool = False
    headers: dict[str, str] = field(default_factory=dict)


class BookingError(Exception):
    """A refusal with an HTTP status, a stable code and a message saying what to do next."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field_name: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field_name = field_name
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field_name is not None:
            body["detail"] = [{"field": self.field_name, "message": self.message}]
        return body


def not_found(appointment_id: str) -> BookingError:
    return BookingError(404, "not_found", f"no appointment {appointment_id} for this API key")


def slot_taken() -> BookingError:
    return BookingError(
        409,
        "slot_taken",
        "the slot overlaps a booked appointment of this resource; choose another slot",
    )


def appointment_answer(appointment: Appointment, status: int) -> Answer:
    """`status` with the appointment's public JSON as the body."""
    return Answer(status, AppointmentPublic.of(appointment).model_dump(mode="json"))
