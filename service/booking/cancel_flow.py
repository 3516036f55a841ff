"""The cancel flow: cancel in one transaction, delete the provider event through the outbox.

Owns cancellation: the appointment becomes (cancelled, PENDING) and frees its slot at once (the
overlap rule only counts booked rows); pending create or reschedule work is superseded; a delete
of the provider event is queued and the relay's success makes it (cancelled, CONFIRMED). A
cancelled appointment cancels again as a no-op; a failed one cannot be cancelled (409).
Idempotent with `Idempotency-Key` like create.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from service.booking import keys, settle
from service.booking.answers import Answer, BookingError, appointment_answer, not_found
from service.booking.model import Appointment
from service.booking.reschedule_steps import compensate
from service.db import appointment_store, outbox_store
from service.db.idempotency_store import KeyTaken
from service.json_logging import bound_appointment
from service.resilience.idempotency import Decision
from service.resilience.lifecycle import AppointmentStatus, LifecycleEvent, can
from service.runtime import Runtime
from service.schemas import CancelRequest

log = logging.getLogger("service.booking.cancel")


class CancelFlow:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def run(
        self, tenant_id: str, appointment_id: str, request: CancelRequest, key: str | None
    ) -> Answer:
        rt = self.rt
        key = key if rt.protections.idempotency_store else None
        body = request.model_dump(mode="json", exclude={"idempotency_key"})
        fingerprint = keys.request_fingerprint("cancel", appointment_id, body)
        with bound_appointment(appointment_id):
            for _ in range(3):
                try:
                    async with rt.db.write() as conn:
                        now = rt.clock.now()
                        if key is not None:
                            claim = await keys.claim(
                                conn,
                                tenant_id=tenant_id,
                                key=key,
                                body_fingerprint=fingerprint,
                                now=now,
                                policy=rt.policies.idempotency,
                                appointment_id=appointment_id,
                            )
                            if claim.decision not in (Decision.PROCEED, Decision.RECOVER):
                                return keys.repeat_answer(claim)
                        current = await appointment_store.get(
                            conn, tenant_id, appointment_id, for_update=True
                        )
                        if current is None:
                            raise not_found(appointment_id)
                        answer = await self._cancel(conn, current, now)
                        await keys.complete(conn, tenant_id, key, answer)
                    rt.relay_wakeup.set()
                    return answer
                except KeyTaken:
                    continue
        raise BookingError(503, "busy", "the key is contended; retry the request")

    async def _cancel(self, conn: AsyncConnection, current: Appointment, now: float) -> Answer:
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
        updated = await appointment_store.save(
            conn, current, current.advance(LifecycleEvent.CANCEL_REQUESTED, updated_at=now)
        )
        moot = await outbox_store.supersede(
            conn, current.id, (outbox_store.CREATE_EVENT, outbox_store.RESCHEDULE_EVENT), now
        )
        for row in moot:
            if row.event_type == outbox_store.RESCHEDULE_EVENT:
                await compensate(conn, updated, row, True, now, rt, reason="cancelled")
        event_id = current.provider_event_id
        if event_id is not None:
            await settle.enqueue_delete(
                conn, updated, event_id, now, reason="cancel", provider_key=provider_key
            )
        else:
            # No event id was ever asked for or confirmed (legacy): nothing known to delete.
            updated = await settle.released(conn, updated, now)
        log.info("appointment cancelled", extra={"superseded_rows": len(moot)})
        return appointment_answer(updated, 200)
