"""What a calendar result does to an appointment, inside a committed transaction of the twin.

Mirrors `service/booking/settle.py`, `service/booking/events.py` and the switch / compensate steps
of `service/booking/reschedule_saga.py`, so the request path and the relay agree on what a
confirmation, a dead letter or a cancellation means. Owns the provider requests an appointment
implies: the create (event id and key = the appointment id, or the saga id; neither when the
legacy switch `provider_key` is off, when the provider keys the call by a body fingerprint) and
the delete (key `delete-<event id>`). Pure: applies to `sim.state.ServiceState` at `now`.
"""

from __future__ import annotations

import json

from fakes.calendar.fault_rules import Operation
from fakes.calendar.request_keys import key_for_create, key_for_request
from fakes.calendar.store import EventDraft
from service.resilience.lifecycle import AppointmentStatus, ExternalState, LifecycleEvent, can
from service.resilience.outbox import Compensation
from sim.fast_paths import record_maker, written_as_iso_utc
from sim.provider import ProviderRequest
from sim.state import DELETE_EVENT, Appointment, OutboxRow, ServiceState

BOOKED = AppointmentStatus.BOOKED
CONFIRMED = ExternalState.CONFIRMED
PENDING = ExternalState.PENDING
_new_draft = record_maker(EventDraft)


def create_request(
    appointment: Appointment, provider_key: bool, event_id: str | None = None
) -> ProviderRequest:
    """The create call for this appointment's slot (`event_id` overrides the identity)."""
    identity = (event_id or appointment.event_id or appointment.id) if provider_key else None
    # EventDraft(calendar_id, start, end, summary, client_id)
    draft = _new_draft(
        appointment.resource_id,
        appointment.start_dt,
        appointment.end_dt,
        appointment.summary,
        identity,
    )
    if identity is not None:
        key = identity
    else:  # no header, no id: the provider names the call by a fingerprint of the body
        body = {
            "calendar_id": appointment.resource_id,
            "start": appointment.start,
            "end": appointment.end,
            "summary": appointment.summary,
        }
        key = key_for_create(None, json.dumps(body).encode()).key
    # The body carries the slot as text; the provider's events list writes it back the same.
    times = (
        (appointment.start, appointment.end)
        if written_as_iso_utc(appointment.start) and written_as_iso_utc(appointment.end)
        else None
    )
    return ProviderRequest(
        Operation.CREATE, "POST", "/v1/events", key, identity, draft=draft, times=times
    )


def delete_request(event_id: str, key: str | None) -> ProviderRequest:
    path = f"/v1/events/{event_id}"
    call_key = key if key is not None else key_for_request(None, "DELETE", path, ()).key
    return ProviderRequest(Operation.DELETE, "DELETE", path, call_key, key, event_id=event_id)


def confirm(
    state: ServiceState, appointment: Appointment, event_id: str, now: float, provider_key: bool
) -> None:
    """The provider holds `event_id` for it: CONFIRMED if booked, else delete the event."""
    booked = appointment.status is BOOKED
    if booked and appointment.external is CONFIRMED and appointment.external_id == event_id:
        return  # already recorded (the request path and the relay both saw it)
    if booked and can(appointment.state, LifecycleEvent.CALENDAR_CONFIRMED):
        state.advance(appointment, LifecycleEvent.CALENDAR_CONFIRMED, external_id=event_id)
        return
    enqueue_delete(state, appointment, event_id, now, "late_confirm", provider_key)


def compensate(
    state: ServiceState,
    appointment: Appointment,
    steps: tuple[Compensation, ...],
    now: float,
    event_id: str | None,
    provider_key: bool,
) -> None:
    """Undo a dead-lettered booking: FAILED (which frees the slot), and delete `event_id`, which
    an ambiguous attempt may have created."""
    if Compensation.MARK_FAILED in steps and can(appointment.state, LifecycleEvent.CALENDAR_FAILED):
        state.advance(appointment, LifecycleEvent.CALENDAR_FAILED)
    if Compensation.DELETE_PROVIDER_EVENT in steps and event_id is not None:
        enqueue_delete(state, appointment, event_id, now, "compensation", provider_key)


def released(state: ServiceState, appointment: Appointment) -> None:
    """A provider delete succeeded: a cancelled appointment is fully released."""
    if can(appointment.state, LifecycleEvent.CALENDAR_RELEASED):
        state.advance(appointment, LifecycleEvent.CALENDAR_RELEASED, external_id=None)


def enqueue_delete(
    state: ServiceState,
    appointment: Appointment,
    event_id: str,
    now: float,
    reason: str,
    provider_key: bool,
    saga_id: str | None = None,
) -> OutboxRow:
    key = f"delete-{event_id}" if provider_key else None
    payload = {"request": delete_request(event_id, key), "reason": reason, "saga_id": saga_id}
    return state.enqueue(appointment.id, DELETE_EVENT, payload, due_at=now)


def switch(
    state: ServiceState,
    appointment: Appointment,
    row: OutboxRow,
    event_id: str,
    now: float,
    provider_key: bool,
) -> None:
    """The reschedule's new event exists: move the appointment onto it, delete the old one."""
    payload = row.payload
    state.drop_hold(payload["hold_id"])
    if appointment.status is not BOOKED or not can(
        appointment.state, LifecycleEvent.CALENDAR_CONFIRMED
    ):
        enqueue_delete(
            state,
            appointment,
            event_id,
            now,
            "reschedule_abandoned",
            provider_key,
            payload["saga_id"],
        )
        return
    state.advance(
        appointment, LifecycleEvent.CALENDAR_CONFIRMED, external_id=event_id, event_id=event_id
    )
    state.move(appointment, payload["new_start"], payload["new_end"])
    if payload["old_event_id"]:
        enqueue_delete(
            state,
            appointment,
            payload["old_event_id"],
            now,
            "reschedule_release",
            provider_key,
            payload["saga_id"],
        )


def compensate_reschedule(
    state: ServiceState,
    appointment: Appointment,
    row: OutboxRow,
    new_event_may_exist: bool,
    now: float,
    provider_key: bool,
) -> None:
    """Undo a reschedule: free the new slot, keep the old slot and event, delete a new event that
    may exist."""
    payload = row.payload
    state.drop_hold(payload["hold_id"])
    if appointment.state == (BOOKED, PENDING) and appointment.external_id is not None:
        state.advance(appointment, LifecycleEvent.CALENDAR_CONFIRMED)
    if new_event_may_exist:
        target = payload["event_id"] or payload["saga_id"]
        enqueue_delete(
            state,
            appointment,
            target,
            now,
            "reschedule_compensation",
            provider_key,
            payload["saga_id"],
        )
