"""The outbox relay: claims due rows, calls the provider with the same policy, records the fate.

Theory of operation. Each pass claims up to `relay_batch` due rows (a lease in a write
transaction; `FOR UPDATE SKIP LOCKED` on PostgreSQL so replicas share the work), then handles
them concurrently. A handler calls the provider through the gateway (retry plan + breaker, bounded
by `relay_budget_s`) with the row's own event id and key, so a repeat after a crash cannot
duplicate; then, in one write transaction, applies the result: success confirms (or releases, or
switches a reschedule), a failure schedules the next attempt or dead-letters per
`service.resilience.outbox.after_attempt` and compensates. While the breaker is open (cool-down
not over) the relay claims nothing; a pass refused by the breaker before any call does not count
as an attempt (an outage must not dead-letter work the breaker kept from even trying). Crash points `relay_after_claim` and `relay_after_calendar_before_mark`
sit at the two seams a crash can split. Sleeps between passes use the clock port, and a wake-up
lets a request that answered 202 start a pass at once. Written against ports (`service.ports`):
the service runs it as an asyncio task, the twin as SimPy processes — the same code.
"""

from __future__ import annotations

import logging

from service.booking import reschedule_steps, settle
from service.booking.events import spec_from_payload
from service.booking.model import Appointment
from service.calendar.gateway import GatewayResult
from service.json_logging import bound_appointment
from service.ports.context import Ports
from service.ports.store import (
    CREATE_EVENT,
    DELETE_EVENT,
    RESCHEDULE_EVENT,
    OutboxRow,
    Transaction,
)
from service.resilience.deadline import Deadline
from service.resilience.outbox import Compensation, OutboxAction, after_attempt
from service.resilience.retry_plan import PlanStatus

log = logging.getLogger("service.relay")


