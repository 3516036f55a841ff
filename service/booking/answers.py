"""What a booking flow answers: an HTTP status with a JSON body, or a `BookingError`.

Owns the shapes only; the API layer turns them into responses. Kept free of FastAPI so the flows
can be driven directly (tests, the relay, the twin). An answer about an appointment keeps the
appointment and renders its public JSON only when someone reads `body` — the twin never does,
and the service does it once, when it responds or stores the answer for replays.
"""

from __future__ import annotations

from typing import Any

from service.booking.model import Appointment


class Answer:
    """`status` and a JSON `body` — given, or rendered from `appointment` on first read."""

    __slots__ = ("status", "appointment", "replayed", "headers", "_body")

    def __init__(
        self,
        status: int,
        body: dict[str, Any] | None = None,
        replayed: bool = False,
        headers: dict[str, str] | None = None,
        *,
        appointment: Appointment | None = None,
    ) -> None:
        self.status = status
        self.appointment = appointment
        self.replayed = replayed
        self.headers = headers if headers is not None else {}
        self._body = body

    @property
    def body(self) -> dict[str, Any]:
        if self._body is None:
            if self.appointment is None:
                return {}
            # Imported here: pydantic's models are the API's concern, needed only to render.
            from service.schemas import AppointmentPublic

            self._body = AppointmentPublic.of(self.appointment).model_dump(mode="json")
        return self._body

    @property
    def appointment_id(self) -> str | None:
        if self.appointment is not None:
            return self.appointment.id
        value = self.body.get("id")
        return str(value) if value is not None else None

    @property
    def external_state(self) -> str | None:
        """The appointment's external state as the body shows it (PENDING, CONFIRMED, FAILED)."""
        if self.appointment is not None:
            return self.appointment.external_state.value
        value = self.body.get("external_state")
        return str(value) if value is not None else None

    def replay(self) -> Answer:
        """This answer as a repeat of its key gets it (`Idempotent-Replayed: true`)."""
        return Answer(
            self.status, self._body, True, dict(self.headers), appointment=self.appointment
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Answer):
            return NotImplemented
        return (self.status, self.body, self.replayed, self.headers) == (
            other.status,
            other.body,
            other.replayed,
            other.headers,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.appointment_id!r}, replayed={self.replayed})"


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
    """`status` with the appointment's public JSON as the body (rendered when read)."""
    return Answer(status, appointment=appointment)
