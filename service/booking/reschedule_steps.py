"""The reschedule saga's later steps, shared by the request path, the relay and cancel.

`switch` (steps create_new_event + switch: the new provider event exists, move the appointment
onto it and queue the release of the old event) and `compensate` (undo: drop the hold, keep the
old slot and event, delete a new event that may exist). Both run inside the caller's write
transaction and append to the saga's steps. The saga's theory of operation is in
`service.booking.reschedule_saga`. Written against the store port.
"""

from __future__ import annotations

import datetime as dt
import logging

from service.booking import settle
from service.booking.model import Appointment
from service.ports.context import Ports
from service.ports.store import OutboxRow, Transaction
from service.resilience.lifecycle import AppointmentStatus, ExternalState, LifecycleEvent, can

log = logging.getLogger("service.booking.reschedule")


async def switch(
    tx: Transaction,
    current: Appointment,
    row: OutboxRow,
    event_id: str,
    now: float,
    rt: Ports,
) -> Appointment:
    """Steps create_new_event + switch: the new event exists; move the appointment onto it."""
    payload = row.payload
    saga_id = payload["saga_id"]
    provider_key = rt.protections.provider_key
    await tx.delete_hold(payload["hold_id"])
    if current.status is not AppointmentStatus.BOOKED or not can(
        current.state, LifecycleEvent.CALENDAR_CONFIRMED
    ):
        await settle.enqueue_delete(
            tx,
            current,
            event_id,
            now,
            reason="reschedule_abandoned",
            provider_key=provider_key,
            saga_id=saga_id,
        )
        return current
    updated = await tx.save_appointment(
        current,
        current.advance(
            LifecycleEvent.CALENDAR_CONFIRMED,
            start_time=dt.datetime.fromisoformat(payload["new_start"]),
            end_time=dt.datetime.fromisoformat(payload["new_end"]),
            external_id=event_id,
            event_id=event_id,
            updated_at=now,
        ),
    )
    for step in ("create_new_event", "switch"):
        await tx.record_saga_step(
            tenant_id=current.tenant_id,
            saga_id=saga_id,
            appointment_id=current.id,
            step=step,
            state="done",
            now=now,
            detail={"event_id": event_id},
        )
    if payload.get("old_event_id"):
        await settle.enqueue_delete(
            tx,
            updated,
            payload["old_event_id"],
            now,
            reason="reschedule_release",
            provider_key=provider_key,
            saga_id=saga_id,
        )
    return updated


async def compensate(
    tx: Transaction,
    current: Appointment,
    row: OutboxRow,
    new_event_may_exist: bool,
    now: float,
    rt: Ports,
    reason: str = "dead_letter",
) -> Appointment:
    """Undo the saga: free the new slot, keep the old one and its event, delete the new event
    if it may exist."""
    payload = row.payload
    await tx.delete_hold(payload["hold_id"])
    restored = current
    if (
        current.state == (AppointmentStatus.BOOKED, ExternalState.PENDING)
        and current.external_id is not None
    ):
        restored = await tx.save_appointment(
            current, current.advance(LifecycleEvent.CALENDAR_CONFIRMED, updated_at=now)
        )
    if new_event_may_exist:
        await settle.enqueue_delete(
            tx,
            current,
            payload["spec"]["event_id"] or payload["saga_id"],
            now,
            reason="reschedule_compensation",
            provider_key=rt.protections.provider_key,
            saga_id=payload["saga_id"],
        )
    await tx.record_saga_step(
        tenant_id=current.tenant_id,
        saga_id=payload["saga_id"],
        appointment_id=current.id,
        step="compensate",
        state="done",
        now=now,
        detail={"reason": reason},
    )
    log.warning("reschedule compensated", extra={"saga_id": payload["saga_id"], "reason": reason})
    return restored
