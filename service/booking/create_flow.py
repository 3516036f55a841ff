"""The create flow: reserve the slot and the outbox row, call the calendar within the deadline,
settle.

Theory of operation. Transaction 1 stores the idempotency key (in flight), the appointment
(booked, PENDING) and an outbox row due at `first_attempt_at`, held by this request until its
deadline so the relay leaves it alone meanwhile. After the commit the calendar is called through
the gateway (retry plan + breaker + deadline). Transaction 2 records the result: CONFIRMED with
the provider's event id (201); a permanent refusal dead-letters the row and compensates (FAILED,
202); anything else (deadline, breaker open, ambiguous, exhausted) leaves the row due for the
relay (PENDING, 202). The key completes with that answer in the same transaction. A crash
anywhere after transaction 1 leaves a due row: the relay finishes the work, and the provider's
idempotency (the appointment id as key and event id) keeps a retry from duplicating the event.

Written against ports (`service.ports`): the service runs it under asyncio with SQL stores, the
twin under SimPy with its in-memory store — one implementation, two drivers. Each protection can
be switched off (`Settings.protections`, the legacy profile); the code paths that do so are
marked "legacy".
"""

from __future__ import annotations

import logging

from service.booking import keys, settle
from service.booking.answers import Answer, BookingError, appointment_answer, slot_taken
from service.booking.commands import CreateCommand
from service.booking.events import event_spec, spec_payload
from service.booking.model import Appointment
from service.calendar.contract import EventSpec
from service.calendar.gateway import GatewayResult
from service.json_logging import bound_appointment
from service.ports.context import Ports
from service.ports.store import CREATE_EVENT, KeyTaken, SlotTaken, Transaction, TransientConflict
from service.resilience.deadline import Deadline
from service.resilience.idempotency import Decision
from service.resilience.lifecycle import AppointmentStatus, ExternalState
from service.resilience.outbox import after_attempt, first_attempt_at
from service.resilience.records import record_maker
from service.resilience.retry_plan import PlanStatus

_deadline = record_maker(Deadline)  # Deadline(start, budget_s), one per request

log = logging.getLogger("service.booking.create")

# Extra hold on the outbox row past the request's deadline, so the relay never races the
# request's own (already finished) attempt.
INLINE_HOLD_MARGIN_S = 0.5
# How often transaction 1 runs again after a key race or a deadlock before answering 503.
RESERVE_TRIES = 3


