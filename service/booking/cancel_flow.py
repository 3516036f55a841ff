"""The cancel flow: cancel in one transaction, delete the provider event through the outbox.

Owns cancellation: the appointment becomes (cancelled, PENDING) and frees its slot at once (the
overlap rule only counts booked rows); pending create or reschedule work is superseded; a delete
of the provider event is queued and the relay's success makes it (cancelled, CONFIRMED). A
cancelled appointment cancels again as a no-op; a failed one cannot be cancelled (409).
Idempotent with `Idempotency-Key` like create. Written against ports (`service.ports`).
"""

from __future__ import annotations

import logging

from service.booking import keys, settle
from service.booking.answers import Answer, BookingError, appointment_answer, not_found
from service.booking.commands import CancelCommand
from service.booking.model import Appointment
from service.booking.reschedule_steps import compensate
from service.json_logging import bound_appointment
from service.ports.context import Ports
from service.ports.store import CREATE_EVENT, RESCHEDULE_EVENT, KeyTaken, Transaction
from service.resilience.idempotency import Decision
from service.resilience.lifecycle import AppointmentStatus, LifecycleEvent, can

log = logging.getLogger("service.booking.cancel")

_TRIES = 3


class CancelFlow:
    def __init__(self, ports: Ports) -> None:
        self.rt = ports

    async def run(self, command: CancelCommand, key: str | None) -> Answer:
        rt = self.rt
        tenant_id, appointment_id = command.tenant_id, command.appointment_id
        key = key if rt.protections.idempotency_store else None
        fingerprint = keys.request_fingerprint("cancel", appointment_id, command.fingerprint_body())
        with bound_appointment(appointment_id):
            for _ in range(_TRIES):
                try:
                    async with rt.store.write() as tx:
                        now = rt.clock.now()
                        if key is not None:
                            claim = await keys.claim(
                                tx,
                                tenant_id=tenant_id,
                                key=key,
                                body_fingerprint=fingerprint,
                                now=now,
                                policy=rt.policies.idempotency,
                                appointment_id=appointment_id,
                            )
                            if claim.decision not in (Decision.PROCEED, Decision.RECOVER):
                                return keys.repeat_answer(claim)
                        current = await tx.get_appointment(
                            tenant_id, appointment_id, for_update=True
                        )
                        if current is None:
                            raise not_found(appointment_id)
                        answer = await self._cancel(tx, current, now)
                        await keys.complete(tx, tenant_id, key, answer)
                    rt.relay_wakeup.set()
                    return answer
                except KeyTaken:
                    continue
        raise BookingError(503, "busy", "the key is contended; retry the request")

    async def _cancel(self, tx: Transaction, current: Appointment, now: float) -> Answer:
        rt = self.rt
        provider_key = rt.protections.provider_key
        if current.status is AppointmentStatus.CANCELLED:
            return appointment_answer(current, 200)
        if not can(current.state, LifecycleEvent.CANCEL_REQUESTED):
            raise BookingError(
                409,
                "not_cancellable",
                f"the appointment is {current.status.value}/{current.external_state.value}; "
                "only booked appointments can be cancelled",
            )
        updated = await tx.save_appointment(
            current, current.advance(LifecycleEvent.CANCEL_REQUESTED, updated_at=now)
        )
        moot = await tx.supersede(current.id, (CREATE_EVENT, RESCHEDULE_EVENT), now)
        for row in moot:
            if row.event_type == RESCHEDULE_EVENT:
                await compensate(tx, updated, row, True, now, rt, reason="cancelled")
        event_id = current.provider_event_id
        if event_id is not None:
            await settle.enqueue_delete(
                tx, updated, event_id, now, reason="cancel", provider_key=provider_key
            )
        else:
            # No event id was ever asked for or confirmed (legacy): nothing known to delete.
            updated = await settle.released(tx, updated, now)
        log.info("appointment cancelled", extra={"superseded_rows": len(moot)})
        return appointment_answer(updated, 200)
