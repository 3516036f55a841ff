"""The provider event an appointment should have: `EventSpec` built from the appointment.

Owns the mapping (calendar_id = resource_id, the slot, a summary without personal data) and the
identity that makes retries safe: event id and idempotency key are the appointment's id, unless
the legacy switch `provider_key` is off.
"""

from __future__ import annotations

from typing import Any

from service.booking.model import Appointment, isoformat_utc
from service.calendar.contract import EventSpec
from service.resilience.records import record_maker

_spec = record_maker(EventSpec)  # one or two per booking, in both drivers


def event_spec(
    appointment: Appointment, provider_key: bool, event_id: str | None = None
) -> EventSpec:
    """The event for this appointment's slot; `event_id` overrides the id (a reschedule's new
    event, a reconciler's re-create)."""
    identity = (event_id or appointment.event_id or appointment.id) if provider_key else None
    # EventSpec(calendar_id, start, end, summary, event_id, key); never the owner's name or
    # e-mail: the provider does not need them.
    return _spec(
        appointment.resource_id,
        isoformat_utc(appointment.start_time),
        isoformat_utc(appointment.end_time),
        appointment.title or appointment.service_type,
        identity,
        identity,
    )


def spec_payload(spec: EventSpec) -> dict[str, Any]:
    """The spec as an outbox payload (JSON-ready; what `dataclasses.asdict` gives, without its
    deep copy)."""
    return {
        "calendar_id": spec.calendar_id,
        "start": spec.start,
        "end": spec.end,
        "summary": spec.summary,
        "event_id": spec.event_id,
        "key": spec.key,
    }


def spec_from_payload(payload: dict[str, Any]) -> EventSpec:
    return _spec(
        payload["calendar_id"],
        payload["start"],
        payload["end"],
        payload["summary"],
        payload["event_id"],
        payload["key"],
    )