class CreateFlow:
    def __init__(self, ports: Ports) -> None:
        self.rt = ports

    async def run(self, command: CreateCommand, key: str | None, started_at: float) -> Answer:
        rt = self.rt
        on = rt.protections
        now = rt.clock.now()
        deadline = _deadline(started_at, rt.settings.deadline_ms / 1000) if on.deadline else None
        key = key if on.idempotency_store else None  # legacy: no key store, every request acts
        appointment = self._new_appointment(command, now)
        spec = event_spec(appointment, on.provider_key)
        fingerprint = keys.request_fingerprint("create", None, command.fingerprint_body())
        with bound_appointment(appointment.id):
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "appointment create requested",
                    extra={
                        "resource_id": command.resource_id,
                        "service_type": command.service_type,
                        # Masked by the JSON formatter; logged so the masking is exercised.
                        "owner": {"name": command.owner_name, "email": command.owner_email}
                        if command.owner_name is not None
                        else None,
                    },
                )
            reserved = await self._reserve(appointment, spec, key, fingerprint, now, deadline)
            if isinstance(reserved, Answer):
                return reserved
            row_id = reserved
            db1_at = rt.clock.now()
            rt.crash.hit("after_db_commit_before_calendar")
            result = await rt.gateway.create_event(spec, deadline)
            calendar_at = rt.clock.now()
            rt.crash.hit("after_calendar_before_db_update")
            answer = await self._settle(appointment, key, row_id, result)
            done_at = rt.clock.now()
            rt.metrics.create_answered(answer.status)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "appointment create answered",
                    extra={
                        "status": answer.status,
                        "plan": result.plan.status.value,
                        "attempts": result.plan.attempts,
                        "db_txn1_ms": round((db1_at - now) * 1000, 2),
                        "calendar_ms": round((calendar_at - db1_at) * 1000, 2),
                        "db_txn2_ms": round((done_at - calendar_at) * 1000, 2),
                        "total_ms": round((done_at - started_at) * 1000, 2),
                    },
                )
            return answer

    def _new_appointment(self, command: CreateCommand, now: float) -> Appointment:
        appointment_id = self.rt.ids.new_id()
        return Appointment.make(
            id=appointment_id,
            tenant_id=command.tenant_id,
            resource_id=command.resource_id,
            customer_id=command.customer_id,
            start_time=command.start_time,
            end_time=command.end_time,
            service_type=command.service_type,
            title=command.title,
            location=command.location,
            owner_name=command.owner_name,
            owner_email=command.owner_email,
            metadata=command.metadata,
            status=AppointmentStatus.BOOKED,
            external_state=ExternalState.PENDING,
            external_id=None,
            # The provider is asked to use the appointment id as the event id, so a retry (or a
            # compensation that must delete it) always knows which event it means.
            event_id=appointment_id if self.rt.protections.provider_key else None,
            version=1,
            created_at=now,
            updated_at=now,
        )

    async def _reserve(
        self,
        appointment: Appointment,
        spec: EventSpec,
        key: str | None,
        fingerprint: str,
        now: float,
        deadline: Deadline | None,
    ) -> Answer | int | None:
        """Transaction 1. Returns an Answer for a repeated key, else the outbox row id (None when
        the outbox is off). Raises BookingError 409 when the slot is taken."""
        rt = self.rt
        on = rt.protections
        for _ in range(RESERVE_TRIES):
            try:
                if not on.overlap_guard:
                    # legacy: a check in code, in its own transaction: two requests can both pass.
                    async with rt.store.read() as tx:
                        if await tx.overlaps(
                            appointment.resource_id,
                            appointment.start_time,
                            appointment.end_time,
                        ):
                            raise slot_taken()
                async with rt.store.write() as tx:
                    if key is not None:
                        claim = await keys.claim(
                            tx,
                            tenant_id=appointment.tenant_id,
                            key=key,
                            body_fingerprint=fingerprint,
                            now=now,
                            policy=rt.policies.idempotency,
                            appointment_id=appointment.id,
                        )
                        if claim.decision is Decision.RECOVER:
                            return await self._recover(tx, appointment.tenant_id, key, claim)
                        if claim.decision is not Decision.PROCEED:
                            return keys.repeat_answer(claim)
                    await tx.insert_appointment(appointment, guarded=on.overlap_guard)
                    if not on.outbox:
                        return None  # legacy: nothing will finish the work if this request fails
                    return await tx.enqueue(
                        tenant_id=appointment.tenant_id,
                        appointment_id=appointment.id,
                        event_type=CREATE_EVENT,
                        payload=spec_payload(spec),
                        due_at=first_attempt_at(now, rt.policies.outbox),
                        now=now,
                        claimed_until=self._inline_hold_until(now, deadline),
                    )
            except KeyTaken:
                continue  # a concurrent request with this key committed first: decide again
            except SlotTaken:
                raise slot_taken() from None
            except TransientConflict:
                # PostgreSQL broke a deadlock between racing inserts: run the transaction again.
                log.info("create transaction retried after a deadlock or serialization conflict")
                await rt.clock.sleep(rt.rng.uniform(0.0, 0.02))
                continue
        raise BookingError(503, "busy", "the key is contended; retry the request")

    async def _recover(
        self, tx: Transaction, tenant_id: str, key: str, claim: keys.KeyClaim
    ) -> Answer:
        """The first request with this key died mid-flight: answer from the appointment's state
        (the relay finishes its calendar work) and complete the key with that answer."""
        appointment_id = claim.stored.appointment_id if claim.stored else None
        current = await tx.get_appointment(tenant_id, appointment_id) if appointment_id else None
        if current is None:
            raise BookingError(
                409, "request_in_flight", "retry shortly", headers={"Retry-After": "1"}
            )
        answer = answer_for(current)
        await keys.complete(tx, tenant_id, key, answer)
        return answer

    def _inline_hold_until(self, now: float, deadline: Deadline | None) -> float:
        if deadline is not None:
            return deadline.at + INLINE_HOLD_MARGIN_S
        policy = self.rt.policies.retry
        return now + policy.max_attempts * (policy.attempt_timeout_s + policy.backoff.cap_s)

    async def _settle(
        self, appointment: Appointment, key: str | None, row_id: int | None, result: GatewayResult
    ) -> Answer:
        """Transaction 2: record what the calendar said and complete the key."""
        rt = self.rt
        provider_key = rt.protections.provider_key
        async with rt.store.write() as tx:
            now = rt.clock.now()
            current = await tx.get_appointment(
                appointment.tenant_id, appointment.id, for_update=True
            )
            assert current is not None  # written by transaction 1, never deleted
            event_id = (result.body or {}).get("id") or appointment.event_id
            if result.ok and event_id is not None:
                current = await settle.confirm(
                    tx, current, str(event_id), now, provider_key=provider_key
                )
                if row_id is not None:
                    await tx.complete_row(row_id, now)
            elif result.plan.status is PlanStatus.PERMANENT:
                decision = after_attempt(
                    1,
                    PlanStatus.PERMANENT,
                    now,
                    rt.policies.outbox,
                    result.plan.may_have_committed,
                )
                if row_id is not None:
                    await tx.record_failure(
                        row_id,
                        attempts=1,
                        next_attempt_at=None,
                        error=result.error,
                        ambiguous=result.plan.ambiguous_seen,
                    )
                current = await settle.compensate(
                    tx,
                    current,
                    decision.compensation,
                    now,
                    event_id=appointment.event_id,
                    provider_key=provider_key,
                )
            elif row_id is not None:
                await tx.release_row(row_id, ambiguous=result.plan.ambiguous_seen)
            answer = answer_for(current)
            await keys.complete(tx, appointment.tenant_id, key, answer)
        if answer.status == 202:
            rt.relay_wakeup.set()
        return answer


def answer_for(appointment: Appointment) -> Answer:
    """201 once the provider confirmed a booked appointment, else 202 (PENDING or FAILED: the
    body's external_state says which)."""
    confirmed = (
        appointment.status is AppointmentStatus.BOOKED
        and appointment.external_state is ExternalState.CONFIRMED
    )
    return appointment_answer(appointment, 201 if confirmed else 202)
