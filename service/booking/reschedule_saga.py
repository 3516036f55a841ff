"""The reschedule saga: reserve the new slot, create its provider event, switch, release the old.

Theory of operation. Step `reserve_new_slot` (one write transaction) inserts a *hold* row for the
new slot, which the database's overlap rule guards like any booking, moves the appointment to
PENDING (RESCHEDULE_REQUESTED) and queues a `reschedule_event` outbox row; the old slot and the
old provider event stay untouched. Step `create_new_event` calls the provider (inline within the
request's deadline, else by the relay) with the saga id as event id and key. Step `switch` (one
transaction) drops the hold, moves the appointment to the new slot with the new event (CONFIRMED)
and queues the delete of the old event; `release_old` is that delete succeeding. If the provider
refuses for good or the outbox dead-letters, `compensate` drops the hold, returns the appointment
to CONFIRMED at its old slot, and deletes a new event that may exist. Every step is appended to
`saga_steps`. This module runs the request's part; `switch` and `compensate` live in
`service.booking.reschedule_steps`, shared with the relay and cancel. Written against ports
(`service.ports`): the service and the twin run it alike.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from service.booking import keys, settle
from service.booking.answers import (
    Answer,
    BookingError,
    appointment_answer,
    not_found,
    slot_taken,
)
from service.booking.commands import RescheduleCommand
from service.booking.events import event_spec, spec_from_payload, spec_payload
from service.booking.model import Appointment
from service.booking.reschedule_steps import compensate, switch
from service.json_logging import bound_appointment
from service.ports.context import Ports
from service.ports.store import KIND_HOLD, RESCHEDULE_EVENT, KeyTaken, SlotTaken
from service.resilience.deadline import Deadline
from service.resilience.idempotency import Decision
from service.resilience.lifecycle import AppointmentStatus, ExternalState, LifecycleEvent
from service.resilience.outbox import first_attempt_at
from service.resilience.records import record_maker
from service.resilience.retry_plan import PlanStatus

_deadline = record_maker(Deadline)  # Deadline(start, budget_s), one per request

log = logging.getLogger("service.booking.reschedule")


class RescheduleSaga:
    def __init__(self, ports: Ports) -> None:
        self.rt = ports

    async def run(self, command: RescheduleCommand, key: str | None, started_at: float) -> Answer:
        rt = self.rt
        on = rt.protections
        tenant_id, appointment_id = command.tenant_id, command.appointment_id
        key = key if on.idempotency_store else None
        deadline = _deadline(started_at, rt.settings.deadline_ms / 1000) if on.deadline else None
        fingerprint = keys.request_fingerprint(
            "reschedule", appointment_id, command.fingerprint_body()
        )
        with bound_appointment(appointment_id):
            for _ in range(3):
                try:
                    reserved = await self._reserve(command, key, fingerprint, deadline)
                    break
                except KeyTaken:
                    continue
            else:
                raise BookingError(503, "busy", "the key is contended; retry the request")
            if isinstance(reserved, Answer):
                return reserved
            row_id, payload = reserved
            spec = payload["spec"]
            result = await rt.gateway.create_event(spec_from_payload(spec), deadline)
            async with rt.store.write() as tx:
                now = rt.clock.now()
                current = await tx.get_appointment(tenant_id, appointment_id, for_update=True)
                assert current is not None
                row = await tx.get_row(row_id, for_update=True)
                answer = appointment_answer(current, 202)
                if row is not None and row.completed_at is None and not row.dead_lettered:
                    if result.ok:
                        event_id = (result.body or {}).get("id") or spec["event_id"]
                        current = await switch(tx, current, row, str(event_id), now, rt)
                        await tx.complete_row(row_id, now)
                        answer = appointment_answer(current, 200)
                    elif result.plan.status is PlanStatus.PERMANENT:
                        await tx.record_failure(
                            row_id,
                            attempts=1,
                            next_attempt_at=None,
                            error=result.error,
                            ambiguous=result.plan.ambiguous_seen,
                        )
                        await compensate(tx, current, row, result.plan.may_have_committed, now, rt)
                        answer = Answer(409, provider_refused().body())
                    else:
                        await tx.release_row(row_id, ambiguous=result.plan.ambiguous_seen)
                elif result.ok:
                    # Abandoned meanwhile (a cancel): the event that just landed must go too.
                    await settle.enqueue_delete(
                        tx,
                        current,
                        str((result.body or {}).get("id") or spec["event_id"]),
                        now,
                        reason="reschedule_abandoned",
                        provider_key=on.provider_key,
                        saga_id=payload["saga_id"],
                    )
                await keys.complete(tx, tenant_id, key, answer)
            if answer.status == 202:
                rt.relay_wakeup.set()
            return answer

    async def _reserve(
        self,
        command: RescheduleCommand,
        key: str | None,
        fingerprint: str,
        deadline: Deadline | None,
    ) -> Answer | tuple[int, dict[str, Any]]:
        """Step reserve_new_slot. An Answer for a repeated key or a no-op, else (row id, payload)."""
        rt = self.rt
        on = rt.protections
        tenant_id, appointment_id = command.tenant_id, command.appointment_id
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
                if claim.decision is Decision.RECOVER:
                    current = await tx.get_appointment(tenant_id, appointment_id)
                    if current is None:
                        raise not_found(appointment_id)
                    answer = appointment_answer(
                        current, 200 if current.external_state is ExternalState.CONFIRMED else 202
                    )
                    await keys.complete(tx, tenant_id, key, answer)
                    return answer
                if claim.decision is not Decision.PROCEED:
                    return keys.repeat_answer(claim)
            current = await tx.get_appointment(tenant_id, appointment_id, for_update=True)
            if current is None:
                raise not_found(appointment_id)
            start, end = command.start_time, command.end_time
            if current.status is not AppointmentStatus.BOOKED:
                raise BookingError(
                    409,
                    "not_reschedulable",
                    f"the appointment is {current.status.value}; only booked appointments can be rescheduled",
                )
            if (current.start_time, current.end_time) == (start, end):
                answer = appointment_answer(current, 200)
                await keys.complete(tx, tenant_id, key, answer)
                return answer
            if current.external_state is not ExternalState.CONFIRMED:
                raise BookingError(
                    409,
                    "not_confirmed_yet",
                    "the appointment's calendar event is not confirmed yet (or another reschedule "
                    "is running); retry after it is CONFIRMED",
                    headers={"Retry-After": "1"},
                )
            saga_id = rt.ids.new_id()
            hold = _hold_for(current, rt.ids.new_id(), start, end, now)
            try:
                if not on.overlap_guard and await tx.overlaps(current.resource_id, start, end):
                    raise SlotTaken(current.resource_id)
                await tx.insert_appointment(
                    hold, guarded=on.overlap_guard, kind=KIND_HOLD, hold_for=current.id
                )
            except SlotTaken:
                raise slot_taken() from None
            updated = await tx.save_appointment(
                current, current.advance(LifecycleEvent.RESCHEDULE_REQUESTED, updated_at=now)
            )
            moved = updated.evolve(start_time=start, end_time=end)
            spec = event_spec(moved, on.provider_key, event_id=saga_id)
            payload = {
                "saga_id": saga_id,
                "hold_id": hold.id,
                "new_start": start.isoformat(),
                "new_end": end.isoformat(),
                "old_event_id": current.provider_event_id,
                "spec": spec_payload(spec),
            }
            hold_until = (deadline.at if deadline else now + rt.settings.unbounded_timeout_s) + 1.0
            row_id = await tx.enqueue(
                tenant_id=tenant_id,
                appointment_id=current.id,
                event_type=RESCHEDULE_EVENT,
                payload=payload,
                due_at=first_attempt_at(now, rt.policies.outbox),
                now=now,
                claimed_until=hold_until,
            )
            await tx.record_saga_step(
                tenant_id=tenant_id,
                saga_id=saga_id,
                appointment_id=current.id,
                step="reserve_new_slot",
                state="done",
                now=now,
                detail={k: v for k, v in payload.items() if k != "spec"},
            )
            return row_id, payload


def _hold_for(
    current: Appointment, hold_id: str, start: dt.datetime, end: dt.datetime, now: float
) -> Appointment:
    return current.evolve(
        id=hold_id,
        start_time=start,
        end_time=end,
        external_state=ExternalState.PENDING,
        external_id=None,
        event_id=None,
        version=1,
        created_at=now,
        updated_at=now,
    )


def provider_refused() -> BookingError:
    return BookingError(
        409,
        "provider_refused",
        "the calendar provider refused the new slot; the appointment keeps its old slot",
    )