class OutboxRelay:
    def __init__(self, ports: Ports) -> None:
        self.rt = ports

    async def run_forever(self) -> None:
        """Poll until cancelled. A failing pass is logged and retried on the next poll."""
        rt = self.rt
        while True:
            try:
                handled = await self.drain_once()
            except Exception:
                log.exception("relay pass failed; retrying on the next poll")
                handled = 0
            if handled:
                continue  # more may be due right away
            await rt.relay_wakeup.wait(rt.settings.relay_poll_s)

    async def drain_once(self) -> int:
        """One pass: claim due rows and handle them; returns how many were claimed."""
        rt = self.rt
        if rt.breaker is not None and rt.breaker.refusing(rt.clock.now()):
            # Every call would be refused until the cool-down ends: leave the rows due rather
            # than claim, refuse and reschedule each (during an outage that churn of write
            # transactions took the CPU the requests needed).
            return 0
        async with rt.store.write() as tx:
            rows = await tx.claim_due(
                rt.clock.now(), rt.settings.relay_lease_s, rt.settings.relay_batch
            )
        if not rows:
            return 0
        rt.crash.hit("relay_after_claim")
        await rt.tasks.gather([self._handle(row) for row in rows])
        return len(rows)

    async def _handle(self, row: OutboxRow) -> None:
        rt = self.rt
        with bound_appointment(row.appointment_id):
            try:
                result = await self._call(row)
                if result.ok:
                    rt.crash.hit("relay_after_calendar_before_mark")
                await self._record(row, result)
            except Exception:
                # The lease runs out and another pass retries the row.
                log.exception("relay could not handle outbox row", extra={"row": row.id})

    async def _call(self, row: OutboxRow) -> GatewayResult:
        rt = self.rt
        deadline = (
            Deadline(rt.clock.now(), rt.settings.relay_budget_s)
            if rt.protections.deadline
            else None
        )
        policy = rt.policies.relay_retry
        if row.event_type == DELETE_EVENT:
            payload = row.payload
            return await rt.gateway.delete_event(
                payload["event_id"], payload.get("key"), deadline, policy
            )
        payload = row.payload if row.event_type == CREATE_EVENT else row.payload["spec"]
        return await rt.gateway.create_event(spec_from_payload(payload), deadline, policy)

    async def _record(self, claimed: OutboxRow, result: GatewayResult) -> None:
        rt = self.rt
        async with rt.store.write() as tx:
            now = rt.clock.now()
            # Lock order everywhere: appointment, then its outbox rows (no deadlocks on PostgreSQL).
            appointment = await tx.get_appointment(
                claimed.tenant_id, claimed.appointment_id, for_update=True
            )
            row = await tx.get_row(claimed.id, for_update=True)
            if row is None or appointment is None:
                return
            is_open = row.completed_at is None and not row.dead_lettered
            if result.ok:
                await self._succeeded(tx, row, appointment, result, now, is_open)
                rt.metrics.relay_row("done")
                return
            if not is_open:
                return  # superseded meanwhile (a cancel): nothing left to schedule
            ambiguous = row.ambiguous_seen or result.plan.ambiguous_seen
            if result.plan.status is PlanStatus.BREAKER_OPEN and result.plan.attempts == 0:
                await tx.record_failure(
                    row.id,
                    attempts=row.attempts,
                    next_attempt_at=now + rt.policies.outbox.delay_before(row.attempts + 1),
                    error=result.error,
                    ambiguous=ambiguous,
                )
                rt.metrics.relay_row("breaker_open")
                return
            attempts = row.attempts + 1
            may_exist = ambiguous or result.plan.may_have_committed
            decision = after_attempt(
                attempts, result.plan.status, now, rt.policies.outbox, may_exist
            )
            await tx.record_failure(
                row.id,
                attempts=attempts,
                next_attempt_at=decision.next_attempt_at,
                error=result.error,
                ambiguous=ambiguous,
            )
            if decision.action is OutboxAction.DEAD_LETTER:
                rt.metrics.relay_row("dead_lettered")
                log.warning(
                    "outbox row dead-lettered",
                    extra={"row": row.id, "event_type": row.event_type, "error": result.error},
                )
                await self._dead_lettered(
                    tx, row, appointment, decision.compensation, may_exist, now
                )
            else:
                rt.metrics.relay_row("retry_later")

    async def _succeeded(
        self,
        tx: Transaction,
        row: OutboxRow,
        appointment: Appointment,
        result: GatewayResult,
        now: float,
        is_open: bool,
    ) -> None:
        rt = self.rt
        provider_key = rt.protections.provider_key
        if row.event_type == DELETE_EVENT:
            if is_open:
                await tx.complete_row(row.id, now)
            if row.payload.get("reason") == "cancel":
                await settle.released(tx, appointment, now)
            saga_id = row.payload.get("saga_id")
            if saga_id and row.payload.get("reason") == "reschedule_release":
                await tx.record_saga_step(
                    tenant_id=row.tenant_id,
                    saga_id=saga_id,
                    appointment_id=row.appointment_id,
                    step="release_old",
                    state="done",
                    now=now,
                )
            return
        spec = spec_from_payload(
            row.payload if row.event_type == CREATE_EVENT else row.payload["spec"]
        )
        event_id = str((result.body or {}).get("id") or spec.event_id)
        if row.event_type == RESCHEDULE_EVENT:
            if is_open:
                await reschedule_steps.switch(tx, appointment, row, event_id, now, rt)
                await tx.complete_row(row.id, now)
            elif appointment.external_id != event_id:
                await settle.enqueue_delete(
                    tx,
                    appointment,
                    event_id,
                    now,
                    reason="reschedule_abandoned",
                    provider_key=provider_key,
                    saga_id=row.payload["saga_id"],
                )
            return
        await settle.confirm(tx, appointment, event_id, now, provider_key=provider_key)
        if is_open:
            await tx.complete_row(row.id, now)

    async def _dead_lettered(
        self,
        tx: Transaction,
        row: OutboxRow,
        appointment: Appointment,
        compensation: tuple[Compensation, ...],
        may_exist: bool,
        now: float,
    ) -> None:
        rt = self.rt
        if row.event_type == CREATE_EVENT:
            await settle.compensate(
                tx,
                appointment,
                compensation,
                now,
                event_id=row.payload.get("event_id"),
                provider_key=rt.protections.provider_key,
            )
        elif row.event_type == RESCHEDULE_EVENT:
            await reschedule_steps.compensate(tx, appointment, row, may_exist, now, rt)
        # A dead-lettered delete leaves an orphan event: the reconciler's next pass deletes it.
