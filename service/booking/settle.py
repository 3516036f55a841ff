"""What a calendar result does to an appointment, inside the caller's write transaction.

Shared by the request path and the relay, so a confirmation or a dead letter means the same thing
whoever observed it. Owns confirmation (including a late one for an appointment cancelled
meanwhile), compensation after a dead letter (`service.resilience.outbox.Compensation`), and
queueing provider deletes. Lifecycle changes go through `Appointment.advance` only. Written
against the store port (`service.ports.store.Transaction`): the service and the twin run it alike.
"""

from __future__ import annotations

import logging

from service.booking.model import Appointment
from service.ports.store import DELETE_EVENT, Transaction
from service.resilience.lifecycle import AppointmentStatus, ExternalState, LifecycleEvent, can
from service.resilience.outbox import Compensation

log = logging.getLogger("service.booking")

_BOOKED_CONFIRMED = (AppointmentStatus.BOOKED, ExternalState.CONFIRMED)


async def confirm(
    tx: Transaction,
    appointment: Appointment,
    event_id: str,
    now: float,
    *,
    provider_key: bool,
) -> Appointment:
    """The provider holds `event_id` for this appointment. A booked one becomes CONFIRMED; for one
    no longer booked (cancelled or failed meanwhile) the event is an orphan-to-be: delete it."""
    booked = appointment.status is AppointmentStatus.BOOKED
    if booked and appointment.state == _BOOKED_CONFIRMED:
        if appointment.external_id == event_id:
            return appointment  # already recorded (the request path and the relay both saw it)
    if booked and can(appointment.state, LifecycleEvent.CALENDAR_CONFIRMED):
        updated = appointment.advance(
            LifecycleEvent.CALENDAR_CONFIRMED,
            external_id=event_id,
            updated_at=now,
        )
        return await tx.save_appointment(appointment, updated)
    log.info("provider event landed for an appointment no longer booked; deleting it")
    await enqueue_delete(
        tx, appointment, event_id, now, reason="late_confirm", provider_key=provider_key
    )
    return appointment


async def compensate(
    tx: Transaction,
    appointment: Appointment,
    steps: tuple[Compensation, ...],
    now: float,
    *,
    event_id: str | None,
    provider_key: bool,
) -> Appointment:
    """Undo a booking whose calendar write was dead-lettered: mark it FAILED (which also frees its
    slot: the overlap rule only counts booked rows) and delete `event_id`, the event the failed
    write asked for, which may exist after an ambiguous attempt."""
    updated = appointment
    if Compensation.MARK_FAILED in steps and can(appointment.state, LifecycleEvent.CALENDAR_FAILED):
        updated = await tx.save_appointment(
            appointment,
            appointment.advance(LifecycleEvent.CALENDAR_FAILED, updated_at=now),
        )
    if Compensation.DELETE_PROVIDER_EVENT in steps and event_id is not None:
        await enqueue_delete(
            tx, appointment, event_id, now, reason="compensation", provider_key=provider_key
        )
    log.warning(
        "booking compensated after dead letter",
        extra={"compensation": [s.value for s in steps], "state": updated.status.value},
    )
    return updated


async def released(tx: Transaction, appointment: Appointment, now: float) -> Appointment:
    """A provider delete succeeded: a cancelled appointment is now fully released (and no longer
    names a provider event)."""
    if can(appointment.state, LifecycleEvent.CALENDAR_RELEASED):
        return await tx.save_appointment(
            appointment,
            appointment.advance(LifecycleEvent.CALENDAR_RELEASED, external_id=None, updated_at=now),
        )
    return appointment


async def enqueue_delete(
    tx: Transaction,
    appointment: Appointment,
    event_id: str,
    now: float,
    *,
    reason: str,
    provider_key: bool,
    saga_id: str | None = None,
) -> None:
    await tx.enqueue(
        tenant_id=appointment.tenant_id,
        appointment_id=appointment.id,
        event_type=DELETE_EVENT,
        payload={
            "event_id": event_id,
            "key": f"delete-{event_id}" if provider_key else None,
            "reason": reason,
            "saga_id": saga_id,
        },
        due_at=now,
        now=now,
    )
